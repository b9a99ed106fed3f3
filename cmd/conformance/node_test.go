package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The Node scenarios (testdata/conformance/scripts/suite.cjs) drive the real
// @microsoft/signalr 10.0.11 and @microsoft/signalr-protocol-msgpack
// clients against this server, as the official functional tests do against
// the ASP.NET Core test app.

func TestMain(m *testing.M) {
	// A missing Node setup fails loudly, never skips.
	if err := ensureNodeModules(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// nodeDir is testdata/conformance at the module root.
func nodeDir() string {
	d, err := filepath.Abs(filepath.Join("..", "..", "testdata", "conformance"))
	if err != nil {
		panic(err)
	}
	return d
}

// ensureNodeModules runs `npm ci` when node_modules is missing or older
// than package-lock.json (npm writes node_modules/.package-lock.json on
// every install).
func ensureNodeModules() error {
	dir := nodeDir()
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("conformance tests need Node.js 20+: %w", err)
	}
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if inst, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !inst.ModTime().Before(lock.ModTime()) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
	}
	return nil
}

// startServer runs the command in process on a free port and returns its
// base URL; it is stopped (and waited for) when the test ends.
func startServer(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"--urls", "http://127.0.0.1:0"}, pw, io.Discard)
		pw.CloseWithError(errors.New("server stopped"))
		done <- err
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Now listening on: "); ok {
			base = u
			break
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("server did not report its address: %v", <-done)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return base
}

// Scenario lists. Every name must exist in suite.cjs (an unknown one fails).
var (
	// hubScenarios run for every transport and protocol combination.
	hubScenarios = []string{
		"invoke", "send-non-blocking", "custom-object", "server-calls-case-insensitive",
		"stream", "stream-cancel", "empty-stream", "throw-exception", "invoke-streaming-method",
		"stream-throw-exception", "stream-non-streaming-method", "upload-stream", "upload-stream-error",
		"complex-object-echo", "complex-object-receive", "client-result", "client-result-throws",
		"client-result-no-handler", "transport-name", "restart",
	}
	// transportScenarios run once per transport, with JSON.
	transportScenarios = []string{
		"auth-token-header", "auth-async-token-factory", "auth-token-query", "auth-unauthorized",
		"auth-bad-token", "cookies", "user-agent-header", "user-headers-override", "reconnect",
		"raw-echo", "uncreatable-hub",
	}
	// notOn leaves scenarios out where they do not apply.
	notOn = map[string][]string{
		"LongPolling": {"server-timeout"}, // the JS client has no server timeout on LP
	}
	transportOnlyScenarios = []string{"server-timeout", "auth-claims"}
	// onceScenarios pick their own transports.
	onceScenarios = []string{
		"redirect-and-reconnect", "skip-negotiation", "skip-negotiation-reconnect",
		"no-websockets-json-picks-sse", "no-websockets-messagepack-picks-long-polling",
		"case-insensitive-route", "bad-negotiate", "long-polling-stop-ends-poll", "raw-websocket-echo",
	}
)

type scenarioResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	MS    int    `json:"ms"`
}

// runScenarios runs the named scenarios of suite.cjs in one node process
// and reports each as a subtest.
func runScenarios(t *testing.T, base, transport, protocol string, names []string) {
	t.Helper()
	runScript(t, "suite.cjs", base, transport, protocol, names, nil)
}

// runScript runs the named scenarios of scripts/<script> (a lib.cjs runner)
// in one node process, with env added, and reports each as a subtest.
func runScript(t *testing.T, script, base, transport, protocol string, names []string, env map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("scripts", script))
	cmd.Dir = nodeDir()
	cmd.Env = append(os.Environ(),
		"BASE_URL="+base, "TRANSPORT="+transport, "PROTOCOL="+protocol,
		"SCENARIOS="+strings.Join(names, ","),
		// Generous per scenario: they take milliseconds, but CI machines
		// can be very busy; a hang still fails well inside the Go deadline.
		"TIMEOUT_MS=20000")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	got := map[string]scenarioResult{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r scenarioResult
		if line == "" || json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		got[r.Name] = r
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			r, ok := got[name]
			switch {
			case !ok:
				t.Fatalf("scenario did not report (node: %v)\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())
			case !r.OK:
				t.Fatalf("%s (%d ms)", r.Error, r.MS)
			}
			if testing.Verbose() {
				t.Logf("%d ms", r.MS)
			}
		})
	}
	if runErr != nil && !t.Failed() {
		t.Fatalf("node: %v\n%s", runErr, stderr.String())
	}
}

func without(names []string, drop []string) []string {
	var out []string
	for _, n := range names {
		skip := false
		for _, d := range drop {
			skip = skip || n == d
		}
		if !skip {
			out = append(out, n)
		}
	}
	return out
}

func TestNodeScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	base := startServer(t)
	t.Run("group", func(t *testing.T) {
		for _, c := range []struct{ transport, protocol string }{
			{"WebSockets", "json"}, {"ServerSentEvents", "json"}, {"LongPolling", "json"},
			{"WebSockets", "messagepack"}, {"LongPolling", "messagepack"}, // msgpack is binary: no SSE
		} {
			t.Run("hub/"+c.transport+"/"+c.protocol, func(t *testing.T) {
				t.Parallel()
				runScenarios(t, base, c.transport, c.protocol, hubScenarios)
			})
		}
		for _, tr := range []string{"WebSockets", "ServerSentEvents", "LongPolling"} {
			t.Run("transport/"+tr, func(t *testing.T) {
				t.Parallel()
				names := without(append(append([]string{}, transportScenarios...), transportOnlyScenarios...), notOn[tr])
				runScenarios(t, base, tr, "json", names)
			})
		}
		t.Run("once", func(t *testing.T) {
			t.Parallel()
			runScenarios(t, base, "WebSockets", "json", onceScenarios)
		})
	})
}
