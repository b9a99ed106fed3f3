package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// methodAuthHub has methods guarded per method (see methodPolicies) and, for
// Purge, by itself through signalr.MethodAuthorizer.
type methodAuthHub struct{ kicks *atomic.Int64 }

func (methodAuthHub) Echo(s string) string { return s }

func (methodAuthHub) Whoami(ctx *signalr.Context) string { return ctx.User().ID }

func (h methodAuthHub) Kick(user string) string {
	h.kicks.Add(1)
	return "kicked " + user
}

// Kicks tells the client how often Kick ran, so it can see that refused
// calls did not run it.
func (h methodAuthHub) Kicks() int64 { return h.kicks.Load() }

func (methodAuthHub) Purge() string { return "purged" }

func (methodAuthHub) Secrets() <-chan string {
	ch := make(chan string, 2)
	ch <- "s1"
	ch <- "s2"
	close(ch)
	return ch
}

func (methodAuthHub) Upload(stream <-chan string) string {
	var sb strings.Builder
	for s := range stream {
		sb.WriteString(s)
	}
	return sb.String()
}

// AuthorizeMethod is the hub's own check, on top of Options.AuthorizeMethod:
// Purge also needs the scope=purge claim.
func (methodAuthHub) AuthorizeMethod(ctx *signalr.Context, method string) bool {
	if method != "Purge" {
		return true
	}
	v, ok := ctx.User().FindClaim("scope")
	return ok && v == "purge"
}

var methodPolicies = auth.MethodPolicies{
	"Kick":    auth.RequireRole("admin"),
	"Secrets": auth.RequireRole("admin"),
	"Upload":  auth.RequireRole("admin"),
	"Purge":   auth.RequireRole("admin"),
	"Whoami":  auth.RequireAuthenticated(),
}

// TestMethodAuthorization runs testdata/conformance/scripts/methodauth.cjs:
// the official JS client, on every transport with JSON and MessagePack,
// against a hub behind the JWT middleware (anonymous callers allowed) whose
// methods are guarded by auth.MethodPolicies and a MethodAuthorizer.
func TestMethodAuthorization(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	key := []byte("method-authorization test key, 32+ bytes")
	v, err := auth.NewJWTValidator(auth.JWTOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(claims jwt.MapClaims) string {
		claims["exp"] = time.Now().Add(10 * time.Minute).Unix()
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	env := map[string]string{
		"USER_TOKEN":     sign(jwt.MapClaims{"sub": "bob", "role": "user"}),
		"ADMIN_TOKEN":    sign(jwt.MapClaims{"sub": "alice", "role": []string{"ops", "admin"}, "scope": "purge"}),
		"OPERATOR_TOKEN": sign(jwt.MapClaims{"sub": "carol", "role": "admin"}),
		// A scenario makes a dozen round trips; on Long Polling under
		// -race on a loaded machine that took 5 s.
		"TIMEOUT_MS": "20000",
	}
	names := []string{"user-refused", "anonymous-refused", "bad-token-is-anonymous", "admin-allowed", "hub-authorizer-refuses-policy-allowed"}

	for _, c := range []struct{ transport, protocol string }{
		{"WebSockets", "json"}, {"ServerSentEvents", "json"}, {"LongPolling", "json"},
		{"WebSockets", "messagepack"}, {"LongPolling", "messagepack"}, // msgpack is binary: no SSE
	} {
		t.Run(c.transport+"/"+c.protocol, func(t *testing.T) {
			t.Parallel()
			s, err := signalr.NewServer(methodAuthHub{kicks: new(atomic.Int64)}, signalr.Options{
				Protocols:       []protocol.HubProtocol{protocol.JSON, protocol.MessagePack},
				AuthorizeMethod: methodPolicies.AuthorizeMethod,
			})
			if err != nil {
				t.Fatal(err)
			}
			mw := auth.Middleware(v.Authenticator(), auth.Options{AllowAnonymous: true})(s)
			mux := http.NewServeMux()
			mux.Handle("/authhub", mw)
			mux.Handle("/authhub/", mw)
			ts := httptest.NewServer(mux)
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = s.Shutdown(ctx)
				ts.Close()
				s.Close()
			}()
			runScript(t, "methodauth.cjs", ts.URL, c.transport, c.protocol, names, env)
		})
	}
}
