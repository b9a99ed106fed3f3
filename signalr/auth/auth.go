// Package auth authenticates SignalR connections: an HTTP middleware that
// runs an Authenticator on negotiate and on every transport request and
// attaches the resulting signalr.Principal to the request context, plus a
// ready JWT bearer validator (JWTValidator).
//
// Put the middleware in front of a signalr.Server:
//
//	v, _ := auth.NewJWTValidator(auth.JWTOptions{Key: secret})
//	mux.Handle("/chathub", auth.Middleware(v.Authenticator(), auth.Options{})(server))
//
// Like ASP.NET Core's [Authorize] on a hub, a request without valid
// credentials is answered 401 with an empty body, which the JS client
// reports as "Failed to complete negotiation with the server: Error:
// Unauthorized: Status code '401'"; an authenticated caller that
// Options.Authorize rejects gets 403.
//
// Per-method authorization ([Authorize(Roles = "admin")] on a .NET hub
// method) is MethodPolicies, plugged into the hub runtime's hook; with
// Options.AllowAnonymous the endpoint stays open and only the listed
// methods are guarded:
//
//	policies := auth.MethodPolicies{"Kick": auth.RequireRole("admin")}
//	server, _ := signalr.NewServer(hub, signalr.Options{AuthorizeMethod: policies.AuthorizeMethod})
//	mux.Handle("/chathub", auth.Middleware(v.Authenticator(), auth.Options{AllowAnonymous: true})(server))
//
// A caller the policy refuses (anonymous included) gets the Completion
// error "Failed to invoke 'Kick' because user is unauthorized", which the
// JS client's invoke rejects with as its Error message; the connection
// stays open. A hub may also check methods itself by implementing
// signalr.MethodAuthorizer; both must allow.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr"
)

// Authenticator identifies the caller of an HTTP request. It returns
// (nil, nil) when the request carries no credentials (anonymous), a
// Principal when they are valid, and an error when they are present but
// invalid. An error wrapping ErrForbidden means "authenticated but not
// allowed" and is answered 403 instead of 401.
type Authenticator func(r *http.Request) (*signalr.Principal, error)

// ErrForbidden, wrapped in an Authenticator's error, turns the answer into
// 403 Forbidden.
var ErrForbidden = errors.New("auth: forbidden")

// Options configure Middleware. The zero value requires authentication.
type Options struct {
	// AllowAnonymous lets requests without credentials, or with invalid
	// ones, through without a Principal (like an endpoint without
	// [Authorize]: a bad token is ignored, not rejected). Default false:
	// they get 401.
	AllowAnonymous bool
	// Authorize decides whether an authenticated Principal may use the
	// endpoint (a policy such as "has role X"); false answers 403.
	// Default: every authenticated Principal is allowed.
	Authorize func(r *http.Request, p *signalr.Principal) bool
	// Challenge is the WWW-Authenticate header of 401 answers. Default
	// "Bearer" (what ASP.NET Core's JWT bearer handler sends).
	Challenge string
	// Logger receives why requests were refused. The zero value is silent.
	Logger zerolog.Logger
}

// Middleware authenticates every request with a before calling next:
// negotiate, the WebSocket upgrade, SSE and Long Polling requests, sends and
// DELETE all carry the token (the JS client adds it to each), so each is
// checked. The Principal is attached with signalr.WithPrincipal, where the
// hub runtime finds it (Context.User, Context.UserIdentifier, Clients.User).
//
// Refusals are 401 or 403 with an empty body, as ASP.NET Core answers.
// OPTIONS requests (CORS preflights, which browsers send without
// credentials) pass through unauthenticated.
func Middleware(a Authenticator, opts Options) func(http.Handler) http.Handler {
	if a == nil {
		panic("auth: Middleware needs an Authenticator")
	}
	challenge := opts.Challenge
	if challenge == "" {
		challenge = "Bearer"
	}
	log := opts.Logger
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions {
				next.ServeHTTP(w, r)
				return
			}
			p, err := a(r)
			switch {
			case err != nil && errors.Is(err, ErrForbidden):
				log.Debug().Err(err).Str("path", r.URL.Path).Msg("request forbidden")
				refuse(w, http.StatusForbidden, "")
				return
			case err != nil && !opts.AllowAnonymous:
				log.Debug().Err(err).Str("path", r.URL.Path).Msg("authentication failed")
				refuse(w, http.StatusUnauthorized, challenge+` error="invalid_token"`)
				return
			case err != nil:
				log.Debug().Err(err).Str("path", r.URL.Path).Msg("invalid credentials ignored, anonymous request")
				p = nil
			case p == nil && !opts.AllowAnonymous:
				log.Debug().Str("path", r.URL.Path).Msg("no credentials")
				refuse(w, http.StatusUnauthorized, challenge)
				return
			}
			if p != nil && opts.Authorize != nil && !opts.Authorize(r, p) {
				log.Debug().Str("path", r.URL.Path).Str("user", p.ID).Msg("request not authorized")
				refuse(w, http.StatusForbidden, "")
				return
			}
			if p != nil {
				r = r.WithContext(signalr.WithPrincipal(r.Context(), p))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// refuse answers with an empty body: the JS client then reports the status
// text ("Unauthorized"), exactly as against ASP.NET Core.
func refuse(w http.ResponseWriter, status int, challenge string) {
	if challenge != "" {
		w.Header().Set("WWW-Authenticate", challenge)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// AccessTokenQueryParameter is the query parameter that carries the token
// where a browser cannot set headers (WebSockets, EventSource).
const AccessTokenQueryParameter = "access_token"

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive), or else of the access_token query
// parameter, or "" when there is neither.
func BearerToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		const scheme = "bearer "
		if len(h) > len(scheme) && strings.EqualFold(h[:len(scheme)], scheme) {
			if t := strings.TrimSpace(h[len(scheme):]); t != "" {
				return t
			}
		}
	}
	return r.URL.Query().Get(AccessTokenQueryParameter)
}

// Bearer makes an Authenticator from a token validator: the token comes
// from BearerToken; a request without one is anonymous.
func Bearer(validate func(ctx context.Context, token string) (*signalr.Principal, error)) Authenticator {
	return func(r *http.Request) (*signalr.Principal, error) {
		t := BearerToken(r)
		if t == "" {
			return nil, nil
		}
		return validate(r.Context(), t)
	}
}
