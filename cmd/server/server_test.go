package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/interop"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.WithServer(m))
}

// testHost is a process environment for run: env as the variables, no
// settings files.
func testHost(env map[string]string, stdout, stderr io.Writer) host {
	return host{environ: environ(env), stdout: stdout, stderr: stderr}
}

// chatServer is run() started in-process on 127.0.0.1 with a free port.
type chatServer struct {
	base   string // http://127.0.0.1:port
	cancel context.CancelFunc
	done   chan error
	stdout *lineWriter
	// stopped: run has returned (set by the test goroutine).
	stopped bool
}

// startChatServer runs the ChatServer with extra args and env until the test
// ends; it returns once the server printed "Now listening on: ".
func startChatServer(t *testing.T, env map[string]string, args ...string) *chatServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cs := &chatServer{cancel: cancel, done: make(chan error, 1), stdout: newLineWriter()}
	args = append([]string{"--urls", "http://127.0.0.1:0"}, args...)
	go func() { cs.done <- run(ctx, args, testHost(env, cs.stdout, io.Discard)) }()
	select {
	case line := <-cs.stdout.match("Now listening on: "):
		cs.base = strings.TrimPrefix(line, "Now listening on: ")
	case err := <-cs.done:
		cancel()
		t.Fatalf("server exited before listening: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not print its listening URL")
	}
	t.Cleanup(func() { cs.stop(t) })
	return cs
}

// stop cancels run's context (what SIGINT does) and waits for it to return.
func (cs *chatServer) stop(t *testing.T) {
	t.Helper()
	cs.cancel()
	cs.wait(t, defaultShutdownTimeout+5*time.Second)
}

// wait waits up to d for run to return (once cancelled) and reports its error.
func (cs *chatServer) wait(t *testing.T, d time.Duration) {
	t.Helper()
	if cs.stopped {
		return
	}
	select {
	case err := <-cs.done:
		cs.stopped = true
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(d):
		t.Error("run did not return after cancel")
	}
}

// lineWriter is an io.Writer that records lines and signals matching ones.
type lineWriter struct {
	mu      sync.Mutex
	buf     strings.Builder
	lines   []string
	waiters []lineWaiter
}

type lineWaiter struct {
	prefix string
	ch     chan string
}

func newLineWriter() *lineWriter { return &lineWriter{} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	s := w.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		line := s[:i]
		s = s[i+1:]
		w.lines = append(w.lines, line)
		kept := w.waiters[:0]
		for _, wt := range w.waiters {
			if strings.HasPrefix(line, wt.prefix) {
				wt.ch <- line
			} else {
				kept = append(kept, wt)
			}
		}
		w.waiters = kept
	}
	w.buf.Reset()
	w.buf.WriteString(s)
	return len(p), nil
}

// match returns a channel that gets the first line (past or future) starting with prefix.
func (w *lineWriter) match(prefix string) <-chan string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan string, 1)
	for _, l := range w.lines {
		if strings.HasPrefix(l, prefix) {
			ch <- l
			return ch
		}
	}
	w.waiters = append(w.waiters, lineWaiter{prefix, ch})
	return ch
}

func (w *lineWriter) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func get(t *testing.T, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodGet, url, header)
}

func do(t *testing.T, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestServerEndpoints(t *testing.T) {
	cs := startChatServer(t, nil)

	t.Run("banner", func(t *testing.T) {
		res, body := get(t, cs.base+"/", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("GET /: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		if !strings.Contains(body, "/chathub") {
			t.Errorf("banner does not name the hub path: %q", body)
		}
	})

	t.Run("health", func(t *testing.T) {
		before := time.Now().UTC().Truncate(time.Second)
		res, body := get(t, cs.base+"/health", nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("GET /health: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		var h map[string]any
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		host, _ := os.Hostname()
		if h["status"] != "Healthy" || h["server"] != host || h["connections"] != float64(0) || len(h) != 4 {
			t.Errorf("health = %s", body)
		}
		ts, err := time.Parse(time.RFC3339, h["timestamp"].(string))
		if err != nil || !strings.HasSuffix(h["timestamp"].(string), "Z") || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("timestamp %v is not the current RFC 3339 UTC time (%v)", h["timestamp"], err)
		}
	})

	t.Run("health counts connections", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.New(cs.base+"/chathub", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		count := func() float64 {
			_, body := get(t, cs.base+"/health", nil)
			var h struct{ Connections float64 }
			if err := json.Unmarshal([]byte(body), &h); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			return h.Connections
		}
		// The server registers and removes connections asynchronously to
		// the client's Start and Stop.
		waitCount := func(want float64) {
			t.Helper()
			for n := count(); n != want; n = count() {
				if ctx.Err() != nil {
					t.Fatalf("connections = %v, want %v", n, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		waitCount(1)
		if err := c.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		waitCount(0)
	})

	t.Run("negotiate at any casing of the hub path", func(t *testing.T) {
		for _, p := range []string{"/chathub/negotiate", "/chatHub/negotiate", "/CHATHUB/negotiate?negotiateVersion=1"} {
			res, body := do(t, http.MethodPost, cs.base+p, nil)
			if res.StatusCode != http.StatusOK || !strings.Contains(body, `"connectionId"`) {
				t.Errorf("POST %s: %d %s", p, res.StatusCode, body)
			}
		}
	})

	t.Run("unknown path", func(t *testing.T) {
		if res, _ := get(t, cs.base+"/chathubs", nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET /chathubs: %d", res.StatusCode)
		}
	})

	t.Run("no CORS headers unless configured", func(t *testing.T) {
		res, _ := do(t, http.MethodPost, cs.base+"/chathub/negotiate", map[string]string{"Origin": "https://app.example"})
		if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("Access-Control-Allow-Origin = %q", v)
		}
	})
}

func TestServerCORS(t *testing.T) {
	cs := startChatServer(t, map[string]string{"Cors__AllowedOrigins": "https://app.example"})
	res, _ := do(t, http.MethodOptions, cs.base+"/chathub/negotiate?negotiateVersion=1", map[string]string{
		"Origin":                         "https://app.example",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "x-requested-with,x-signalr-user-agent",
	})
	if res.StatusCode != http.StatusNoContent ||
		res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		res.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		res.Header.Get("Access-Control-Allow-Methods") != "POST" ||
		res.Header.Get("Access-Control-Allow-Headers") != "x-requested-with,x-signalr-user-agent" {
		t.Errorf("preflight: %d %v", res.StatusCode, res.Header)
	}
	res, body := do(t, http.MethodPost, cs.base+"/chathub/negotiate?negotiateVersion=1", map[string]string{"Origin": "https://app.example"})
	if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("negotiate: %d %v %s", res.StatusCode, res.Header, body)
	}
	res, _ = do(t, http.MethodPost, cs.base+"/chathub/negotiate?negotiateVersion=1", map[string]string{"Origin": "https://evil.example"})
	if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("foreign origin got Access-Control-Allow-Origin %q", v)
	}
}

func TestRunLifecycleOutput(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := newLineWriter()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--urls", "http://127.0.0.1:0;http://127.0.0.1:0"}, testHost(nil, out, io.Discard))
	}()
	select {
	case <-out.match("Application started."):
	case err := <-done:
		t.Fatalf("run returned %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no start line")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^Now listening on: http://127\.0\.0\.1:\d+\nNow listening on: http://127\.0\.0\.1:\d+\n` +
		`Application started\. Press Ctrl\+C to shut down\.\nApplication is shutting down\.\.\.$`)
	if !re.MatchString(out.text()) {
		t.Errorf("stdout:\n%s", out.text())
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad flag", []string{"--nope"}, "flag provided but not defined"},
		{"bad url", []string{"--urls", "https://127.0.0.1:0"}, "https is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, testHost(nil, io.Discard, io.Discard))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run(%v) = %v, want error containing %q", tt.args, err, tt.want)
			}
		})
	}
	// A busy port: run fails without leaking the hub's goroutines (goleak checks).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := run(context.Background(), []string{"--urls", "http://" + ln.Addr().String()}, testHost(nil, io.Discard, io.Discard)); err == nil {
		t.Error("run on a busy port succeeded")
	}
	if err := run(context.Background(), []string{"-h"}, testHost(nil, io.Discard, io.Discard)); err != nil {
		t.Errorf("run(-h) = %v, want nil", err)
	}
}

// TestChatInterop has two @microsoft/signalr clients chat through the real
// ChatServer over each transport.
func TestChatInterop(t *testing.T) {
	cs := startChatServer(t, nil)
	for _, v := range []struct{ transport, protocol string }{
		{"WebSockets", "json"},
		{"ServerSentEvents", "json"},
		{"LongPolling", "json"},
		{"WebSockets", "messagepack"},
		{"LongPolling", "messagepack"},
	} {
		t.Run(v.transport+"-"+v.protocol, func(t *testing.T) {
			interop.RunScript(t, "scenarios/chat.cjs", map[string]string{
				"SIGNALR_URL":       cs.base + "/chathub",
				"SIGNALR_TRANSPORT": v.transport,
				"SIGNALR_PROTOCOL":  v.protocol,
			})
		})
	}
}

// TestReadmeSnippet runs the README's JavaScript client snippet, verbatim
// except for the server URL, against the ChatServer.
func TestReadmeSnippet(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- snippet: js-chat-client -->\n```js\n(.*?)```\n<!-- end snippet -->").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no js-chat-client snippet")
	}
	snippet := string(m[1])
	if !strings.Contains(snippet, "http://localhost:5000/chathub") {
		t.Fatal("the snippet no longer uses the default URL http://localhost:5000/chathub")
	}
	cs := startChatServer(t, nil)
	snippet = strings.ReplaceAll(snippet, "http://localhost:5000", cs.base)

	dir, err := interop.NodeDir()
	if err != nil {
		t.Fatal(err)
	}
	// The script must sit in the Node project so require finds node_modules.
	f, err := os.CreateTemp(dir, ".readme-snippet-*.cjs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(snippet); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := interop.EnsureNodeModules(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := interop.RunNode(ctx, filepath.Base(f.Name()), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "alice: Hello from Node.js") {
		t.Errorf("snippet output lacks the chat line:\n%s", out)
	}
}

// TestServerWebSocketOrigin checks that the WebSocket origin check follows
// the CORS setting: cross-origin pages need an allowed origin; clients that
// send no Origin (Node, .NET, Java) and same-origin pages always pass.
func TestServerWebSocketOrigin(t *testing.T) {
	tests := []struct {
		name    string
		cors    string
		origin  string // "" = no Origin header; "same" = the server's own origin
		allowed bool
	}{
		{"no Origin header", "", "", true},
		{"same origin", "", "same", true},
		{"cross origin without CORS", "", "https://app.example", false},
		{"allowed origin", "https://app.example", "https://app.example", true},
		{"other origin", "https://app.example", "https://evil.example", false},
		{"any origin", "*", "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := startChatServer(t, map[string]string{"Cors__AllowedOrigins": tt.cors})
			res, body := do(t, http.MethodPost, cs.base+"/chathub/negotiate?negotiateVersion=1", nil)
			var neg struct {
				ConnectionToken string `json:"connectionToken"`
			}
			if err := json.Unmarshal([]byte(body), &neg); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("negotiate: %d %s %v", res.StatusCode, body, err)
			}
			h := http.Header{}
			switch tt.origin {
			case "":
			case "same":
				h.Set("Origin", cs.base)
			default:
				h.Set("Origin", tt.origin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			wsURL := "ws" + strings.TrimPrefix(cs.base, "http") + "/chathub?id=" + neg.ConnectionToken
			c, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: h})
			if tt.allowed {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				c.Close(websocket.StatusNormalClosure, "")
				t.Fatal("cross-origin WebSocket accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("dial error %v, response %v; want 403", err, resp)
			}
		})
	}
}

// npgsqlForm writes a postgres:// URL in Npgsql's keyword form, as an
// ASP.NET deployment configures ConnectionStrings__DefaultConnection.
func npgsqlForm(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	return fmt.Sprintf("Host=%s;Port=%s;Database=%s;Username=%s;Password=%s;Pooling=true",
		u.Hostname(), u.Port(), strings.TrimPrefix(u.Path, "/"), u.User.Username(), pw)
}

// TestChatBackplaneInterop runs two ChatServers sharing a PostgreSQL
// backplane (configured like an ASP.NET deployment) and has JS clients on
// different servers chat, join groups and see each other come and go.
func TestChatBackplaneInterop(t *testing.T) {
	env := map[string]string{"ConnectionStrings__DefaultConnection": npgsqlForm(t, pgtest.DSN(t))}
	s1 := startChatServer(t, env)
	s2 := startChatServer(t, env)
	for _, cs := range []*chatServer{s1, s2} {
		res, body := get(t, cs.base+"/health", nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"Healthy"`) {
			t.Fatalf("health: %d %s", res.StatusCode, body)
		}
	}
	for _, v := range []struct{ transport, protocol string }{
		{"WebSockets", "json"},
		{"ServerSentEvents", "json"},
		{"LongPolling", "messagepack"},
	} {
		t.Run(v.transport+"-"+v.protocol, func(t *testing.T) {
			interop.RunScript(t, "scenarios/chat.cjs", map[string]string{
				"SIGNALR_URL":       s1.base + "/chathub",
				"SIGNALR_URL_2":     s2.base + "/chathub",
				"SIGNALR_TRANSPORT": v.transport,
				"SIGNALR_PROTOCOL":  v.protocol,
			})
		})
	}
}

func TestRunBackplaneUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	err = run(ctx, []string{"--urls", "http://127.0.0.1:0", "--connection-string",
		fmt.Sprintf("Host=127.0.0.1;Port=%d;Database=x;Username=x;Password=x;Timeout=2", addr.Port)},
		testHost(nil, io.Discard, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL backplane") {
		t.Errorf("run = %v, want a backplane error", err)
	}
}
