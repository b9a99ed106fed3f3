package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
)

func newTestApp(t *testing.T) (*app, *httptest.Server) {
	t.Helper()
	a, err := newApp(zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(a)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.shutdown(ctx)
		ts.Close()
		a.close()
	})
	return a, ts
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(b)}
}

func TestEndpoints(t *testing.T) {
	a, ts := newTestApp(t)
	token, err := a.generateJWT(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	noNameID, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"name": "x", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(a.key)

	tests := []struct {
		name       string
		method     string
		path       string
		header     map[string]string
		status     int
		body       string            // exact, unless contains is set
		contains   string            // substring of the body
		wantHeader map[string]string // exact header values
	}{
		{name: "CORS preflight", method: http.MethodOptions, path: "/testhub/negotiate",
			header: map[string]string{"Origin": "http://localhost:9876", "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "x-requested-with,authorization"},
			status: 204, body: "", wantHeader: map[string]string{
				"Access-Control-Allow-Origin": "http://localhost:9876", "Access-Control-Allow-Credentials": "true",
				"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "x-requested-with,authorization"}},
		{name: "CORS on a request", method: http.MethodGet, path: "/generateJwtToken",
			header: map[string]string{"Origin": "http://127.0.0.1:1"}, status: 200, contains: ".",
			wantHeader: map[string]string{"Access-Control-Allow-Origin": "http://127.0.0.1:1", "Access-Control-Allow-Credentials": "true"}},
		{name: "no CORS headers without Origin", method: http.MethodGet, path: "/generateJwtToken", status: 200,
			contains: ".", wantHeader: map[string]string{"Access-Control-Allow-Origin": ""}},
		{name: "negotiate", method: http.MethodPost, path: "/testhub/negotiate?negotiateVersion=1", status: 200,
			contains: `"availableTransports":[{"transport":"WebSockets"`},
		{name: "negotiate, routes are case-insensitive", method: http.MethodPost, path: "/TestHub/negotiate?negotiateVersion=1",
			status: 200, contains: `"connectionToken"`},
		{name: "no websockets", method: http.MethodPost, path: "/testhub-nowebsockets/negotiate?negotiateVersion=1",
			status: 200, contains: `"availableTransports":[{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling"`},
		{name: "echo negotiate", method: http.MethodPost, path: "/echo/negotiate?negotiateVersion=1", status: 200, contains: `"connectionId"`},
		{name: "echoredirect", method: http.MethodPost, path: "/echoredirect/negotiate?negotiateVersion=1",
			status: 307, wantHeader: map[string]string{"Location": "/echo/negotiate?negotiateVersion=1"}},
		{name: "bad-negotiate", method: http.MethodPost, path: "/bad-negotiate/negotiate?negotiateVersion=1",
			status: 400, body: "Some response from server"},
		{name: "authorizedhub without token", method: http.MethodPost, path: "/authorizedhub/negotiate?negotiateVersion=1",
			status: 401, body: "", wantHeader: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "authorizedhub with a bad token", method: http.MethodPost, path: "/authorizedhub/negotiate?negotiateVersion=1",
			header: map[string]string{"Authorization": "Bearer x.y.z"}, status: 401, body: ""},
		{name: "authorizedhub without name identifier", method: http.MethodPost, path: "/authorizedhub/negotiate?negotiateVersion=1",
			header: map[string]string{"Authorization": "Bearer " + noNameID}, status: 403, body: ""},
		{name: "authorizedhub with token", method: http.MethodPost, path: "/authorizedhub/negotiate?negotiateVersion=1",
			header: map[string]string{"Authorization": "Bearer " + token}, status: 200, contains: `"connectionId"`},
		{name: "authorizedhub with query token", method: http.MethodPost, path: "/authorizedhub/negotiate?negotiateVersion=1&access_token=" + token,
			status: 200, contains: `"connectionId"`},
		{name: "clientresult of an unknown connection", method: http.MethodGet, path: "/clientresult/nope",
			status: 200, body: "Connection 'nope' does not exist."},
		{name: "clientresult without id", method: http.MethodGet, path: "/clientresult", status: 404, contains: "not found"},
		{name: "deployment", method: http.MethodGet, path: "/deployment", status: 200, body: "{}"},
		{name: "unknown path", method: http.MethodGet, path: "/nothing-here", status: 404, contains: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, ts.URL+tt.path, tt.header)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", r.status, tt.status, r.body)
			}
			if tt.contains != "" {
				if !strings.Contains(r.body, tt.contains) {
					t.Fatalf("body %q does not contain %q", r.body, tt.contains)
				}
			} else if r.body != tt.body {
				t.Fatalf("body %q, want %q", r.body, tt.body)
			}
			for k, v := range tt.wantHeader {
				if got := r.header.Get(k); got != v {
					t.Fatalf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestNegotiateCookies(t *testing.T) {
	_, ts := newTestApp(t)
	for _, path := range []string{"/testhub/negotiate", "/bad-negotiate/negotiate", "/anything/negotiate/x"} {
		res, err := http.Post(ts.URL+path+"?negotiateVersion=1", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		got := map[string]*http.Cookie{}
		for _, c := range res.Cookies() {
			got[c.Name] = c
		}
		if c := got["testCookie"]; c == nil || c.Value != "testValue" || c.Path != "/" {
			t.Fatalf("%s: testCookie = %+v", path, c)
		}
		if c := got["testCookie2"]; c == nil || c.Value != "testValue2" {
			t.Fatalf("%s: testCookie2 = %+v", path, c)
		}
		if c := got["expiredCookie"]; c == nil || !c.Expires.Before(time.Now()) {
			t.Fatalf("%s: expiredCookie = %+v, want expired", path, c)
		}
	}
	res, err := http.Get(ts.URL + "/generateJwtToken")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if len(res.Cookies()) != 0 {
		t.Fatalf("cookies outside negotiate: %v", res.Cookies())
	}
}

func TestRedirectCounts(t *testing.T) {
	_, ts := newTestApp(t)
	for i := 1; i <= 3; i++ {
		r := do(t, http.MethodPost, ts.URL+"/redirect/negotiate?numRedirects=0&baseUrl=http://h:1&negotiateVersion=1", nil)
		want := `{ "url": "http://h:1/testHub?numRedirects=` + string(rune('0'+i)) + `" }`
		if r.status != 200 || r.body != want {
			t.Fatalf("hit %d: %d %q, want %q", i, r.status, r.body, want)
		}
		var v struct{ URL string }
		if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.URL == "" {
			t.Fatalf("not the negotiate redirect form: %v", err)
		}
	}
}

func TestGenerateJWT(t *testing.T) {
	a, ts := newTestApp(t)
	r := do(t, http.MethodGet, ts.URL+"/generateJwtToken", nil)
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(r.body, claims, func(*jwt.Token) (any, error) { return a.key, nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatal(err)
	}
	if claims["nameid"] != "testuser" || claims["iss"] != "SignalRTestServer" || claims["aud"] != "SignalRTests" {
		t.Fatalf("claims %v", claims)
	}
	exp, _ := claims.GetExpirationTime()
	if d := time.Until(exp.Time); d <= 0 || d > 6*time.Second {
		t.Fatalf("expires in %v, want about 5s", d)
	}
	if r := do(t, http.MethodPost, ts.URL+"/generateJwtToken", nil); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST: status %d", r.status)
	}
}

func TestRunArguments(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"help", []string{"-h"}, ""},
		{"https", []string{"--urls", "https://127.0.0.1:0"}, "not an http://host:port address"},
		{"garbage", []string{"--urls", "::"}, "not an http://host:port address"},
		{"empty", []string{"--urls", ";"}, "no address"},
		{"extra argument", []string{"extra"}, "unexpected arguments"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, &stdout, &stderr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunServesAndStops(t *testing.T) {
	base := startServer(t) // two listeners would print two lines; one is enough here
	r := do(t, http.MethodPost, base+"/testhub/negotiate?negotiateVersion=1", nil)
	if r.status != 200 || !strings.Contains(r.body, `"negotiateVersion":1`) {
		t.Fatalf("negotiate: %d %q", r.status, r.body)
	}
}

// Like ASP.NET Core without AllowedOrigins, WebSockets from any origin are
// accepted (the browser suite runs on Karma's origin).
func TestCrossOriginWebSocket(t *testing.T) {
	_, ts := newTestApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Origin", "http://localhost:9876")
	h.Set("Cookie", "testCookie=testValue")
	for _, path := range []string{"/testhub", "/echo"} {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+path, &websocket.DialOptions{HTTPHeader: h})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if path == "/echo" {
			if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			typ, b, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(b) != "hi" {
				t.Fatalf("echo: %v %q %v", typ, b, err)
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
}
