package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/loadgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunSelf(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"broadcast ws", []string{"--self", "--scenario", "broadcast", "-n", "5", "--senders", "2"}},
		{"echo lp messagepack", []string{"--self", "--scenario", "echo", "-n", "3", "--transport", "lp", "--protocol", "messagepack"}},
		{"group sse", []string{"--self", "--scenario", "group", "-n", "6", "--group-size", "3", "--transport", "sse"}},
		{"connect baseline", []string{"--self-baseline", "--scenario", "connect", "-n", "4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			var stdout, stderr strings.Builder
			args := append(tt.args, "--duration", "200ms", "--json", report)
			if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "PASS") {
				t.Errorf("no summary table:\n%s", stdout.String())
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var rep loadgen.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if !rep.Passed || rep.Connected == 0 {
				t.Errorf("report: %s", b)
			}
		})
	}
}

func TestJSONToStdout(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"--self", "-n", "2", "--duration", "100ms", "--quiet", "--json", "-"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil {
		t.Fatalf("stdout is not only the JSON report: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "PASS") {
		t.Errorf("table not on stderr: %s", stderr.String())
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--scenario", "nope", "--self"},
		{"--transport", "carrier-pigeon", "--self"},
		{"--url", "http://127.0.0.1:1/x", "--self"},
		{}, // no URL
		{"--self", "--hub", "chat", "--scenario", "echo"}, // chat hub has no echo
		{"stray"},
	} {
		var out strings.Builder
		if code := run(context.Background(), args, &out, &out); code != exitUsage {
			t.Errorf("%q: exit %d, want %d\n%s", args, code, exitUsage, out.String())
		}
	}
}

// TestLossExitCode: connections spread over two servers with no backplane
// lose messages, and the command must say so with its exit code.
func TestLossExitCode(t *testing.T) {
	urls := make([]string, 2)
	for i := range urls {
		u, stop := serveInBackground(t, "--serve")
		defer stop()
		urls[i] = u
	}
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"--url", strings.Join(urls, ","), "-n", "4", "--rate", "50",
		"--duration", "200ms", "--drain", "300ms", "--quiet"}, &stdout, &stderr)
	if code != exitFail {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFail, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "FAIL") {
		t.Errorf("summary does not say FAIL:\n%s", stdout.String())
	}
}

func TestServeBaseline(t *testing.T) {
	u, stop := serveInBackground(t, "--baseline-server")
	defer stop()
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"--url", u, "-n", "3", "--duration", "200ms", "--quiet"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
}

// serveInBackground runs `loadgen <flag> 127.0.0.1:0` until stop and returns its hub URL.
func serveInBackground(t *testing.T, flag string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{flag, "127.0.0.1:0"}, io.Discard, pw)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var u string
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " at "); ok {
			u, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if u == "" {
		cancel()
		t.Fatal("no URL printed")
	}
	return u, func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("serve exit %d", code)
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	}
}
