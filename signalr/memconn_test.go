package signalr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memConn is an in-memory transports.Conn: the test plays the client on the
// other end of two channels.
type memConn struct {
	id        string
	transport transports.TransportType
	req       *http.Request
	in        chan []byte // client -> server
	out       chan []byte // server -> client, one entry per Send
	done      chan struct{}
	eofOnce   sync.Once
	eof       chan struct{} // client closed its side
	closeOnce sync.Once
	noBinary  bool

	mu     sync.Mutex
	binary bool
}

func newMemConn(id string, outCap int) *memConn {
	return &memConn{
		id:        id,
		transport: transports.WebSockets,
		req:       httptest.NewRequest(http.MethodGet, "/hub?id="+id, nil),
		in:        make(chan []byte, 64),
		out:       make(chan []byte, outCap),
		done:      make(chan struct{}),
		eof:       make(chan struct{}),
	}
}

func (c *memConn) ID() string                          { return c.id }
func (c *memConn) Transport() transports.TransportType { return c.transport }
func (c *memConn) Request() *http.Request              { return c.req }
func (c *memConn) InherentKeepAlive() bool             { return c.transport == transports.LongPolling }
func (c *memConn) Done() <-chan struct{}               { return c.done }

func (c *memConn) Receive(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	default:
	}
	select {
	case b := <-c.in:
		return b, nil
	case <-c.eof:
		return nil, io.EOF
	case <-c.done:
		return nil, transports.ErrConnectionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *memConn) Send(ctx context.Context, p []byte) error {
	b := append([]byte(nil), p...)
	select {
	case c.out <- b:
		return nil
	case <-c.done:
		return transports.ErrConnectionClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *memConn) SetTransferFormat(binary bool) error {
	if binary && c.noBinary {
		return errors.New("binary not supported")
	}
	c.mu.Lock()
	c.binary = binary
	c.mu.Unlock()
	return nil
}

func (c *memConn) Close(error) { c.closeOnce.Do(func() { close(c.done) }) }

// clientClose ends the client side: Receive returns io.EOF.
func (c *memConn) clientClose() { c.eofOnce.Do(func() { close(c.eof) }) }

// testClient drives one memConn like a SignalR client would.
type testClient struct {
	t       testing.TB
	conn    *memConn
	served  chan struct{}
	pending []byte
	msgs    []protocol.HubMessage
}

const waitLimit = 5 * time.Second // failsafe only; tests never wait this long when passing

// serve runs h.ServeConn on conn and ends it at test cleanup.
func serve(t testing.TB, h *ConnectionHandler, conn *memConn) *testClient {
	t.Helper()
	tc := &testClient{t: t, conn: conn, served: make(chan struct{})}
	go func() {
		defer close(tc.served)
		h.ServeConn(context.Background(), conn)
		conn.Close(nil)
	}()
	t.Cleanup(func() {
		conn.clientClose()
		select {
		case <-tc.served:
		case <-time.After(waitLimit):
			t.Errorf("ServeConn did not return")
		}
	})
	return tc
}

// connect serves a new connection and completes the JSON handshake.
func connect(t testing.TB, h *ConnectionHandler, id string) *testClient {
	t.Helper()
	tc := serve(t, h, newMemConn(id, 4096))
	tc.sendRaw(`{"protocol":"json","version":1}` + "\x1e")
	if got := tc.frame(); string(got) != "{}\x1e" {
		t.Fatalf("handshake response = %q", got)
	}
	return tc
}

func (tc *testClient) sendRaw(s string) {
	tc.t.Helper()
	select {
	case tc.conn.in <- []byte(s):
	case <-time.After(waitLimit):
		tc.t.Fatalf("send blocked")
	}
}

// send writes JSON records, each given without its separator.
func (tc *testClient) send(records ...string) {
	tc.t.Helper()
	var b []byte
	for _, r := range records {
		b = append(append(b, r...), 0x1e)
	}
	tc.sendRaw(string(b))
}

// frame returns the next transport send of the server.
func (tc *testClient) frame() []byte {
	tc.t.Helper()
	select {
	case b := <-tc.conn.out:
		return b
	case <-time.After(waitLimit):
		tc.t.Fatalf("no frame from server")
		return nil
	}
}

// next returns the next hub message from the server, skipping Pings unless keepPings.
func (tc *testClient) nextMsg(keepPings bool) protocol.HubMessage {
	tc.t.Helper()
	for {
		for len(tc.msgs) > 0 {
			m := tc.msgs[0]
			tc.msgs = tc.msgs[1:]
			if _, ok := m.(*protocol.Ping); ok && !keepPings {
				continue
			}
			return m
		}
		tc.pending = append(tc.pending, tc.frame()...)
		for {
			m, n, err := protocol.JSON.ParseMessage(tc.pending, 0)
			if err != nil {
				tc.t.Fatalf("parse server message: %v (%q)", err, tc.pending)
			}
			if n == 0 {
				break
			}
			tc.pending = tc.pending[n:]
			tc.msgs = append(tc.msgs, m)
		}
	}
}

func (tc *testClient) next() protocol.HubMessage { tc.t.Helper(); return tc.nextMsg(false) }

// nextRecord returns the next message as its JSON text (re-encoded by the codec).
func (tc *testClient) nextRecord() string {
	tc.t.Helper()
	b, err := protocol.JSON.AppendMessage(nil, tc.next())
	if err != nil {
		tc.t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

// waitServed waits for ServeConn to return.
func (tc *testClient) waitServed() {
	tc.t.Helper()
	select {
	case <-tc.served:
	case <-time.After(waitLimit):
		tc.t.Fatalf("ServeConn did not return")
	}
}

func newHandler(t testing.TB, hub any, opts Options) *ConnectionHandler {
	t.Helper()
	h, err := NewConnectionHandler(hub, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
