package transports

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestAppendSSEEvent(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "\r\n"},
		{"abc", "data: abc\r\n\r\n"},
		{"abc\r", "data: abc\r\r\n\r\n"},
		{"a\nb", "data: a\r\ndata: b\r\n\r\n"},
		{"a\r\nb\r\n", "data: a\r\ndata: b\r\ndata: \r\n\r\n"},
		{"\r\nx", "data: \r\r\ndata: x\r\n\r\n"}, // a lone "\r" line is not trimmed
		{"a\n\nb\r", "data: a\r\ndata: \r\ndata: b\r\r\n\r\n"},
		{"{\"type\":1}\x1e{\"x\":\"l1\\nl2\"}\x1e", "data: {\"type\":1}\x1e{\"x\":\"l1\\nl2\"}\x1e\r\n\r\n"},
	}
	for _, tt := range tests {
		if got := string(appendSSEEvent(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendSSEEvent(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// openSSE starts an SSE request and returns the open response.
func (s *testServer) openSSE(t *testing.T, ctx context.Context, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/echo?id="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %d bytes: %v (got %q)", n, err, buf)
	}
	return string(buf)
}

func TestSSE(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{})
	tok := s.token(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp := s.openSSE(t, ctx, tok)
	want := map[string]string{
		"Content-Type":     "text/event-stream",
		"Cache-Control":    "no-cache,no-store",
		"Pragma":           "no-cache",
		"Content-Encoding": "identity",
		"Long-Running":     "true",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	if got := readN(t, br, 3); got != ":\r\n" {
		t.Fatalf("first bytes %q", got)
	}
	payload := "line1\nline2\r\n{\"type\":6}\x1e"
	if r := s.do(t, http.MethodPost, "/echo?id="+tok, payload, nil); r.status != http.StatusOK || r.body != "" ||
		r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("POST: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	wantEvent := "data: line1\r\ndata: line2\r\ndata: {\"type\":6}\x1e\r\n\r\n"
	if got := readN(t, br, len(wantEvent)); got != wantEvent {
		t.Fatalf("event %q, want %q", got, wantEvent)
	}

	// A second event stream on the same id is a conflict; other transports
	// are a transport change.
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", http.Header{"Accept": {"text/event-stream"}}); r.status != http.StatusConflict || r.body != "" {
		t.Fatalf("second SSE: %d %q", r.status, r.body)
	}
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil); r.status != http.StatusBadRequest || r.body != msgCannotChange {
		t.Fatalf("poll on SSE: %d %q", r.status, r.body)
	}
	if r := s.do(t, http.MethodDelete, "/echo?id="+tok, "", nil); r.status != http.StatusBadRequest || r.body != msgDeleteUnsupported {
		t.Fatalf("DELETE on SSE: %d %q", r.status, r.body)
	}

	// The client going away ends the connection: Receive returns io.EOF.
	cancel()
	c, err := e.waitEnded(t)
	if !isEOF(err) {
		t.Fatalf("Receive: %v", err)
	}
	if c.Transport() != ServerSentEvents || c.InherentKeepAlive() {
		t.Fatal("wrong transport facts")
	}
	if err := c.SetTransferFormat(true); err == nil {
		t.Fatal("binary over SSE accepted")
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
	if r := s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil); r.status != http.StatusNotFound || r.body != msgNoConnection {
		t.Fatalf("POST after end: %d %q", r.status, r.body)
	}
}

func TestSSERefusesBinary(t *testing.T) {
	e := newEcho()
	e.binary = true
	s := newTestServer(t, e, Options{})
	tok := s.token(t)
	resp := s.openSSE(t, context.Background(), tok)
	_, err := e.waitEnded(t)
	if err == nil || !strings.Contains(err.Error(), "Binary") {
		t.Fatalf("SetTransferFormat(true) error %v", err)
	}
	// The handler closed with an error: the response ends.
	b, _ := io.ReadAll(resp.Body)
	if string(b) != ":\r\n" {
		t.Fatalf("body %q", b)
	}
}

func TestSSEServerClose(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		if err := c.Send(ctx, []byte("bye")); err != nil {
			t.Errorf("Send: %v", err)
		}
	})
	s := newTestServer(t, h, Options{})
	resp := s.openSSE(t, context.Background(), s.token(t))
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != ":\r\ndata: bye\r\n\r\n" {
		t.Fatalf("body %q, %v", b, err)
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

func TestSSEDisabled(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{Transports: WebSockets | LongPolling})
	r := s.do(t, http.MethodGet, "/echo?id="+s.token(t), "", http.Header{"Accept": {"text/event-stream"}})
	if r.status != http.StatusNotFound || r.body != "ServerSentEvents transport not supported by this end point type" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
}

func TestSendAfterEnd(t *testing.T) {
	done := make(chan error, 1)
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		c.Close(nil)
		done <- c.Send(ctx, []byte("x"))
	})
	s := newTestServer(t, h, Options{})
	s.openSSE(t, context.Background(), s.token(t))
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnectionClosed) {
			t.Fatalf("Send after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not run")
	}
}

// FuzzSSEEvent checks the framing invariants EventSource relies on: one
// "data: " line per input line, every line feed part of "\r\n", and a blank
// line ending the event.
func FuzzSSEEvent(f *testing.F) {
	f.Add([]byte("{\"type\":1}\x1e"))
	f.Add([]byte("a\r\nb\n\r\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, p []byte) {
		out := string(appendSSEEvent(nil, p))
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("%q does not end the event", out)
		}
		body := strings.TrimSuffix(out, "\r\n")
		lines := 0
		if body != "" {
			for _, l := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
				if !strings.HasPrefix(l, "data: ") || strings.Contains(l, "\n") {
					t.Fatalf("bad line %q in %q", l, out)
				}
				lines++
			}
		}
		want := 0
		if len(p) > 0 {
			want = strings.Count(string(p), "\n") + 1
		}
		if lines != want {
			t.Fatalf("%d data lines for %q, want %d", lines, p, want)
		}
	})
}

// TestSSEEndsCleanly: when the server ends a connection long after its last
// event, the event stream still ends with a complete HTTP response (the
// write deadline of the last event once truncated it: "unexpected EOF").
func TestSSEEndsCleanly(t *testing.T) {
	const sendTimeout = 20 * time.Millisecond
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		if err := c.Send(ctx, []byte("hi")); err != nil {
			return
		}
		// Let the last event's write deadline pass before the end.
		time.Sleep(5 * sendTimeout)
	})
	s := newTestServer(t, h, Options{TransportSendTimeout: sendTimeout})
	resp := s.openSSE(t, context.Background(), s.token(t))
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != ":\r\ndata: hi\r\n\r\n" {
		t.Fatalf("stream %q, %v", b, err)
	}
}
