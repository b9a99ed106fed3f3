package signalr

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/gosignalr/gosignalr/transports"
)

// Server serves one hub over HTTP: negotiate plus the WebSockets,
// Server-Sent Events and Long Polling transports. A request whose path ends
// in "/negotiate" (case-insensitive) is negotiate; anything else is the
// connection endpoint. Mount it at both "/chathub" and "/chathub/" with
// net/http, or r.Handle("/chathub", s); r.Handle("/chathub/*", s) with chi.
type Server struct {
	h *ConnectionHandler
	d *transports.Dispatcher
}

// NewServer builds a Server for hub (see NewConnectionHandler for what makes
// a hub method) with opts.
func NewServer(hub any, opts Options) (*Server, error) {
	h, err := NewConnectionHandler(hub, opts)
	if err != nil {
		return nil, err
	}
	topts := opts.TransportOptions
	if opts.Transports != 0 {
		topts.Transports = opts.Transports
	}
	topts.Logger = h.opts.Logger
	if opts.AllowStatefulReconnects {
		topts.AllowStatefulReconnects = true
	}
	return &Server{h: h, d: transports.NewDispatcher(h, topts)}, nil
}

// ServeHTTP serves negotiate and the transports. Once Shutdown has begun,
// requests that would start a connection (negotiate, or a connect request
// without an id) get 503 with Retry-After, so a load balancer or the
// client's reconnect policy moves on to another server, while requests of
// live connections still flow and can deliver their Close message.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.h.ShuttingDown() && startsConnection(r) {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(msgShuttingDown)))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, msgShuttingDown)
		return
	}
	s.d.ServeHTTP(w, r)
}

// msgShuttingDown is the text of the transports' own 503 after Close.
const msgShuttingDown = "The server is shutting down."

// startsConnection reports whether r would create a connection: negotiate
// (the last path segment, case-insensitive, as the transports route it), or
// a connect request that names no connection (skipNegotiation).
func startsConnection(r *http.Request) bool {
	p := strings.TrimSuffix(r.URL.Path, "/")
	const suffix = "/negotiate"
	if len(p) >= len(suffix) && strings.EqualFold(p[len(p)-len(suffix):], suffix) {
		return true
	}
	_, ok := negotiate.QueryValue(r.URL.Query(), "id")
	return !ok
}

// ShuttingDown reports whether Shutdown or Close has been called: a
// readiness check should fail from then on.
func (s *Server) ShuttingDown() bool { return s.h.ShuttingDown() }

// HubContext sends to clients from outside hub methods.
func (s *Server) HubContext() *HubContext { return s.h.HubContext() }

// Handler is the hub runtime behind the HTTP layer.
func (s *Server) Handler() *ConnectionHandler { return s.h }

// ConnectionCount is the number of hub connections past their handshake.
func (s *Server) ConnectionCount() int { return s.h.ConnectionCount() }

// Shutdown sends Close{allowReconnect:true} to every client so that clients
// with automatic reconnect come back (to another server), waits for the
// connections to end, then stops the transports. New connections are
// refused from the start (see ServeHTTP). When ctx ends first, the
// transports are closed at once and ctx's error returned without waiting
// for hub code that is still running (Close waits for it).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.h.Shutdown(ctx)
	if err == nil {
		s.drain(ctx, s.h.opts.CloseTimeout)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.d.Close()
	}()
	select {
	case <-closed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain waits, at most limit or until ctx ends, for the transports to
// let go of their connections once the hub connections have ended: a Long
// Polling client collects its Close message with its next poll, and closing
// the transports before would lose it (the poll would get a 503 instead).
func (s *Server) drain(ctx context.Context, limit time.Duration) {
	if s.d.Len() == 0 {
		return
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	// Shutdown is rare and short: polling the table beats a notification
	// path through every transport.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.d.Len() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Close stops at once: transports are closed and the call waits for every
// connection goroutine to return.
func (s *Server) Close() error {
	s.h.mu.Lock()
	s.h.closing = true
	s.h.mu.Unlock()
	s.d.Close()
	return nil
}
