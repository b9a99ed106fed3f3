package transports

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func (s *testServer) dialWS(t *testing.T, query string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ws, resp, err := s.dialWSErr(query, opts)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	return ws
}

func (s *testServer) dialWSErr(query string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(s.URL, "http") + "/echo"
	if query != "" {
		u += "?" + query
	}
	return websocket.Dial(ctx, u, opts)
}

func readWS(t *testing.T, ws *websocket.Conn) (websocket.MessageType, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(b)
}

func TestWebSocketEcho(t *testing.T) {
	tests := []struct {
		name     string
		binary   bool
		wantType websocket.MessageType
	}{
		{"text", false, websocket.MessageText},
		{"binary", true, websocket.MessageBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEcho()
			e.binary = tt.binary
			s := newTestServer(t, e, Options{})
			ws := s.dialWS(t, "id="+s.token(t), nil)
			ctx := context.Background()
			// Two records batched in one frame stay one chunk, one frame back.
			batch := "{\"type\":6}\x1e{\"type\":6}\x1e"
			if err := ws.Write(ctx, websocket.MessageText, []byte(batch)); err != nil {
				t.Fatal(err)
			}
			typ, got := readWS(t, ws)
			if typ != tt.wantType || got != batch {
				t.Fatalf("got %v %q", typ, got)
			}
			if err := ws.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, got := readWS(t, ws); got != "x" {
				t.Fatalf("got %q", got)
			}
			if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
			c, err := e.waitEnded(t)
			if !isEOF(err) {
				t.Fatalf("Receive error %v, want io.EOF", err)
			}
			if c.Transport() != WebSockets || c.InherentKeepAlive() {
				t.Fatal("wrong transport facts")
			}
			if !c.(*connection).CloseReceived() {
				t.Fatal("client close frame not recorded")
			}
			eventually(t, "removal", func() bool { return s.d.Len() == 0 })
		})
	}
}

func TestWebSocketUngracefulClose(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{})
	ws := s.dialWS(t, "id="+s.token(t), nil)
	_ = ws.CloseNow() // no close frame
	c, err := e.waitEnded(t)
	if !isEOF(err) || c.(*connection).CloseReceived() {
		t.Fatalf("err %v, closeReceived %v", err, c.(*connection).CloseReceived())
	}
}

func TestWebSocketServerCloseCodes(t *testing.T) {
	tests := []struct {
		name     string
		closeErr error
		want     websocket.StatusCode
	}{
		{"handler returns: 1000", nil, websocket.StatusNormalClosure},
		{"Close(err): 1011", errors.New("boom"), websocket.StatusInternalError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := HandlerFunc(func(ctx context.Context, c Conn) {
				b, err := c.Receive(ctx)
				if err != nil {
					return
				}
				_ = c.Send(ctx, b)
				if tt.closeErr != nil {
					c.Close(tt.closeErr)
					<-c.Done()
					if _, err := c.Receive(ctx); !errors.Is(err, ErrConnectionClosed) {
						t.Errorf("Receive after Close: %v", err)
					}
				}
			})
			s := newTestServer(t, h, Options{})
			ws := s.dialWS(t, "id="+s.token(t), nil)
			if err := ws.Write(context.Background(), websocket.MessageText, []byte("bye")); err != nil {
				t.Fatal(err)
			}
			if _, got := readWS(t, ws); got != "bye" {
				t.Fatalf("got %q", got)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _, err := ws.Read(ctx)
			if code := websocket.CloseStatus(err); code != tt.want {
				t.Fatalf("close status %v (%v), want %v", code, err, tt.want)
			}
			eventually(t, "removal", func() bool { return s.d.Len() == 0 })
		})
	}
}

func TestWebSocketSkipNegotiation(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{})
	ws := s.dialWS(t, "", nil)
	if err := ws.Write(context.Background(), websocket.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, got := readWS(t, ws); got != "hi" {
		t.Fatalf("got %q", got)
	}
	e.mu.Lock()
	id := e.conns[0].ID()
	e.mu.Unlock()
	if !idPattern.MatchString(id) {
		t.Fatalf("generated id %q", id)
	}
}

func TestWebSocketStatusBodies(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{})
	noWS := newTestServer(t, newEcho(), Options{Transports: ServerSentEvents | LongPolling})

	_, resp, err := s.dialWSErr("id=nope", nil)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown id: %v %v", err, resp)
	}
	_, resp, err = noWS.dialWSErr("id="+noWS.token(t), nil)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("disabled: %v %v", err, resp)
	}
	_, resp, err = noWS.dialWSErr("", nil)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("disabled, no id: %v %v", err, resp)
	}

	tok := s.token(t)
	s.dialWS(t, "id="+tok, nil)
	_, resp, err = s.dialWSErr("id="+tok, nil)
	if err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("second websocket: %v %v", err, resp)
	}

	post := s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil)
	if post.status != http.StatusMethodNotAllowed || post.body != msgPostNotAllowedWS || post.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("POST to websocket: %d %q", post.status, post.body)
	}
	del := s.do(t, http.MethodDelete, "/echo?id="+tok, "", nil)
	if del.status != http.StatusBadRequest || del.body != msgDeleteUnsupported {
		t.Fatalf("DELETE on websocket: %d %q", del.status, del.body)
	}
	lp := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	if lp.status != http.StatusBadRequest || lp.body != msgCannotChange {
		t.Fatalf("poll on websocket: %d %q", lp.status, lp.body)
	}
}

// TestWebSocketStatusBodiesRaw checks the exact bodies of failed upgrades,
// which a websocket client does not expose.
func TestWebSocketStatusBodiesRaw(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{})
	noWS := newTestServer(t, newEcho(), Options{Transports: LongPolling})
	upgrade := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	r := s.do(t, http.MethodGet, "/echo?id=nope", "", upgrade)
	if r.status != http.StatusNotFound || r.body != msgNoConnection || r.header.Get("Content-Type") != "" {
		t.Fatalf("unknown id: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	r = noWS.do(t, http.MethodGet, "/echo?id="+noWS.token(t), "", upgrade)
	if r.status != http.StatusNotFound || r.body != "WebSockets transport not supported by this end point type" {
		t.Fatalf("disabled: %d %q", r.status, r.body)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{})
	h := http.Header{"Origin": {"http://evil.example"}}
	_, resp, err := s.dialWSErr("id="+s.token(t), &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	eventually(t, "removal of the refused connection", func() bool { return s.d.Len() == 0 })

	allowed := newTestServer(t, newEcho(), Options{OriginPatterns: []string{"*.example"}})
	allowed.dialWS(t, "id="+allowed.token(t), &websocket.DialOptions{HTTPHeader: h})
	open := newTestServer(t, newEcho(), Options{InsecureSkipVerify: true})
	open.dialWS(t, "id="+open.token(t), &websocket.DialOptions{HTTPHeader: h})
}

func TestWebSocketMessageTooBig(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{MaxWebSocketMessageSize: 16})
	ws := s.dialWS(t, "id="+s.token(t), nil)
	_ = ws.Write(context.Background(), websocket.MessageText, []byte(strings.Repeat("x", 64)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := ws.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
		t.Fatalf("close status %v (%v)", code, err)
	}
	if _, err := e.waitEnded(t); !isEOF(err) {
		t.Fatalf("Receive: %v", err)
	}
}

func TestCloseEndsWebSockets(t *testing.T) {
	e := newEcho()
	d := NewDispatcher(e, Options{})
	mux := http.NewServeMux()
	mux.Handle("/echo", d)
	mux.Handle("/echo/", d)
	srv := &testServer{Server: newHTTPTestServer(mux), d: d}
	defer srv.Close()
	ws := srv.dialWS(t, "id="+srv.token(t), nil)
	if err := ws.Write(context.Background(), websocket.MessageText, []byte("a")); err != nil {
		t.Fatal(err)
	}
	readWS(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, _, err := ws.Read(ctx)
		errc <- err
	}()
	d.Close()
	err := <-errc
	if code := websocket.CloseStatus(err); code != websocket.StatusNormalClosure {
		t.Fatalf("close status %v (%v)", code, err)
	}
	r := srv.do(t, http.MethodPost, "/echo/negotiate", "", nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("negotiate after Close: %d", r.status)
	}
}
