package transports_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/transports"
)

// waitTimeout bounds every wait for a server-side condition: generous for a
// loaded machine; conditions normally hold within milliseconds of the event
// that causes them (the waits never stand in for a fixed sleep).
const waitTimeout = 15 * time.Second

// waitUntil polls cond until it holds or waitTimeout passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jsHub is the ChatServer's hub plus what the official functional tests'
// TestHub offers to check transports: the transport the server serves the
// caller over. It records connection lifecycle events.
type jsHub struct {
	chat.ChatHub

	blocked atomic.Int32  // Block calls running
	release chan struct{} // closed to let them return

	mu     sync.Mutex
	events []hubEvent
}

// Block runs until the test closes release (or the connection ends).
func (h *jsHub) Block(ctx *signalr.Context) string {
	h.blocked.Add(1)
	defer h.blocked.Add(-1)
	select {
	case <-h.release:
		return "released"
	case <-ctx.Done():
		return "cancelled"
	}
}

type hubEvent struct {
	connected bool // false: disconnected
	id        string
	transport string
	err       error
	at        time.Time
}

// GetActiveTransportName is TestHub's method of the same name.
func (h *jsHub) GetActiveTransportName(ctx *signalr.Context) string { return ctx.Transport().String() }

// OnConnected records the connection, then announces it like ChatHub.
func (h *jsHub) OnConnected(ctx *signalr.Context) error {
	h.record(hubEvent{connected: true, id: ctx.ConnectionID(), transport: ctx.Transport().String()})
	return h.ChatHub.OnConnected(ctx)
}

// OnDisconnected records the end, then announces it like ChatHub.
func (h *jsHub) OnDisconnected(ctx *signalr.Context, err error) error {
	h.record(hubEvent{id: ctx.ConnectionID(), transport: ctx.Transport().String(), err: err})
	return h.ChatHub.OnDisconnected(ctx, err)
}

func (h *jsHub) record(e hubEvent) {
	e.at = time.Now()
	h.mu.Lock()
	h.events = append(h.events, e)
	h.mu.Unlock()
}

func (h *jsHub) find(connected bool, id string) (hubEvent, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.connected == connected && e.id == id {
			return e, true
		}
	}
	return hubEvent{}, false
}

// waitEvent waits for the hub's OnConnected (connected) or OnDisconnected of id.
func waitEvent(t *testing.T, h *jsHub, connected bool, id string) hubEvent {
	t.Helper()
	var e hubEvent
	what := "OnDisconnected of " + id
	if connected {
		what = "OnConnected of " + id
	}
	waitUntil(t, what, func() bool {
		var ok bool
		e, ok = h.find(connected, id)
		return ok
	})
	return e
}

// serverSpec describes a test server.
type serverSpec struct {
	// newServer builds it with signalr.NewServer (sopts.Transports and
	// sopts.TransportOptions = topts); otherwise the handler and dispatcher
	// are built separately, the way NewServer does, so the test can see the
	// connection table (Dispatcher.Len).
	newServer bool
	sopts     signalr.Options
	topts     transports.Options
	front     frontOptions
}

// hubServer serves a jsHub at <url> behind a front (a recording proxy).
type hubServer struct {
	url   string
	hub   *jsHub
	front *front
	d     *transports.Dispatcher // nil for newServer
	s     *signalr.Server        // nil unless newServer
	h     *signalr.ConnectionHandler
	ts    *httptest.Server
}

// count is the number of hub connections past their handshake.
func (s *hubServer) count() int {
	if s.s != nil {
		return s.s.ConnectionCount()
	}
	return s.h.ConnectionCount()
}

// newHubServer starts a server for spec on 127.0.0.1; it is closed when the
// test ends (after the test's node processes, which start later).
func newHubServer(t *testing.T, spec serverSpec) *hubServer {
	t.Helper()
	hs := &hubServer{hub: &jsHub{release: make(chan struct{})}}
	var inner http.Handler
	var closeFn func()
	if spec.newServer {
		spec.sopts.TransportOptions = spec.topts
		s, err := signalr.NewServer(hs.hub, spec.sopts)
		if err != nil {
			t.Fatal(err)
		}
		hs.s, inner = s, s
		closeFn = func() { _ = s.Close() }
	} else {
		h, err := signalr.NewConnectionHandler(hs.hub, spec.sopts)
		if err != nil {
			t.Fatal(err)
		}
		if spec.sopts.Transports != 0 {
			spec.topts.Transports = spec.sopts.Transports
		}
		hs.h, hs.d = h, transports.NewDispatcher(h, spec.topts)
		inner = hs.d
		closeFn = hs.d.Close
	}
	hs.front = newFront(inner, spec.front)
	mux := http.NewServeMux()
	mux.Handle("/hub", hs.front)
	mux.Handle("/hub/", hs.front)
	hs.ts = httptest.NewServer(mux)
	hs.url = hs.ts.URL + "/hub"
	t.Cleanup(func() {
		closeFn()
		hs.ts.Close()
	})
	return hs
}

// negotiate does a raw negotiate (version 1) and returns the connection token.
func (s *hubServer) negotiate(t *testing.T) (status int, body string) {
	t.Helper()
	return s.do(t, http.MethodPost, "/hub/negotiate?negotiateVersion=1")
}

func (s *hubServer) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// frontOptions make the front behave like a proxy or load balancer in front
// of the server.
type frontOptions struct {
	// upgrade: "" passes WebSocket upgrades through; "reject" answers them
	// 403 itself (a proxy that blocks WebSockets); "strip" removes the
	// Upgrade and Connection headers and forwards the request (a proxy that
	// does not know WebSockets: the server sees a plain GET).
	upgrade string
	// holdClose delays a POST carrying the client's Close message until a
	// DELETE has been answered, so the DELETE is what ends the connection.
	holdClose bool
}

// front is the test's proxy: it classifies and records every request, and
// can be switched to another server (a load balancer without sticky
// sessions).
type front struct {
	opts frontOptions
	next atomic.Pointer[http.Handler]

	deleted     chan struct{} // closed once a DELETE has been answered
	deletedOnce sync.Once

	mu   sync.Mutex
	reqs []*reqRecord
}

type reqRecord struct {
	kind     string // negotiate, websocket, sse, poll, post, delete
	token    string // the id query parameter
	status   int    // 0 while in flight, and for upgrades and SSE streams passed on
	body     string // response body of POST and DELETE
	start    time.Time
	end      time.Time
	closeMsg bool // a POST that carried the hub Close message
}

func newFront(next http.Handler, opts frontOptions) *front {
	f := &front{opts: opts, deleted: make(chan struct{})}
	f.switchTo(next)
	return f
}

func (f *front) switchTo(h http.Handler) { f.next.Store(&h) }

func classify(r *http.Request) string {
	switch {
	case strings.HasSuffix(strings.ToLower(strings.TrimSuffix(r.URL.Path, "/")), "/negotiate"):
		return "negotiate"
	case r.Method == http.MethodPost:
		return "post"
	case r.Method == http.MethodDelete:
		return "delete"
	case strings.EqualFold(r.Header.Get("Upgrade"), "websocket"):
		return "websocket"
	case strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		return "sse"
	}
	return "poll"
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &reqRecord{kind: classify(r), token: r.URL.Query().Get("id"), start: time.Now()}
	f.mu.Lock()
	f.reqs = append(f.reqs, rec)
	f.mu.Unlock()
	next := *f.next.Load()

	if rec.kind == "websocket" {
		switch f.opts.upgrade {
		case "reject":
			http.Error(w, "WebSockets are not allowed here", http.StatusForbidden)
			f.finish(rec, http.StatusForbidden, "")
			return
		case "strip":
			r.Header.Del("Upgrade")
			r.Header.Del("Connection")
		default:
			// The upgrade hijacks the connection: no status to record.
			next.ServeHTTP(w, r)
			f.finish(rec, 0, "")
			return
		}
	}
	if rec.kind == "post" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec.closeMsg = bytes.Contains(body, []byte(`{"type":7}`))
		if rec.closeMsg && f.opts.holdClose {
			select {
			case <-f.deleted:
			case <-r.Context().Done():
				return
			case <-time.After(waitTimeout):
			}
		}
	}
	if rec.kind == "sse" {
		// The stream lives as long as the connection; its events are
		// written from the hub's writer goroutine.
		next.ServeHTTP(w, r)
		f.finish(rec, 0, "")
		return
	}
	sw := &statusWriter{ResponseWriter: w}
	next.ServeHTTP(sw, r)
	f.finish(rec, sw.status, sw.body.String())
	if rec.kind == "delete" {
		f.deletedOnce.Do(func() { close(f.deleted) })
	}
}

func (f *front) finish(rec *reqRecord, status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec.status, rec.body, rec.end = status, body, time.Now()
}

// records returns copies of the records of kind.
func (f *front) records(kind string) []reqRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []reqRecord
	for _, r := range f.reqs {
		if r.kind == kind {
			out = append(out, *r)
		}
	}
	return out
}

// inFlight counts requests of kind not yet answered.
func (f *front) inFlight(kind string) int {
	n := 0
	for _, r := range f.records(kind) {
		if r.end.IsZero() {
			n++
		}
	}
	return n
}

// statusWriter records the status and (short) body of a response. Unwrap
// keeps http.ResponseController working (SSE flushes and write deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 1024 {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
