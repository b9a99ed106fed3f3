// Package pgtest gives tests a throwaway PostgreSQL database.
//
// DSN returns the connection string of a fresh database, created for the
// calling test and dropped when it ends. The databases live on one PostgreSQL
// server per test process:
//
//   - if the environment variable GOSIGNALR_TEST_PG holds a DSN, that server
//     is used (the DSN's role must be allowed to CREATE DATABASE);
//   - otherwise the harness runs initdb into a temporary directory and starts
//     postgres on 127.0.0.1 at a free port, with fsync off. Binaries are taken
//     from PATH, else from /usr/lib/postgresql/<newest>/bin. As root, the
//     cluster runs as the "postgres" user (or "nobody").
//
// A package that uses DSN must stop the server after its tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// or, together with goleak:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithServer(m)) }
//
// The server process also gets SIGQUIT (immediate shutdown) if the test
// binary dies, so no postgres is left behind.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the environment variable holding the DSN of an existing server.
const EnvVar = "GOSIGNALR_TEST_PG"

var (
	mu      sync.Mutex
	current *server
	dbSeq   atomic.Int64
)

// server is the per-process PostgreSQL server.
type server struct {
	adminDSN string // superuser DSN of the maintenance database
	external bool

	// Managed servers only.
	bin     string // directory of initdb/postgres
	dir     string // temp dir: data/, socket dir, log
	port    int
	cred    *syscall.Credential
	proc    *exec.Cmd
	exited  chan struct{} // closed when proc has been reaped
	waitErr error
}

// TestingM is what goleak.VerifyTestMain and Main accept.
type TestingM interface{ Run() int }

type withServer struct{ m TestingM }

func (w withServer) Run() int {
	code := w.m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// WithServer wraps m so that its Run stops the test server after the tests.
func WithServer(m TestingM) TestingM { return withServer{m} }

// Main runs the tests, stops the test server and exits. Call it from TestMain.
func Main(m *testing.M) { os.Exit(WithServer(m).Run()) }

// Stop shuts the managed server down (immediate mode) and removes its
// directory. It is safe to call when no server was started.
func Stop() error {
	mu.Lock()
	defer mu.Unlock()
	s := current
	current = nil
	if s == nil || s.external {
		return nil
	}
	err := s.stop(syscall.SIGQUIT)
	if rmErr := os.RemoveAll(s.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// DSN returns the DSN of a new, empty database, dropped (with FORCE) at the
// end of tb. The role is a superuser on a managed server.
func DSN(tb testing.TB) string {
	tb.Helper()
	s := ensure(tb)
	name := fmt.Sprintf("gosignalr_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mu.Lock()
		cur := current
		mu.Unlock()
		if cur == nil {
			return // server already stopped: the cluster is gone anyway
		}
		if err := cur.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(s.adminDSN, name)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// SuperuserDSN returns a superuser DSN of the server's maintenance database,
// for administrative statements such as pg_terminate_backend.
func SuperuserDSN(tb testing.TB) string {
	tb.Helper()
	return ensure(tb).adminDSN
}

// Restart stops the managed server (fast shutdown: every client connection is
// closed) and starts the same cluster again on the same port. Databases
// survive. With an external server (GOSIGNALR_TEST_PG) the test is skipped,
// since the harness cannot restart it (check CanRestart first when calling
// from a goroutine other than the test's). Like t.Fatal, call it from the
// test goroutine.
func Restart(tb testing.TB) {
	tb.Helper()
	s := ensure(tb)
	if s.external {
		tb.Skipf("pgtest: Restart needs the harness-managed server; %s points to an external one", EnvVar)
	}
	mu.Lock()
	defer mu.Unlock()
	if err := s.stop(syscall.SIGINT); err != nil {
		tb.Fatalf("pgtest: restart: %v", err)
	}
	if err := s.start(); err != nil {
		tb.Fatalf("pgtest: restart: %v", err)
	}
}

// CanRestart reports whether Restart and StopServerFor work: only for the
// harness-managed server, not for one given by GOSIGNALR_TEST_PG.
func CanRestart() bool { return os.Getenv(EnvVar) == "" }

// StopServerFor stops the managed server, runs nothing while it is down for
// d, then starts it again. It lets a test observe a longer outage than
// Restart's.
func StopServerFor(tb testing.TB, d time.Duration) {
	tb.Helper()
	s := ensure(tb)
	if s.external {
		tb.Skipf("pgtest: StopServerFor needs the harness-managed server; %s points to an external one", EnvVar)
	}
	mu.Lock()
	defer mu.Unlock()
	if err := s.stop(syscall.SIGINT); err != nil {
		tb.Fatalf("pgtest: stop: %v", err)
	}
	time.Sleep(d)
	if err := s.start(); err != nil {
		tb.Fatalf("pgtest: start: %v", err)
	}
}

func ensure(tb testing.TB) *server {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return current
	}
	var s *server
	var err error
	if dsn := os.Getenv(EnvVar); dsn != "" {
		s, err = external(dsn)
	} else {
		s, err = managed()
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	current = s
	return s
}

func external(dsn string) (*server, error) {
	s := &server{adminDSN: dsn, external: true}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.exec(ctx, "SELECT 1"); err != nil {
		return nil, fmt.Errorf("%s server unreachable: %w", EnvVar, err)
	}
	return s, nil
}

func (s *server) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse DSN: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// keyword=value form: a later keyword overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL server binaries found (initdb not in PATH nor in /usr/lib/postgresql/*/bin); "+
		"install PostgreSQL (e.g. apt-get install postgresql) or set %s to the DSN of a server", EnvVar)
}

func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// runAs returns the credential to run PostgreSQL with: as root, PostgreSQL
// refuses to start, so it runs as "postgres" (or "nobody").
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root but neither user 'postgres' nor 'nobody' exists to run PostgreSQL")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func managed() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{bin: bin, dir: dir, cred: cred}
	fail := func(err error) (*server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("chown %s: %w", dir, err))
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", s.dataDir(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	initdb.Dir = dir
	initdb.Env = s.env()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	if s.port, err = freePort(); err != nil {
		return fail(err)
	}
	s.adminDSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	if err := s.start(); err != nil {
		return fail(err)
	}
	return s, nil
}

// ownerFile in a server directory holds the pid of the test process that
// made it.
const ownerFile = "owner.pid"

// removeStale deletes the directories of earlier test processes that died
// without cleaning up (a panic or a kill skips Stop; their postgres got
// SIGQUIT from the parent-death signal, but the files stay).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgtest*"))
	for _, d := range dirs {
		if !alive(filepath.Join(d, ownerFile), false) && !alive(filepath.Join(d, "data", "postmaster.pid"), true) {
			if _, err := os.Stat(filepath.Join(d, ownerFile)); err == nil {
				os.RemoveAll(d)
			}
		}
	}
}

// alive reports whether the pid on the first line of file is a running
// process. A missing file counts as "not running" only when missingOK.
func alive(file string, missingOK bool) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return !missingOK
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM)
}

func (s *server) dataDir() string { return filepath.Join(s.dir, "data") }
func (s *server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

func (s *server) env() []string {
	return []string{"PATH=" + s.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=" + s.dir}
}

// start runs postgres in the foreground as a child of this process, owned by
// a goroutine locked to its OS thread: the parent-death signal is tied to the
// forking thread, so that thread must live as long as the server.
func (s *server) start() error {
	logf, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	if s.cred != nil {
		_ = os.Chown(s.logFile(), int(s.cred.Uid), int(s.cred.Gid))
	}
	cmd := exec.Command(filepath.Join(s.bin, "postgres"),
		"-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-k", s.dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "shared_buffers=32MB",
		"-c", "log_min_messages=warning",
	)
	cmd.Dir = s.dir
	cmd.Env = s.env()
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}

	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer logf.Close()
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		<-exited
		return fmt.Errorf("start postgres: %w", err)
	}
	s.proc, s.exited = cmd, exited

	// Wait until it accepts connections.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.exec(ctx, "SELECT 1")
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(s.logFile())
			return fmt.Errorf("postgres exited during startup (%v):\n%s", s.waitErr, log)
		default:
		}
		if time.Now().After(deadline) {
			_ = s.stop(syscall.SIGQUIT)
			log, _ := os.ReadFile(s.logFile())
			return fmt.Errorf("postgres did not accept connections within 60s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop signals the postmaster (SIGINT: fast shutdown, SIGQUIT: immediate)
// and waits for it to exit, escalating to SIGKILL of its process group.
func (s *server) stop(sig syscall.Signal) error {
	if s.proc == nil {
		return nil
	}
	proc, exited := s.proc, s.exited
	s.proc = nil
	_ = proc.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
		<-exited
		return errors.New("postgres did not stop within 30s; killed")
	}
	return nil
}
