package auth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

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
