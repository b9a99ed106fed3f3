package signalr

import (
	"context"
	"net/http"

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

// ServeHTTP serves negotiate and the transports.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.d.ServeHTTP(w, r) }

// HubContext sends to clients from outside hub methods.
func (s *Server) HubContext() *HubContext { return s.h.HubContext() }

// Handler is the hub runtime behind the HTTP layer.
func (s *Server) Handler() *ConnectionHandler { return s.h }

// ConnectionCount is the number of hub connections past their handshake.
func (s *Server) ConnectionCount() int { return s.h.ConnectionCount() }

// Shutdown sends Close{allowReconnect:true} to every client so that clients
// with automatic reconnect come back (to another server), waits for the
// connections to end or ctx to be done, then stops the transports. New
// connections are refused from the start.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.h.Shutdown(ctx)
	s.d.Close()
	return err
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
