package client

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/transports"
)

// memTransport is an in-memory transport: the test feeds what the "server"
// sends and reads nothing back.
type memTransport struct {
	in        chan []byte
	closeOnce sync.Once
	closed    chan struct{}
}

func newMemTransport() *memTransport {
	return &memTransport{in: make(chan []byte, 16), closed: make(chan struct{})}
}

func (m *memTransport) connect(context.Context, string, bool) error { return nil }
func (m *memTransport) send(ctx context.Context, p []byte) error {
	select {
	case <-m.closed:
		return io.ErrClosedPipe
	default:
		return nil
	}
}

func (m *memTransport) receive(ctx context.Context) ([]byte, error) {
	select {
	case p, ok := <-m.in:
		if !ok {
			return nil, io.EOF
		}
		return p, nil
	case <-m.closed:
		return nil, io.EOF
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (m *memTransport) stop(context.Context) error     { m.abort(); return nil }
func (m *memTransport) abort()                         { m.closeOnce.Do(func() { close(m.closed) }) }
func (m *memTransport) kind() transports.TransportType { return transports.WebSockets }

// FuzzSessionReceive feeds arbitrary server bytes after a good handshake: the
// session must handle or reject them without panicking or hanging, with
// handlers and a pending invocation in place.
func FuzzSessionReceive(f *testing.F) {
	for _, s := range []string{
		`{"type":1,"target":"h","arguments":[1,"x"]}` + "\x1e",
		`{"type":1,"invocationId":"s1","target":"h","arguments":[2,"y"]}` + "\x1e",
		`{"type":3,"invocationId":"0","result":42}` + "\x1e",
		`{"type":2,"invocationId":"0","item":1}` + "\x1e",
		`{"type":7,"error":"bye","allowReconnect":true}` + "\x1e",
		`{"type":6}` + "\x1e" + `{"type":8,"sequenceId":3}` + "\x1e" + `{"type":9,"sequenceId":1}` + "\x1e",
		`{"type":99}` + "\x1e" + `{"type":3,"invocationId":"0","error":"e"}` + "\x1e",
		"not json\x1e",
	} {
		f.Add([]byte(s), 7)
	}
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		c, err := New("http://fuzz/hub", Options{HandshakeTimeout: time.Second, ServerTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.On("h", func(n int, s string) (int, error) { return n, nil })
		mt := newMemTransport()
		s := newSession(c, mt, "fuzz", true)
		mt.in <- []byte("{}\x1e")
		if err := s.start(context.Background()); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		cl := &call{result: make(chan callResult, 1)}
		_ = s.register("0", cl)
		if split <= 0 || split > len(data) {
			split = len(data)
		}
		for len(data) > 0 {
			n := min(split, len(data))
			select {
			case mt.in <- data[:n]:
			case <-s.ctx.Done():
			}
			data = data[n:]
		}
		s.end(nil)
		done := make(chan struct{})
		go func() { s.wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end")
		}
	})
}
