package webui

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment knobs of the browser test (tests may read the environment;
// the package itself never does):
//
//	GOSIGNALR_CHROMIUM       path of the browser binary (default: chromium, chromium-browser,
//	                         google-chrome, google-chrome-stable, headless-shell on PATH)
//	GOSIGNALR_WEBUI_ARTIFACTS  directory for screenshots (default: the test's temp dir)
//	GOSIGNALR_WEBUI_SCREENSHOT  when set, also write the desktop screenshot to this path
//	                            (how docs/screenshot.png is refreshed)
const (
	envChromium   = "GOSIGNALR_CHROMIUM"
	envArtifacts  = "GOSIGNALR_WEBUI_ARTIFACTS"
	envScreenshot = "GOSIGNALR_WEBUI_SCREENSHOT"
)

// actionTimeout bounds every single browser step; the chat runs on loopback.
const actionTimeout = 30 * time.Second

func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(envChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("\n" + strings.Repeat("!", 78) + "\n!!! SKIPPING the headless-Chromium test of the chat page: no Chromium found.\n" +
		"!!! Install it (Debian: apt-get install chromium) or set " + envChromium + ".\n" + strings.Repeat("!", 78))
	return ""
}

// localClientDir is testdata/web, where `npm ci` installs the pinned client
// so that the test runs offline.
func localClientDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "testdata", "web")
	if _, err := ResolveJSClientDir(dir); err != nil {
		t.Fatalf("the browser test needs the @microsoft/signalr client installed: run `npm ci --prefix testdata/web` in the repository root (%v)", err)
	}
	return dir
}

func artifactDir(t *testing.T) string {
	if d := os.Getenv(envArtifacts); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// startChatServer serves the hub at /chathub and the chat page at /, as the
// ChatServer does, on a loopback port. The page at / loads the client from
// the local directory; a second copy under /cdn/ loads it cross-origin, with
// subresource integrity, from a stand-in for the CDN serving the same bytes
// (or, with tamper, altered ones).
func startChatServer(t *testing.T, tamper bool, newHub hubFactory) *chatServer {
	t.Helper()
	clientDir, err := ResolveJSClientDir(localClientDir(t))
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(clientDir, "signalr.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	if tamper {
		js = append(js, "\n//"...)
	}
	cdn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // as the CDN does; crossorigin scripts need it
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		w.Write(js)
	}))
	t.Cleanup(cdn.Close)

	hub := newHubSwitch(t, newHub)
	local, err := New(Options{JSClientDir: clientDir})
	if err != nil {
		t.Fatal(err)
	}
	remote, err := New(Options{
		JSClientURL:       cdn.URL + "/npm/@microsoft/signalr@" + JSClientVersion + "/dist/browser/signalr.min.js",
		JSClientIntegrity: DefaultJSClientIntegrity,
		HubURL:            "/chathub",
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", hub)
	mux.Handle("/chathub/", hub)
	mux.Handle("/cdn/", http.StripPrefix("/cdn", remote))
	mux.Handle("/", local)
	cs := &chatServer{conns: map[net.Conn]bool{}}
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = cs.track
	srv.Start()
	t.Cleanup(srv.Close)
	// Cleanups run last-registered first: end the hub's connections (SSE and
	// long-polling requests included) before the server waits for requests.
	t.Cleanup(hub.shutdown)
	cs.URL = srv.URL
	cs.hub = hub
	return cs
}

// chatServer is the test's server, able to cut every client connection
// (including hijacked WebSockets) to make the pages reconnect.
type chatServer struct {
	URL   string
	hub   *hubSwitch
	mu    sync.Mutex
	conns map[net.Conn]bool
}

func (cs *chatServer) track(c net.Conn, state http.ConnState) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch state {
	case http.StateNew:
		cs.conns[c] = true
	case http.StateClosed:
		delete(cs.conns, c)
	}
}

// hubSwitch serves the current hub; restart replaces it with a fresh one
// and shuts the old one down, as a redeployed server behind the same URL.
type hubSwitch struct {
	newHub hubFactory
	mu     sync.Mutex
	h      http.Handler
	stop   func()
}

// hubFactory makes a chat hub handler and the func that shuts it down.
type hubFactory func(t *testing.T) (http.Handler, func())

func newHubSwitch(t *testing.T, newHub hubFactory) *hubSwitch {
	h, stop := newHub(t)
	return &hubSwitch{newHub: newHub, h: h, stop: stop}
}

func (s *hubSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := s.h
	s.mu.Unlock()
	h.ServeHTTP(w, r)
}

func (s *hubSwitch) restart(t *testing.T) {
	h, stop := s.newHub(t)
	s.mu.Lock()
	oldStop := s.stop
	s.h, s.stop = h, stop
	s.mu.Unlock()
	oldStop()
}

func (s *hubSwitch) shutdown() {
	s.mu.Lock()
	stop := s.stop
	s.mu.Unlock()
	stop()
}

// dropConnections closes every TCP connection, as a network failure would.
func (cs *chatServer) dropConnections() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	n := len(cs.conns)
	for c := range cs.conns {
		c.Close()
		delete(cs.conns, c)
	}
	return n
}

// browser is the one headless Chromium the package's tests share: started
// by the first test that needs it, stopped by TestMain after all tests.
var sharedBrowser struct {
	once    sync.Once
	ctx     context.Context
	err     error
	stop    func()
	dataDir string
}

// startBrowser returns a context whose children open pages in the shared
// browser (skipping the test when there is no Chromium).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := findChromium(t)
	sharedBrowser.once.Do(func() {
		dir, err := os.MkdirTemp("", "webui-chromium-")
		if err != nil {
			sharedBrowser.err = err
			return
		}
		sharedBrowser.dataDir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.UserDataDir(dir), // fresh profile
			chromedp.WindowSize(900, 640),
		)
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		sharedBrowser.ctx = bctx
		sharedBrowser.stop = func() {
			cctx, cancel := context.WithTimeout(bctx, 10*time.Second)
			defer cancel()
			_ = chromedp.Cancel(cctx)
			bcancel()
			acancel()
		}
		sharedBrowser.err = chromedp.Do(bctx) // starts the browser, bound to bctx
	})
	if sharedBrowser.err != nil {
		t.Fatalf("start Chromium: %v", sharedBrowser.err)
	}
	return sharedBrowser.ctx
}

// withBrowser stops the shared browser after the tests.
type withBrowser struct{ m interface{ Run() int } }

func (w withBrowser) Run() int {
	code := w.m.Run()
	if sharedBrowser.stop != nil {
		sharedBrowser.stop()
	}
	if sharedBrowser.dataDir != "" {
		os.RemoveAll(sharedBrowser.dataDir)
	}
	return code
}

// chatPage is one browser tab showing the chat page.
type chatPage struct {
	t      *testing.T
	label  string
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // closed when the console reader ends

	mu       sync.Mutex
	problems []string       // console errors, exceptions, policy violations
	expected *regexp.Regexp // problems that match are expected, not failures
	seen     []string       // expected problems that occurred
}

func openPage(t *testing.T, browser context.Context, label, url string, width, height int64, mobile bool) *chatPage {
	t.Helper()
	return openPageExpecting(t, browser, label, url, width, height, mobile, nil)
}

func openPageExpecting(t *testing.T, browser context.Context, label, url string, width, height int64, mobile bool, expected *regexp.Regexp) *chatPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &chatPage{t: t, label: label, ctx: ctx, cancel: cancel, done: make(chan struct{}), expected: expected}
	messages := chromedp.Console(ctx) // subscribe before the page loads
	go func() {
		defer close(p.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" || strings.Contains(m.Text, "Content Security Policy") {
				pr := fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
				p.mu.Lock()
				if p.expected != nil && p.expected.MatchString(pr) {
					p.seen = append(p.seen, pr)
				} else {
					p.problems = append(p.problems, pr)
				}
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(p.close)
	var vp []chromedp.EmulateViewportOption
	if mobile {
		vp = append(vp, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait, chromedp.EmulateScale(2))
	}
	p.do(chromedp.EmulateViewport(width, height, vp...), chromedp.Navigate(url))
	return p
}

// close closes the tab (the browser ends its connection) and checks that
// the page logged no errors.
func (p *chatPage) close() {
	select {
	case <-p.done:
		return // already closed
	default:
	}
	cctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	_ = chromedp.Cancel(cctx)
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.problems {
		p.t.Errorf("page %s console: %s", p.label, pr)
	}
}

// expect makes console errors matching re expected from now on (nil: none).
func (p *chatPage) expect(re *regexp.Regexp) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expected = re
}

func (p *chatPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("page %s: %v", p.label, err)
	}
}

func (p *chatPage) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("page %s: text of %s: %v", p.label, sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](p *chatPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("page %s: evaluate %s: %v", p.label, expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate; on timeout it reports what the
// message list showed.
func (p *chatPage) waitFor(what, predicate string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](predicate, chromedp.WithPollingInterval(25*time.Millisecond))); err != nil {
		p.t.Fatalf("page %s: waiting for %s: %v\nstate %q, notice %q, messages:\n%s", p.label, what, err,
			eval[string](p, `document.getElementById("state").textContent`),
			eval[string](p, `document.getElementById("notice").textContent`),
			strings.Join(p.entries(), "\n"))
	}
}

func (p *chatPage) entries() []string {
	return eval[[]string](p, `Array.from(document.querySelectorAll("#messages li"), li => li.textContent.replace(/^\d\d:\d\d:\d\d /, ""))`)
}

// waitEntry waits for a message-list line that contains every part.
func (p *chatPage) waitEntry(kind string, parts ...string) {
	p.t.Helper()
	js, _ := json.Marshal(parts)
	p.waitFor(fmt.Sprintf("%s entry %q", kind, parts), fmt.Sprintf(
		`Array.from(document.querySelectorAll('#messages li[data-kind=%q]')).some(li => %s.every(s => li.textContent.includes(s)))`, kind, js))
}

// recordStates starts recording the connection states the page shows.
func (p *chatPage) recordStates() {
	p.t.Helper()
	eval[bool](p, `(() => {
		const el = document.getElementById("state");
		window.__states = [];
		if (window.__stateObserver) window.__stateObserver.disconnect();
		window.__stateObserver = new MutationObserver(() => {
			const s = el.dataset.state;
			if (window.__states[window.__states.length - 1] !== s) window.__states.push(s);
		});
		window.__stateObserver.observe(el, {attributes: true, attributeFilter: ["data-state"]});
		return true;
	})()`)
}

// recordedStates returns the states shown since recordStates, in order.
func (p *chatPage) recordedStates() string {
	p.t.Helper()
	return eval[string](p, `window.__states.join(" ")`)
}

// waitCount waits for at least n message-list lines of kind containing text.
func (p *chatPage) waitCount(what, kind, text string, n int) {
	p.t.Helper()
	p.waitFor(what, fmt.Sprintf(
		`Array.from(document.querySelectorAll('#messages li[data-kind=%q]')).filter(li => li.textContent.includes(%q)).length >= %d`, kind, text, n))
}

func (p *chatPage) waitConnected() (connectionID, transport string) {
	p.t.Helper()
	p.waitFor("connected state", `document.getElementById("state").dataset.state === "connected"`)
	return p.text("#connection-id"), p.text("#transport")
}

func (p *chatPage) send(target, message string) {
	p.t.Helper()
	p.do(
		chromedp.SetValue(chromedp.CSS("#target"), target),
		chromedp.SetValue(chromedp.CSS("#message"), message),
		chromedp.Click(chromedp.CSS("#send")),
	)
	p.waitFor("the message field to clear after sending", `document.getElementById("message").value === ""`)
}

func (p *chatPage) join(group string) {
	p.t.Helper()
	p.do(chromedp.SetValue(chromedp.CSS("#group"), group), chromedp.Click(chromedp.CSS("#join")))
	p.waitFor("group "+group+" in the joined list", fmt.Sprintf(`document.getElementById("joined").textContent.split(", ").includes(%q)`, group))
}

func (p *chatPage) screenshot(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("page %s: screenshot: %v", p.label, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("page %s: screenshot %s (%d bytes)", p.label, path, len(png))
}

// transportCase names the transports of pages A and B ("" = the client's
// own choice, which must be WebSockets).
type transportCase struct{ a, b string }

func (tc transportCase) String() string {
	return orDefault(tc.a, "auto") + "+" + orDefault(tc.b, "auto")
}

// TestBrowserChat drives two pages of the chat page in headless Chromium
// against an in-process chat server. Each pair of transports is a separate
// run, so every transport carries the chat.
func TestBrowserChat(t *testing.T) {
	browser := startBrowser(t)
	srv := startChatServer(t, false, newChatHub)
	artifacts := artifactDir(t)
	for _, tc := range browserTransportCases {
		t.Run(tc.String(), func(t *testing.T) {
			chatScenario(t, browser, srv, srv, tc, filepath.Join(artifacts, "webui-"+tc.String()))
		})
	}
}

// chatScenario: both pages connect and enter names; a broadcast, a group
// exchange; both pages survive a network drop and a server restart and
// rejoin their group; B leaves the group; A disconnects, reconnects and
// closes its tab, and B is told each time. Page A is served by srvA, page B
// (with the client from the stand-in CDN, phone-sized) by srvB. Screenshots
// go to artifactPrefix+"-desktop.png" and "-phone.png".
func chatScenario(t *testing.T, browser context.Context, srvA, srvB *chatServer, tc transportCase, artifactPrefix string) {
	servers := []*chatServer{srvA}
	if srvB != srvA {
		servers = append(servers, srvB)
	}
	a := openPage(t, browser, "A", srvA.URL+"/"+transportQuery(tc.a), 900, 640, false)
	// B loads the client from the stand-in CDN (integrity-checked).
	b := openPage(t, browser, "B", srvB.URL+"/cdn/"+transportQuery(tc.b), 390, 844, true)

	idA, trA := a.waitConnected()
	idB, trB := b.waitConnected()
	if want := orDefault(tc.a, "WebSockets"); trA != want {
		t.Errorf("page A transport %q, want %q", trA, want)
	}
	if want := orDefault(tc.b, "WebSockets"); trB != want {
		t.Errorf("page B transport %q, want %q", trB, want)
	}
	if idA == "" || idA == "–" || idA == idB {
		t.Fatalf("connection ids A %q B %q", idA, idB)
	}
	for _, p := range []*chatPage{a, b} {
		if v := p.text("#client-version"); v != JSClientVersion {
			t.Errorf("page %s shows client version %q, want %s", p.label, v, JSClientVersion)
		}
	}
	// A sees B arrive (B connected after A).
	a.waitEntry("system", idB, "connected")

	a.do(chromedp.SetValue(chromedp.CSS("#name"), "Alice"))
	b.do(chromedp.SetValue(chromedp.CSS("#name"), "Bob"))

	// Broadcast: both pages show it, labelled [ALL]. The text holds
	// markup, which must arrive as text.
	a.send("", "hello <b>everyone</b>")
	b.waitEntry("all", "[ALL]", "Alice: hello <b>everyone</b>")
	a.waitEntry("all", "[ALL]", "Alice: hello <b>everyone</b>")
	if n := eval[int](b, `document.querySelectorAll("#messages b").length`); n != 0 {
		t.Errorf("page B rendered message markup as HTML (%d <b> elements)", n)
	}

	// Group: A joins, then B; each join is announced to the group.
	a.join("room1")
	b.join("room1")
	a.waitEntry("system", idB, "joined room1")
	b.waitEntry("system", idB+" (you)", "joined room1")
	a.send("room1", "group hello from A")
	b.send("room1", "group reply from B")
	b.waitEntry("group", "[room1]", "Alice: group hello from A")
	a.waitEntry("group", "[room1]", "Bob: group reply from B")

	// A phone-sized page must not scroll sideways.
	if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); over {
		t.Errorf("page B (390px wide) scrolls horizontally: scrollWidth %d", eval[int](b, `document.documentElement.scrollWidth`))
	}

	shot := artifactPrefix + "-desktop.png"
	a.screenshot(shot)
	if dst := os.Getenv(envScreenshot); dst != "" && tc == (transportCase{}) && srvA == srvB {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Both pages lose their connection, show it, reconnect on their
	// own with new connection ids, and rejoin their groups: first the
	// network drops (long polling may legitimately ride that out, as
	// the browser retries a poll cut on a reused socket), then the
	// server restarts (Close with allowReconnect, a new hub behind
	// the same URL).
	type cut struct {
		name string
		do   func()
	}
	cuts := []cut{{"server restart", func() {
		for _, s := range servers {
			s.hub.restart(t)
		}
	}}}
	if tc.a != "LongPolling" && tc.b != "LongPolling" {
		cuts = append([]cut{{"network drop", func() {
			for _, s := range servers {
				if s.dropConnections() == 0 {
					t.Fatal("no connections to drop")
				}
			}
		}}}, cuts...)
	}
	for i, c := range cuts {
		for _, p := range []*chatPage{a, b} {
			p.expect(regexp.MustCompile(`Connection disconnected with error|WebSocket|EventSource|net::ERR_|Failed to fetch|Failed to load resource`))
		}
		for _, p := range []*chatPage{a, b} {
			p.recordStates()
		}
		c.do()
		for _, p := range []*chatPage{a, b} {
			p.waitCount(c.name+": connection lost", "system", "connection lost", i+1)
			p.waitCount(c.name+": reconnected", "system", "reconnected as", i+1)
		}
		newA, _ := a.waitConnected()
		newB, _ := b.waitConnected()
		for _, p := range []*chatPage{a, b} {
			if got := p.recordedStates(); got != "reconnecting connected" {
				t.Errorf("%s: page %s went through states %q, want \"reconnecting connected\"", c.name, p.label, got)
			}
		}
		if newA == idA || newB == idB {
			t.Errorf("%s: connection ids after reconnect A %q (was %q), B %q (was %q)", c.name, newA, idA, newB, idB)
		}
		idA, idB = newA, newB
		for _, p := range []*chatPage{a, b} {
			p.expect(nil)
		}
		a.waitEntry("system", idA+" (you) joined room1")
		b.waitEntry("system", idB+" (you) joined room1")
		msg := "after " + c.name
		a.send("room1", msg)
		b.waitEntry("group", "[room1]", "Alice: "+msg)
	}
	idA2, idB2 := idA, idB

	// B leaves the group: A is told; group messages no longer reach B,
	// while a broadcast sent after them does (A's calls run in order).
	b.do(chromedp.SetValue(chromedp.CSS("#group"), "room1"), chromedp.Click(chromedp.CSS("#leave")))
	b.waitEntry("system", "you left room1")
	a.waitEntry("system", idB2, "left room1")
	if got := b.text("#joined"); got != "none" {
		t.Errorf("page B joined list %q after leaving, want none", got)
	}
	a.send("room1", "B must not see this")
	a.send("", "B sees this")
	b.waitEntry("all", "Alice: B sees this")
	for _, e := range b.entries() {
		if strings.Contains(e, "B must not see this") {
			t.Errorf("page B got a group message after leaving: %q", e)
		}
	}

	// A disconnects with its button and connects again; B sees both.
	a.recordStates()
	a.do(chromedp.Click(chromedp.CSS("#toggle")))
	a.waitFor("disconnected state", `document.getElementById("state").dataset.state === "disconnected"`)
	b.waitEntry("system", idA2, "disconnected")
	a.do(chromedp.Click(chromedp.CSS("#toggle")))
	idA3, _ := a.waitConnected()
	b.waitEntry("system", idA3, "connected")
	if got := a.recordedStates(); got != "disconnected connecting connected" {
		t.Errorf("page A went through states %q, want \"disconnected connecting connected\"", got)
	}

	// A's tab closes: B is told, by connection id.
	a.close()
	b.waitEntry("system", idA3, "disconnected")
	b.screenshot(artifactPrefix + "-phone.png")
}

func transportQuery(tr string) string {
	if tr == "" {
		return ""
	}
	return "?transport=" + tr
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestBrowserTamperedClient checks that subresource integrity protects the
// page: a CDN serving altered bytes gets the script refused, and the page
// says the client did not load instead of connecting.
func TestBrowserTamperedClient(t *testing.T) {
	browser := startBrowser(t)
	base := startChatServer(t, true, newChatHub).URL
	blocked := regexp.MustCompile(`integrity`)
	p := openPageExpecting(t, browser, "tampered", base+"/cdn/", 600, 400, false, blocked)
	p.waitFor("the did-not-load notice", `document.getElementById("notice").textContent.startsWith("The SignalR client did not load from http://127.0.0.1:")`)
	if st := p.text("#state"); st != "disconnected" {
		t.Errorf("state %q, want disconnected", st)
	}
	p.close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) == 0 {
		t.Error("the browser reported no integrity failure")
	}
}
