package auth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
)

// A JWT-protected endpoint: the token comes from "Authorization: Bearer"
// or the access_token query parameter; the hub sees the Principal.
func ExampleMiddleware() {
	secret := []byte("a 32-byte secret for HS256 keys!")
	v, err := auth.NewJWTValidator(auth.JWTOptions{Key: secret})
	if err != nil {
		panic(err)
	}
	// In a real server, next is the *signalr.Server.
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello ", signalr.PrincipalFromContext(r.Context()).ID)
	})
	h := auth.Middleware(v.Authenticator(), auth.Options{})(next)

	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(secret)

	for _, target := range []string{"/chathub/negotiate", "/chathub?access_token=" + token} {
		r := httptest.NewRequest(http.MethodPost, target, nil)
		if target == "/chathub/negotiate" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String())
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/chathub/negotiate", nil))
	fmt.Printf("%d %q\n", w.Code, w.Body.String())
	// Output:
	// 200 hello alice
	// 200 hello alice
	// 401 ""
}

// ModerationHub has one method for everyone and one for admins.
type ModerationHub struct{}

func (ModerationHub) Echo(s string) string { return s }

func (ModerationHub) Kick(user string) string { return user + " kicked" }

// Per-method authorization, like [Authorize(Roles = "admin")] on a .NET hub
// method: the endpoint lets anonymous callers in (AllowAnonymous), the
// MethodPolicies decide per method. A refused call fails with .NET's text;
// the connection stays open.
func ExampleMethodPolicies() {
	secret := []byte("a 32-byte secret for HS256 keys!")
	v, err := auth.NewJWTValidator(auth.JWTOptions{Key: secret})
	if err != nil {
		panic(err)
	}
	policies := auth.MethodPolicies{"Kick": auth.RequireRole("admin")}
	s, err := signalr.NewServer(ModerationHub{}, signalr.Options{AuthorizeMethod: policies.AuthorizeMethod})
	if err != nil {
		panic(err)
	}
	ts := httptest.NewServer(auth.Middleware(v.Authenticator(), auth.Options{AllowAnonymous: true})(s))
	defer func() { ts.CloseClientConnections(); ts.Close(); s.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, role := range []string{"admin", "user", ""} {
		opts := client.Options{}
		if role != "" {
			token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"sub": "alice", "role": role, "exp": time.Now().Add(time.Minute).Unix(),
			}).SignedString(secret)
			opts.AccessTokenProvider = func(context.Context) (string, error) { return token, nil }
		}
		conn, err := client.New(ts.URL, opts)
		if err != nil {
			panic(err)
		}
		if err := conn.Start(ctx); err != nil {
			panic(err)
		}
		kicked, err := client.Invoke[string](ctx, conn, "Kick", "bob")
		echo, _ := client.Invoke[string](ctx, conn, "Echo", "still connected")
		fmt.Printf("%q: %q %v; %s\n", role, kicked, err, echo)
		_ = conn.Stop(ctx)
	}
	// Output:
	// "admin": "bob kicked" <nil>; still connected
	// "user": "" Failed to invoke 'Kick' because user is unauthorized; still connected
	// "": "" Failed to invoke 'Kick' because user is unauthorized; still connected
}
