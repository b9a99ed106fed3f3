package signalr

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// drainHub holds Shutdown open: OnDisconnected waits for release.
type drainHub struct {
	disconnecting chan struct{}
	release       chan struct{}
}

func (h *drainHub) Echo(s string) string { return s }

func (h *drainHub) OnDisconnected(_ *Context, _ error) error {
	h.disconnecting <- struct{}{}
	<-h.release
	return nil
}

// dialHub opens a WebSocket hub connection and completes the handshake.
func dialHub(t *testing.T, ctx context.Context, base string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/hub?id="+negotiateToken(t, base), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e")); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.Read(ctx); err != nil || string(b) != "{}\x1e" {
		t.Fatalf("handshake %q %v", b, err)
	}
	return ws
}

func status(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// While Shutdown waits for connections to end, the server tells every
// client to reconnect, turns away requests that would start a connection
// with 503 (so a load balancer or the reconnect policy goes elsewhere), and
// still serves requests of connections it has.
func TestServerShutdownDrains(t *testing.T) {
	hub := &drainHub{disconnecting: make(chan struct{}, 2), release: make(chan struct{})}
	s, hs := startServer(t, hub, Options{KeepAliveInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ws1 := dialHub(t, ctx, hs.URL)
	ws2 := dialHub(t, ctx, hs.URL)
	if s.ShuttingDown() {
		t.Fatal("ShuttingDown before Shutdown")
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	var readers sync.WaitGroup
	defer readers.Wait()
	for _, ws := range []*websocket.Conn{ws1, ws2} {
		if _, b, err := ws.Read(ctx); err != nil || string(b) != `{"type":7,"allowReconnect":true}`+"\x1e" {
			t.Fatalf("close message %q %v", b, err)
		}
		// Keep reading, as a client does, so the WebSocket close handshake
		// completes when the server ends the socket.
		readers.Go(func() {
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		})
	}
	<-hub.disconnecting
	<-hub.disconnecting
	if !s.ShuttingDown() {
		t.Fatal("not ShuttingDown during Shutdown")
	}

	tests := []struct {
		name, method, path string
		want               int
	}{
		{"negotiate", http.MethodPost, "/hub/negotiate?negotiateVersion=1", http.StatusServiceUnavailable},
		{"negotiate, other case and trailing slash", http.MethodPost, "/hub/Negotiate/", http.StatusServiceUnavailable},
		{"connect without negotiate", http.MethodGet, "/hub", http.StatusServiceUnavailable},
		// Requests naming a connection reach the transports (this id is
		// unknown there: 404), so live connections can finish.
		{"request of a connection", http.MethodGet, "/hub?id=unknown", http.StatusNotFound},
	}
	for _, tt := range tests {
		code, body, hdr := status(t, tt.method, hs.URL+tt.path)
		if code != tt.want {
			t.Errorf("%s: status %d (%q), want %d", tt.name, code, body, tt.want)
		}
		if code == http.StatusServiceUnavailable && (body != "The server is shutting down." || hdr.Get("Retry-After") != "1") {
			t.Errorf("%s: body %q, Retry-After %q", tt.name, body, hdr.Get("Retry-After"))
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while connections were still ending", err)
	default:
	}

	close(hub.release)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := s.ConnectionCount(); n != 0 {
		t.Errorf("ConnectionCount after Shutdown = %d", n)
	}
	if code, _, _ := status(t, http.MethodPost, hs.URL+"/hub/negotiate?negotiateVersion=1"); code != http.StatusServiceUnavailable {
		t.Errorf("negotiate after Shutdown: %d", code)
	}
}

// Shutdown gives up when its context ends first, and says so.
func TestServerShutdownContextExpires(t *testing.T) {
	hub := &drainHub{disconnecting: make(chan struct{}, 1), release: make(chan struct{})}
	s, hs := startServer(t, hub, Options{KeepAliveInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	dialHub(t, ctx, hs.URL)

	sctx, scancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(sctx) }()
	<-hub.disconnecting // the connection is ending; OnDisconnected holds it
	scancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	close(hub.release) // let the connection finish for the cleanup
}

// A Long Polling client that is between polls when Shutdown begins still
// gets the Close message with its next poll: Shutdown waits for the
// transports to drain before closing them.
func TestServerShutdownLongPollingGetsClose(t *testing.T) {
	s, hs := startServer(t, newTestHub(), Options{})
	url := hs.URL + "/hub?id=" + negotiateToken(t, hs.URL)
	poll := func() (int, string) {
		t.Helper()
		code, body, _ := status(t, http.MethodGet, url)
		return code, body
	}
	if code, body := poll(); code != http.StatusOK || body != "" {
		t.Fatalf("first poll %d %q", code, body)
	}
	if code, _, _ := postBody(t, url, `{"protocol":"json","version":1}`+"\x1e"); code != http.StatusOK {
		t.Fatalf("send handshake: %d", code)
	}
	if code, body := poll(); code != http.StatusOK || body != "{}\x1e" {
		t.Fatalf("handshake poll %d %q", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	// No poll is waiting: the Close is buffered until this one.
	for deadline := time.Now().Add(waitLimit); s.ConnectionCount() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hub connection did not end")
		}
	}
	if code, body := poll(); code != http.StatusOK || body != `{"type":7,"allowReconnect":true}`+"\x1e" {
		t.Fatalf("poll after Shutdown began: %d %q", code, body)
	}
	if code, body := poll(); code != http.StatusNoContent {
		t.Fatalf("final poll: %d %q", code, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func postBody(t *testing.T, url, body string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}
