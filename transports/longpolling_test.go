package transports

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// pollAsync starts a poll and returns its result later.
func (s *testServer) pollAsync(t *testing.T, tok string) <-chan result {
	t.Helper()
	ch := make(chan result, 1)
	go func() {
		r, err := s.doErr(context.Background(), http.MethodGet, "/echo?id="+tok+"&_=1", "", nil)
		if err != nil {
			t.Errorf("poll: %v", err)
		}
		ch <- r
	}()
	return ch
}

func waitResult(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("poll did not answer")
	}
	return result{}
}

// pollWaiting reports whether a poll of c is parked waiting for data.
func pollWaiting(s *testServer, tok string) func() bool {
	return func() bool {
		c := s.d.lookup(tok)
		if c == nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.active && c.lpPoll != nil
	}
}

func checkNoCache(t *testing.T, r result) {
	t.Helper()
	if r.header.Get("Cache-Control") != "no-cache, no-store" || r.header.Get("Pragma") != "no-cache" ||
		r.header.Get("Expires") != "Thu, 01 Jan 1970 00:00:00 GMT" {
		t.Errorf("no-cache headers missing: %v", r.header)
	}
}

func TestLongPolling(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{})
	tok := s.token(t)

	first := s.do(t, http.MethodGet, "/echo?id="+tok+"&_=1", "", http.Header{"X-Test": {"first"}})
	if first.status != http.StatusOK || first.body != "" || first.header.Get("Content-Type") != "application/octet-stream" ||
		first.header.Get("Content-Length") != "0" {
		t.Fatalf("first poll: %d %q %v", first.status, first.body, first.header)
	}
	checkNoCache(t, first)

	if r := s.do(t, http.MethodPost, "/echo?id="+tok, "{\"type\":6}\x1e", nil); r.status != http.StatusOK || r.body != "" ||
		r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	r := waitResult(t, s.pollAsync(t, tok))
	if r.status != http.StatusOK || r.body != "{\"type\":6}\x1e" || r.header.Get("Content-Type") != "application/octet-stream" ||
		r.header.Get("Content-Length") != "11" || r.header.Get("Long-Running") != "true" {
		t.Fatalf("data poll: %d %q %v", r.status, r.body, r.header)
	}
	checkNoCache(t, r)

	// A newer poll ends the older one with 204.
	older := s.pollAsync(t, tok)
	eventually(t, "older poll parked", pollWaiting(s, tok))
	newer := s.pollAsync(t, tok)
	if r := waitResult(t, older); r.status != http.StatusNoContent {
		t.Fatalf("older poll: %d %q", r.status, r.body)
	}
	s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil)
	if r := waitResult(t, newer); r.status != http.StatusOK || r.body != "x" {
		t.Fatalf("newer poll: %d %q", r.status, r.body)
	}

	// The handler sees the first poll's request, long after it ended.
	c := s.d.lookup(tok)
	if got := c.Request().Header.Get("X-Test"); got != "first" {
		t.Fatalf("Request header %q", got)
	}
	if c.Transport() != LongPolling || !c.InherentKeepAlive() {
		t.Fatal("wrong transport facts")
	}

	// DELETE: 202, the pending poll ends with 204, Receive returns io.EOF.
	pending := s.pollAsync(t, tok)
	eventually(t, "poll parked", pollWaiting(s, tok))
	if r := s.do(t, http.MethodDelete, "/echo?id="+tok, "", nil); r.status != http.StatusAccepted || r.body != "" ||
		r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("DELETE: %d %q", r.status, r.body)
	}
	if r := waitResult(t, pending); r.status != http.StatusNoContent {
		t.Fatalf("poll after DELETE: %d", r.status)
	}
	if _, err := e.waitEnded(t); !isEOF(err) {
		t.Fatalf("Receive after DELETE: %v", err)
	}
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil); r.status != http.StatusNotFound || r.body != msgNoConnection {
		t.Fatalf("poll after removal: %d %q", r.status, r.body)
	}
}

func TestLongPollingTimeout(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{PollTimeout: 20 * time.Millisecond})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	if r.status != http.StatusOK || r.body != "" || r.header.Get("Content-Type") != "text/plain" || r.header.Get("Content-Length") != "0" {
		t.Fatalf("timed-out poll: %d %q %v", r.status, r.body, r.header)
	}
}

func TestLongPollingDisconnectTimeout(t *testing.T) {
	e := newEcho()
	s := newTestServer(t, e, Options{DisconnectTimeout: 300 * time.Millisecond})
	tok := s.token(t)
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil); r.status != http.StatusOK {
		t.Fatalf("first poll: %d", r.status)
	}
	// No further poll: the connection is disposed and the handler sees EOF.
	if _, err := e.waitEnded(t); !isEOF(err) {
		t.Fatalf("Receive: %v", err)
	}
	eventually(t, "removal", func() bool { return s.d.Len() == 0 })
}

func TestLongPollingHandlerEnds(t *testing.T) {
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		b, err := c.Receive(ctx)
		if err != nil {
			return
		}
		_ = c.Send(ctx, append([]byte("last:"), b...))
	})
	s := newTestServer(t, h, Options{})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil)
	// Buffered output survives the handler's end ...
	if r := waitResult(t, s.pollAsync(t, tok)); r.status != http.StatusOK || r.body != "last:x" {
		t.Fatalf("drain poll: %d %q", r.status, r.body)
	}
	// ... then the next poll gets 204 and the connection is gone.
	if r := waitResult(t, s.pollAsync(t, tok)); r.status != http.StatusNoContent {
		t.Fatalf("final poll: %d %q", r.status, r.body)
	}
	if s.d.Len() != 0 {
		t.Fatal("connection not removed")
	}
}

func TestLongPollingBackPressure(t *testing.T) {
	sent := make(chan int, 10)
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		for i := range 3 {
			if err := c.Send(ctx, []byte(strings.Repeat(fmt.Sprint(i), 8))); err != nil {
				return
			}
			sent <- i
		}
		<-c.Done()
	})
	s := newTestServer(t, h, Options{LongPollingBufferSize: 10})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	<-sent // the first send fits, the second waits for a poll
	select {
	case i := <-sent:
		t.Fatalf("send %d did not block", i)
	case <-time.After(20 * time.Millisecond):
	}
	got := ""
	for len(got) < 24 {
		r := waitResult(t, s.pollAsync(t, tok))
		if r.status != http.StatusOK {
			t.Fatalf("poll %d", r.status)
		}
		if len(r.body)%8 != 0 {
			t.Fatalf("a record was split: %q", r.body)
		}
		got += r.body
	}
	if got != "000000001111111122222222" {
		t.Fatalf("got %q", got)
	}
}

func TestLongPollingDisabled(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{Transports: WebSockets})
	r := s.do(t, http.MethodGet, "/echo?id="+s.token(t), "", nil)
	if r.status != http.StatusNotFound || r.body != "LongPolling transport not supported by this end point type" {
		t.Fatalf("got %d %q", r.status, r.body)
	}
}

func TestStatusBodies(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{})
	sse := http.Header{"Accept": {"text/event-stream"}}
	tests := []struct {
		name       string
		method     string
		path       string
		header     http.Header
		wantStatus int
		wantBody   string
	}{
		{"SSE no id", http.MethodGet, "/echo", sse, 400, "Connection ID required"},
		{"LP no id", http.MethodGet, "/echo", nil, 400, "Connection ID required"},
		{"POST no id", http.MethodPost, "/echo", nil, 400, "Connection ID required"},
		{"DELETE no id", http.MethodDelete, "/echo", nil, 400, "Connection ID required"},
		{"SSE unknown", http.MethodGet, "/echo?id=x", sse, 404, "No Connection with that ID"},
		{"LP unknown", http.MethodGet, "/echo?id=x", nil, 404, "No Connection with that ID"},
		{"POST unknown", http.MethodPost, "/echo?id=x", nil, 404, "No Connection with that ID"},
		{"DELETE unknown", http.MethodDelete, "/echo?id=x", nil, 404, "No Connection with that ID"},
		{"PUT", http.MethodPut, "/echo?id=x", nil, 405, ""},
		{"PATCH", http.MethodPatch, "/echo", nil, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.method, tt.path, "", tt.header)
			if r.status != tt.wantStatus || r.body != tt.wantBody || r.header.Get("Content-Type") != "text/plain" {
				t.Fatalf("got %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
			}
		})
	}
	// DELETE on a negotiated connection that no transport started yet.
	if r := s.do(t, http.MethodDelete, "/echo?id="+s.token(t), "", nil); r.status != 400 || r.body != msgDeleteUnsupported {
		t.Fatalf("DELETE unstarted: %d %q", r.status, r.body)
	}
}

func TestPostTooLarge(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{MaxRequestBodySize: 8})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	r := s.do(t, http.MethodPost, "/echo?id="+tok, "123456789", nil)
	if r.status != http.StatusRequestEntityTooLarge || r.body != "Request body too large. The limit is 8 bytes." {
		t.Fatalf("got %d %q", r.status, r.body)
	}
	if r := s.do(t, http.MethodPost, "/echo?id="+tok, "12345678", nil); r.status != http.StatusOK {
		t.Fatalf("POST at the limit: %d", r.status)
	}
}

// TestConcurrentPosts checks that concurrent POSTs reach the handler one
// whole body after another, never interleaved (chunks may hold several).
func TestConcurrentPosts(t *testing.T) {
	var mu sync.Mutex
	var stream []byte
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		for {
			b, err := c.Receive(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			stream = append(stream, b...)
			mu.Unlock()
		}
	})
	// A small input buffer makes most POSTs wait for the handler.
	s := newTestServer(t, h, Options{InputBufferSize: 6000})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	const n, size = 20, 5000
	var want []string
	var wg sync.WaitGroup
	for i := range n {
		body := strings.Repeat(string(rune('a'+i)), size)
		want = append(want, body)
		wg.Go(func() {
			if r := s.do(t, http.MethodPost, "/echo?id="+tok, body, nil); r.status != http.StatusOK {
				t.Errorf("POST: %d", r.status)
			}
		})
	}
	wg.Wait()
	// A POST answers once its body is buffered; the handler takes it later.
	eventually(t, "all bodies", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(stream) >= n*size
	})
	mu.Lock()
	var got []string
	for b := stream; len(b) > 0; b = b[min(size, len(b)):] {
		got = append(got, string(b[:min(size, len(b))]))
	}
	mu.Unlock()
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %d pieces, want %d intact bodies", len(got), n)
	}
}

// TestPostBuffered: a POST is answered once its body is buffered, before
// the handler reads (ASP.NET Core acknowledges sends the same way); past
// InputBufferSize unread bytes the next POST waits for the handler. Bytes
// acknowledged before a DELETE still reach the handler, then io.EOF.
func TestPostBuffered(t *testing.T) {
	release := make(chan struct{})
	got := make(chan string, 1)
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		<-release
		var all []byte
		for {
			b, err := c.Receive(ctx)
			if err != nil {
				if isEOF(err) {
					got <- string(all)
				}
				return
			}
			all = append(all, b...)
		}
	})
	s := newTestServer(t, h, Options{InputBufferSize: 8})
	tok := s.token(t)
	s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	// The handler reads nothing yet: the first POST is buffered, the second
	// (past the limit) waits.
	if r := s.do(t, http.MethodPost, "/echo?id="+tok, "123456789", nil); r.status != http.StatusOK {
		t.Fatalf("first POST: %d", r.status)
	}
	second := make(chan result, 1)
	go func() {
		r, _ := s.doErr(context.Background(), http.MethodPost, "/echo?id="+tok, "abc", nil)
		second <- r
	}()
	select {
	case r := <-second:
		t.Fatalf("second POST answered %d before the handler read", r.status)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if r := <-second; r.status != http.StatusOK {
		t.Fatalf("second POST: %d", r.status)
	}
	// Wait until the handler took everything, then buffer more and DELETE
	// at once: the bytes still arrive before the end.
	eventually(t, "input taken", func() bool {
		c := s.d.lookup(tok)
		c.inMu.Lock()
		defer c.inMu.Unlock()
		return len(c.inBuf) == 0
	})
	if r := s.do(t, http.MethodPost, "/echo?id="+tok, "{\"type\":7}\x1e", nil); r.status != http.StatusOK {
		t.Fatalf("last POST: %d", r.status)
	}
	if r := s.do(t, http.MethodDelete, "/echo?id="+tok, "", nil); r.status != http.StatusAccepted {
		t.Fatalf("DELETE: %d", r.status)
	}
	select {
	case all := <-got:
		if all != "123456789abc{\"type\":7}\x1e" {
			t.Fatalf("handler got %q", all)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not end")
	}
}

// TestTransportChange: once a connection is bound to a transport, a request
// of any other transport on its id gets 400 "Cannot change transports
// mid-connection" (raw HTTP, every ordered pair), and the connection keeps
// working on its own transport.
func TestTransportChange(t *testing.T) {
	upgrade := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	requests := map[TransportType]http.Header{
		WebSockets:       upgrade,
		ServerSentEvents: {"Accept": {"text/event-stream"}},
		LongPolling:      nil,
	}
	for _, first := range []TransportType{WebSockets, ServerSentEvents, LongPolling} {
		for _, second := range []TransportType{WebSockets, ServerSentEvents, LongPolling} {
			if first == second {
				continue
			}
			t.Run(first.String()+" then "+second.String(), func(t *testing.T) {
				s := newTestServer(t, newEcho(), Options{})
				tok := s.token(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				// check proves the connection still works on its transport.
				var check func()
				switch first {
				case WebSockets:
					ws := s.dialWS(t, "id="+tok, nil)
					check = func() {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						defer cancel()
						if err := ws.Write(ctx, websocket.MessageText, []byte("x")); err != nil {
							t.Fatal(err)
						}
						if _, got := readWS(t, ws); got != "x" {
							t.Fatalf("echo %q", got)
						}
					}
				case ServerSentEvents:
					br := bufio.NewReader(s.openSSE(t, ctx, tok).Body)
					readN(t, br, 3)
					check = func() {
						s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil)
						if got := readN(t, br, 11); got != "data: x\r\n\r\n" {
							t.Fatalf("event %q", got)
						}
					}
				case LongPolling:
					s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
					check = func() {
						s.do(t, http.MethodPost, "/echo?id="+tok, "x", nil)
						if r := waitResult(t, s.pollAsync(t, tok)); r.body != "x" {
							t.Fatalf("poll %d %q", r.status, r.body)
						}
					}
				}
				r := s.do(t, http.MethodGet, "/echo?id="+tok, "", requests[second])
				if r.status != http.StatusBadRequest || r.body != msgCannotChange || r.header.Get("Content-Type") != "text/plain" {
					t.Fatalf("%s request: %d %q %q", second, r.status, r.body, r.header.Get("Content-Type"))
				}
				check()
			})
		}
	}
}
