package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// readiness GETs /health/ready and decodes its body.
func readiness(t *testing.T, base string) (int, map[string]any) {
	t.Helper()
	res, body := get(t, base+"/health/ready", nil)
	var h map[string]any
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatalf("/health/ready: %v: %s", err, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("/health/ready headers %v", res.Header)
	}
	return res.StatusCode, h
}

// waitReady polls /health/ready until it answers want (10 s at most).
func waitReady(t *testing.T, base string, want int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, h := readiness(t, base)
		if code == want {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("/health/ready stays %d %v, want %d", code, h, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadinessWithoutBackplane(t *testing.T) {
	cs := startChatServer(t, nil)
	code, h := readiness(t, cs.base)
	if code != http.StatusOK || h["status"] != "Healthy" || h["connections"] != float64(0) {
		t.Errorf("/health/ready %d %v", code, h)
	}
	if _, ok := h["backplane"]; ok {
		t.Errorf("backplane status without a backplane: %v", h)
	}
	if _, ok := h["reason"]; ok {
		t.Errorf("reason while ready: %v", h)
	}
}

// scrape returns the /metrics text.
func scrape(t *testing.T, base string) string {
	t.Helper()
	res, body := get(t, base+"/metrics", nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return body
}

// metricValue is the value of the sample whose name and labels (as
// written, e.g. `signalr_messages_received_total{type="Invocation"}`)
// match, or -1 if there is none.
func metricValue(t *testing.T, text, sample string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

// chatN connects a Go client to the hub and sends n messages, returning once
// it received all of them back.
func chatN(t *testing.T, base string, n int) *client.HubConnection {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(base+"/chathub", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, n)
	if err := c.On("ReceiveMessage", func(user, message string) { got <- user + ": " + message }); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop(context.Background()) })
	for i := range n {
		if _, err := c.Invoke(ctx, "SendMessage", "alice", fmt.Sprint("hello ", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case m := <-got:
			if m != fmt.Sprint("alice: hello ", i) {
				t.Fatalf("message %d: %q", i, m)
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages", i, n)
		}
	}
	return c
}

// TestMetrics: /metrics counts what a chatting client does.
func TestMetrics(t *testing.T) {
	cs := startChatServer(t, nil)
	const n = 5
	chatN(t, cs.base, n)
	text := scrape(t, cs.base)
	checkHubMetrics(t, text, n)
	if metricValue(t, text, "signalr_backplane_published_rows_total") != 0 {
		t.Error("backplane rows published without a backplane")
	}
	if !strings.Contains(text, "go_goroutines ") || !strings.Contains(text, "process_") {
		t.Error("no runtime or process metrics")
	}
}

func checkHubMetrics(t *testing.T, text string, n int) {
	t.Helper()
	checks := []struct {
		sample string
		min    float64
		exact  bool
	}{
		{`signalr_connections{protocol="json",transport="WebSockets"}`, 1, true},
		{`signalr_connections_opened_total{protocol="json",transport="WebSockets"}`, 1, true},
		{`signalr_messages_received_total{type="Invocation"}`, float64(n), true},
		{`signalr_messages_sent_total{type="Invocation"}`, float64(n), false},
		{`signalr_messages_sent_total{type="Completion"}`, float64(n), true},
		{`signalr_invocation_duration_seconds_count{method="SendMessage",result="success"}`, float64(n), true},
		{`signalr_received_bytes_total`, 1, false},
		{`signalr_sent_bytes_total`, 1, false},
		{`signalr_slow_consumer_disconnects_total`, 0, true},
	}
	for _, c := range checks {
		v := metricValue(t, text, c.sample)
		if (c.exact && v != c.min) || v < c.min {
			t.Errorf("%s = %v, want %v%s", c.sample, v, c.min, map[bool]string{false: " or more"}[c.exact])
		}
	}
}

// TestBackplane runs the ChatServer on PostgreSQL as configured by
// DATABASE_URL: the .NET ChatServer's table, trigger and channel appear,
// readiness reports the listener, /metrics the backplane counters, and a
// database outage makes the server unready but still live.
func TestBackplane(t *testing.T) {
	dsn := pgtest.DSN(t)
	cs := startChatServer(t, map[string]string{"DATABASE_URL": dsn})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())

	t.Run("objects of the .NET ChatServer", func(t *testing.T) {
		var table, trigger, function string
		err := db.QueryRow(ctx, `SELECT c.relname, t.tgname, p.proname || ':' || p.prosrc
			FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_proc p ON p.oid = t.tgfoid
			WHERE n.nspname = 'signalr' AND NOT t.tgisinternal`).Scan(&table, &trigger, &function)
		if err != nil {
			t.Fatal(err)
		}
		if table != "chathub_Messages" || trigger != "chathub_messages_insert_trigger" ||
			!strings.HasPrefix(function, "notify_chathub_messages_change:") || !strings.Contains(function, "pg_notify('chat_notifications',") {
			t.Errorf("table %q trigger %q function %q", table, trigger, function)
		}
	})

	t.Run("ready", func(t *testing.T) {
		h := waitReady(t, cs.base, http.StatusOK)
		bp, _ := h["backplane"].(map[string]any)
		if h["status"] != "Healthy" || bp["listenerConnected"] != true || bp["caughtUp"] != true {
			t.Errorf("/health/ready %v", h)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		const n = 4
		c := chatN(t, cs.base, n)
		text := scrape(t, cs.base)
		checkHubMetrics(t, text, n)
		// UserConnected and the n messages went through the table.
		for _, s := range []string{"signalr_backplane_published_rows_total", "signalr_backplane_received_total"} {
			if v := metricValue(t, text, s); v < n+1 {
				t.Errorf("%s = %v, want %d or more", s, v, n+1)
			}
		}
		if v := metricValue(t, text, "signalr_backplane_notify_queue_usage"); v < 0 {
			t.Error("no signalr_backplane_notify_queue_usage")
		}
		code, h := readiness(t, cs.base)
		bp, _ := h["backplane"].(map[string]any)
		if age, ok := bp["lastNotificationAgeSeconds"].(float64); code != http.StatusOK || !ok || age < 0 || age > 60 {
			t.Errorf("/health/ready after messages: %d %v", code, h)
		}
		c.Stop(ctx)
	})

	t.Run("database down: live, not ready", func(t *testing.T) {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(u.Path, "/")
		admin, err := pgx.Connect(ctx, pgtest.SuperuserDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(context.Background())
		exec := func(sql string) {
			t.Helper()
			if _, err := admin.Exec(ctx, sql); err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		// No new connections, then cut the listener's.
		exec(`ALTER DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ALLOW_CONNECTIONS false`)
		defer exec(`ALTER DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ALLOW_CONNECTIONS true`)
		exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `' AND pid <> pg_backend_pid()`)

		h := waitReady(t, cs.base, http.StatusServiceUnavailable)
		bp, _ := h["backplane"].(map[string]any)
		reason, _ := h["reason"].(string)
		if h["status"] != "Unhealthy" || !strings.HasPrefix(reason, "backplane listener not connected") || bp["listenerConnected"] != false {
			t.Errorf("/health/ready %v", h)
		}
		res, body := get(t, cs.base+"/health", nil)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `"status":"Healthy"`) {
			t.Errorf("/health while the database is down: %d %s", res.StatusCode, body)
		}
		exec(`ALTER DATABASE ` + pgx.Identifier{name}.Sanitize() + ` ALLOW_CONNECTIONS true`)
		waitReady(t, cs.base, http.StatusOK)
	})
}

// TestBackplaneFlags: the flags move the table, trigger and channel.
func TestBackplaneFlags(t *testing.T) {
	dsn := pgtest.DSN(t)
	startChatServer(t, map[string]string{"ConnectionStrings__DefaultConnection": npgsqlForm(t, dsn)},
		"--backplane-schema", "Chat", "--backplane-table-slug", "Room1", "--backplane-channel", "room_events", "--backplane-mode", "native")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var table, trigger, src string
	err = db.QueryRow(ctx, `SELECT c.relname, t.tgname, p.prosrc
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE n.nspname = 'Chat' AND NOT t.tgisinternal`).Scan(&table, &trigger, &src)
	if err != nil {
		t.Fatal(err)
	}
	// Native mode: the large-row branch notifies without the payload.
	if table != "Room1_Messages" || trigger != "room1_messages_insert_trigger" ||
		!strings.Contains(src, "pg_notify('room_events',") || !strings.Contains(src, "ELSE") {
		t.Errorf("table %q trigger %q function %q", table, trigger, src)
	}
}

func TestHealthcheckMode(t *testing.T) {
	cs := startChatServer(t, nil)
	port := cs.base[strings.LastIndexByte(cs.base, ':')+1:]
	check := func(env map[string]string, args ...string) error {
		return run(context.Background(), append([]string{"--healthcheck"}, args...), testHost(env, io.Discard, io.Discard))
	}
	if err := check(nil, "--urls", "http://127.0.0.1:"+port); err != nil {
		t.Errorf("ready server: %v", err)
	}
	// As in the container: the port of ASPNETCORE_URLS, wildcard host.
	if err := check(map[string]string{"ASPNETCORE_URLS": "http://+:" + port}); err != nil {
		t.Errorf("wildcard URL: %v", err)
	}
	if err := check(nil, "--urls", "http://localhost:"+port); err != nil {
		t.Errorf("localhost URL: %v", err)
	}
	if err := check(nil, "--urls", "http://127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "dynamic port") {
		t.Errorf("port 0: %v", err)
	}
	cs.stop(t)
	if err := check(nil, "--urls", "http://127.0.0.1:"+port); err == nil {
		t.Error("stopped server reported ready")
	}
}

func TestHealthcheckUnready(t *testing.T) {
	// A server that answers 503, as a shutting-down ChatServer does.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"Unhealthy","reason":"server shutting down"}`)
	})}
	cs := startChatServer(t, nil) // only for a free port that we then reuse
	port := cs.base[strings.LastIndexByte(cs.base, ':')+1:]
	cs.stop(t)
	l, err := listenAll([]string{"http://127.0.0.1:" + port}, zerolog.Nop())
	if err != nil {
		t.Skipf("port %s taken again: %v", port, err)
	}
	go srv.Serve(l[0])
	defer srv.Close()
	err = run(context.Background(), []string{"--healthcheck", "--urls", "http://127.0.0.1:" + port}, testHost(nil, io.Discard, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "server shutting down") {
		t.Errorf("health check of an unready server: %v", err)
	}
}

func TestChatPage(t *testing.T) {
	cs := startChatServer(t, nil)
	res, body := get(t, cs.base+"/", map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"})
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.HasPrefix(body, "<!doctype html>") {
		t.Fatalf("GET / as a browser: %d %s %.80q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self' https://cdn.jsdelivr.net") || !strings.Contains(csp, "default-src 'none'") && !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if !strings.Contains(body, `chathub`) {
		t.Error("page does not name the hub")
	}
	for _, p := range []string{"/about", "/"} {
		res, body = get(t, cs.base+p, nil)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(body, "/chathub") {
			t.Errorf("GET %s without Accept: %d %s %q", p, res.StatusCode, res.Header.Get("Content-Type"), body)
		}
	}
	// Other routes keep precedence over the page's catch-all.
	if res, _ := get(t, cs.base+"/health", map[string]string{"Accept": "text/html"}); !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Errorf("/health from a browser: %s", res.Header.Get("Content-Type"))
	}
}

func TestChatPageClientSettings(t *testing.T) {
	cs := startChatServer(t, map[string]string{"WebUI__JSClientUrl": "https://cdn.example/signalr.min.js",
		"WebUI__JSClientIntegrity": "sha384-N+pL/4qXZHZcvsa6hVMd5/7cdF3lC59ZMNHeQyRo5q9jmC7yw0hcJILPjUDSU7ZS"})
	res, body := get(t, cs.base+"/", map[string]string{"Accept": "text/html"})
	if !strings.Contains(body, `src="https://cdn.example/signalr.min.js"`) || !strings.Contains(res.Header.Get("Content-Security-Policy"), "https://cdn.example") {
		t.Errorf("page %q\nCSP %q", body, res.Header.Get("Content-Security-Policy"))
	}
	err := run(context.Background(), []string{"--urls", "http://127.0.0.1:0", "--js-client-dir", t.TempDir()}, testHost(nil, io.Discard, io.Discard))
	if err == nil || !strings.Contains(err.Error(), "signalr.min.js") {
		t.Errorf("--js-client-dir without the client: %v", err)
	}
}

// TestGracefulShutdown: cancelling run's context (what SIGTERM does) sends
// Close{allowReconnect:true} to a connected client, makes the server
// unready at once, and run returns.
func TestGracefulShutdown(t *testing.T) {
	cs := startChatServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws := dialHub(t, ctx, cs.base)
	defer ws.CloseNow()

	cs.cancel()
	var closeMsg string
	for {
		// Reading on after the Close message answers the server's
		// WebSocket close frame, as a real client does.
		_, data, err := ws.Read(ctx)
		if err != nil {
			break
		}
		if strings.Contains(string(data), `"type":7`) {
			closeMsg = string(data)
		}
	}
	if closeMsg != "{\"type\":7,\"allowReconnect\":true}\x1e" {
		t.Errorf("close message %q", closeMsg)
	}
	cs.wait(t, 20*time.Second)
}

// TestShutdownTimeout: a Long Polling client that stops polling cannot hold
// the shutdown past --shutdown-timeout (the hub would wait 5 s for it to
// collect its Close message).
func TestShutdownTimeout(t *testing.T) {
	cs := startChatServer(t, nil, "--shutdown-timeout", "200ms")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	token := negotiateToken(t, cs.base)
	lp := cs.base + "/chathub?id=" + token
	post := func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, lp, strings.NewReader("{\"protocol\":\"json\",\"version\":1}\x1e"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	// Like the official clients: the first poll returns at once, then the
	// handshake is sent and the next poll gets its response; then no more polls.
	if res, body := get(t, lp, nil); res.StatusCode != http.StatusOK || body != "" {
		t.Fatalf("first poll: %d %q", res.StatusCode, body)
	}
	post()
	res, body := get(t, lp, nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(body, "{}\x1e") {
		t.Fatalf("poll: %d %q", res.StatusCode, body)
	}
	start := time.Now()
	cs.cancel()
	cs.wait(t, 20*time.Second)
	// Well under the hub's 5 s close timeout; generous for loaded machines.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("shutdown took %v with --shutdown-timeout 200ms", d)
	}
}

// negotiateToken negotiates (version 1) and returns the connection token.
func negotiateToken(t *testing.T, base string) string {
	t.Helper()
	res, body := do(t, http.MethodPost, base+"/chathub/negotiate?negotiateVersion=1", nil)
	var neg struct {
		ConnectionToken string `json:"connectionToken"`
	}
	if err := json.Unmarshal([]byte(body), &neg); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("negotiate: %d %s %v", res.StatusCode, body, err)
	}
	return neg.ConnectionToken
}

// dialHub opens a raw WebSocket hub connection with the JSON protocol and
// completes the handshake.
func dialHub(t *testing.T, ctx context.Context, base string) *websocket.Conn {
	t.Helper()
	token := negotiateToken(t, base)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/chathub?id="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte("{\"protocol\":\"json\",\"version\":1}\x1e")); err != nil {
		t.Fatal(err)
	}
	_, data, err := ws.Read(ctx)
	if err != nil || !strings.HasPrefix(string(data), "{}\x1e") {
		t.Fatalf("handshake: %q %v", data, err)
	}
	return ws
}

// TestJWT: with --jwt-key, a client with a token chats under its name; one
// without is still served anonymously.
func TestJWT(t *testing.T) {
	const key = "a-test-secret-of-at-least-32-bytes!!"
	cs := startChatServer(t, nil, "--jwt-key", key)
	token := signHS256(t, key, jwt.MapClaims{"sub": "u1", "name": "Alice", "exp": time.Now().Add(time.Hour).Unix()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	joined := func(opts client.Options) string {
		c, err := client.New(cs.base+"/chathub", opts)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		c.On("UserJoinedGroup", func(user, group string) { got <- user })
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer c.Stop(context.Background())
		if _, err := c.Invoke(ctx, "JoinGroup", "room"); err != nil {
			t.Fatal(err)
		}
		select {
		case u := <-got:
			return u
		case <-ctx.Done():
			t.Fatal("no UserJoinedGroup")
			return ""
		}
	}
	if u := joined(client.Options{AccessTokenProvider: func(context.Context) (string, error) { return token, nil }}); u != "Alice" {
		t.Errorf("authenticated user joined as %q", u)
	}
	if u := joined(client.Options{}); !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(u) {
		t.Errorf("anonymous user joined as %q, want the connection id", u)
	}
}

// signHS256 makes a JWT signed with key.
func signHS256(t *testing.T, key string, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReadinessWhileShuttingDown: once the hub's shutdown has begun,
// /health/ready answers 503 while /health stays 200.
func TestReadinessWhileShuttingDown(t *testing.T) {
	a, err := newApp(context.Background(), defaults(), zerolog.Nop(), "host1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	serve := func(path string) (int, string) {
		w := httptest.NewRecorder()
		a.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, w.Body.String()
	}
	if code, body := serve("/health/ready"); code != http.StatusOK {
		t.Fatalf("before shutdown: %d %s", code, body)
	}
	if err := a.hub.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	code, body := serve("/health/ready")
	var h map[string]any
	if err := json.Unmarshal([]byte(body), &h); err != nil {
		t.Fatal(err)
	}
	if code != http.StatusServiceUnavailable || h["status"] != "Unhealthy" || h["reason"] != "server shutting down" || h["server"] != "host1" {
		t.Errorf("during shutdown: %d %s", code, body)
	}
	if code, body := serve("/health"); code != http.StatusOK || !strings.Contains(body, `"status":"Healthy"`) {
		t.Errorf("/health during shutdown: %d %s", code, body)
	}
}
