// Package interop checks gosignalr against the official JavaScript client,
// @microsoft/signalr, running under Node.js. The Node project lives in
// testdata/interop (package.json and package-lock.json pin the client); its
// scripts in testdata/interop/scenarios drive the client and exit non-zero
// with a message when something differs from ASP.NET Core's behaviour.
//
// The tests are in this package's _test.go files. The exported helpers here
// (NodeDir, EnsureNodeModules, RunNode, RunScript) let other packages' tests
// run the same scripts, e.g. cmd/server's test of the ChatServer.
package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultScriptTimeout bounds one node run when RunScript is used. Scripts
// have their own, shorter per-scenario deadlines; this one only catches a
// node process that does not exit.
const DefaultScriptTimeout = 2 * time.Minute

// NodeDir returns the absolute path of the Node project (testdata/interop of
// the module root), found by walking up from the working directory to go.mod.
func NodeDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("interop: working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "interop"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("interop: go.mod not found above the working directory")
		}
		dir = parent
	}
}

var (
	modulesOnce sync.Once
	modulesErr  error
)

// EnsureNodeModules runs `npm ci` in the Node project when node_modules is
// missing or older than package-lock.json. It runs at most once per process;
// an inter-process file lock keeps packages tested in parallel from running
// npm at the same time. A failure carries npm's output.
func EnsureNodeModules() error {
	modulesOnce.Do(func() { modulesErr = ensureNodeModules() })
	return modulesErr
}

func ensureNodeModules() error {
	dir, err := NodeDir()
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("interop: node is required for the interop tests (install Node.js 20+): %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".npm-ci.lock"))
	if err != nil {
		return fmt.Errorf("interop: lock: %w", err)
	}
	defer unlock()
	if fresh, err := modulesFresh(dir); err != nil {
		return err
	} else if fresh {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("interop: npm is required to install the Node test dependencies: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("interop: npm ci in %s failed: %w\n%s", dir, err, out)
	}
	return nil
}

// modulesFresh reports whether node_modules was installed from the current
// package-lock.json. npm writes node_modules/.package-lock.json on every
// install, so its modification time is the install time.
func modulesFresh(dir string) (bool, error) {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return false, fmt.Errorf("interop: %w", err)
	}
	installed, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("interop: %w", err)
	}
	return !installed.ModTime().Before(lock.ModTime()), nil
}

// RunNode runs `node <script>` (a path relative to NodeDir) with env added to
// the process environment, and returns its combined output. A non-zero exit,
// or ctx ending first, is an error.
func RunNode(ctx context.Context, script string, env map[string]string) (string, error) {
	dir, err := NodeDir()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	// Kill the whole process if ctx ends, and don't wait on pipes held open
	// by anything it may have spawned.
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err = cmd.Run()
	if ctx.Err() != nil {
		return out.String(), fmt.Errorf("node %s: %w", script, ctx.Err())
	}
	if err != nil {
		return out.String(), fmt.Errorf("node %s: %w", script, err)
	}
	return out.String(), nil
}

// RunScript installs the Node dependencies if needed, runs script with env,
// and fails t with the script's output when it fails. With -v the output of
// passing runs is logged too.
func RunScript(t testing.TB, script string, env map[string]string) {
	t.Helper()
	if err := EnsureNodeModules(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultScriptTimeout)
	defer cancel()
	out, err := RunNode(ctx, script, env)
	if err != nil {
		t.Fatalf("%v (env %s)\n%s", err, formatEnv(env), strings.TrimRight(out, "\n"))
	}
	if testing.Verbose() {
		t.Log(strings.TrimRight(out, "\n"))
	}
}

func formatEnv(env map[string]string) string {
	parts := make([]string, 0, len(env))
	for k, v := range env {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
