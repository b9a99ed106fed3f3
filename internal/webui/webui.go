// Package webui serves the ChatServer's browser chat page: plain HTML, CSS and
// a small script of our own (embedded in the binary), talking to the chat hub
// through the official @microsoft/signalr browser client.
//
// The SignalR client itself is not embedded: the page loads it either from a
// public CDN pinned to the exact version with a subresource-integrity hash
// (the default), from another URL, or from a local directory that the handler
// serves itself (an `npm ci` of testdata/web, for offline use and tests).
//
// Every response carries a strict Content-Security-Policy: scripts only from
// this origin and the configured client origin, no inline script or style,
// network connections only to this origin and the hub's.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// The pinned @microsoft/signalr browser client. DefaultJSClientIntegrity is
// the sha384 of dist/browser/signalr.min.js in the npm package of that
// version (the CDN serves the same bytes); the package tests check it against
// the file installed in testdata/web.
const (
	JSClientVersion          = "10.0.11"
	DefaultJSClientURL       = "https://cdn.jsdelivr.net/npm/@microsoft/signalr@" + JSClientVersion + "/dist/browser/signalr.min.js"
	DefaultJSClientIntegrity = "sha384-N+pL/4qXZHZcvsa6hVMd5/7cdF3lC59ZMNHeQyRo5q9jmC7yw0hcJILPjUDSU7ZS"

	// DefaultHubURL is relative, so the page finds the hub next to itself
	// (/chathub for a page at /), also behind a path prefix.
	DefaultHubURL = "chathub"
	// DefaultTitle is the page title and heading.
	DefaultTitle = "gosignalr chat"

	// localClientPath is where the handler serves the client from a local
	// directory, relative to the page.
	localClientPath = "js/signalr.min.js"
)

// Options configures the chat page. The zero value serves the page with the
// client from DefaultJSClientURL and the hub at DefaultHubURL.
type Options struct {
	// HubURL is the hub endpoint, resolved by the browser against the page's
	// URL. Default DefaultHubURL. An absolute URL on another origin is added
	// to the policy's connect-src (that server must then answer CORS).
	HubURL string

	// JSClientURL is where the page loads signalr.min.js from. Default
	// DefaultJSClientURL (with DefaultJSClientIntegrity). Ignored when
	// JSClientDir is set.
	JSClientURL string
	// JSClientIntegrity is the subresource-integrity value ("sha384-...") for
	// a custom JSClientURL; empty means none. With the default URL it is
	// always DefaultJSClientIntegrity.
	JSClientIntegrity string
	// JSClientDir, when set, makes the handler serve the client itself at
	// js/signalr.min.js. It names a directory holding signalr.min.js, the
	// @microsoft/signalr package directory, or an npm project that has it in
	// node_modules (for example testdata/web after `npm ci`).
	JSClientDir string

	// Title is the page title and heading. Default DefaultTitle.
	Title string

	// Plain, when set, answers requests for "/" that do not accept text/html
	// (curl, scripts) instead of the page; browsers always get the page.
	Plain http.Handler

	// Logger receives request errors. Default silent.
	Logger zerolog.Logger
}

//go:embed static
var staticFS embed.FS

// asset is one embedded file with its precomputed validator.
type asset struct {
	body        []byte
	contentType string
	etag        string // strong, quoted
	version     string // short content hash used in the page's URLs
}

// assets are the embedded files served under static/, keyed by file name.
var assets = mustLoadAssets()

func mustLoadAssets() map[string]*asset {
	m := map[string]*asset{}
	for _, name := range []string{"app.js", "app.css", "favicon.svg"} {
		b, err := staticFS.ReadFile("static/" + name)
		if err != nil {
			panic(err) // the embed directive guarantees these files; a miss is a build error
		}
		m[name] = newAsset(b, contentTypeOf(name))
	}
	return m
}

func newAsset(b []byte, contentType string) *asset {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	return &asset{body: b, contentType: contentType, etag: `"` + h[:32] + `"`, version: h[:16]}
}

func contentTypeOf(name string) string {
	// Fixed types: mime.TypeByExtension depends on the host's mime tables.
	switch filepath.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".map":
		return "application/json; charset=utf-8"
	}
	return "application/octet-stream"
}

var indexTemplate = template.Must(template.ParseFS(staticFS, "static/index.html"))

// pageData fills static/index.html.
type pageData struct {
	Title     string
	HubURL    string
	ClientURL string
	// ClientSRI is the integrity and crossorigin attributes, or empty. Built
	// only from a validated hash, so it is safe to emit unescaped (the
	// escaper would otherwise write '+' as "&#43;").
	ClientSRI     template.HTMLAttr
	AppJS, AppCSS string
	Favicon       string
}

// UI is the chat page handler. Create it with New or Handler.
type UI struct {
	page      *asset
	csp       string
	clientDir string // resolved directory of signalr.min.js; "" when loaded from a URL
	plain     http.Handler
	log       zerolog.Logger
}

// New validates opts and returns the chat page handler. Mount it at "/" (or
// under a prefix with http.StripPrefix); it serves:
//
//	/, /index.html         the page (no-cache, ETag)
//	/static/{app.js,app.css,favicon.svg}  (immutable when requested with the page's ?v=)
//	/js/signalr.min.js[.map]              only with JSClientDir (no-cache, Last-Modified)
//
// and 404 for anything else, 405 for methods other than GET and HEAD.
func New(opts Options) (*UI, error) {
	u := &UI{plain: opts.Plain, log: opts.Logger} // the zero zerolog.Logger is silent

	hubURL := opts.HubURL
	if hubURL == "" {
		hubURL = DefaultHubURL
	}
	hubOrigin, err := originOf(hubURL, true)
	if err != nil {
		return nil, fmt.Errorf("webui: HubURL: %w", err)
	}

	data := pageData{
		Title:   opts.Title,
		HubURL:  hubURL,
		AppJS:   "static/app.js?v=" + assets["app.js"].version,
		AppCSS:  "static/app.css?v=" + assets["app.css"].version,
		Favicon: "static/favicon.svg?v=" + assets["favicon.svg"].version,
	}
	if data.Title == "" {
		data.Title = DefaultTitle
	}

	scriptOrigin, integrity := "", ""
	switch {
	case opts.JSClientDir != "":
		dir, err := ResolveJSClientDir(opts.JSClientDir)
		if err != nil {
			return nil, err
		}
		u.clientDir = dir
		data.ClientURL = localClientPath
	case opts.JSClientURL == "" || opts.JSClientURL == DefaultJSClientURL:
		data.ClientURL = DefaultJSClientURL
		integrity = DefaultJSClientIntegrity
	default:
		data.ClientURL = opts.JSClientURL
		integrity = opts.JSClientIntegrity
	}
	if data.ClientURL != localClientPath {
		scriptOrigin, err = originOf(data.ClientURL, false)
		if err != nil {
			return nil, fmt.Errorf("webui: JSClientURL: %w", err)
		}
	}
	if integrity != "" {
		if !validIntegrity(integrity) {
			return nil, fmt.Errorf("webui: JSClientIntegrity %q is not of the form sha256-, sha384- or sha512-<base64>", integrity)
		}
		data.ClientSRI = template.HTMLAttr(`integrity="` + integrity + `" crossorigin="anonymous"`)
	}

	var page bytes.Buffer
	if err := indexTemplate.Execute(&page, data); err != nil {
		return nil, fmt.Errorf("webui: render page: %w", err)
	}
	u.page = newAsset(page.Bytes(), contentTypeOf(".html"))
	u.csp = contentSecurityPolicy(scriptOrigin, hubOrigin)
	return u, nil
}

// Handler is New for callers that have no use for the error (options fixed
// at compile time): with invalid options every request is answered 500 and
// the reason logged. Prefer New where options come from flags.
func Handler(opts Options) http.Handler {
	u, err := New(opts)
	if err != nil {
		log := opts.Logger
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.Error().Err(err).Msg("webui: misconfigured chat page")
			http.Error(w, "chat page misconfigured", http.StatusInternalServerError)
		})
	}
	return u
}

// ContentSecurityPolicy returns the policy header value the handler sends.
func (u *UI) ContentSecurityPolicy() string { return u.csp }

// contentSecurityPolicy allows our own files, the client script's origin and
// the hub's origin, and nothing else: no inline code, no frames, no plugins.
// 'self' in connect-src also covers ws:/wss: to this host (CSP Level 3).
func contentSecurityPolicy(scriptOrigin, hubOrigin string) string {
	script := "'self'"
	if scriptOrigin != "" {
		script += " " + scriptOrigin
	}
	connect := "'self'"
	if hubOrigin != "" {
		connect += " " + hubOrigin + " " + wsOrigin(hubOrigin)
	}
	return "default-src 'none'; script-src " + script + "; style-src 'self'; img-src 'self'; connect-src " + connect +
		"; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

// originOf returns scheme://host[:port] of an absolute http(s) URL and ""
// for a relative one (same origin). Characters that would break the policy
// header are rejected. wsOK also accepts ws: and wss: (a hub URL may use them).
func originOf(raw string, wsOK bool) (string, error) {
	if strings.ContainsAny(raw, " \t\r\n;,'\"<>\\") {
		return "", fmt.Errorf("%q contains characters not allowed in a URL here", raw)
	}
	if strings.HasPrefix(raw, "//") {
		return "", fmt.Errorf("%q: scheme-relative URLs are not supported", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme == "" && u.Host == "" {
		return "", nil
	}
	switch u.Scheme {
	case "http", "https":
	case "ws", "wss":
		if wsOK {
			break
		}
		fallthrough
	default:
		return "", fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil {
		return "", fmt.Errorf("%q: need a host and no user info", raw)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// wsOrigin maps an http(s) origin to its WebSocket twin and back, so the
// hub's WebSocket and HTTP transports are both allowed.
func wsOrigin(origin string) string {
	for from, to := range map[string]string{"https://": "wss://", "http://": "ws://", "wss://": "https://", "ws://": "http://"} {
		if rest, ok := strings.CutPrefix(origin, from); ok {
			return to + rest
		}
	}
	return origin
}

func validIntegrity(s string) bool {
	for _, p := range []string{"sha256-", "sha384-", "sha512-"} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest != "" && strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == ""
		}
	}
	return false
}

// clientFiles are the only files served from a local client directory.
var clientFiles = map[string]bool{"signalr.min.js": true, "signalr.min.js.map": true}

// ResolveJSClientDir finds the directory holding signalr.min.js for
// Options.JSClientDir: dir itself, dir/dist/browser (the package directory)
// or dir/node_modules/@microsoft/signalr/dist/browser (an npm project).
// Use it to check a --js-client-dir flag at startup.
func ResolveJSClientDir(dir string) (string, error) {
	candidates := []string{
		dir,
		filepath.Join(dir, "dist", "browser"),
		filepath.Join(dir, "node_modules", "@microsoft", "signalr", "dist", "browser"),
	}
	for _, c := range candidates {
		if st, err := os.Stat(filepath.Join(c, "signalr.min.js")); err == nil && st.Mode().IsRegular() {
			return c, nil
		}
	}
	return "", fmt.Errorf("webui: no signalr.min.js in %s (looked in %s): run `npm ci` there or point at the client's directory",
		dir, strings.Join(candidates, ", "))
}

// WantsHTML reports whether the request's Accept header lists text/html (or
// application/xhtml+xml) with a non-zero quality, as browsers do for page
// loads; curl's "*/*" and a missing header do not count.
func WantsHTML(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(h, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (mt != "text/html" && mt != "application/xhtml+xml") {
				continue
			}
			if q, ok := params["q"]; ok && isZeroQ(q) {
				continue
			}
			return true
		}
	}
	return false
}

func isZeroQ(q string) bool {
	q = strings.TrimSpace(q)
	return q != "" && strings.Trim(q, "0.") == "" // "0", "0.0", "0.000"
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", u.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")

	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	if path == "/" && u.plain != nil {
		h.Add("Vary", "Accept")
		if !WantsHTML(r) {
			h.Del("Content-Security-Policy")
			u.plain.ServeHTTP(w, r)
			return
		}
	}

	var a *asset
	immutable := false
	switch {
	case path == "/" || path == "/index.html":
		a = u.page
	case strings.HasPrefix(path, "/static/"):
		a = assets[strings.TrimPrefix(path, "/static/")]
		immutable = a != nil && r.URL.Query().Get("v") == a.version
	case strings.HasPrefix(path, "/js/") && u.clientDir != "" && clientFiles[strings.TrimPrefix(path, "/js/")]:
		if !allowMethod(w, r) {
			return
		}
		u.serveClientFile(w, r, strings.TrimPrefix(path, "/js/"))
		return
	}
	if a == nil {
		h.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	if !allowMethod(w, r) {
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	if immutable {
		// The page names assets by content hash, so a versioned URL never changes.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// serveClientFile serves one whitelisted file of the local client
// directory; revalidated on every load because the directory may be
// reinstalled with another version.
func (u *UI) serveClientFile(w http.ResponseWriter, r *http.Request, name string) {
	root, err := os.OpenRoot(u.clientDir)
	if err != nil {
		u.fileError(w, r, err)
		return
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		u.fileError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		u.fileError(w, r, errors.Join(err, fs.ErrNotExist))
		return
	}
	w.Header().Set("Content-Type", contentTypeOf(name))
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, st.ModTime(), f)
}

func (u *UI) fileError(w http.ResponseWriter, r *http.Request, err error) {
	w.Header().Set("Cache-Control", "no-store")
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	u.log.Error().Err(err).Str("path", r.URL.Path).Msg("webui: serve client file")
	http.Error(w, "cannot read the client file", http.StatusInternalServerError)
}
