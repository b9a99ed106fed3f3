package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosignalr/gosignalr/signalr"
)

var (
	testNow    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	hmacSecret = []byte("0123456789abcdef0123456789abcdef")
)

func clock() time.Time { return testNow }

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rawToken builds a token with a hand-written payload (to control claim order).
func rawToken(t testing.TB, payload string) string {
	t.Helper()
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(head+"."+body, hmacSecret)
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + body + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func exp(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(testNow.Add(d)) }

func TestJWTValidate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	otherSecret := []byte("another secret, another secret!!")

	hs := JWTOptions{Key: hmacSecret, Now: clock}
	tests := []struct {
		name    string
		opts    JWTOptions
		token   string
		wantID  string
		wantErr bool
	}{
		{"HS256", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u1", "exp": exp(time.Hour)}), "u1", false},
		{"HS512", hs, sign(t, jwt.SigningMethodHS512, hmacSecret, jwt.MapClaims{"sub": "u1", "exp": exp(time.Hour)}), "u1", false},
		{"RS256", JWTOptions{Key: &rsaKey.PublicKey, Now: clock},
			sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"sub": "r", "exp": exp(time.Hour)}), "r", false},
		{"PS256", JWTOptions{Key: &rsaKey.PublicKey, Now: clock},
			sign(t, jwt.SigningMethodPS256, rsaKey, jwt.MapClaims{"sub": "p", "exp": exp(time.Hour)}), "p", false},
		{"ES256", JWTOptions{Key: &ecKey.PublicKey, Now: clock},
			sign(t, jwt.SigningMethodES256, ecKey, jwt.MapClaims{"sub": "e", "exp": exp(time.Hour)}), "e", false},
		{"EdDSA", JWTOptions{Key: edPub, Now: clock},
			sign(t, jwt.SigningMethodEdDSA, edPriv, jwt.MapClaims{"sub": "d", "exp": exp(time.Hour)}), "d", false},
		{"wrong secret", hs, sign(t, jwt.SigningMethodHS256, otherSecret, jwt.MapClaims{"sub": "u", "exp": exp(time.Hour)}), "", true},
		{"algorithm confusion: HS256 signed with the RSA public key", JWTOptions{Key: &rsaKey.PublicKey, Now: clock},
			sign(t, jwt.SigningMethodHS256, rsaPubDER, jwt.MapClaims{"sub": "x", "exp": exp(time.Hour)}), "", true},
		{"alg none", hs, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"sub": "x", "exp": exp(time.Hour)}), "", true},
		{"algorithm not allowed", JWTOptions{Key: hmacSecret, Algorithms: []string{"HS512"}, Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(time.Hour)}), "", true},
		{"expired beyond leeway", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(-2 * time.Minute)}), "", true},
		{"expired within leeway", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(-30 * time.Second)}), "u", false},
		{"expired, no leeway", JWTOptions{Key: hmacSecret, Leeway: -1, Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(-time.Second)}), "", true},
		{"not yet valid", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(time.Hour), "nbf": exp(2 * time.Minute)}), "", true},
		{"nbf within leeway", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(time.Hour), "nbf": exp(20 * time.Second)}), "u", false},
		{"missing exp", hs, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u"}), "", true},
		{"missing exp allowed", JWTOptions{Key: hmacSecret, AllowMissingExpiration: true, Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u"}), "u", false},
		{"issuer matches", JWTOptions{Key: hmacSecret, Issuer: "me", Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "iss": "me", "exp": exp(time.Hour)}), "u", false},
		{"issuer differs", JWTOptions{Key: hmacSecret, Issuer: "me", Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "iss": "you", "exp": exp(time.Hour)}), "", true},
		{"audience one of", JWTOptions{Key: hmacSecret, Audience: []string{"a", "b"}, Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "aud": []string{"x", "b"}, "exp": exp(time.Hour)}), "u", false},
		{"audience missing", JWTOptions{Key: hmacSecret, Audience: []string{"a"}, Now: clock},
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "exp": exp(time.Hour)}), "", true},
		{"issuer and audience ignored when not configured", hs,
			sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"sub": "u", "iss": "SignalRTestServer", "aud": "SignalRTests", "exp": exp(time.Hour)}), "u", false},
		{".NET name identifier URI", hs, rawToken(t, `{"`+ClaimTypeNameIdentifier+`":"n1","exp":1893456000}`), "n1", false},
		{".NET nameid", hs, rawToken(t, `{"nameid":"testuser","exp":1893456000,"iss":"SignalRTestServer","aud":"SignalRTests"}`), "testuser", false},
		{"sub wins over nameid", hs, rawToken(t, `{"nameid":"n","sub":"s","exp":1893456000}`), "s", false},
		{"configured user id claim", JWTOptions{Key: hmacSecret, UserIDClaim: "email", Now: clock},
			rawToken(t, `{"sub":"s","email":"a@b.c","exp":1893456000}`), "a@b.c", false},
		{"no user id claim", hs, rawToken(t, `{"exp":1893456000}`), "", false},
		{"garbage", hs, "not.a.jwt", "", true},
		{"two parts", hs, "eyJhbGciOiJIUzI1NiJ9.e30", "", true},
		{"too long", hs, strings.Repeat("a", maxTokenSize+1), "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewJWTValidator(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Validate(context.Background(), tt.token)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("err = %v, want ErrInvalidToken (principal %+v)", err, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.ID != tt.wantID {
				t.Fatalf("ID = %q, want %q", p.ID, tt.wantID)
			}
		})
	}
}

func TestJWTClaimsInOrder(t *testing.T) {
	v, err := NewJWTValidator(JWTOptions{Key: hmacSecret, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok := rawToken(t, `{"z":"last-first","role":["a","b"],"n":12.50,"ok":true,"nil":null,`+
		`"obj":{"k": [1, 2]},"nested":[[1],"x"],"unique_name":"Ann","exp":1893456000}`)
	p, err := v.Validate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := []signalr.Claim{
		{Type: "z", Value: "last-first"}, {Type: "role", Value: "a"}, {Type: "role", Value: "b"}, {Type: "n", Value: "12.50"}, {Type: "ok", Value: "true"},
		{Type: "obj", Value: `{"k":[1,2]}`}, {Type: "nested", Value: "[1]"}, {Type: "nested", Value: "x"}, {Type: "unique_name", Value: "Ann"}, {Type: "exp", Value: "1893456000"},
	}
	if !reflect.DeepEqual(p.Claims, want) {
		t.Fatalf("claims\n got %v\nwant %v", p.Claims, want)
	}
	if p.Name != "Ann" {
		t.Fatalf("Name = %q, want Ann", p.Name)
	}
}

func TestNewJWTValidatorErrors(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	tests := []struct {
		name string
		opts JWTOptions
	}{
		{"no key", JWTOptions{}},
		{"empty secret", JWTOptions{Key: []byte{}}},
		{"private key", JWTOptions{Key: rsaKey}},
		{"unsupported key", JWTOptions{Key: "secret as string"}},
		{"algorithm outside the key's family", JWTOptions{Key: hmacSecret, Algorithms: []string{"RS256"}}},
		{"keyfunc without algorithms", JWTOptions{Keyfunc: func(*jwt.Token) (any, error) { return hmacSecret, nil }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewJWTValidator(tt.opts); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestJWTKeyfunc(t *testing.T) {
	keys := map[string][]byte{"k1": []byte("key one key one key one key one!"), "k2": hmacSecret}
	v, err := NewJWTValidator(JWTOptions{
		Algorithms: []string{"HS256"},
		Keyfunc: func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			if k, ok := keys[kid]; ok {
				return k, nil
			}
			return nil, errors.New("unknown kid")
		},
		Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "k", "exp": exp(time.Hour)})
	tok.Header["kid"] = "k1"
	s, _ := tok.SignedString(keys["k1"])
	if p, err := v.Validate(context.Background(), s); err != nil || p.ID != "k" {
		t.Fatalf("Validate = %+v, %v", p, err)
	}
	tok.Header["kid"] = "k3"
	s, _ = tok.SignedString(keys["k1"])
	if _, err := v.Validate(context.Background(), s); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid: err = %v", err)
	}
}

func TestJWTValidateCanceled(t *testing.T) {
	v, _ := NewJWTValidator(JWTOptions{Key: hmacSecret, Now: clock})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Validate(ctx, sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{"exp": exp(time.Hour)})); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// The validator's own JSON walk must never fail on a payload the library
// accepted, and never panic on any input.
func FuzzJWTValidate(f *testing.F) {
	v, err := NewJWTValidator(JWTOptions{Key: hmacSecret, Now: clock, AllowMissingExpiration: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{`{"sub":"a","exp":1893456000}`, `{"a":[1,[2],{"b":null}],"c":"\u00e9"}`, `{}`, `{"x":1e400}`} {
		f.Add(rawToken(f, p))
		f.Add(p)
	}
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		tok := s
		if !strings.Contains(s, ".") {
			tok = rawToken(t, s) // treat input as a payload, correctly signed
		}
		p, err := v.Validate(context.Background(), tok)
		if err == nil && p == nil {
			t.Fatal("nil principal without error")
		}
		_, _ = orderedClaims([]byte(s))
	})
}
