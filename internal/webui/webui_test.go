package webui

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// TestMain checks for leaked goroutines, after stopping the shared browser
// and the PostgreSQL server that the browser tests may have started.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.WithServer(withBrowser{m}))
}

func mustNew(t *testing.T, opts Options) *UI {
	t.Helper()
	u, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeClientDir makes a directory laid out like an npm project with the
// client installed, with made-up file contents.
func fakeClientDir(t *testing.T) (root, browserDir string) {
	t.Helper()
	root = t.TempDir()
	browserDir = filepath.Join(root, "node_modules", "@microsoft", "signalr", "dist", "browser")
	if err := os.MkdirAll(browserDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"signalr.min.js":     "/* client */",
		"signalr.min.js.map": "{}",
		"signalr.js":         "/* unminified */",
	} {
		if err := os.WriteFile(filepath.Join(browserDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, browserDir
}

func TestServeFiles(t *testing.T) {
	root, _ := fakeClientDir(t)
	cdn := mustNew(t, Options{})
	local := mustNew(t, Options{JSClientDir: root})
	js := assets["app.js"]

	tests := []struct {
		name        string
		h           http.Handler
		method      string
		target      string
		status      int
		contentType string
		cache       string
		contains    string
	}{
		{"page", cdn, "GET", "/", 200, "text/html; charset=utf-8", "no-cache", "<title>gosignalr chat</title>"},
		{"page by name", cdn, "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", `data-hub-url="chathub"`},
		{"page HEAD", cdn, "HEAD", "/", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"script versioned", cdn, "GET", "/static/app.js?v=" + js.version, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", `"use strict";`},
		{"script stale version", cdn, "GET", "/static/app.js?v=0000", 200, "text/javascript; charset=utf-8", "no-cache", `"use strict";`},
		{"script unversioned", cdn, "GET", "/static/app.js", 200, "text/javascript; charset=utf-8", "no-cache", `"use strict";`},
		{"style", cdn, "GET", "/static/app.css?v=" + assets["app.css"].version, 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", ":root"},
		{"icon", cdn, "GET", "/static/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg"},
		{"template not served", cdn, "GET", "/static/index.html", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"unknown", cdn, "GET", "/nope", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"no local client without dir", cdn, "GET", "/js/signalr.min.js", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"POST", cdn, "POST", "/", 405, "text/plain; charset=utf-8", "no-store", "method not allowed"},
		{"DELETE asset", cdn, "DELETE", "/static/app.js", 405, "text/plain; charset=utf-8", "no-store", ""},
		{"local client", local, "GET", "/js/signalr.min.js", 200, "text/javascript; charset=utf-8", "no-cache", "/* client */"},
		{"local client map", local, "GET", "/js/signalr.min.js.map", 200, "application/json; charset=utf-8", "no-cache", "{}"},
		{"local unminified not served", local, "GET", "/js/signalr.js", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"local traversal", local, "GET", "/js/../../../secret.txt", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"local escaped traversal", local, "GET", "/js/..%2f..%2f..%2fsecret.txt", 404, "text/plain; charset=utf-8", "no-store", ""},
		{"local POST", local, "POST", "/js/signalr.min.js", 405, "text/plain; charset=utf-8", "no-store", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := get(t, tc.h, tc.method, tc.target, nil)
			b := body(t, res)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", res.StatusCode, tc.status, b)
			}
			if got := res.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.cache)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body does not contain %q:\n%s", tc.contains, b)
			}
			if tc.method == "HEAD" && b != "" {
				t.Errorf("HEAD answered with a body")
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"X-Frame-Options":        "DENY",
			} {
				if got := res.Header.Get(k); got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
			if res.Header.Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
		})
	}
}

func TestConditionalGet(t *testing.T) {
	u := mustNew(t, Options{})
	for _, target := range []string{"/", "/static/app.css"} {
		res := get(t, u, "GET", target, nil)
		etag := res.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
			t.Fatalf("%s: ETag %q", target, etag)
		}
		res = get(t, u, "GET", target, map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status %d, want 304", target, res.StatusCode)
		}
		res = get(t, u, "GET", target, map[string]string{"If-None-Match": `"other"`})
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s with a stale ETag: status %d, want 200", target, res.StatusCode)
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	root, _ := fakeClientDir(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"default CDN", Options{},
			"default-src 'none'; script-src 'self' https://cdn.jsdelivr.net; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"local client", Options{JSClientDir: root},
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"custom client URL with port", Options{JSClientURL: "https://Static.Example.com:8443/js/signalr.min.js"},
			"default-src 'none'; script-src 'self' https://static.example.com:8443; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"relative client URL", Options{JSClientURL: "/vendor/signalr.min.js"},
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"hub on another origin", Options{JSClientDir: root, HubURL: "https://hub.example.com/chathub"},
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' https://hub.example.com wss://hub.example.com; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
		{"hub with ws scheme", Options{JSClientDir: root, HubURL: "ws://hub.example.com:81/chathub"},
			"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws://hub.example.com:81 http://hub.example.com:81; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := mustNew(t, tc.opts)
			if got := u.ContentSecurityPolicy(); got != tc.want {
				t.Errorf("policy\n got %s\nwant %s", got, tc.want)
			}
			if got := get(t, u, "GET", "/", nil).Header.Get("Content-Security-Policy"); got != tc.want {
				t.Errorf("header %q", got)
			}
		})
	}
}

var scriptTag = regexp.MustCompile(`(?s)<script([^>]*)>(.*?)</script>`)

func TestPageMarkup(t *testing.T) {
	root, _ := fakeClientDir(t)
	tests := []struct {
		name    string
		opts    Options
		scripts []string // attributes of the script tags, in order
		hubURL  string
	}{
		{"default CDN with integrity", Options{},
			[]string{` src="` + DefaultJSClientURL + `" integrity="` + DefaultJSClientIntegrity + `" crossorigin="anonymous" defer`,
				` src="static/app.js?v=` + assets["app.js"].version + `" defer`}, "chathub"},
		{"local client", Options{JSClientDir: root, HubURL: "/hubs/chat"},
			[]string{` src="js/signalr.min.js" defer`, ` src="static/app.js?v=` + assets["app.js"].version + `" defer`}, "/hubs/chat"},
		{"custom URL without integrity", Options{JSClientURL: "https://example.com/s.js"},
			[]string{` src="https://example.com/s.js" defer`, ` src="static/app.js?v=` + assets["app.js"].version + `" defer`}, "chathub"},
		{"custom URL with integrity", Options{JSClientURL: "https://example.com/s.js", JSClientIntegrity: "sha256-abc="},
			[]string{` src="https://example.com/s.js" integrity="sha256-abc=" crossorigin="anonymous" defer`, ` src="static/app.js?v=` + assets["app.js"].version + `" defer`}, "chathub"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := body(t, get(t, mustNew(t, tc.opts), "GET", "/", nil))
			var got []string
			for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
				if strings.TrimSpace(m[2]) != "" {
					t.Errorf("inline script: %q", m[2])
				}
				got = append(got, m[1])
			}
			if strings.Join(got, "\n") != strings.Join(tc.scripts, "\n") {
				t.Errorf("script tags\n got %q\nwant %q", got, tc.scripts)
			}
			if !strings.Contains(page, `data-hub-url="`+tc.hubURL+`"`) {
				t.Errorf("page lacks hub URL %q", tc.hubURL)
			}
			// The policy forbids inline handlers and styles; the page must not need them.
			if m := regexp.MustCompile(`(?i)\s(on[a-z]+|style)=`).FindString(page); m != "" {
				t.Errorf("page has an inline %q attribute", m)
			}
		})
	}
}

func TestTitleIsEscaped(t *testing.T) {
	page := body(t, get(t, mustNew(t, Options{Title: `<script>x</script> & "chat"`}), "GET", "/", nil))
	if strings.Contains(page, "<script>x") {
		t.Fatalf("title not escaped:\n%s", page)
	}
	if !strings.Contains(page, "<title>&lt;script&gt;x&lt;/script&gt; &amp; &#34;chat&#34;</title>") {
		t.Errorf("escaped title missing:\n%s", page)
	}
}

func TestPlainHandlerForNonBrowsers(t *testing.T) {
	banner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "gosignalr ChatServer\n")
	})
	u := mustNew(t, Options{Plain: banner})
	tests := []struct {
		accept, path string
		wantPage     bool
	}{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "/", true}, // Chrome, Firefox
		{"application/xhtml+xml", "/", true},
		{"*/*", "/", false}, // curl
		{"", "/", false},
		{"text/html;q=0", "/", false},
		{"text/plain", "/", false},
		{"*/*", "/index.html", true}, // only "/" is negotiated
	}
	for _, tc := range tests {
		res := get(t, u, "GET", tc.path, map[string]string{"Accept": tc.accept})
		b := body(t, res)
		if gotPage := strings.Contains(b, "<!doctype html>"); gotPage != tc.wantPage {
			t.Errorf("Accept %q %s: page=%v, want %v (%q)", tc.accept, tc.path, gotPage, tc.wantPage, b)
		}
		if tc.path == "/" && res.Header.Get("Vary") != "Accept" {
			t.Errorf("Accept %q: Vary %q, want Accept", tc.accept, res.Header.Get("Vary"))
		}
	}
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"text/html"}, true},
		{[]string{"TEXT/HTML"}, true},
		{[]string{"application/json", "text/html;q=0.5"}, true},
		{[]string{"text/html; q=0.000"}, false},
		{[]string{"text/html;q=0.001"}, true},
		{[]string{"text/htmlx"}, false},
		{[]string{"*/*"}, false},
		{[]string{"text/*"}, false},
		{[]string{";;;,,,"}, false},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		for _, a := range tc.accept {
			r.Header.Add("Accept", a)
		}
		if got := WantsHTML(r); got != tc.want {
			t.Errorf("WantsHTML(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func FuzzWantsHTML(f *testing.F) {
	for _, s := range []string{"text/html", "*/*", "text/html;q=0", "text/html;q=0.8,*/*", `text/html;a="b,c"`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept", accept)
		got := WantsHTML(r)
		if got && !strings.Contains(strings.ToLower(accept), "html") {
			t.Errorf("WantsHTML(%q) = true without html in the header", accept)
		}
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"missing client dir", Options{JSClientDir: t.TempDir()}, "no signalr.min.js"},
		{"javascript client URL", Options{JSClientURL: "javascript:alert(1)"}, "scheme must be http or https"},
		{"ws client URL", Options{JSClientURL: "wss://example.com/s.js"}, "scheme must be http or https"},
		{"policy injection in client URL", Options{JSClientURL: "https://example.com/s.js; script-src *"}, "not allowed"},
		{"scheme-relative client URL", Options{JSClientURL: "//example.com/s.js"}, "scheme-relative"},
		{"user info", Options{JSClientURL: "https://u:p@example.com/s.js"}, "user info"},
		{"bad integrity", Options{JSClientURL: "https://example.com/s.js", JSClientIntegrity: "md5-abc"}, "JSClientIntegrity"},
		{"policy injection in hub URL", Options{HubURL: "https://h.example.com/hub;x"}, "not allowed"},
		{"ftp hub URL", Options{HubURL: "ftp://h.example.com/hub"}, "scheme must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New error %v, want one containing %q", err, tc.want)
			}
			res := get(t, Handler(tc.opts), "GET", "/", nil)
			if res.StatusCode != http.StatusInternalServerError {
				t.Errorf("Handler with bad options: status %d, want 500", res.StatusCode)
			}
		})
	}
}

func TestResolveJSClientDir(t *testing.T) {
	root, browserDir := fakeClientDir(t)
	pkgDir := filepath.Join(root, "node_modules", "@microsoft", "signalr")
	for _, dir := range []string{root, pkgDir, browserDir} {
		got, err := ResolveJSClientDir(dir)
		if err != nil || got != browserDir {
			t.Errorf("ResolveJSClientDir(%s) = %q, %v; want %q", dir, got, err, browserDir)
		}
	}
	if _, err := ResolveJSClientDir(filepath.Join(root, "missing")); err == nil {
		t.Error("no error for a missing directory")
	}
}

// TestPinnedClient checks that testdata/web pins the client version this
// package names, and that the CDN integrity hash is that of the package's
// file.
func TestPinnedClient(t *testing.T) {
	web := filepath.Join("..", "..", "testdata", "web")
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err := os.ReadFile(filepath.Join(web, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	if v := lock.Packages["node_modules/@microsoft/signalr"].Version; v != JSClientVersion {
		t.Fatalf("testdata/web/package-lock.json pins @microsoft/signalr %q, want %s", v, JSClientVersion)
	}
	if !strings.Contains(DefaultJSClientURL, "@"+JSClientVersion+"/") {
		t.Errorf("DefaultJSClientURL %s does not name version %s", DefaultJSClientURL, JSClientVersion)
	}

	dir, err := ResolveJSClientDir(web)
	if err != nil {
		t.Skipf("\n!!! cannot check DefaultJSClientIntegrity: %v\n!!! run `npm ci --prefix testdata/web`", err)
	}
	js, err := os.ReadFile(filepath.Join(dir, "signalr.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(js)
	if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != DefaultJSClientIntegrity {
		t.Errorf("installed signalr.min.js hashes to %s, DefaultJSClientIntegrity is %s", got, DefaultJSClientIntegrity)
	}
	var pkg struct{ Version string }
	b, err = os.ReadFile(filepath.Join(web, "node_modules", "@microsoft", "signalr", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil || pkg.Version != JSClientVersion {
		t.Errorf("installed @microsoft/signalr is %q (%v), want %s: rerun `npm ci --prefix testdata/web`", pkg.Version, err, JSClientVersion)
	}
}
