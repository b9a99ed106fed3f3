package benchhub

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/loadgen"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

func startSelf(t *testing.T, baseline bool) *Running {
	t.Helper()
	return startWith(t, StartOptions{Baseline: baseline})
}

func startWith(t *testing.T, o StartOptions) *Running {
	t.Helper()
	r, err := Start(context.Background(), "127.0.0.1:0", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return r
}

func run(t *testing.T, cfg loadgen.Config) *loadgen.Report {
	t.Helper()
	var progress strings.Builder
	cfg.Progress = &progress
	cfg.ProgressInterval = 100 * time.Millisecond
	if cfg.Duration == 0 {
		cfg.Duration = 100 * time.Millisecond
	}
	cfg.Settle = 20 * time.Millisecond
	rep, err := loadgen.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	_ = rep.WriteTable(&table)
	if !rep.OK() || !rep.Passed {
		t.Fatalf("run failed:\n%s\nprogress:\n%s", table.String(), progress.String())
	}
	t.Logf("\n%s", table.String())
	return rep
}

// TestSmoke runs every scenario over every transport against the in-process
// hub runtime, failing on any loss, reordering, duplicate, misrouting or
// error. It asserts counts, never timings.
func TestSmoke(t *testing.T) {
	srv := startSelf(t, false)
	for _, tr := range []transports.TransportType{transports.WebSockets, transports.ServerSentEvents, transports.LongPolling} {
		for _, sc := range loadgen.Scenarios {
			t.Run(fmt.Sprintf("%s/%s", tr, sc), func(t *testing.T) {
				cfg := loadgen.Config{
					URLs:        []string{srv.URL},
					Scenario:    sc,
					Transport:   tr,
					Connections: 6,
					GroupSize:   3,
					Senders:     2,
					MessageSize: 100,
					ServerCPU:   loadgen.URLCPU(nil, srv.MemStatsURL),
				}
				switch sc {
				case loadgen.ScenarioConnect:
					cfg.Memory = loadgen.URLMemory(nil, srv.MemStatsURL)
				case loadgen.ScenarioConnection:
					cfg.Rate = 300
				case loadgen.ScenarioStorm:
					cfg.Rate = 40
				}
				rep := run(t, cfg)
				checkCounts(t, cfg, rep)
			})
		}
	}
}

func checkCounts(t *testing.T, cfg loadgen.Config, rep *loadgen.Report) {
	t.Helper()
	if rep.Connected != cfg.Connections {
		t.Errorf("connected %d of %d", rep.Connected, cfg.Connections)
	}
	switch cfg.Scenario {
	case loadgen.ScenarioConnect:
		if rep.Memory == nil || rep.Memory.AfterBytes == 0 {
			t.Errorf("no memory figure: %+v", rep.Memory)
		}
	case loadgen.ScenarioStorm:
		if rep.Storm == nil || rep.Storm.Connects == 0 {
			t.Errorf("no storm cycles: %+v", rep.Storm)
		}
	default:
		if rep.Sent == 0 || rep.Received == 0 || rep.Received != rep.Expected {
			t.Errorf("sent %d, received %d of %d expected", rep.Sent, rep.Received, rep.Expected)
		}
	}
	if cfg.ServerCPU != nil && cfg.Scenario != loadgen.ScenarioConnect && rep.ServerCPUSeconds <= 0 {
		t.Errorf("no server CPU time: %v", rep.ServerCPUSeconds)
	}
	if cfg.Scenario == loadgen.ScenarioBroadcast && rep.Expected != rep.Sent*int64(cfg.Connections) {
		t.Errorf("broadcast: expected %d deliveries for %d sent to %d", rep.Expected, rep.Sent, cfg.Connections)
	}
}

// TestSmokeMessagePack runs the message scenarios with MessagePack over WebSockets.
func TestSmokeMessagePack(t *testing.T) {
	srv := startSelf(t, false)
	for _, sc := range []loadgen.Scenario{loadgen.ScenarioEcho, loadgen.ScenarioBroadcast, loadgen.ScenarioGroup, loadgen.ScenarioConnection} {
		t.Run(string(sc), func(t *testing.T) {
			cfg := loadgen.Config{
				URLs: []string{srv.URL}, Scenario: sc, Protocol: "messagepack",
				HubProtocol: protocol.NewMessagePackProtocol(), Connections: 6, GroupSize: 3, Rate: 0,
			}
			if sc == loadgen.ScenarioConnection {
				cfg.Rate = 300
			}
			checkCounts(t, cfg, run(t, cfg))
		})
	}
}

// TestSmokeMultipleURLs spreads connections over two servers: without a
// backplane, a broadcast reaches only the sender's server, so the run must
// report the loss (this is what the tool is for).
func TestSmokeMultipleURLs(t *testing.T) {
	a, b := startSelf(t, false), startSelf(t, false)
	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		URLs: []string{a.URL, b.URL}, Scenario: loadgen.ScenarioBroadcast, Connections: 4,
		Duration: 200 * time.Millisecond, Rate: 50, Drain: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Lost == 0 || rep.Received == 0 {
		t.Fatalf("two servers without a backplane: want partial delivery reported as loss, got %+v", rep)
	}
	// Exactly the connections on the other server miss every message.
	if rep.Lost != rep.Sent*2 {
		t.Errorf("lost %d, want %d (sent %d, 2 connections on the other node)", rep.Lost, rep.Sent*2, rep.Sent)
	}
}

// TestSmokeBaseline runs the scenarios the raw baseline server supports.
func TestSmokeBaseline(t *testing.T) {
	srv := startSelf(t, true)
	for _, sc := range []loadgen.Scenario{loadgen.ScenarioConnect, loadgen.ScenarioBroadcast} {
		t.Run(string(sc), func(t *testing.T) {
			cfg := loadgen.Config{URLs: []string{srv.URL}, Scenario: sc, Connections: 6, Senders: 2, Memory: loadgen.URLMemory(nil, srv.MemStatsURL)}
			checkCounts(t, cfg, run(t, cfg))
		})
	}
}

// TestSmokeChat drives the ChatServer's hub with the chat dialect.
func TestSmokeChat(t *testing.T) {
	srv := startWith(t, StartOptions{Hub: "chat"})
	for _, tr := range []transports.TransportType{transports.WebSockets, transports.ServerSentEvents} {
		for _, sc := range []loadgen.Scenario{loadgen.ScenarioConnect, loadgen.ScenarioBroadcast, loadgen.ScenarioGroup, loadgen.ScenarioStorm} {
			t.Run(fmt.Sprintf("%s/%s", tr, sc), func(t *testing.T) {
				cfg := loadgen.Config{
					URLs: []string{srv.URL}, Scenario: sc, Transport: tr, Dialect: loadgen.DialectChat,
					Connections: 6, GroupSize: 3, Senders: 2,
				}
				switch sc {
				case loadgen.ScenarioStorm:
					cfg.Rate = 40
				case loadgen.ScenarioConnect:
					cfg.Memory = loadgen.URLMemory(nil, srv.MemStatsURL)
				}
				rep := run(t, cfg)
				if sc != loadgen.ScenarioStorm {
					checkCounts(t, cfg, rep)
				}
				// UserConnected and friends arrive too, as non-load messages.
				if sc == loadgen.ScenarioBroadcast && rep.OtherMessages == 0 {
					t.Error("no chat notices seen")
				}
			})
		}
	}
}
