// Package benchhub is the server side of the load scenarios: a small hub
// (BenchHub) served by the gosignalr hub runtime, and helpers to run it, or
// the raw baseline server, on a loopback listener.
package benchhub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/internal/loadgen"
	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// ReceiveMethod is the client method every fan-out scenario delivers to.
const ReceiveMethod = "Receive"

// BenchHub is the benchmark hub. It keeps no state, so one value serves all
// connections.
type BenchHub struct{}

// Echo returns payload (the echo scenario and the ready check).
func (BenchHub) Echo(payload string) string { return payload }

// Broadcast sends payload to every connection, the caller included.
func (BenchHub) Broadcast(ctx *signalr.Context, payload string) error {
	return ctx.Clients().All().Send(ctx, ReceiveMethod, payload)
}

// SendToGroup sends payload to the members of group.
func (BenchHub) SendToGroup(ctx *signalr.Context, group, payload string) error {
	return ctx.Clients().Group(group).Send(ctx, ReceiveMethod, payload)
}

// SendToConnection sends payload to one connection by id.
func (BenchHub) SendToConnection(ctx *signalr.Context, connectionID, payload string) error {
	return ctx.Clients().Client(connectionID).Send(ctx, ReceiveMethod, payload)
}

// JoinGroup adds the caller to group.
func (BenchHub) JoinGroup(ctx *signalr.Context, group string) error {
	return ctx.Groups().AddToGroup(ctx, ctx.ConnectionID(), group)
}

// LeaveGroup removes the caller from group.
func (BenchHub) LeaveGroup(ctx *signalr.Context, group string) error {
	return ctx.Groups().RemoveFromGroup(ctx, ctx.ConnectionID(), group)
}

// HubPath is where the bench hub is mounted.
const HubPath = "/bench"

// Running is a server listening on loopback.
type Running struct {
	// URL is the hub URL, e.g. http://127.0.0.1:41234/bench.
	URL string
	// MemStatsURL serves the process's live memory as JSON.
	MemStatsURL string

	srv      *http.Server
	served   chan error
	shutdown func(ctx context.Context) error
}

// StartOptions choose what Start serves.
type StartOptions struct {
	// Baseline serves the raw WebSocket baseline instead of a hub.
	Baseline bool
	// Hub is "bench" (default: BenchHub) or "chat" (the ChatServer's hub).
	Hub string
	// Backplane, when set, is a PostgreSQL DSN: the hub then uses the
	// npgsql lifetime manager, so several servers share messages.
	Backplane string
	// Server configures the hub runtime; Protocols default to JSON and
	// MessagePack.
	Server signalr.Options
}

// Start serves on addr ("127.0.0.1:0" for an ephemeral port) until Close.
func Start(ctx context.Context, addr string, o StartOptions) (*Running, error) {
	var h http.Handler
	var shutdown func(ctx context.Context) error
	if o.Baseline {
		bs := &loadgen.BaselineServer{Logger: o.Server.Logger}
		h, shutdown = bs, bs.Close
	} else {
		var hub any
		switch o.Hub {
		case "", "bench":
			hub = BenchHub{}
		case "chat":
			hub = &chat.ChatHub{Logger: o.Server.Logger}
		default:
			return nil, fmt.Errorf("benchhub: unknown hub %q (bench or chat)", o.Hub)
		}
		opts := o.Server
		if opts.Protocols == nil {
			opts.Protocols = []protocol.HubProtocol{protocol.JSON, protocol.NewMessagePackProtocol()}
		}
		var closeManager func()
		if o.Backplane != "" {
			m, err := npgsql.New(ctx, npgsql.Options{ConnectionString: o.Backplane, Logger: o.Server.Logger})
			if err != nil {
				return nil, err
			}
			opts.LifetimeManager, closeManager = m, m.Close
		}
		s, err := signalr.NewServer(hub, opts)
		if err != nil {
			if closeManager != nil {
				closeManager()
			}
			return nil, err
		}
		h = s
		shutdown = func(ctx context.Context) error {
			// Shutdown says goodbye to clients; Close then stops the transports.
			err := errors.Join(s.Shutdown(ctx), s.Close())
			if closeManager != nil {
				closeManager()
			}
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		_ = shutdown(ctx)
		return nil, fmt.Errorf("benchhub: listen: %w", err)
	}
	path := HubPath
	if o.Hub == "chat" {
		path = "/chathub"
	}
	base := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.Handle(path, h)
	mux.Handle(path+"/", h)
	mux.Handle("/debug/memstats", loadgen.MemStatsHandler())
	// Profiles of the server under load (heap, CPU, goroutines).
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	r := &Running{
		URL:         base + path,
		MemStatsURL: base + "/debug/memstats",
		srv:         &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		served:      make(chan error, 1),
		shutdown:    shutdown,
	}
	go func() { r.served <- r.srv.Serve(ln) }()
	return r, nil
}

// Close ends every connection and stops the listener.
func (r *Running) Close(ctx context.Context) error {
	err := r.shutdown(ctx)
	if cerr := r.srv.Shutdown(ctx); cerr != nil {
		err = errors.Join(err, cerr, r.srv.Close())
	}
	if serr := <-r.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
