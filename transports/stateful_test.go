package transports

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// statefulEcho enables stateful reconnect, echoes, and sends "SEQ" on every
// reconnect (where a hub sends Sequence and its replay).
type statefulEcho struct {
	*echoHandler
	enabled chan bool
	gate    chan struct{} // non-nil: each resume waits for a value before ResumeSend
}

func (h *statefulEcho) ServeConn(ctx context.Context, c Conn) {
	sr := c.(StatefulReconnector)
	h.enabled <- sr.EnableStatefulReconnect(func() {
		resume := func() {
			if err := sr.ResumeSend(ctx, []byte("SEQ")); err != nil {
				panic(err)
			}
		}
		if h.gate == nil {
			resume()
			return
		}
		go func() {
			select {
			case <-h.gate:
				resume()
			case <-ctx.Done():
			}
		}()
	})
	h.echoHandler.ServeConn(ctx, c)
}

func newStatefulServer(t *testing.T, opts Options) (*testServer, *statefulEcho) {
	h := &statefulEcho{echoHandler: newEcho(), enabled: make(chan bool, 10)}
	opts.AllowStatefulReconnects = true
	return newTestServer(t, h, opts), h
}

func echoOnce(t *testing.T, ws *websocket.Conn, msg string) {
	t.Helper()
	if err := ws.Write(context.Background(), websocket.MessageText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if _, got := readWS(t, ws); got != msg {
		t.Fatalf("echo %q, want %q", got, msg)
	}
}

func TestStatefulReconnect(t *testing.T) {
	s, h := newStatefulServer(t, Options{})
	nb := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true")
	if !nb.UseStatefulReconnect {
		t.Fatal("negotiate did not grant stateful reconnect")
	}
	ws1 := s.dialWS(t, "id="+nb.ConnectionToken, nil)
	if !<-h.enabled {
		t.Fatal("EnableStatefulReconnect refused")
	}
	echoOnce(t, ws1, "one")
	_ = ws1.CloseNow() // ungraceful
	eventually(t, "detached", func() bool {
		c := s.d.lookup(nb.ConnectionToken)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sock == nil
	})
	c := s.d.lookup(nb.ConnectionToken)
	if err := c.Send(context.Background(), []byte("dropped")); err != nil {
		t.Fatalf("Send while detached: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("connection ended on an ungraceful loss")
	default:
	}

	ws2 := s.dialWS(t, "id="+nb.ConnectionToken, nil)
	if _, got := readWS(t, ws2); got != "SEQ" {
		t.Fatalf("first message after resume %q", got)
	}
	echoOnce(t, ws2, "two")
	if s.d.Len() != 1 {
		t.Fatalf("%d connections", s.d.Len())
	}

	// A close frame ends it for good.
	if err := ws2.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := h.waitEnded(t); !isEOF(err) {
		t.Fatalf("Receive: %v", err)
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
	_, resp, err := s.dialWSErr("id="+nb.ConnectionToken, nil)
	if err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resume after a graceful close: %v %v", err, resp)
	}
}

// TestStatefulReconnectEarly: the client returns before the server noticed
// the old socket died; the new socket replaces it.
func TestStatefulReconnectEarly(t *testing.T) {
	s, h := newStatefulServer(t, Options{})
	tok := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").ConnectionToken
	ws1 := s.dialWS(t, "id="+tok, nil)
	<-h.enabled
	echoOnce(t, ws1, "one")
	ws2 := s.dialWS(t, "id="+tok, nil) // ws1 still open
	if _, got := readWS(t, ws2); got != "SEQ" {
		t.Fatalf("first message after resume %q", got)
	}
	echoOnce(t, ws2, "two")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := ws1.Read(ctx); err == nil {
		t.Fatal("old socket still open")
	}
	echoOnce(t, ws2, "three")
}

func TestStatefulReconnectExpires(t *testing.T) {
	s, h := newStatefulServer(t, Options{DisconnectTimeout: 300 * time.Millisecond})
	tok := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").ConnectionToken
	ws1 := s.dialWS(t, "id="+tok, nil)
	<-h.enabled
	echoOnce(t, ws1, "one")
	_ = ws1.CloseNow()
	if _, err := h.waitEnded(t); !isEOF(err) {
		t.Fatalf("Receive: %v", err)
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

func TestStatefulReconnectServerClose(t *testing.T) {
	s, h := newStatefulServer(t, Options{})
	tok := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").ConnectionToken
	ws1 := s.dialWS(t, "id="+tok, nil)
	<-h.enabled
	echoOnce(t, ws1, "one")
	_ = ws1.CloseNow()
	c := s.d.lookup(tok)
	eventually(t, "detached", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sock == nil
	})
	c.Close(nil) // the hub gives up while the client is away
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

func TestStatefulReconnectNotEnabled(t *testing.T) {
	tests := []struct {
		name  string
		query string
		allow bool
	}{
		{"not requested", "negotiateVersion=1", true},
		{"not allowed", "negotiateVersion=1&useStatefulReconnect=true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &statefulEcho{echoHandler: newEcho(), enabled: make(chan bool, 10)}
			s := newTestServer(t, h, Options{AllowStatefulReconnects: tt.allow})
			tok := s.negotiate(t, tt.query).ConnectionToken
			ws1 := s.dialWS(t, "id="+tok, nil)
			if <-h.enabled {
				t.Fatal("EnableStatefulReconnect accepted without negotiation")
			}
			echoOnce(t, ws1, "one")
			_ = ws1.CloseNow()
			if _, err := h.waitEnded(t); !isEOF(err) {
				t.Fatalf("Receive: %v", err)
			}
			eventually(t, "removal", func() bool { return s.d.Len() == 0 })
		})
	}
}

// TestStatefulReconnectLongPolling: only WebSockets can use it.
func TestStatefulReconnectLongPolling(t *testing.T) {
	s, h := newStatefulServer(t, Options{})
	tok := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").ConnectionToken
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	if <-h.enabled {
		t.Fatal("enabled over Long Polling")
	}
}

// TestStatefulResumeHoldsSends: after a new socket attaches, nothing the
// handler sends reaches the client before its ResumeSend (the Sequence and
// replay must come first, reference §11.7); later sends flow again.
func TestStatefulResumeHoldsSends(t *testing.T) {
	s, h := newStatefulServer(t, Options{})
	h.gate = make(chan struct{}, 1)
	tok := s.negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").ConnectionToken
	ws1 := s.dialWS(t, "id="+tok, nil)
	<-h.enabled
	echoOnce(t, ws1, "one")
	_ = ws1.CloseNow()
	eventually(t, "detached", func() bool {
		c := s.d.lookup(tok)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sock == nil
	})
	ws2 := s.dialWS(t, "id="+tok, nil)
	c := s.d.lookup(tok)
	eventually(t, "resumed", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sock != nil
	})
	if err := c.Send(context.Background(), []byte("overtaking")); err != nil {
		t.Fatalf("Send while held: %v", err)
	}
	h.gate <- struct{}{}
	if _, got := readWS(t, ws2); got != "SEQ" {
		t.Fatalf("first message after resume %q, want SEQ", got)
	}
	echoOnce(t, ws2, "two")
}
