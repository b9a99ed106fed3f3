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
	"github.com/gosignalr/gosignalr/internal/config"
	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/internal/metrics/npgsqlmetrics"
	"github.com/gosignalr/gosignalr/internal/webui"
	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
)

// hubPath is where the ChatHub is mapped, as in the ASP.NET Core samples.
const hubPath = "/chathub"

// chatHubName is the hub's name (its .NET type name): the backplane's
// default table slug is its lower-cased form, as in the .NET ChatServer.
const chatHubName = "ChatHub"

// host is what run takes from the process; tests inject their own.
type host struct {
	// environ is the environment as KEY=value (os.Environ()).
	environ []string
	// dirs are searched for appsettings*.json (config.DefaultDirs()).
	dirs           []config.Dir
	stdout, stderr io.Writer
}

// run is the whole ChatServer: it reads the configuration, listens, serves
// until ctx ends, then shuts down gracefully. Lifecycle lines go to stdout in
// ASP.NET Core's wording (tools scrape "Now listening on: "), logs to stderr.
// With --healthcheck it only probes a running server's readiness.
func run(ctx context.Context, args []string, h host) error {
	cfg, err := parseConfig(args, h.environ, h.dirs, h.stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.Healthcheck {
		return healthcheck(ctx, cfg.URLs)
	}
	logger := newLogger(h.stderr, cfg.LogLevel)
	cfg.logSources(logger)

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
			fmt.Fprintf(h.stdout, "Now listening on: %s\n", l.display)
		}
	}
	fmt.Fprintln(h.stdout, "Application started. Press Ctrl+C to shut down.")
	ev := logger.Info().Str("hub", hubPath).Bool("detailedErrors", cfg.DetailedErrors).
		Strs("corsOrigins", cfg.CORSOrigins).Bool("backplane", a.backplane != nil).Bool("jwt", cfg.JWTKey != "")
	if a.backplane != nil {
		ev = ev.Str("backplaneTable", cfg.BackplaneSchema+"."+cfg.BackplaneSlug+"_Messages").
			Str("backplaneChannel", cfg.BackplaneChannel).Str("backplaneMode", string(cfg.BackplaneMode))
	}
	ev.Msg("ChatServer started")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-serveErr:
	}
	fmt.Fprintln(h.stdout, "Application is shutting down...")
	start := time.Now()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Hub first: it refuses new connections (503, so balancers and
	// reconnecting clients move on) and sends Close{allowReconnect:true},
	// which travels over open HTTP requests (SSE streams, long polls) that
	// the HTTP shutdown would cut.
	if err := a.hub.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("hub shutdown did not finish in time; closing the remaining connections")
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("http shutdown; closing remaining connections")
		srv.Close()
	}
	wg.Wait()
	// The backplane last: the hub's final messages (UserDisconnected) are
	// published through it; Close drains its publisher. A hung database
	// must not hold the exit past the deadline (plus a second's grace to
	// let a drain that is nearly done finish).
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		a.close()
	}()
	deadline, _ := shutdownCtx.Deadline()
	grace := time.NewTimer(max(time.Until(deadline), 0) + time.Second)
	defer grace.Stop()
	select {
	case <-closed:
	case <-grace.C:
		logger.Warn().Msg("backplane did not close before the shutdown deadline; exiting anyway")
	}
	logger.Info().Dur("took", time.Since(start)).Msg("ChatServer stopped")
	return runErr
}

// healthcheck probes the server that the same configuration starts: GET
// /health/ready on the first URL's port (loopback unless the URL names an
// address), 2 s timeout; nil only for 200. It lets a distroless image,
// which has no curl, run a container health check.
func healthcheck(ctx context.Context, urls []string) error {
	u, err := parseListenURL(urls[0])
	if err != nil {
		return err
	}
	if u.port == 0 {
		return fmt.Errorf("health check: %s has a dynamic port; give the server's port", urls[0])
	}
	ip := "127.0.0.1"
	if u.host != "" && u.host != "localhost" {
		ip = u.host
	}
	target := "http://" + net.JoinHostPort(ip, strconv.Itoa(u.port)) + "/health/ready"
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s: %s %s", target, res.Status, strings.TrimSpace(string(body)))
	}
	return nil
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
	metrics   *metrics.Collector
	handler   http.Handler
}

// close releases the backplane once the hub has shut down.
func (a *app) close() {
	if a.backplane != nil {
		a.backplane.Close()
	}
}

// backplaneOptions are the npgsql.Options the ChatServer's settings give.
func backplaneOptions(cfg settings, logger zerolog.Logger, c *metrics.Collector) npgsql.Options {
	return npgsql.Options{
		ConnectionString:    cfg.Postgres.DSN,
		SchemaName:          cfg.BackplaneSchema,
		TableSlug:           cfg.BackplaneSlug,
		NotificationChannel: cfg.BackplaneChannel,
		Mode:                cfg.BackplaneMode,
		MaxRetryAttempts:    defaultBackplaneRetries,
		BaseRetryDelay:      defaultBackplaneDelay,
		CommandTimeout:      cfg.Postgres.CommandTimeout, // 0: the library's 30 s, as the .NET ChatServer
		MaxPoolSize:         cfg.Postgres.MaxPoolSize,
		Logger:              logger,
		Metrics:             npgsqlmetrics.Metrics(c),
	}
}

func newApp(ctx context.Context, cfg settings, logger zerolog.Logger, hostname string) (*app, error) {
	a := &app{metrics: metrics.New(metrics.Options{})}
	cors := newCORSPolicy(cfg.CORSOrigins)
	opts := signalr.Options{
		Logger:               logger.With().Str("component", "signalr").Logger(),
		HubName:              chatHubName,
		EnableDetailedErrors: cfg.DetailedErrors,
		Observer:             a.metrics,
	}
	opts.TransportOptions.OriginPatterns = cors.originPatterns()
	if cfg.Postgres.DSN != "" {
		bpLog := logger.With().Str("component", "backplane").Logger()
		if len(cfg.Postgres.Ignored) > 0 {
			bpLog.Info().Strs("keywords", cfg.Postgres.Ignored).Msg("connection string keywords without an equivalent here are ignored")
		}
		bp, err := npgsql.New(ctx, backplaneOptions(cfg, bpLog, a.metrics))
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL backplane (connection string from %s): %w", cfg.PostgresSource, err)
		}
		if err := npgsqlmetrics.Observe(a.metrics, bp); err != nil {
			bp.Close()
			return nil, fmt.Errorf("backplane metrics: %w", err)
		}
		a.backplane = bp
		opts.LifetimeManager = bp
	}
	var hubHandler http.Handler
	hub, err := signalr.NewServer(&chat.ChatHub{Logger: logger.With().Str("component", "chathub").Logger()}, opts)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("create hub: %w", err)
	}
	a.hub = hub
	hubHandler = hub
	if cfg.JWTKey != "" {
		v, err := auth.NewJWTValidator(auth.JWTOptions{Key: []byte(cfg.JWTKey)})
		if err != nil {
			hub.Close()
			a.close()
			return nil, fmt.Errorf("config: %s: %w", keyJWTKey, err)
		}
		hubHandler = auth.Middleware(v.Authenticator(), auth.Options{
			AllowAnonymous: true,
			Logger:         logger.With().Str("component", "auth").Logger(),
		})(hub)
	}

	banner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "gosignalr ChatServer\nSignalR hub: %s\nChat page: / (in a browser)\nHealth: /health, /health/ready\nMetrics: /metrics\n", hubPath)
	})
	ui, err := webui.New(webui.Options{
		JSClientDir:       cfg.JSClientDir,
		JSClientURL:       cfg.JSClientURL,
		JSClientIntegrity: cfg.JSClientIntegrity,
		Plain:             banner,
		Logger:            logger.With().Str("component", "webui").Logger(),
	})
	if err != nil {
		hub.Close()
		a.close()
		return nil, fmt.Errorf("chat page: %w", err)
	}

	r := chi.NewRouter()
	if cors.enabled() {
		r.Use(cors.handler)
	}
	r.Use(canonicalHubPath)
	r.Get("/about", banner)
	r.Get("/health", livenessHandler(hub, hostname, time.Now))
	r.Get("/health/ready", a.readinessHandler(hostname, time.Now))
	r.Method(http.MethodGet, "/metrics", a.metrics.Handler())
	r.Handle(hubPath, hubHandler)
	r.Handle(hubPath+"/*", hubHandler)
	r.Handle("/*", ui)
	a.handler = r
	return a, nil
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

// health is the body of GET /health and /health/ready.
type health struct {
	Status      string           `json:"status"`
	Reason      string           `json:"reason,omitempty"`
	Server      string           `json:"server"`
	Timestamp   string           `json:"timestamp"`
	Connections int              `json:"connections"`
	Backplane   *backplaneHealth `json:"backplane,omitempty"`
}

// backplaneHealth is the backplane part of GET /health/ready.
type backplaneHealth struct {
	ListenerConnected bool `json:"listenerConnected"`
	CaughtUp          bool `json:"caughtUp"`
	// LastNotificationAgeSeconds is nil before the first notification.
	LastNotificationAgeSeconds *float64 `json:"lastNotificationAgeSeconds"`
	Reconnects                 int64    `json:"reconnects"`
	LastError                  string   `json:"lastError,omitempty"`
	NotifyQueueUsage           float64  `json:"notifyQueueUsage"`
}

func writeHealth(w http.ResponseWriter, code int, h health) {
	body, err := json.Marshal(h)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(body)
}

// livenessHandler answers GET /health: 200 "Healthy" while the process
// serves HTTP, whatever the backplane does (restarting the process would
// not fix a database outage; readiness reports it).
func livenessHandler(hub *signalr.Server, hostname string, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		writeHealth(w, http.StatusOK, health{
			Status:      "Healthy",
			Server:      hostname,
			Timestamp:   now().UTC().Format(time.RFC3339),
			Connections: hub.ConnectionCount(),
		})
	}
}

// readinessHandler answers GET /health/ready: 200 "Healthy" while the
// server accepts connections and, with a backplane, its listener is
// connected and caught up; else 503 "Unhealthy" with the reason, like
// ASP.NET Core health checks.
func (a *app) readinessHandler(hostname string, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		h := health{
			Status:      "Healthy",
			Server:      hostname,
			Timestamp:   now().UTC().Format(time.RFC3339),
			Connections: a.hub.ConnectionCount(),
		}
		if a.backplane != nil {
			s := a.backplane.Status()
			h.Backplane = &backplaneHealth{
				ListenerConnected: s.ListenerConnected,
				CaughtUp:          s.CaughtUp,
				Reconnects:        s.Reconnects,
				LastError:         s.LastError,
				NotifyQueueUsage:  s.NotifyQueueUsage,
			}
			if !s.LastNotification.IsZero() {
				age := now().Sub(s.LastNotification).Seconds()
				h.Backplane.LastNotificationAgeSeconds = &age
			}
			if ok, reason := a.backplane.Ready(); !ok {
				h.Status, h.Reason = "Unhealthy", reason
			}
		}
		if a.hub.ShuttingDown() {
			h.Status, h.Reason = "Unhealthy", "server shutting down"
		}
		code := http.StatusOK
		if h.Status != "Healthy" {
			code = http.StatusServiceUnavailable
		}
		writeHealth(w, code, h)
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
