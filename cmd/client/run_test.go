package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/signalr"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// chatServer is our ChatServer hub on a loopback port that can be stopped and
// started again on the same address.
type chatServer struct {
	t    *testing.T
	addr string
	srv  *http.Server
	hub  *signalr.Server
	done chan struct{}
}

func startChatServer(t *testing.T, addr string) *chatServer {
	t.Helper()
	hub, err := signalr.NewServer(&chat.ChatHub{}, signalr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", hub)
	mux.Handle("/chathub/", hub)
	var ln net.Listener
	for i := 0; ; i++ { // the old socket may linger briefly after a restart
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	cs := &chatServer{t: t, addr: ln.Addr().String(), srv: &http.Server{Handler: mux}, hub: hub, done: make(chan struct{})}
	go func() {
		defer close(cs.done)
		_ = cs.srv.Serve(ln)
	}()
	t.Cleanup(cs.stop)
	return cs
}

func (cs *chatServer) url() string { return "http://" + cs.addr }

func (cs *chatServer) stop() {
	select {
	case <-cs.done:
		return
	default:
	}
	_ = cs.hub.Close()
	_ = cs.srv.Close()
	<-cs.done
}

// chatClient runs the ChatClient in-process with piped stdin and line-split stdout.
type chatClient struct {
	t      *testing.T
	in     *io.PipeWriter
	lines  chan string
	stderr *syncBuffer
	code   chan int
	seen   []string // lines not matched yet
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lineWriter turns writes into complete lines on a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.lines <- string(w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func startChatClient(t *testing.T, args ...string) *chatClient {
	t.Helper()
	pr, pw := io.Pipe()
	cc := &chatClient{t: t, in: pw, lines: make(chan string, 1000), stderr: &syncBuffer{}, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		cc.code <- run(ctx, args, pr, &lineWriter{lines: cc.lines}, cc.stderr)
		_ = pr.Close()
	}()
	t.Cleanup(func() {
		_ = pw.Close()
		select {
		case <-cc.code:
		case <-time.After(10 * time.Second):
			t.Error("client did not exit")
		}
		cancel()
	})
	return cc
}

func (cc *chatClient) send(line string) {
	cc.t.Helper()
	if _, err := io.WriteString(cc.in, line+"\n"); err != nil {
		cc.t.Fatalf("write %q: %v", line, err)
	}
}

// expect waits for a line with the given prefix and returns it.
func (cc *chatClient) expect(prefix string) string {
	cc.t.Helper()
	// Lines may arrive in any order relative to each other (a broadcast can
	// overtake the "Connected" line): look at the unmatched ones first.
	for i, l := range cc.seen {
		if strings.HasPrefix(l, prefix) {
			cc.seen = append(cc.seen[:i:i], cc.seen[i+1:]...)
			return l
		}
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l := <-cc.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
			cc.seen = append(cc.seen, l)
		case <-timeout:
			cc.t.Fatalf("no line %q; saw %q; stderr %q", prefix, cc.seen, cc.stderr.String())
			return ""
		}
	}
}

func (cc *chatClient) exitCode() int {
	cc.t.Helper()
	select {
	case c := <-cc.code:
		cc.code <- c
		return c
	case <-time.After(15 * time.Second):
		cc.t.Fatal("client did not exit")
		return -1
	}
}

func connectedID(line string) string {
	// "Connected to <url> as <name> (connection <id>). Type /help for commands."
	_, rest, _ := strings.Cut(line, "(connection ")
	id, _, _ := strings.Cut(rest, ")")
	return id
}

func TestChatTwoClients(t *testing.T) {
	for _, tr := range []string{"websockets", "sse", "longpolling", "auto", "messagepack"} {
		t.Run(tr, func(t *testing.T) {
			srv := startChatServer(t, "127.0.0.1:0")
			proto := "json"
			if tr == "messagepack" {
				tr, proto = "auto", "messagepack"
			}
			alice := startChatClient(t, "--url", srv.url(), "--name", "alice", "--transport", tr, "--protocol", proto)
			aliceID := connectedID(alice.expect("Connected to " + srv.url() + "/chathub as alice"))
			alice.expect("[SYSTEM] User connected: " + aliceID)
			bob := startChatClient(t, "--url", srv.url()+"/chathub", "--name", "bob", "--transport", tr, "--protocol", proto)
			bobID := connectedID(bob.expect("Connected to "))
			alice.expect("[SYSTEM] User connected: " + bobID)

			alice.send("hello everyone")
			alice.expect("[ALL] alice: hello everyone")
			bob.expect("[ALL] alice: hello everyone")

			bob.send("/join room")
			bob.expect("[SYSTEM] " + bobID + " joined group: room")
			alice.send("/join room")
			bob.expect("[SYSTEM] " + aliceID + " joined group: room")
			alice.send("/group room hi room")
			alice.expect("[room] alice: hi room")
			bob.expect("[room] alice: hi room")
			bob.send("/leave room")
			alice.expect("[SYSTEM] " + bobID + " left group: room")

			bob.send("/quit")
			if code := bob.exitCode(); code != 0 {
				t.Fatalf("bob exit code %d", code)
			}
			alice.expect("[SYSTEM] User disconnected: " + bobID)
		})
	}
}

func TestChatCommandsAndEndOfInput(t *testing.T) {
	srv := startChatServer(t, "127.0.0.1:0")
	watcher := startChatClient(t, "--url", srv.url(), "--name", "w")
	watcher.expect("Connected to ")
	c := startChatClient(t, "--url", srv.url(), "--name", "scripted")
	c.expect("Connected to ")
	for _, tc := range []struct{ in, want string }{
		{"/join", "Usage: /join <group>"},
		{"/leave", "Usage: /leave <group>"},
		{"/group", "Usage: /group <group> <message>"},
		{"/group g", "Usage: /group <group> <message>"},
		{"/h", "Commands:"},
		{"/help", "Commands:"},
		{"/nope", "Unknown command: /nope. Type /help for commands."},
	} {
		c.send(tc.in)
		c.expect(tc.want)
	}
	// Lines piped right before the end of input are still delivered.
	c.send("one")
	c.send("two")
	_ = c.in.Close()
	if code := c.exitCode(); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, c.stderr.String())
	}
	watcher.expect("[ALL] scripted: one")
	watcher.expect("[ALL] scripted: two")
}

func TestChatCannotConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c := startChatClient(t, "--url", "http://"+addr, "--name", "x")
	if code := c.exitCode(); code != 1 {
		t.Fatalf("exit code %d", code)
	}
	if !strings.Contains(c.stderr.String(), "Cannot connect to http://"+addr+"/chathub") {
		t.Fatalf("stderr %q", c.stderr.String())
	}
}

func TestChatUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"--transport", "carrier-pigeon"}, {"--protocol", "xml"}, {"extra"}, {"--url", "ftp://x"}} {
		c := startChatClient(t, args...)
		if code := c.exitCode(); code != 2 {
			t.Fatalf("%v: exit code %d", args, code)
		}
	}
}

func TestChatReconnectsAfterServerRestart(t *testing.T) {
	for _, tr := range []string{"websockets", "sse", "longpolling"} {
		t.Run(tr, func(t *testing.T) {
			srv := startChatServer(t, "127.0.0.1:0")
			addr := srv.addr
			c := startChatClient(t, "--url", srv.url(), "--name", "phoenix", "--transport", tr)
			c.expect("Connected to ")
			c.send("before")
			c.expect("[ALL] phoenix: before")

			srv.stop()
			c.expect("[SYSTEM] Reconnecting... ")
			startChatServer(t, addr)
			line := c.expect("[SYSTEM] Reconnected with ID: ")
			if strings.TrimPrefix(line, "[SYSTEM] Reconnected with ID: ") == "" {
				t.Fatalf("no id in %q", line)
			}
			c.send("after")
			c.expect("[ALL] phoenix: after")
		})
	}
}

func TestHubURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://localhost:5000", "http://localhost:5000/chathub"},
		{"http://localhost:5000/", "http://localhost:5000/chathub"},
		{"https://example.com/otherhub", "https://example.com/otherhub"},
		{"localhost:5000", "http://localhost:5000/chathub"},
		{"http://h/x?y=1", "http://h/x?y=1"},
	} {
		got, err := hubURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("hubURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := hubURL("ftp://x"); err == nil {
		t.Error("ftp accepted")
	}
}

func TestDefaultName(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.name) != len("User_1234") || !strings.HasPrefix(f.name, "User_") || f.url != defaultURL {
		t.Fatalf("defaults: %+v", f)
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
}

func TestPrinterOnTerminal(t *testing.T) {
	var b bytes.Buffer
	p := &printer{w: &b, tty: true}
	p.prompt()
	p.line("[ALL] a: b")
	p.final("[SYSTEM] Connection closed. ")
	want := "\r\033[K> " + "\r\033[K[ALL] a: b\n> " + "\r\033[K[SYSTEM] Connection closed.\n"
	if b.String() != want {
		t.Fatalf("terminal output %q, want %q", b.String(), want)
	}
	b.Reset()
	p = &printer{w: &b}
	p.prompt()
	p.line("x")
	if b.String() != "x\n" {
		t.Fatalf("pipe output %q", b.String())
	}
}
