package npgsql

import (
	"context"
	"strings"
	"testing"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// BenchmarkPublish measures SendAll throughput against the test PostgreSQL
// with 32 concurrent publishers, with and without coalescing. The message is
// the load generator's (cmd/loadgen: "Receive" with one 64-byte string), so
// the row has the same size as in the loadgen backplane runs and in the
// pgbench INSERT+NOTIFY comparison of cmd/loadgen/benchmarks.sh (payload-B
// reports it).
//
//	go test ./npgsql -run XXX -bench Publish -benchtime 3s
//	GOSIGNALR_TEST_PG=postgres://... go test ./npgsql -run XXX -bench Publish   (an existing server)
func BenchmarkPublish(b *testing.B) {
	for _, tc := range []struct {
		name  string
		batch int
	}{{"single-row", 1}, {"coalesced", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			opts := fastOptions(pgtest.DSN(b))
			opts.MaxBatchSize = tc.batch
			opts.MaxPoolSize = 16
			m := newManager(b, opts, newFakeEngine(map[string]string{}))
			args := []any{strings.Repeat("x", 64)}
			msgs, err := m.serialize("Receive", args)
			if err != nil {
				b.Fatal(err)
			}
			payload, err := m.encodePayload(&Payload{Type: TypeInvocationAll, Messages: msgs})
			if err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16) // × GOMAXPROCS goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := m.SendAll(context.Background(), "Receive", args); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(len(payload)), "payload-B")
		})
	}
}

// BenchmarkEncodeInvocation: serialize once per protocol (JSON + MessagePack)
// and build the backplane payload.
func BenchmarkEncodeInvocation(b *testing.B) {
	m := &Manager{protocols: hubProtocols, opts: Options{Mode: ModeCompat}}
	args := []any{"user", "a chat message of moderate length"}
	b.ReportAllocs()
	for b.Loop() {
		msgs, err := m.serialize("ReceiveMessage", args)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.encodePayload(&Payload{Type: TypeInvocationAll, Messages: msgs}); err != nil {
			b.Fatal(err)
		}
	}
}
