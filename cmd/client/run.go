package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

const (
	defaultURL = "http://localhost:5000"
	hubPath    = "/chathub"
	prompt     = "> "
)

// config is what the flags (or the prompts) decide.
type config struct {
	url       string
	name      string
	transport transports.TransportType
	token     string
	protocol  protocol.HubProtocol
}

// run is the whole program; main only wires the process to it, so tests can
// drive it in-process through pipes. It returns the exit code: 0 after the
// input ended or /quit, 1 when the connection failed or ended for good, 2 for
// bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	tty := isTerminal(stdin) && isTerminal(stdout)
	lines := make(chan string)
	inputDone := make(chan struct{})
	go readLines(stdin, lines, inputDone)

	if tty {
		// Like the original: ask for what the flags did not say.
		if !cfg.urlSet {
			fmt.Fprintf(stdout, "Enter the server URL (default: %s): ", defaultURL)
			if l, ok := nextLine(ctx, lines); ok && strings.TrimSpace(l) != "" {
				cfg.url = strings.TrimSpace(l)
			}
		}
		if !cfg.nameSet {
			fmt.Fprintf(stdout, "Enter your name (default: %s): ", cfg.name)
			if l, ok := nextLine(ctx, lines); ok && strings.TrimSpace(l) != "" {
				cfg.name = strings.TrimSpace(l)
			}
		}
	}
	hubURL, err := hubURL(cfg.url)
	if err != nil {
		fmt.Fprintf(stderr, "Invalid URL %q: %v\n", cfg.url, err)
		return 2
	}

	out := &printer{w: stdout, tty: tty}
	closed := make(chan error, 1)
	opts := client.Options{
		Transports: cfg.transport,
		Protocol:   cfg.protocol,
		Reconnect:  client.BackoffReconnectPolicy{Initial: time.Second, Max: 30 * time.Second},
		OnReconnecting: func(err error) {
			out.line("[SYSTEM] Reconnecting... " + reason(err))
		},
		OnReconnected: func(id string) { out.line("[SYSTEM] Reconnected with ID: " + id) },
		OnClose: func(err error) {
			closed <- err
		},
	}
	if cfg.token != "" {
		tok := cfg.token
		opts.AccessTokenProvider = func(context.Context) (string, error) { return tok, nil }
	}
	conn, err := client.New(hubURL, opts)
	if err != nil {
		fmt.Fprintf(stderr, "Cannot connect to %s: %v\n", hubURL, err)
		return 2
	}
	register(conn, out)

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = conn.Start(startCtx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "Cannot connect to %s: %v\n", hubURL, err)
		return 1
	}
	out.line(fmt.Sprintf("Connected to %s as %s (connection %s). Type /help for commands.", hubURL, cfg.name, conn.ConnectionID()))

	code := loop(ctx, conn, cfg.name, lines, closed, out)
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Stop(stopCtx)
	if code == 0 {
		// Stop reports the end through OnClose; print it like any other close.
		select {
		case err := <-closed:
			out.final("[SYSTEM] Connection closed. " + reason(err))
		default:
		}
	}
	return code
}

// loop executes commands until the input ends, /quit, ctx ends or the connection is gone.
func loop(ctx context.Context, conn *client.HubConnection, name string, lines <-chan string, closed <-chan error, out *printer) int {
	out.prompt()
	for {
		select {
		case <-ctx.Done():
			return 0
		case err := <-closed:
			out.final("[SYSTEM] Connection closed. " + reason(err))
			return 1
		case l, ok := <-lines:
			if !ok {
				return 0
			}
			if quit := command(ctx, conn, name, strings.TrimSpace(l), out); quit {
				return 0
			}
			out.prompt()
		}
	}
}

// command runs one input line; it reports whether the user asked to quit.
func command(ctx context.Context, conn *client.HubConnection, name, l string, out *printer) bool {
	if l == "" {
		return false
	}
	cmd, rest, _ := strings.Cut(l, " ")
	rest = strings.TrimSpace(rest)
	var err error
	switch strings.ToLower(cmd) {
	case "/quit", "/exit":
		return true
	case "/help", "/h":
		out.line(help)
		return false
	case "/join":
		if rest == "" {
			out.line("Usage: /join <group>")
			return false
		}
		err = invoke(ctx, conn, "JoinGroup", rest)
	case "/leave":
		if rest == "" {
			out.line("Usage: /leave <group>")
			return false
		}
		err = invoke(ctx, conn, "LeaveGroup", rest)
	case "/group":
		group, msg, _ := strings.Cut(rest, " ")
		msg = strings.TrimSpace(msg)
		if group == "" || msg == "" {
			out.line("Usage: /group <group> <message>")
			return false
		}
		err = invoke(ctx, conn, "SendMessageToGroup", group, name, msg)
	default:
		if strings.HasPrefix(cmd, "/") {
			out.line("Unknown command: " + cmd + ". Type /help for commands.")
			return false
		}
		err = invoke(ctx, conn, "SendMessage", name, l)
	}
	if err != nil {
		out.line("[ERROR] " + err.Error())
	}
	return false
}

const help = `Commands:
  /help, /h                  show this help
  /join <group>              join a group
  /leave <group>             leave a group
  /group <group> <message>   send a message to a group
  /quit, /exit               leave the chat
Any other text is sent to everyone.`

// invoke calls a hub method, first waiting (bounded) for a reconnect in progress.
func invoke(ctx context.Context, conn *client.HubConnection, method string, args ...any) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		st := conn.State()
		if st == client.Connected {
			break
		}
		if st != client.Reconnecting && st != client.Connecting {
			return client.ErrNotConnected
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still %s: %w", st, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, err := conn.Invoke(ctx, method, args...)
	return err
}

func register(conn *client.HubConnection, out *printer) {
	on := func(target string, fn any) {
		if err := conn.On(target, fn); err != nil {
			panic(err) // the handlers below are static: a failure is a programming error
		}
	}
	on("ReceiveMessage", func(user, message string) { out.line("[ALL] " + user + ": " + message) })
	on("ReceiveGroupMessage", func(group, user, message string) {
		out.line("[" + group + "] " + user + ": " + message)
	})
	on("UserConnected", func(id string) { out.line("[SYSTEM] User connected: " + id) })
	on("UserDisconnected", func(id string) { out.line("[SYSTEM] User disconnected: " + id) })
	on("UserJoinedGroup", func(user, group string) { out.line("[SYSTEM] " + user + " joined group: " + group) })
	on("UserLeftGroup", func(user, group string) { out.line("[SYSTEM] " + user + " left group: " + group) })
}

func reason(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// printer writes whole lines. On a terminal it first clears the line being
// typed, prints, and redraws the prompt, so incoming messages do not garble
// the input.
type printer struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K"+s+"\n"+prompt)
		return
	}
	fmt.Fprintln(p.w, s)
}

// final prints a last line without redrawing the prompt.
func (p *printer) final(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, strings.TrimSpace(s))
}

func (p *printer) prompt() {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K"+prompt)
}

// readLines feeds stdin lines to out and closes it at the end of input.
func readLines(r io.Reader, out chan<- string, done chan struct{}) {
	defer close(done)
	defer close(out)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out <- sc.Text()
	}
}

func nextLine(ctx context.Context, lines <-chan string) (string, bool) {
	select {
	case l, ok := <-lines:
		return l, ok
	case <-ctx.Done():
		return "", false
	}
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// hubURL appends the hub path unless the URL already has a path.
func hubURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", errors.New("want http(s)://host[:port][/path]")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = hubPath
	}
	return u.String(), nil
}

type flags struct {
	config
	urlSet, nameSet bool
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &flags{}
	fs.StringVar(&f.url, "url", defaultURL, "server URL; "+hubPath+" is appended unless the URL has a path")
	fs.StringVar(&f.name, "name", fmt.Sprintf("User_%04d", rand.IntN(10000)), "your chat name")
	tr := fs.String("transport", "auto", "websockets, sse, longpolling or auto")
	fs.StringVar(&f.token, "token", "", "bearer token sent to the server")
	proto := fs.String("protocol", "json", "hub protocol: json or messagepack")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return nil, errors.New("usage")
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "url":
			f.urlSet = true
		case "name":
			f.nameSet = true
		}
	})
	switch strings.ToLower(*proto) {
	case "json":
		f.protocol = protocol.JSON
	case "messagepack", "msgpack":
		f.protocol = protocol.MessagePack
	default:
		fmt.Fprintf(stderr, "invalid --protocol %q: want json or messagepack\n", *proto)
		return nil, errors.New("usage")
	}
	switch strings.ToLower(*tr) {
	case "auto", "":
		f.transport = transports.AllTransports
	case "websockets", "ws":
		f.transport = transports.WebSockets
	case "sse", "serversentevents":
		f.transport = transports.ServerSentEvents
	case "longpolling", "lp":
		f.transport = transports.LongPolling
	default:
		fmt.Fprintf(stderr, "invalid --transport %q: want websockets, sse, longpolling or auto\n", *tr)
		return nil, errors.New("usage")
	}
	return f, nil
}
