//go:build unix

package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/internal/pgtest"
)

var startScript = filepath.Join(repoRoot, "scripts", "start-multiple-servers.sh")

// freePorts finds n consecutive free loopback ports and returns the first.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := base+n-1 <= 65535
		for i := 1; i < n && ok; i++ {
			li, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// syncBuffer is a bytes.Buffer safe for a process writing into it while the
// test reads it (a failure message shows stderr before Wait).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startScriptCmd runs the script in its own process group, killed with
// everything it started if the test ends early.
func startScriptCmd(t *testing.T, ctx context.Context, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", startScript)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t.Cleanup(func() {
		if cmd.Process != nil && cmd.ProcessState == nil {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	})
	return cmd
}

// TestStartMultipleServers runs the script as a user would (it builds
// ./cmd/server), waits for its "healthy" line, probes every server, then
// stops the script with SIGTERM and checks that no server is left.
//
// It runs without a backplane (DATABASE_URL=none);
// TestStartMultipleServersBackplane runs it against PostgreSQL.
func TestStartMultipleServers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	const count = 3
	base := freePorts(t, count)
	logDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := startScriptCmd(t, ctx, "DATABASE_URL=none", "BASE_PORT="+strconv.Itoa(base),
		"COUNT="+strconv.Itoa(count), "LOG_DIR="+logDir, "HEALTH_TIMEOUT=180")
	var stderr syncBuffer // written by the script while the test reads it
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
		if strings.HasPrefix(sc.Text(), "All ") {
			break
		}
	}
	if len(out) == 0 || out[len(out)-1] != fmt.Sprintf("All %d servers are healthy. Press Ctrl+C to stop them.", count) {
		t.Fatalf("script output:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
	}
	for i := range count {
		port := base + i
		want := fmt.Sprintf("chatserver%d: http://localhost:%d/chathub (log: %s)", i+1, port, filepath.Join(logDir, fmt.Sprintf("chatserver%d.log", i+1)))
		found := false
		for _, l := range out {
			found = found || l == want
		}
		if !found {
			t.Errorf("output lacks %q:\n%s", want, strings.Join(out, "\n"))
		}
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err != nil {
			t.Fatalf("server %d: %v", i+1, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("server %d /health: %d", i+1, resp.StatusCode)
		}
	}
	go func() { // keep the pipe drained
		for sc.Scan() {
		}
	}()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("script exit after SIGTERM: %v, want status 143", err)
	}
	// The script waited for its servers: their ports are closed now and
	// each logged a graceful shutdown.
	for i := range count {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", base+i), time.Second); err == nil {
			c.Close()
			t.Errorf("server %d still listening after the script stopped", i+1)
		}
		log, err := os.ReadFile(filepath.Join(logDir, fmt.Sprintf("chatserver%d.log", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(log, []byte(fmt.Sprintf("Now listening on: http://localhost:%d", base+i))) ||
			!bytes.Contains(log, []byte("Application is shutting down...")) {
			t.Errorf("server %d log:\n%s", i+1, log)
		}
	}
}

// TestStartMultipleServersArgs checks the command line each server gets and
// the failure path, with a stand-in server that records its arguments and
// exits.
func TestStartMultipleServersArgs(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "fake-server")
	argsFile := filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\necho fake server failed\nexit 3\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	base := freePorts(t, 1)
	tests := []struct {
		name       string
		env        []string
		wantCode   int
		wantArgs   string
		wantOut    string
		wantStderr string
	}{
		{
			name:       "backplane",
			env:        []string{"DATABASE_URL=postgres://chat:s3cret@db.example:5432/signalr_demo"},
			wantCode:   1,
			wantArgs:   fmt.Sprintf("--urls\nhttp://localhost:%d\n--connection-string\npostgres://chat:s3cret@db.example:5432/signalr_demo\n", base),
			wantOut:    "Backplane: postgres://chat:****@db.example:5432/signalr_demo\n",
			wantStderr: fmt.Sprintf("chatserver1 (port %d) exited; its log:\nfake server failed\n", base),
		},
		{
			name:     "default database",
			wantCode: 1,
			wantArgs: fmt.Sprintf("--urls\nhttp://localhost:%d\n--connection-string\npostgres://postgres:postgres@localhost:5432/signalr_demo\n", base),
			wantOut:  "Backplane: postgres://postgres:****@localhost:5432/signalr_demo\n",
		},
		{
			name:     "Npgsql connection string",
			env:      []string{"DATABASE_URL=Host=db;Database=chat;Username=app;Password=s3cret;Port=5432"},
			wantCode: 1,
			wantArgs: fmt.Sprintf("--urls\nhttp://localhost:%d\n--connection-string\nHost=db;Database=chat;Username=app;Password=s3cret;Port=5432\n", base),
			wantOut:  "Backplane: Host=db;Database=chat;Username=app;Password=****;Port=5432\n",
		},
		{
			name:     "no backplane",
			env:      []string{"DATABASE_URL=none"},
			wantCode: 1,
			wantArgs: fmt.Sprintf("--urls\nhttp://localhost:%d\n", base),
		},
		{"bad count", []string{"COUNT=three"}, 2, "", "", "BASE_PORT, COUNT and HEALTH_TIMEOUT must be numbers\n"},
		{"ports out of range", []string{"BASE_PORT=65535", "COUNT=2"}, 2, "", "", "ports 65535..65536 are out of range\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(argsFile)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			env := append([]string{"SERVER_BIN=" + fake, "BASE_PORT=" + strconv.Itoa(base), "COUNT=1",
				"LOG_DIR=" + t.TempDir(), "DATABASE_URL="}, tt.env...)
			cmd := startScriptCmd(t, ctx, env...)
			// An empty DATABASE_URL means the default, as ${VAR:-default} does.
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tt.wantCode {
				t.Fatalf("exit %v, want %d\nstdout:\n%s\nstderr:\n%s", err, tt.wantCode, stdout.String(), stderr.String())
			}
			args, _ := os.ReadFile(argsFile)
			if string(args) != tt.wantArgs {
				t.Errorf("server args:\n%q\nwant\n%q", args, tt.wantArgs)
			}
			if !strings.Contains(stdout.String(), tt.wantOut) {
				t.Errorf("stdout:\n%s\nlacks %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr:\n%s\nlacks %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// TestStartMultipleServersBackplane runs the script against a real
// PostgreSQL: the servers start healthy (the ChatServer's /health is 503
// until its backplane listener is connected) and a chat message sent on the
// first server reaches a client of the last.
func TestStartMultipleServersBackplane(t *testing.T) {
	dsn := pgtest.DSN(t)
	const count = 3
	base := freePorts(t, count)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := startScriptCmd(t, ctx, "DATABASE_URL="+dsn, "BASE_PORT="+strconv.Itoa(base),
		"COUNT="+strconv.Itoa(count), "LOG_DIR="+t.TempDir(), "HEALTH_TIMEOUT=180")
	var stderr syncBuffer // written by the script while the test reads it
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
		if strings.HasPrefix(sc.Text(), "All ") {
			break
		}
	}
	if len(out) == 0 || !strings.HasPrefix(out[len(out)-1], "All 3 servers are healthy") {
		t.Fatalf("script output:\n%s\nstderr:\n%s", strings.Join(out, "\n"), stderr.String())
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for sc.Scan() {
		}
	}()

	connect := func(port int) *client.HubConnection {
		c, err := client.New(fmt.Sprintf("http://127.0.0.1:%d/chathub", port), client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sender, receiver := connect(base), connect(base+count-1)
	got := make(chan string, 4)
	if err := receiver.On("ReceiveMessage", func(user, message string) { got <- user + ": " + message }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.HubConnection{sender, receiver} {
		if err := c.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer c.Stop(context.Background())
	}
	if err := sender.Send(ctx, "SendMessage", "alice", "hello from server 1"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "alice: hello from server 1" {
			t.Errorf("received %q", m)
		}
	case <-ctx.Done():
		t.Fatal("the message did not cross servers")
	}
	for _, c := range []*client.HubConnection{sender, receiver} {
		c.Stop(ctx)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-drained
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Errorf("script exit after SIGTERM: %v, want status 143", err)
	}
}
