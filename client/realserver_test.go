package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// testHub is served by our real server (signalr.NewServer) for the client's
// end-to-end tests.
type testHub struct{}

func (testHub) Echo(s string) string { return s }
func (testHub) Add(a, b int) int     { return a + b }
func (testHub) Void()                {}
func (testHub) Fail() error          { return signalr.NewHubError("boom") }
func (testHub) GetTransport(ctx *signalr.Context) string {
	return ctx.Transport().String()
}
func (testHub) GetConnectionID(ctx *signalr.Context) string { return ctx.ConnectionID() }
func (testHub) GetHeader(ctx *signalr.Context, name string) string {
	return ctx.Request().Header.Get(name)
}

func (testHub) CallMe(ctx *signalr.Context, s string, n int) error {
	return ctx.Clients().Caller().Send(ctx, "Message", s, n)
}

func (testHub) ClientResult(ctx *signalr.Context, method string, n int) (string, error) {
	v, err := signalr.InvokeClient[int](ctx, ctx.Clients().Caller(), method, n)
	if err != nil {
		return "error: " + err.Error(), nil
	}
	return strings.Repeat("x", v), nil
}

func (testHub) Counter(n int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := range n {
			if !yield(i) {
				return
			}
		}
	}
}

func (testHub) Infinite(ctx *signalr.Context) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		select {
		case ch <- "tick":
		case <-ctx.Done():
		}
		<-ctx.Done()
		_ = ctx.Clients().Caller().Send(context.Background(), "StreamCanceled")
	}()
	return ch
}

func (testHub) Concat(ch <-chan string) string {
	var b strings.Builder
	for s := range ch {
		b.WriteString(s)
	}
	return b.String()
}

func (testHub) Abort(ctx *signalr.Context) { ctx.Abort() }

// startRealServer serves testHub on a loopback httptest server.
func startRealServer(t testing.TB, opts signalr.Options) (*signalr.Server, string) {
	t.Helper()
	if opts.MaximumParallelInvocationsPerClient == 0 {
		opts.MaximumParallelInvocationsPerClient = 4 // client results from inside hub methods
	}
	if opts.Protocols == nil {
		opts.Protocols = []protocol.HubProtocol{protocol.JSON, protocol.MessagePack}
	}
	s, err := signalr.NewServer(testHub{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hub", s)
	mux.Handle("/hub/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = s.Close()
		hs.CloseClientConnections()
		hs.Close()
	})
	return s, hs.URL + "/hub"
}

type protoCase struct {
	proto protocol.HubProtocol
	tr    transports.TransportType
}

func protoCases() []protoCase {
	var cs []protoCase
	for _, tr := range allTransports {
		cs = append(cs, protoCase{protocol.JSON, tr})
		if tr != transports.ServerSentEvents { // SSE is text only
			cs = append(cs, protoCase{protocol.MessagePack, tr})
		}
	}
	return cs
}

func (pc protoCase) String() string { return pc.proto.Name() + "/" + pc.tr.String() }

func TestRealServer(t *testing.T) {
	for _, pc := range protoCases() {
		t.Run(pc.String(), func(t *testing.T) {
			_, url := startRealServer(t, signalr.Options{})
			c, err := New(url, Options{Transports: pc.tr, Protocol: pc.proto})
			if err != nil {
				t.Fatal(err)
			}
			messages := make(chan string, 4)
			canceled := make(chan struct{}, 4)
			_ = c.On("message", func(s string, n int) { messages <- s + strings.Repeat("!", n) })
			_ = c.On("Square", func(n int) int { return n * n })
			_ = c.On("Refuse", func(int) (int, error) { return 0, errors.New("from callback") })
			_ = c.On("StreamCanceled", func() { canceled <- struct{}{} })
			ctx := testCtx(t)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Stop(ctx)

			if got, err := Invoke[string](ctx, c, "GetTransport"); err != nil || got != pc.tr.String() {
				t.Fatalf("GetTransport = %q %v", got, err)
			}
			if got, err := Invoke[string](ctx, c, "GetConnectionID"); err != nil || got != c.ConnectionID() || got == "" {
				t.Fatalf("GetConnectionID = %q (client %q) %v", got, c.ConnectionID(), err)
			}
			if got, err := Invoke[string](ctx, c, "echo", "héllo"); err != nil || got != "héllo" {
				t.Fatalf("Echo = %q %v", got, err)
			}
			if got, err := Invoke[int](ctx, c, "Add", 40, 2); err != nil || got != 42 {
				t.Fatalf("Add = %d %v", got, err)
			}
			if raw, err := c.Invoke(ctx, "Void"); err != nil || (raw != nil && !raw.IsNull()) {
				t.Fatalf("Void = %v %v", raw, err)
			}
			_, err = c.Invoke(ctx, "Fail")
			var he *HubError
			if !errors.As(err, &he) || he.Message != "An unexpected error occurred invoking 'Fail' on the server. HubException: boom" {
				t.Fatalf("Fail: %v", err)
			}
			_, err = c.Invoke(ctx, "NoSuchMethod")
			if !errors.As(err, &he) || he.Message != "Failed to invoke 'NoSuchMethod' due to an error on the server. HubException: Method does not exist." {
				t.Fatalf("NoSuchMethod: %v", err)
			}
			if err := c.Send(ctx, "CallMe", "hi", 2); err != nil {
				t.Fatal(err)
			}
			if got := <-messages; got != "hi!!" {
				t.Fatalf("handler got %q", got)
			}
			if got, err := Invoke[string](ctx, c, "ClientResult", "Square", 3); err != nil || got != "xxxxxxxxx" {
				t.Fatalf("client result = %q %v", got, err)
			}
			if got, err := Invoke[string](ctx, c, "ClientResult", "Refuse", 3); err != nil || !strings.HasSuffix(got, "from callback") {
				t.Fatalf("client result error = %q %v", got, err)
			}
			if got, err := Invoke[string](ctx, c, "ClientResult", "Nobody", 3); err != nil || !strings.HasSuffix(got, textNoResult) {
				t.Fatalf("client result without handler = %q %v", got, err)
			}

			var items []int
			for v, err := range Stream[int](ctx, c, "Counter", 4) {
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, v)
			}
			if len(items) != 4 || items[3] != 3 {
				t.Fatalf("Counter = %v", items)
			}
			for v, err := range Stream[string](ctx, c, "Infinite") {
				if err != nil || v != "tick" {
					t.Fatalf("Infinite: %q %v", v, err)
				}
				break // sends CancelInvocation
			}
			select {
			case <-canceled:
			case <-ctx.Done():
				t.Fatal("the server did not see the cancellation")
			}

			ch := make(chan string, 3)
			ch <- "a"
			ch <- "b"
			ch <- "c"
			close(ch)
			if got, err := Invoke[string](ctx, c, "Concat", ch); err != nil || got != "abc" {
				t.Fatalf("Concat = %q %v", got, err)
			}

			// Concurrent callers share the connection.
			var wg sync.WaitGroup
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if got, err := Invoke[int](ctx, c, "Add", i, i); err != nil || got != 2*i {
						t.Errorf("Add(%d,%d) = %d %v", i, i, got, err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestRealServerMessagePackSkipsSSE(t *testing.T) {
	_, url := startRealServer(t, signalr.Options{Transports: transports.ServerSentEvents | transports.LongPolling})
	c := startClient(t, url, Options{Protocol: protocol.MessagePack})
	if got, err := Invoke[string](testCtx(t), c, "GetTransport"); err != nil || got != "LongPolling" {
		t.Fatalf("transport %q %v", got, err)
	}
}

func TestRealServerHeadersAndToken(t *testing.T) {
	_, url := startRealServer(t, signalr.Options{})
	for _, tr := range allTransports {
		c := startClient(t, url, Options{
			Transports:          tr,
			Headers:             http.Header{"X-Test": {"yes"}},
			AccessTokenProvider: func(context.Context) (string, error) { return "tok", nil },
		})
		ctx := testCtx(t)
		for name, want := range map[string]string{"X-Test": "yes", "Authorization": "Bearer tok"} {
			if got, err := Invoke[string](ctx, c, "GetHeader", name); err != nil || got != want {
				t.Errorf("%v: header %s = %q %v", tr, name, got, err)
			}
		}
	}
}

func TestRealServerShutdownReconnects(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			srv, url := startRealServer(t, signalr.Options{})
			reconnecting := make(chan error, 1)
			closed := make(chan error, 1)
			c := startClient(t, url, Options{
				Transports:     tr,
				Reconnect:      DelaysReconnectPolicy{0},
				OnReconnecting: func(err error) { reconnecting <- err },
				OnClose:        func(err error) { closed <- err },
			})
			_ = c
			// Shutdown sends Close{allowReconnect:true}; the server refuses new
			// connections, so the single retry fails and the connection closes.
			ctx := testCtx(t)
			if err := srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			<-reconnecting
			if err := <-closed; err == nil {
				t.Fatal("closed without the failed attempt's error")
			}
		})
	}
}

func TestRealServerAbortDoesNotReconnect(t *testing.T) {
	_, url := startRealServer(t, signalr.Options{})
	closed := make(chan error, 1)
	c := startClient(t, url, Options{
		Reconnect:      DefaultReconnectPolicy(),
		OnReconnecting: func(err error) { t.Errorf("reconnecting after Abort: %v", err) },
		OnClose:        func(err error) { closed <- err },
	})
	_, _ = c.Invoke(testCtx(t), "Abort")
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("not closed")
	}
	if c.State() != Disconnected {
		t.Fatalf("state %v", c.State())
	}
}

func TestRealServerTimeoutAndKeepAlive(t *testing.T) {
	// The server pings every 50ms, so a 300ms server timeout never fires; the
	// client pings often enough for the server's 300ms client timeout.
	_, url := startRealServer(t, signalr.Options{KeepAliveInterval: 50 * time.Millisecond, ClientTimeoutInterval: 300 * time.Millisecond})
	closed := make(chan error, 1)
	c := startClient(t, url, Options{
		Transports:        transports.WebSockets,
		KeepAliveInterval: 50 * time.Millisecond,
		ServerTimeout:     300 * time.Millisecond,
		OnClose:           func(err error) { closed <- err },
	})
	select {
	case err := <-closed:
		t.Fatalf("closed: %v", err)
	case <-time.After(time.Second):
	}
	if c.State() != Connected {
		t.Fatalf("state %v", c.State())
	}
}

func TestRealServerHandshakeRefused(t *testing.T) {
	_, url := startRealServer(t, signalr.Options{Protocols: []protocol.HubProtocol{protocol.JSON}})
	c, err := New(url, Options{Protocol: protocol.MessagePack, Transports: transports.WebSockets})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(testCtx(t))
	var he *HandshakeError
	if !errors.As(err, &he) || err.Error() != "Server returned handshake error: The protocol 'messagepack' is not supported." {
		t.Fatalf("Start: %v", err)
	}
	if c.State() != Disconnected {
		t.Fatalf("state %v", c.State())
	}
}

func TestStopDuringReconnectDelay(t *testing.T) {
	srv, url := startRealServer(t, signalr.Options{})
	reconnecting := make(chan struct{}, 1)
	closed := make(chan error, 1)
	c := startClient(t, url, Options{
		Reconnect:      DelaysReconnectPolicy{time.Hour},
		OnReconnecting: func(error) { reconnecting <- struct{}{} },
		OnClose:        func(err error) { closed <- err },
	})
	ctx := testCtx(t)
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-reconnecting
	if c.State() != Reconnecting {
		t.Fatalf("state %v", c.State())
	}
	if _, err := c.Invoke(ctx, "Void"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("invoke while reconnecting: %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("closed with %v after Stop", err)
	}
	if c.State() != Disconnected {
		t.Fatalf("state %v", c.State())
	}
}

func TestStopDuringStart(t *testing.T) {
	// A server that accepts negotiate but never answers the handshake.
	hang := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/negotiate") {
			w.Write([]byte(`{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`))
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("_") != "" {
			select {
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
	}))
	defer hs.Close()
	defer close(hang)
	c, err := New(hs.URL+"/hub", Options{})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- c.Start(context.Background()) }()
	for c.State() != Connecting {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if err := c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err == nil {
		t.Fatal("Start succeeded although stopped")
	}
	if c.State() != Disconnected {
		t.Fatalf("state %v", c.State())
	}
}

func TestHandshakeTimeout(t *testing.T) {
	var polls atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/negotiate") {
			w.Write([]byte(`{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`))
			return
		}
		if r.Method == http.MethodGet && r.URL.Query().Get("_") != "" && polls.Add(1) > 1 {
			<-r.Context().Done() // open the connection, then never answer a poll
		}
	}))
	defer hs.Close()
	c, err := New(hs.URL+"/hub", Options{HandshakeTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(testCtx(t)); err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("Start: %v", err)
	}
}

// dropProxy forwards TCP to target and can cut every proxied connection
// without a WebSocket close frame: a network failure as the client sees it.
type dropProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.drop()
		p.wg.Wait()
	})
	return p
}

func (p *dropProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(u, c); _ = u.Close() }()
		go func() { defer p.wg.Done(); _, _ = io.Copy(c, u); _ = c.Close() }()
	}
}

func (p *dropProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func TestRealServerStatefulReconnect(t *testing.T) {
	for _, pr := range []protocol.HubProtocol{protocol.JSON, protocol.MessagePack} {
		t.Run(pr.Name(), func(t *testing.T) {
			_, url := startRealServer(t, signalr.Options{AllowStatefulReconnects: true})
			host := strings.TrimPrefix(strings.TrimSuffix(url, "/hub"), "http://")
			proxy := newDropProxy(t, host)
			var mu sync.Mutex
			var events []string
			messages := make(chan string, 16)
			c, err := New("http://"+proxy.ln.Addr().String()+"/hub", Options{
				Transports:        transports.WebSockets,
				Protocol:          pr,
				StatefulReconnect: true,
				Reconnect:         DefaultReconnectPolicy(),
				OnReconnecting:    func(err error) { mu.Lock(); events = append(events, "reconnecting: "+fmt.Sprint(err)); mu.Unlock() },
				OnClose:           func(err error) { mu.Lock(); events = append(events, "closed: "+fmt.Sprint(err)); mu.Unlock() },
			})
			if err != nil {
				t.Fatal(err)
			}
			_ = c.On("Message", func(s string, n int) { messages <- s })
			ctx := testCtx(t)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Stop(ctx)
			id := c.ConnectionID()
			for round := range 3 {
				if got, err := Invoke[string](ctx, c, "Echo", "before"); err != nil || got != "before" {
					t.Fatalf("round %d: Echo = %q %v", round, got, err)
				}
				proxy.drop()
				// Sent while the socket is gone: buffered, then replayed after the resume.
				if err := c.Send(ctx, "CallMe", fmt.Sprintf("during %d", round), 0); err != nil {
					t.Fatalf("round %d: Send: %v", round, err)
				}
				if got := <-messages; got != fmt.Sprintf("during %d", round) {
					t.Fatalf("round %d: got %q", round, got)
				}
				if got, err := Invoke[string](ctx, c, "GetConnectionID"); err != nil || got != id {
					t.Fatalf("round %d: connection id %q (%v), want the same %q", round, got, err, id)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 0 {
				t.Fatalf("hub-level events during resumes: %v", events)
			}
		})
	}
}
