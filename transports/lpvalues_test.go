package transports

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

type userKey struct{}

// TestLongPollingKeepsRequestValues: authentication middleware attaches the
// user to the request context; hub code reads it from Conn.Request() long
// after the first poll ended, so those values must survive the copy.
func TestLongPollingKeepsRequestValues(t *testing.T) {
	d := NewDispatcher(newEcho(), Options{})
	withUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, "alice")))
	})
	srv := httptest.NewServer(withUser)
	t.Cleanup(func() { d.Close(); srv.Close() })
	s := &testServer{Server: srv, d: d}

	tok := s.token(t)
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil); r.status != http.StatusOK {
		t.Fatalf("first poll: %d %q", r.status, r.body)
	}
	c := d.lookup(tok)
	req := c.Request()
	if got := req.Context().Value(userKey{}); got != "alice" {
		t.Fatalf("user after the first poll = %v, want alice", got)
	}
	if err := req.Context().Err(); err != nil {
		t.Fatalf("request context ended with the poll: %v", err)
	}
	d.Close()
	if req.Context().Err() == nil {
		t.Fatal("request context outlived the dispatcher")
	}
}
