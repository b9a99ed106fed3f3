package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// app is the functional-test server: the hubs, the echo connection and the
// test suite's helper endpoints, behind its middleware (CORS, negotiate
// cookies), routed case-insensitively like ASP.NET Core.
type app struct {
	log       zerolog.Logger
	testHub   *signalr.Server
	noWS      *signalr.Server
	uncreat   *signalr.Server
	authHub   *signalr.Server
	authMW    http.Handler
	echo      *transports.Dispatcher
	key       []byte
	redirects atomic.Int64
}

func newApp(logger zerolog.Logger) (*app, error) {
	a := &app{log: logger}
	// A fresh signing key per process, like the test app's SHA-256 of a
	// new GUID.
	seed := make([]byte, 16)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(seed)
	a.key = sum[:]

	hubOpts := func(name string) signalr.Options {
		return signalr.Options{
			Logger:               logger.With().Str("hub", name).Logger(),
			HubName:              name,
			Protocols:            []protocol.HubProtocol{protocol.JSON, protocol.MessagePack},
			EnableDetailedErrors: true,
			// ASP.NET Core accepts WebSockets from any origin unless
			// AllowedOrigins is set; the browser half of the suite runs on
			// another origin (Karma's server).
			TransportOptions: transports.Options{InsecureSkipVerify: true},
		}
	}
	// /testhub and /testhub-nowebsockets are one hub type in .NET, so one
	// IHubContext<TestHub> reaches both: they share a lifetime manager.
	testLM := signalr.NewDefaultHubLifetimeManager()
	var err error
	o := hubOpts("TestHub")
	o.LifetimeManager = testLM
	if a.testHub, err = signalr.NewServer(TestHub{}, o); err != nil {
		return nil, err
	}
	o.Transports = transports.ServerSentEvents | transports.LongPolling
	if a.noWS, err = signalr.NewServer(TestHub{}, o); err != nil {
		return nil, err
	}
	if a.uncreat, err = signalr.NewServer(UncreatableHub{}, hubOpts("UncreatableHub")); err != nil {
		return nil, err
	}
	if a.authHub, err = signalr.NewServer(AuthorizedHub{}, hubOpts("HubWithAuthorization")); err != nil {
		return nil, err
	}
	v, err := auth.NewJWTValidator(auth.JWTOptions{
		Key: a.key,
		// ASP.NET Core's default clock skew: the suite's 5-second tokens
		// stay usable for the whole test, as against the .NET server.
		Leeway: 5 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	// The policy requires a name-identifier claim (sub, nameid or the .NET
	// URI all end up as Principal.ID).
	a.authMW = auth.Middleware(v.Authenticator(), auth.Options{
		Logger:    logger,
		Authorize: func(_ *http.Request, p *signalr.Principal) bool { return p.ID != "" },
	})(a.authHub)
	a.echo = transports.NewDispatcher(transports.HandlerFunc(echo), transports.Options{Logger: logger, InsecureSkipVerify: true})
	return a, nil
}

// shutdown tells every hub client to go away and waits (bounded by ctx).
func (a *app) shutdown(ctx context.Context) {
	for _, s := range []*signalr.Server{a.testHub, a.noWS, a.uncreat, a.authHub} {
		if err := s.Shutdown(ctx); err != nil {
			a.log.Debug().Err(err).Msg("hub shutdown")
		}
	}
}

// close stops everything at once; it returns when no goroutine of the app runs.
func (a *app) close() {
	for _, s := range []*signalr.Server{a.testHub, a.noWS, a.uncreat, a.authHub} {
		s.Close()
	}
	a.echo.Close()
}

// firstSegment returns the lower-cased first path segment: routes match
// case-insensitively (the suite redirects to /testHub).
func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		p = p[:i]
	}
	return strings.ToLower(p)
}

// ServeHTTP runs the test app's middleware in its order, then routes.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Any origin with credentials (not allowed by a sane CORS policy; the
	// browser tests are served from another origin).
	if origin := r.Header.Get("Origin"); origin != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		if m := r.Header.Get("Access-Control-Request-Method"); m != "" {
			h.Set("Access-Control-Allow-Methods", m)
		}
		if hs := r.Header.Get("Access-Control-Request-Headers"); hs != "" {
			h.Set("Access-Control-Allow-Headers", hs)
		}
	}
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}

	seg := firstSegment(r.URL.Path)
	switch seg {
	case "echoredirect":
		// Method-preserving redirect to the same path under /echo.
		target := strings.ReplaceAll(r.URL.Path, "echoredirect", "echo")
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	case "redirect":
		n := a.redirects.Add(1)
		fmt.Fprintf(w, `{ "url": "%s/testHub?numRedirects=%d" }`, r.URL.Query().Get("baseUrl"), n)
		return
	}

	if strings.Contains(r.URL.Path, "/negotiate") {
		setNegotiateCookies(w, r.TLS != nil)
	}

	switch seg {
	case "bad-negotiate":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "Some response from server")
	case "testhub":
		a.testHub.ServeHTTP(w, r)
	case "testhub-nowebsockets":
		a.noWS.ServeHTTP(w, r)
	case "uncreatable":
		a.uncreat.ServeHTTP(w, r)
	case "authorizedhub":
		a.authMW.ServeHTTP(w, r)
	case "echo":
		a.echo.ServeHTTP(w, r)
	case "generatejwttoken":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "", http.StatusMethodNotAllowed)
			return
		}
		tok, err := a.generateJWT(time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, tok)
	case "clientresult":
		a.clientResult(w, r)
	case "deployment":
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	default:
		http.NotFound(w, r)
	}
}

func setNegotiateCookies(w http.ResponseWriter, secure bool) {
	c := func(name, value string, expires time.Time) *http.Cookie {
		ck := &http.Cookie{Name: name, Value: value, Path: "/", Expires: expires}
		if secure {
			ck.SameSite, ck.Secure, ck.Partitioned = http.SameSiteNoneMode, true, true
		}
		return ck
	}
	http.SetCookie(w, c("testCookie", "testValue", time.Time{}))
	http.SetCookie(w, c("testCookie2", "testValue2", time.Time{}))
	http.SetCookie(w, c("expiredCookie", "doesntmatter", time.Now().Add(-time.Hour)))
}

// generateJWT issues what the test app's GenerateJwtToken does: HS256, the
// name identifier "testuser" (as .NET writes it, "nameid"), issuer
// SignalRTestServer, audience SignalRTests, valid for 5 seconds.
func (a *app) generateJWT(now time.Time) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"nameid": "testuser",
		"exp":    now.Add(5 * time.Second).Unix(),
		"iss":    "SignalRTestServer",
		"aud":    "SignalRTests",
	}).SignedString(a.key)
}

// clientResult calls the client method Result on connection {id} of the
// TestHub and answers its integer result, or the error text.
func (a *app) clientResult(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "", http.StatusMethodNotAllowed)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 2 || parts[1] == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	n, err := signalr.InvokeClient[int](r.Context(), a.testHub.HubContext().Clients.Client(parts[1]), "Result")
	if err != nil {
		var he *signalr.HubError
		if errors.As(err, &he) {
			_, _ = io.WriteString(w, he.Message)
			return
		}
		_, _ = io.WriteString(w, err.Error())
		return
	}
	_, _ = io.WriteString(w, strconv.Itoa(n))
}

// echo is the raw connection handler of /echo: every chunk received goes
// straight back. Like the test app it returns at once when the request has
// no testCookie (the withCredentials:false case).
func echo(ctx context.Context, c transports.Conn) {
	if r := c.Request(); r == nil {
		return
	} else if _, err := r.Cookie("testCookie"); err != nil {
		return
	}
	for {
		b, err := c.Receive(ctx)
		if err != nil {
			return
		}
		if err := c.Send(ctx, b); err != nil {
			return
		}
	}
}
