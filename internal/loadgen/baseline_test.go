package loadgen

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/transports"
)

func startBaseline(t *testing.T) (*BaselineServer, string) {
	t.Helper()
	bs := &BaselineServer{}
	ts := httptest.NewServer(bs)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := bs.Close(ctx); err != nil {
			t.Error(err)
		}
		ts.Close()
	})
	return bs, ts.URL + "/bench"
}

func TestBaselineRuns(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"connect", Config{Scenario: ScenarioConnect, Connections: 20, Memory: InProcessMemory()}},
		{"broadcast closed loop", Config{Scenario: ScenarioBroadcast, Connections: 20, Senders: 3}},
		{"broadcast paced", Config{Scenario: ScenarioBroadcast, Connections: 10, Senders: 2, Rate: 200, MessageSize: 300}},
		{"broadcast skip negotiate", Config{Scenario: ScenarioBroadcast, Connections: 5, SkipNegotiate: true}},
		{"storm without echo", Config{Scenario: ScenarioStorm, Connections: 5, Rate: 100, Dialect: DialectChat}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, u := startBaseline(t)
			cfg := tt.cfg
			cfg.URLs = []string{u}
			cfg.Duration = 300 * time.Millisecond
			cfg.Transport = transports.WebSockets
			var progress strings.Builder
			cfg.Progress = &progress
			cfg.ProgressInterval = 100 * time.Millisecond
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var table strings.Builder
			_ = rep.WriteTable(&table)
			if !rep.OK() {
				t.Fatalf("run failed:\n%s\nprogress:\n%s", table.String(), progress.String())
			}
			if !strings.Contains(progress.String(), "conns") {
				t.Errorf("no progress lines: %q", progress.String())
			}
			switch cfg.Scenario {
			case ScenarioBroadcast:
				if rep.Sent == 0 || rep.Received != rep.Expected || rep.Expected != rep.Sent*int64(cfg.Connections) {
					t.Errorf("sent %d expected %d received %d", rep.Sent, rep.Expected, rep.Received)
				}
			case ScenarioConnect:
				if rep.Memory == nil || rep.Memory.AfterBytes == 0 {
					t.Errorf("no memory figure: %+v", rep.Memory)
				}
			case ScenarioStorm:
				if rep.Storm == nil || rep.Storm.Connects == 0 {
					t.Errorf("no storm cycles: %+v", rep.Storm)
				}
			}
			t.Logf("\n%s", table.String())
		})
	}
}

func TestRunInterrupted(t *testing.T) {
	_, u := startBaseline(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once progress shows the measuring phase (not during connect,
	// which would be an error instead).
	stop := cancelOnPhase{phase: "broadcast", cancel: cancel}
	rep, err := Run(ctx, Config{URLs: []string{u}, Scenario: ScenarioBroadcast, Connections: 3, Rate: 100,
		Duration: time.Minute, Progress: &stop, ProgressInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Interrupted || rep.Passed || rep.DurationSeconds >= 30 {
		t.Fatalf("interrupted %v passed %v after %.1fs", rep.Interrupted, rep.Passed, rep.DurationSeconds)
	}
	var table strings.Builder
	_ = rep.WriteTable(&table)
	if !strings.Contains(table.String(), "INTERRUPTED") {
		t.Errorf("table: %s", table.String())
	}
}

type cancelOnPhase struct {
	phase  string
	cancel context.CancelFunc
}

func (c *cancelOnPhase) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.phase) {
		c.cancel()
	}
	return len(p), nil
}
