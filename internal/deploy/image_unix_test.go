//go:build unix

package deploy

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImageBinary builds the server with the Dockerfile's own go build
// command and environment, checks that the binary is static (it must run on
// distroless/static, which has no libc), then runs it with the image's
// ASPNETCORE_URLS (port 0 instead of 5000) and probes /health.
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	ins := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	run := goBuildRun(t, ins)
	bin := filepath.Join(t.TempDir(), "chatserver")
	env, args := buildCommand(t, run, bin)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", args...)
	build.Dir = repoRoot
	build.Env = append(os.Environ(), env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("binary has a PT_INTERP program header: dynamically linked")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("binary needs shared libraries %v", libs)
		}
		f.Close()
	}

	var imageURLs string
	for _, in := range finalStage(ins) {
		if in.cmd == "ENV" {
			for _, kv := range strings.Fields(in.args) {
				if v, ok := strings.CutPrefix(kv, "ASPNETCORE_URLS="); ok {
					imageURLs = v
				}
			}
		}
	}
	urls := strings.Replace(imageURLs, ":5000", ":0", 1)
	srv := exec.CommandContext(ctx, bin)
	srv.Env = []string{"ASPNETCORE_URLS=" + urls}
	srv.Stderr = io.Discard
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			srv.Process.Kill()
			srv.Wait()
		}
	}()
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var listen string
	for listen == "" {
		line, ok := <-lines
		if !ok {
			t.Fatal("server exited before listening")
		}
		if v, ok := strings.CutPrefix(line, "Now listening on: "); ok {
			listen = v
		}
	}
	u, err := url.Parse(listen)
	if err != nil {
		t.Fatalf("listening URL %q: %v", listen, err)
	}
	// A wildcard listener answers on the IPv4 loopback.
	resp, err := http.Get("http://127.0.0.1:" + u.Port() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Status string }
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || h.Status != "Healthy" {
		t.Fatalf("/health: %d %+v %v", resp.StatusCode, h, err)
	}

	// The image's HEALTHCHECK: the binary probes the server of the same
	// ASPNETCORE_URLS (here with the bound port) and exits 0 when ready.
	probe := func() error {
		hc := exec.CommandContext(ctx, bin, "--healthcheck")
		hc.Env = []string{"ASPNETCORE_URLS=" + strings.Replace(imageURLs, ":5000", ":"+u.Port(), 1)}
		out, err := hc.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := probe(); err != nil {
		t.Errorf("--healthcheck against the running server: %v", err)
	}

	// docker stop sends SIGTERM: the server must exit cleanly.
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines { // drain until stdout closes
	}
	err = srv.Wait()
	exited = true
	var ee *exec.ExitError
	if errors.As(err, &ee) || err != nil {
		t.Fatalf("server exit after SIGTERM: %v", err)
	}
	if err := probe(); !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("--healthcheck after the server stopped: %v, want exit status 1", err)
	}
}

// buildCommand turns the Dockerfile's RUN line into go's environment and
// arguments, with the output redirected to bin.
func buildCommand(t *testing.T, run, bin string) (env, args []string) {
	t.Helper()
	// Drop the RUN flags (--mount=...) and anything before the go command.
	fields := shellWords(run)
	i := 0
	for ; i < len(fields); i++ {
		f := fields[i]
		switch {
		case strings.HasPrefix(f, "--"):
		case strings.Contains(f, "=") && !strings.HasPrefix(f, "-"):
			env = append(env, f)
		case f == "go":
			args = fields[i+1:]
			i = len(fields)
		default:
			t.Fatalf("unexpected %q in %q", f, run)
		}
	}
	if len(args) == 0 || args[0] != "build" {
		t.Fatalf("no go build in %q", run)
	}
	var out []string
	for j := 0; j < len(args); j++ {
		if args[j] == "-o" && j+1 < len(args) {
			out = append(out, "-o", bin)
			j++
			continue
		}
		out = append(out, args[j])
	}
	// GOOS=linux in the image; build for this machine instead.
	env = filterEnv(env, "GOOS=")
	return env, out
}

func filterEnv(env []string, prefix string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// shellWords splits a shell command line on blanks, honouring double and
// single quotes (enough for the Dockerfile's RUN line; no escapes or
// expansions).
func shellWords(s string) []string {
	var out []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}
