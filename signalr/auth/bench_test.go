package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func BenchmarkJWTValidate(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := jwt.MapClaims{"sub": "user-1", "name": "User One", "role": []string{"a", "b"}, "exp": time.Now().Add(time.Hour).Unix()}
	cases := []struct {
		name   string
		key    any
		method jwt.SigningMethod
		sign   any
	}{
		{"HS256", hmacSecret, jwt.SigningMethodHS256, hmacSecret},
		{"RS256", &rsaKey.PublicKey, jwt.SigningMethodRS256, rsaKey},
		{"ES256", &ecKey.PublicKey, jwt.SigningMethodES256, ecKey},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			v, err := NewJWTValidator(JWTOptions{Key: c.key})
			if err != nil {
				b.Fatal(err)
			}
			tok := sign(b, c.method, c.sign, claims)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Validate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMiddleware is the cost added to each SignalR HTTP request
// (negotiate, poll, send) by HS256 bearer authentication.
func BenchmarkMiddleware(b *testing.B) {
	v, _ := NewJWTValidator(JWTOptions{Key: hmacSecret})
	h := Middleware(v.Authenticator(), Options{})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tok := sign(b, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": time.Now().Add(time.Hour).Unix()})
	r := httptest.NewRequest(http.MethodPost, "/hub/negotiate?negotiateVersion=1", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
