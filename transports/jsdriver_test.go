package transports_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/interop"
)

// jsCallTimeout bounds one driver request on the Go side; the driver's own
// per-request deadline (JS_OP_TIMEOUT_MS, 20 s) fires first and says what it
// waited for.
const jsCallTimeout = 30 * time.Second

// jsClient is one node process running testdata/jsdriver.cjs: the official
// JS client, driven one request at a time from the test goroutine.
type jsClient struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	readerDone chan struct{} // stdout reached EOF: the process is gone

	mu      sync.Mutex
	next    int
	pending map[int]chan jsReply
	out     bytes.Buffer // stderr and stray stdout lines, for failure messages
	done    bool
}

type jsReply struct {
	ID    int             `json:"id"`
	Value json.RawMessage `json:"value"`
	Error *string         `json:"error"`
}

// jsError is an error the JS client raised (a rejected start, invoke, ...):
// its message is what the application sees.
type jsError struct{ msg string }

func (e *jsError) Error() string { return e.msg }

type lockedWriter struct{ c *jsClient }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.out.Write(p)
}

// startJS starts a driver process; it is stopped when the test ends.
func startJS(t *testing.T) *jsClient {
	t.Helper()
	if testing.Short() {
		t.Skip("runs node")
	}
	if err := interop.EnsureNodeModules(); err != nil {
		t.Fatal(err)
	}
	dir, err := interop.NodeDir()
	if err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "jsdriver.cjs"))
	if err != nil {
		t.Fatal(err)
	}
	js := &jsClient{t: t, readerDone: make(chan struct{}), pending: map[int]chan jsReply{}}
	js.cmd = exec.Command("node", script)
	js.cmd.Dir = dir
	js.cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(dir, "node_modules"))
	js.cmd.Stderr = lockedWriter{js}
	// Don't wait on pipes held open by anything node may have spawned.
	js.cmd.WaitDelay = 5 * time.Second
	if js.stdin, err = js.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := js.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := js.cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	go js.read(stdout)
	t.Cleanup(js.close)
	return js
}

// read dispatches reply lines to their waiting callers until EOF. It never
// blocks on a caller.
func (js *jsClient) read(r io.Reader) {
	defer close(js.readerDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var rep jsReply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil || rep.ID == 0 {
			js.mu.Lock()
			js.out.Write(sc.Bytes())
			js.out.WriteByte('\n')
			js.mu.Unlock()
			continue
		}
		js.mu.Lock()
		ch := js.pending[rep.ID]
		delete(js.pending, rep.ID)
		js.mu.Unlock()
		if ch != nil {
			ch <- rep // buffered
		}
	}
}

func (js *jsClient) output() string {
	js.mu.Lock()
	defer js.mu.Unlock()
	return strings.TrimSpace(js.out.String())
}

// call sends one request and waits for its reply. A JS error is returned as
// *jsError; a dead or stuck process fails the test.
func (js *jsClient) call(op string, params map[string]any) (json.RawMessage, error) {
	js.t.Helper()
	req := map[string]any{"op": op}
	for k, v := range params {
		req[k] = v
	}
	ch := make(chan jsReply, 1)
	js.mu.Lock()
	js.next++
	id := js.next
	js.pending[id] = ch
	js.mu.Unlock()
	req["id"] = id
	line, err := json.Marshal(req)
	if err != nil {
		js.t.Fatal(err)
	}
	if _, err := js.stdin.Write(append(line, '\n')); err != nil {
		js.t.Fatalf("%s: write to node: %v\n%s", op, err, js.output())
	}
	timer := time.NewTimer(jsCallTimeout)
	defer timer.Stop()
	select {
	case rep := <-ch:
		if rep.Error != nil {
			return nil, &jsError{*rep.Error}
		}
		return rep.Value, nil
	case <-js.readerDone:
		js.t.Fatalf("%s %s: node exited\n%s", op, line, js.output())
	case <-timer.C:
		js.t.Fatalf("%s %s: no reply within %v\n%s", op, line, jsCallTimeout, js.output())
	}
	return nil, nil
}

// must is call that fails the test on a JS error, decoding the value into v
// (when v is not nil).
func (js *jsClient) must(v any, op string, params map[string]any) {
	js.t.Helper()
	raw, err := js.call(op, params)
	if err != nil {
		js.t.Fatalf("%s %v: %v\n%s", op, params, err, js.output())
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			js.t.Fatalf("%s: decode %s: %v", op, raw, err)
		}
	}
}

// jsConn is a started client connection as the driver reports it.
type jsConn struct {
	ConnectionID string `json:"connectionId"`
	Transport    string `json:"transport"` // the transport the client chose
}

var chatEvents = []string{"UserConnected", "UserDisconnected", "ReceiveMessage", "UserJoinedGroup", "UserLeftGroup", "ReceiveGroupMessage"}

// start starts connection name; params may set transport, protocol,
// skipNegotiation. The chat hub's client methods are recorded.
func (js *jsClient) start(name, url string, params map[string]any) jsConn {
	js.t.Helper()
	c, err := js.startErr(name, url, params)
	if err != nil {
		js.t.Fatalf("start %s %v: %v\n%s", name, params, err, js.output())
	}
	return c
}

func (js *jsClient) startErr(name, url string, params map[string]any) (jsConn, error) {
	js.t.Helper()
	p := map[string]any{"conn": name, "url": url, "record": chatEvents}
	for k, v := range params {
		p[k] = v
	}
	raw, err := js.call("start", p)
	if err != nil {
		return jsConn{}, err
	}
	var c jsConn
	if err := json.Unmarshal(raw, &c); err != nil {
		js.t.Fatalf("start: decode %s: %v", raw, err)
	}
	return c, nil
}

func (js *jsClient) invoke(v any, name, method string, args ...any) {
	js.t.Helper()
	js.must(v, "invoke", map[string]any{"conn": name, "method": method, "args": nonNil(args)})
}

func (js *jsClient) invokeErr(name, method string, args ...any) error {
	js.t.Helper()
	_, err := js.call("invoke", map[string]any{"conn": name, "method": method, "args": nonNil(args)})
	return err
}

// wait waits until connection name received method(args...).
func (js *jsClient) wait(name, method string, args ...any) {
	js.t.Helper()
	js.must(nil, "wait", map[string]any{"conn": name, "method": method, "args": nonNil(args)})
}

// calls returns the arguments of every call of method received so far.
func (js *jsClient) calls(name, method string) [][]any {
	js.t.Helper()
	var out [][]any
	js.must(&out, "calls", map[string]any{"conn": name, "method": method})
	return out
}

// stop stops connection name and returns its close error text ("" for none).
func (js *jsClient) stop(name string) string {
	js.t.Helper()
	var msg *string
	js.must(&msg, "stop", map[string]any{"conn": name})
	if msg == nil {
		return ""
	}
	return *msg
}

// closed waits until connection name closes and returns its error text.
func (js *jsClient) closed(name string) string {
	js.t.Helper()
	var msg *string
	js.must(&msg, "closed", map[string]any{"conn": name})
	if msg == nil {
		return ""
	}
	return *msg
}

func nonNil(args []any) []any {
	if args == nil {
		return []any{}
	}
	return args
}

// kill ends the node process at once (SIGKILL): its sockets close without
// any goodbye, like a client that crashed or lost power.
func (js *jsClient) kill() {
	js.t.Helper()
	if err := js.cmd.Process.Kill(); err != nil {
		js.t.Fatalf("kill node: %v", err)
	}
	<-js.readerDone
}

// close ends the process: stdin EOF makes the driver stop its connections
// and exit; a process that does not is killed.
func (js *jsClient) close() {
	js.mu.Lock()
	if js.done {
		js.mu.Unlock()
		return
	}
	js.done = true
	js.mu.Unlock()
	js.stdin.Close()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case <-js.readerDone:
	case <-timer.C:
		_ = js.cmd.Process.Kill()
		<-js.readerDone
	}
	if err := js.cmd.Wait(); err != nil && !js.t.Failed() && !isKilled(err) {
		js.t.Errorf("node: %v\n%s", err, js.output())
	}
}

func isKilled(err error) bool {
	var ee *exec.ExitError
	if e, ok := err.(*exec.ExitError); ok {
		ee = e
	}
	return ee != nil && !ee.Exited()
}

func (c jsConn) String() string { return fmt.Sprintf("%s over %s", c.ConnectionID, c.Transport) }
