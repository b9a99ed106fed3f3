// Command loadgen is the gosignalr load tool. It opens many lean SignalR
// connections to one or several hub URLs (round-robin, to spread clients
// over backplane nodes) and runs a scenario: connect, echo, broadcast, group,
// connection or storm. It prints live progress on stderr every second, a
// summary table at the end, optionally a JSON report, and exits non-zero
// when any message was lost, reordered, duplicated or misrouted, or any
// connection failed.
//
// It can also serve: --serve ADDR runs the bench hub on the gosignalr hub
// runtime, --baseline-server ADDR the raw WebSocket fan-out baseline; both
// expose /debug/memstats for the connect scenario's memory figure.
//
// Examples:
//
//	loadgen --self --scenario broadcast -n 1000 --duration 10s
//	loadgen --serve 127.0.0.1:5000 &
//	loadgen --url http://127.0.0.1:5000/bench --scenario connect -n 10000 --mem-url http://127.0.0.1:5000/debug/memstats
//	loadgen --url http://127.0.0.1:5001/chathub --hub chat --scenario broadcast --transport sse
//	loadgen --serve 127.0.0.1:5000 --backplane postgres://... & loadgen --serve 127.0.0.1:5001 --backplane postgres://... &
//	loadgen --url http://127.0.0.1:5000/bench,http://127.0.0.1:5001/bench -n 1000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/internal/loadgen"
	"github.com/gosignalr/gosignalr/internal/loadgen/benchhub"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the run found lost/reordered messages or errors
	exitUsage = 2 // bad flags, or the run could not be carried out
)

type urlList []string

func (u *urlList) String() string { return strings.Join(*u, ",") }
func (u *urlList) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			*u = append(*u, x)
		}
	}
	return nil
}

func parseTransport(s string) (transports.TransportType, error) {
	switch strings.ToLower(s) {
	case "ws", "websockets", "websocket":
		return transports.WebSockets, nil
	case "sse", "serversentevents":
		return transports.ServerSentEvents, nil
	case "lp", "longpolling":
		return transports.LongPolling, nil
	}
	return 0, fmt.Errorf("unknown transport %q (ws, sse, lp)", s)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		urls        urlList
		cfg         loadgen.Config
		scenario    = fs.String("scenario", "broadcast", "connect, echo, broadcast, group, connection or storm")
		transport   = fs.String("transport", "ws", "ws, sse or lp")
		hub         = fs.String("hub", "bench", "hub: bench (the bench hub) or chat (cmd/server's ChatHub); also what --serve/--self serve")
		self        = fs.Bool("self", false, "start the bench hub in this process on 127.0.0.1 and target it")
		selfBase    = fs.Bool("self-baseline", false, "start the raw baseline server in this process and target it")
		serve       = fs.String("serve", "", "serve the bench hub on `ADDR` (e.g. 127.0.0.1:5000) until interrupted")
		baseServe   = fs.String("baseline-server", "", "serve the raw WebSocket baseline on `ADDR` until interrupted")
		backplane   = fs.String("backplane", "", "with --serve/--self: PostgreSQL `DSN` for the npgsql backplane")
		memURL      = fs.String("mem-url", "", "server memory source for connect/storm: a /debug/memstats URL or a Prometheus /metrics URL; a /debug/memstats URL also gives the server's CPU time per delivery")
		jsonOut     = fs.String("json", "", "write the JSON report to `FILE` (- for stdout)")
		quiet       = fs.Bool("quiet", false, "no live progress")
		verbose     = fs.Bool("v", false, "log errors in detail on stderr")
		connections = fs.Int("n", 10, "connections")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile of this process to `FILE`")
	)
	fs.Var(&urls, "url", "hub URL; repeat or comma-separate for several nodes (round-robin)")
	fs.IntVar(connections, "connections", 10, "connections (same as -n)")
	fs.StringVar(&cfg.Protocol, "protocol", "json", "json or messagepack")
	fs.Float64Var(&cfg.RampRate, "ramp", 0, "connections opened per second (0: as fast as --dial-concurrency allows)")
	fs.IntVar(&cfg.DialConcurrency, "dial-concurrency", 64, "simultaneous connection attempts")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measuring phase (after connecting)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages/s over all senders (echo: invocations/s, storm: connects/s); 0: closed loop (connection: 10/s per connection, storm: 50/s)")
	fs.IntVar(&cfg.Window, "window", 10, "closed loop: messages in flight per sender")
	fs.IntVar(&cfg.Senders, "senders", 1, "broadcast: sending connections")
	fs.IntVar(&cfg.GroupSize, "group-size", 10, "group: connections per group")
	fs.IntVar(&cfg.MessageSize, "size", 64, "payload bytes")
	fs.DurationVar(&cfg.Drain, "drain", 5*time.Second, "after sending stops, wait for in-flight messages until none arrived for this long")
	fs.DurationVar(&cfg.PingInterval, "ping", 15*time.Second, "client keep-alive ping interval (negative: none)")
	fs.BoolVar(&cfg.SkipNegotiate, "skip-negotiate", false, "WebSockets without negotiate")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen [--url URL... | --self | --self-baseline] [flags]\n       loadgen --serve ADDR | --baseline-server ADDR\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected arguments %q\n", fs.Args())
		return exitUsage
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	logger := zerolog.Nop()
	if *verbose {
		logger = zerolog.New(zerolog.ConsoleWriter{Out: stderr}).With().Timestamp().Logger().Level(zerolog.DebugLevel)
	}

	if *serve != "" || *baseServe != "" {
		addr, baseline := *serve, false
		if *baseServe != "" {
			addr, baseline = *baseServe, true
		}
		return serveUntilDone(ctx, addr, benchhub.StartOptions{
			Baseline: baseline, Hub: *hub, Backplane: *backplane, Server: signalr.Options{Logger: logger}}, stderr)
	}

	cfg.URLs = urls
	cfg.Connections = *connections
	cfg.Scenario = loadgen.Scenario(*scenario)
	cfg.Dialect = loadgen.Dialect(*hub)
	cfg.Logger = logger
	t, err := parseTransport(*transport)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	cfg.Transport = t
	if cfg.Protocol == "messagepack" {
		cfg.HubProtocol = protocol.NewMessagePackProtocol()
	}
	if !*quiet {
		cfg.Progress = stderr
	}

	if *self || *selfBase {
		if len(urls) > 0 {
			fmt.Fprintln(stderr, "loadgen: --url and --self/--self-baseline exclude each other")
			return exitUsage
		}
		srv, err := benchhub.Start(ctx, "127.0.0.1:0", benchhub.StartOptions{
			Baseline: *selfBase, Hub: *hub, Backplane: *backplane, Server: signalr.Options{Logger: logger}})
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Close(cctx); err != nil {
				fmt.Fprintf(stderr, "loadgen: closing the in-process server: %v\n", err)
			}
		}()
		cfg.URLs = []string{srv.URL}
		if *memURL == "" {
			cfg.Memory = loadgen.InProcessMemory()
		}
	}
	if *memURL != "" {
		cfg.Memory = loadgen.URLMemory(nil, *memURL)
		if !strings.HasSuffix(*memURL, "/metrics") {
			cfg.ServerCPU = loadgen.URLCPU(nil, *memURL)
		}
	}

	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	// With the JSON report on stdout, the table goes to stderr.
	tableOut := stdout
	if *jsonOut == "-" {
		tableOut = stderr
	}
	if err := rep.WriteTable(tableOut); err != nil {
		return exitUsage
	}
	if *jsonOut != "" {
		if err := writeJSON(*jsonOut, rep, stdout); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return exitUsage
		}
	}
	if !rep.Passed {
		return exitFail
	}
	return exitOK
}

func writeJSON(path string, rep *loadgen.Report, stdout io.Writer) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func serveUntilDone(ctx context.Context, addr string, o benchhub.StartOptions, stderr io.Writer) int {
	srv, err := benchhub.Start(ctx, addr, o)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return exitUsage
	}
	kind := o.Hub + " hub (gosignalr hub runtime)"
	if o.Hub == "" {
		kind = "bench hub (gosignalr hub runtime)"
	}
	if o.Backplane != "" {
		kind += " with the PostgreSQL backplane"
	}
	if o.Baseline {
		kind = "raw WebSocket baseline"
	}
	fmt.Fprintf(stderr, "loadgen: serving the %s at %s (memory: %s)\n", kind, srv.URL, srv.MemStatsURL)
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "loadgen: close: %v\n", err)
		return exitFail
	}
	return exitOK
}
