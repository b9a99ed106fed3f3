package metrics_test

import (
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/metrics"
)

// The hooks run on every message: they must stay cheap under contention.
func BenchmarkHooks(b *testing.B) {
	c := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	b.Run("MessageReceived", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.MessageReceived("Invocation")
			}
		})
	})
	b.Run("InvocationCompleted", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.InvocationCompleted("SendMessage", time.Millisecond, nil)
			}
		})
	})
	b.Run("BytesOut", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.BytesOut(128)
			}
		})
	})
}
