package transports

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestHandlerPanicClosesWithError(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, c Conn) { panic("boom") })
	s := newTestServer(t, h, Options{})
	ws := s.dialWS(t, "id="+s.token(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := ws.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusInternalError {
		t.Fatalf("close status %v (%v)", code, err)
	}
}

func TestRequestCarriesQuery(t *testing.T) {
	got := make(chan string, 1)
	h := HandlerFunc(func(ctx context.Context, c Conn) { got <- c.Request().URL.Query().Get("numRedirects") })
	s := newTestServer(t, h, Options{})
	s.dialWS(t, "id="+s.token(t)+"&numRedirects=3", nil)
	select {
	case v := <-got:
		if v != "3" {
			t.Fatalf("numRedirects %q", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not run")
	}
}

// TestWebSocketSendTimeout: a client that stops reading makes a send block;
// after TransportSendTimeout the socket is dropped and Send fails.
func TestWebSocketSendTimeout(t *testing.T) {
	errc := make(chan error, 1)
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		big := make([]byte, 1<<20)
		for {
			if err := c.Send(ctx, big); err != nil {
				errc <- err
				return
			}
		}
	})
	s := newTestServer(t, h, Options{TransportSendTimeout: 50 * time.Millisecond})
	s.dialWS(t, "id="+s.token(t), &websocket.DialOptions{}) // never reads
	select {
	case err := <-errc:
		// The failing write reports the socket error; when the socket died
		// between two sends, the next one finds the connection closed.
		if err == nil {
			t.Fatal("Send succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send did not time out")
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

// TestWebSocketCloseTimeout: a client that never answers the close frame is
// dropped after WebSocketCloseTimeout.
func TestWebSocketCloseTimeout(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, c Conn) {}) // ends at once: server close
	s := newTestServer(t, h, Options{WebSocketCloseTimeout: 30 * time.Millisecond})
	s.dialWS(t, "id="+s.token(t), nil) // never reads, so never answers
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

func TestSSESendTimeout(t *testing.T) {
	errc := make(chan error, 1)
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		big := []byte(strings.Repeat("x", 1<<20))
		for {
			if err := c.Send(ctx, big); err != nil {
				errc <- err
				return
			}
		}
	})
	s := newTestServer(t, h, Options{TransportSendTimeout: 50 * time.Millisecond})
	s.openSSE(t, context.Background(), s.token(t)) // body never read
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("Send succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("send did not time out")
	}
}

// TestCloseEndsEverything: Dispatcher.Close ends SSE streams, answers
// pending polls, expires nothing later, and leaves no goroutine (goleak).
func TestCloseEndsEverything(t *testing.T) {
	e := newEcho()
	d := NewDispatcher(e, Options{})
	mux := http.NewServeMux()
	mux.Handle("/echo", d)
	mux.Handle("/echo/", d)
	s := &testServer{Server: newHTTPTestServer(mux), d: d}
	defer s.Close()

	sseTok := s.token(t)
	resp := s.openSSE(t, context.Background(), sseTok)
	lpTok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+lpTok, "", nil)
	poll := s.pollAsync(t, lpTok)
	eventually(t, "poll parked", pollWaiting(s, lpTok))
	s.token(t) // one never started

	d.Close()
	if r := waitResult(t, poll); r.status != http.StatusNoContent || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("pending poll: %d %v", r.status, r.header)
	}
	b, _ := io.ReadAll(resp.Body)
	if string(b) != ":\r\n" {
		t.Fatalf("sse body %q", b)
	}
	if d.Len() != 0 {
		t.Fatalf("%d connections left", d.Len())
	}
	for range 2 {
		if _, err := e.waitEnded(t); err == nil {
			t.Fatal("handler ended without an error")
		}
	}
	if r := s.do(t, http.MethodGet, "/echo?id="+lpTok, "", nil); r.status != http.StatusServiceUnavailable {
		t.Fatalf("after Close: %d", r.status)
	}
	d.Close() // idempotent
}
