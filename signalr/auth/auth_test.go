package auth

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gosignalr/gosignalr/signalr"
)

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name   string
		header string
		query  string
		want   string
	}{
		{"header", "Bearer abc", "", "abc"},
		{"scheme is case-insensitive", "bEaReR abc", "", "abc"},
		{"header trimmed", "Bearer   abc  ", "", "abc"},
		{"header wins over query", "Bearer abc", "access_token=q", "abc"},
		{"query", "", "access_token=q", "q"},
		{"other scheme falls back to query", "Basic dXNlcjpwYXNz", "access_token=q", "q"},
		{"empty bearer falls back to query", "Bearer ", "access_token=q", "q"},
		{"query escaped", "", "access_token=a%2Bb%3D", "a+b="},
		{"nothing", "", "id=1", ""},
		{"other scheme only", "Basic dXNlcjpwYXNz", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/hub?"+tt.query, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if got := BearerToken(r); got != tt.want {
				t.Fatalf("BearerToken = %q, want %q", got, tt.want)
			}
		})
	}
}

var errBadToken = errors.New("bad token")

// testAuthenticator knows the tokens "alice" and "bob"; "banned" is forbidden.
func testAuthenticator(r *http.Request) (*signalr.Principal, error) {
	switch BearerToken(r) {
	case "":
		return nil, nil
	case "alice":
		return &signalr.Principal{ID: "alice", Claims: []signalr.Claim{{Type: "role", Value: "admin"}}}, nil
	case "bob":
		return &signalr.Principal{ID: "bob"}, nil
	case "banned":
		return nil, errors.Join(errBadToken, ErrForbidden)
	}
	return nil, errBadToken
}

func TestMiddleware(t *testing.T) {
	adminsOnly := func(r *http.Request, p *signalr.Principal) bool {
		v, _ := p.FindClaim("role")
		return v == "admin"
	}
	tests := []struct {
		name      string
		opts      Options
		method    string
		token     string
		status    int
		challenge string
		user      string // "" = anonymous reached the handler
	}{
		{"valid token", Options{}, http.MethodPost, "alice", 200, "", "alice"},
		{"no token", Options{}, http.MethodPost, "", 401, "Bearer", ""},
		{"invalid token", Options{}, http.MethodPost, "mallory", 401, `Bearer error="invalid_token"`, ""},
		{"forbidden by authenticator", Options{}, http.MethodPost, "banned", 403, "", ""},
		{"custom challenge", Options{Challenge: "Custom"}, http.MethodGet, "", 401, "Custom", ""},
		{"authorize allows", Options{Authorize: adminsOnly}, http.MethodGet, "alice", 200, "", "alice"},
		{"authorize refuses", Options{Authorize: adminsOnly}, http.MethodGet, "bob", 403, "", ""},
		{"anonymous allowed", Options{AllowAnonymous: true}, http.MethodGet, "", 200, "", ""},
		{"anonymous allowed, bad token ignored", Options{AllowAnonymous: true}, http.MethodGet, "mallory", 200, "", ""},
		{"anonymous allowed, good token used", Options{AllowAnonymous: true}, http.MethodGet, "bob", 200, "", "bob"},
		{"anonymous allowed, still forbidden", Options{AllowAnonymous: true}, http.MethodGet, "banned", 403, "", ""},
		{"preflight passes", Options{}, http.MethodOptions, "", 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			var user string
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				if p := signalr.PrincipalFromContext(r.Context()); p != nil {
					user = p.ID
				}
				_, _ = io.WriteString(w, "ok")
			})
			srv := httptest.NewServer(Middleware(testAuthenticator, tt.opts)(next))
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+"/hub/negotiate?negotiateVersion=1", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.status != 200 {
				// The JS client shows the status text only for an empty body.
				if len(body) != 0 || reached {
					t.Fatalf("refusal body %q (handler reached: %v), want empty and not reached", body, reached)
				}
				return
			}
			if !reached || user != tt.user {
				t.Fatalf("handler reached %v as %q, want user %q", reached, user, tt.user)
			}
		})
	}
}

func TestMiddlewareQueryToken(t *testing.T) {
	var user string
	h := Middleware(testAuthenticator, Options{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user = signalr.PrincipalFromContext(r.Context()).ID
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/hub?id=x&access_token=bob", nil))
	if w.Code != 200 || user != "bob" {
		t.Fatalf("status %d user %q, want 200 bob", w.Code, user)
	}
}

func TestMiddlewareNilAuthenticatorPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Middleware(nil, Options{})
}
