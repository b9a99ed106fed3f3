package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
)

// hubPath is where the ChatHub is mapped, as in the ASP.NET Core samples.
const hubPath = "/chathub"

// shutdownTimeout bounds the graceful stop: telling every client to
// reconnect elsewhere, then draining HTTP requests.
const shutdownTimeout = 30 * time.Second

// run is the whole ChatServer: it parses the configuration, listens, serves
// until ctx ends, then shuts down gracefully. Lifecycle lines go to stdout in
// ASP.NET Core's wording (tools scrape "Now listening on: "), logs to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.LogLevel)

	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	// Listen before creating the hub: a busy port then leaves nothing to clean up.
	listeners, err := listenAll(cfg.URLs, logger)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, logger, hostname)
	if err != nil {
		for _, l := range listeners {
			l.Close()
		}
		return err
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          stdlog.New(logger.With().Str("component", "http").Logger(), "", 0),
	}
	serveErr := make(chan error, len(listeners))
	var wg sync.WaitGroup
	for _, l := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(l.Listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("serve %s: %w", l.display, err)
			}
		}()
	}
	printed := map[string]bool{}
	for _, l := range listeners {
		if !printed[l.display] {
			printed[l.display] = true
			fmt.Fprintf(stdout, "Now listening on: %s\n", l.display)
		}
	}
	fmt.Fprintln(stdout, "Application started. Press Ctrl+C to shut down.")
	logger.Info().Str("hub", hubPath).Bool("detailedErrors", cfg.DetailedErrors).
		Strs("corsOrigins", cfg.CORSOrigins).Bool("backplane", a.backplane != nil).Msg("ChatServer started")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
	}
	fmt.Fprintln(stdout, "Application is shutting down...")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	// Hub first: its Close messages travel over open HTTP requests (SSE
	// streams, long polls), which the HTTP shutdown would cut.
	if err := a.hub.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("hub shutdown")
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("http shutdown; closing remaining connections")
		srv.Close()
	}
	wg.Wait()
	a.close()
	return runErr
}

// newLogger logs human-readable lines on a terminal and JSON otherwise.
func newLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	out := w
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	}
	return zerolog.New(out).Level(level).With().Timestamp().Logger()
}

// app is the ChatServer's HTTP surface.
type app struct {
	hub       *signalr.Server
	backplane *npgsql.Manager // nil without a connection string
	handler   http.Handler
}

// close releases the backplane once the hub has shut down.
func (a *app) close() {
	if a.backplane != nil {
		a.backplane.Close()
	}
}

func newApp(ctx context.Context, cfg config, logger zerolog.Logger, hostname string) (*app, error) {
	a := &app{}
	cors := newCORSPolicy(cfg.CORSOrigins)
	opts := signalr.Options{
		Logger:               logger.With().Str("component", "signalr").Logger(),
		EnableDetailedErrors: cfg.DetailedErrors,
	}
	opts.TransportOptions.OriginPatterns = cors.originPatterns()
	if cfg.ConnectionString != "" {
		dsn, err := pgConnString(cfg.ConnectionString)
		if err != nil {
			return nil, err
		}
		bp, err := npgsql.New(ctx, npgsql.Options{
			ConnectionString: dsn,
			Logger:           logger.With().Str("component", "backplane").Logger(),
		})
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL backplane: %w", err)
		}
		a.backplane = bp
		opts.LifetimeManager = bp
	}
	hub, err := signalr.NewServer(&chat.ChatHub{Logger: logger.With().Str("component", "chathub").Logger()}, opts)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("create hub: %w", err)
	}
	a.hub = hub

	r := chi.NewRouter()
	if cors.enabled() {
		r.Use(cors.handler)
	}
	r.Use(canonicalHubPath)
	r.Get("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "gosignalr ChatServer\nSignalR hub: %s\nHealth: /health\n", hubPath)
	})
	r.Get("/health", healthHandler(hub, a.ready, hostname, time.Now))
	r.Handle(hubPath, hub)
	r.Handle(hubPath+"/*", hub)
	a.handler = r
	return a, nil
}

// ready reports whether the server can deliver messages: always without a
// backplane, else while the backplane is connected.
func (a *app) ready() (bool, string) {
	if a.backplane == nil {
		return true, ""
	}
	return a.backplane.Ready()
}

// canonicalHubPath maps any casing of the hub path ("/chatHub" in the ASP.NET
// samples) to hubPath: ASP.NET routes are case-insensitive, chi's are not.
func canonicalHubPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if len(p) >= len(hubPath) && strings.EqualFold(p[:len(hubPath)], hubPath) &&
			p[:len(hubPath)] != hubPath && (len(p) == len(hubPath) || p[len(hubPath)] == '/') {
			r2 := r.Clone(r.Context())
			r2.URL.Path = hubPath + p[len(hubPath):]
			r2.URL.RawPath = ""
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// health is the body of GET /health.
type health struct {
	Status      string `json:"status"`
	Server      string `json:"server"`
	Timestamp   string `json:"timestamp"`
	Connections int    `json:"connections"`
}

// healthHandler answers GET /health: 200 "Healthy", or 503 "Unhealthy"
// while ready says the server cannot deliver (backplane down), like ASP.NET
// Core health checks.
func healthHandler(hub *signalr.Server, ready func() (bool, string), hostname string, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		status, code := "Healthy", http.StatusOK
		if ok, _ := ready(); !ok {
			status, code = "Unhealthy", http.StatusServiceUnavailable
		}
		body, err := json.Marshal(health{
			Status:      status,
			Server:      hostname,
			Timestamp:   now().UTC().Format(time.RFC3339),
			Connections: hub.ConnectionCount(),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		w.Write(body)
	}
}

// boundListener is a listening socket and the URL printed for it.
type boundListener struct {
	net.Listener
	display string
}

// listenAll opens a listener for every URL. localhost listens on both
// loopback addresses, like ASP.NET; the IPv6 one is optional.
func listenAll(urls []string, logger zerolog.Logger) ([]boundListener, error) {
	var out []boundListener
	fail := func(err error) ([]boundListener, error) {
		for _, l := range out {
			l.Close()
		}
		return nil, err
	}
	for _, raw := range urls {
		u, err := parseListenURL(raw)
		if err != nil {
			return fail(err)
		}
		port := strconv.Itoa(u.port)
		switch {
		case u.host == "localhost":
			l4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", port))
			if err != nil {
				return fail(fmt.Errorf("listen on %s: %w", raw, err))
			}
			display := "http://localhost:" + port
			out = append(out, boundListener{l4, display})
			if l6, err := net.Listen("tcp6", net.JoinHostPort("::1", port)); err == nil {
				out = append(out, boundListener{l6, display})
			} else {
				logger.Warn().Err(err).Msg("unable to bind to the IPv6 loopback; using IPv4 only")
			}
		case u.wildcard != "":
			host := ""
			if u.wildcard == "0.0.0.0" {
				host = "0.0.0.0"
			}
			network := "tcp"
			if host == "0.0.0.0" {
				network = "tcp4"
			}
			l, err := net.Listen(network, net.JoinHostPort(host, port))
			if err != nil {
				return fail(fmt.Errorf("listen on %s: %w", raw, err))
			}
			out = append(out, boundListener{l, "http://" + u.wildcard + ":" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)})
		default:
			l, err := net.Listen("tcp", net.JoinHostPort(u.host, port))
			if err != nil {
				return fail(fmt.Errorf("listen on %s: %w", raw, err))
			}
			out = append(out, boundListener{l, "http://" + l.Addr().String()})
		}
	}
	return out, nil
}
