package benchhub

import (
	"testing"

	"github.com/gosignalr/gosignalr/internal/loadgen"
	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// TestSmokeBackplane spreads connections over two hub servers that share the
// PostgreSQL backplane: every message must reach every recipient on both
// nodes, in order.
func TestSmokeBackplane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	dsn := pgtest.DSN(t)
	a := startWith(t, StartOptions{Backplane: dsn})
	b := startWith(t, StartOptions{Backplane: dsn})
	for _, sc := range []loadgen.Scenario{loadgen.ScenarioBroadcast, loadgen.ScenarioGroup, loadgen.ScenarioConnection} {
		t.Run(string(sc), func(t *testing.T) {
			cfg := loadgen.Config{
				URLs: []string{a.URL, b.URL}, Scenario: sc, Connections: 6, GroupSize: 3, Senders: 2,
			}
			if sc == loadgen.ScenarioConnection {
				cfg.Rate = 200
			}
			rep := run(t, cfg)
			checkCounts(t, cfg, rep)
			// Connection i is on node i%2: each broadcast has 3 receivers
			// on the other node than its sender.
			if sc == loadgen.ScenarioBroadcast {
				if c := rep.CrossNodeLatency; c == nil || int64(c.Count) != 3*rep.Sent {
					t.Errorf("cross-node latency %+v, want %d deliveries (3 per message)", c, 3*rep.Sent)
				}
			}
		})
	}
}
