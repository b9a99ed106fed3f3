package signalr

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// discardConn accepts every send at once: it measures the runtime, not a
// network. It adds the bytes it gets to a counter shared by a benchmark,
// which it signals when the counter reaches the benchmark's target.
type discardConn struct {
	*memConn
	sink *byteSink
}

type byteSink struct {
	total  atomic.Int64
	target atomic.Int64
	done   chan struct{}
}

func newByteSink() *byteSink { return &byteSink{done: make(chan struct{}, 1)} }

func (c *discardConn) Send(_ context.Context, p []byte) error {
	v := c.sink.total.Add(int64(len(p)))
	if t := c.sink.target.Load(); t > 0 && v >= t {
		select {
		case c.sink.done <- struct{}{}:
		default:
		}
	}
	return nil
}

func benchConns(b *testing.B, n int, obs Observer) (*DefaultHubLifetimeManager, []*HubConnection, *byteSink) {
	opts := Options{OutboundQueueSize: 1 << 16, Observer: obs}.withDefaults()
	lm := NewDefaultHubLifetimeManager()
	conns := make([]*HubConnection, n)
	sink := newByteSink()
	for i := range conns {
		c := newHubConnection(context.Background(), &discardConn{memConn: newMemConn(fmt.Sprint("c", i), 1), sink: sink}, protocol.JSON, &opts)
		c.startWriter()
		if err := lm.OnConnected(context.Background(), c); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	b.Cleanup(func() {
		for _, c := range conns {
			if c.readCtx.Err() != nil {
				b.Errorf("connection %s aborted: %v", c.id, c.abortErr)
			}
			c.closeWriter(nil, DefaultCloseTimeout)
			c.cancel()
		}
	})
	return lm, conns, sink
}

// benchmarkBroadcast measures a broadcast delivered: SendAll, then every
// connection's writer has handed the record to its transport. Waiting for
// delivery keeps the benchmark from measuring an ever-growing backlog.
func benchmarkBroadcast(b *testing.B, n int, obs Observer) {
	lm, _, sink := benchConns(b, n, obs)
	ctx := context.Background()
	args := []any{"user", "a chat message of modest size"}
	enc, _ := NewInvocationMessage("ReceiveMessage", args).Bytes(protocol.JSON)
	want := int64(0)
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		want += int64(len(enc) * n)
		sink.target.Store(want)
		if err := lm.SendAll(ctx, "ReceiveMessage", args); err != nil {
			b.Fatal(err)
		}
		for sink.total.Load() < want {
			<-sink.done
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/recipient")
}

// BenchmarkBroadcast1000 measures one SendAll to 1,000 connections until
// delivered: one encoding, 1,000 queue writes, 1,000 writer wake-ups.
func BenchmarkBroadcast1000(b *testing.B) { benchmarkBroadcast(b, 1000, nil) }

// BenchmarkBroadcast1000Observed is BenchmarkBroadcast1000 with the
// Prometheus collector of internal/metrics as Observer.
func BenchmarkBroadcast1000Observed(b *testing.B) { benchmarkBroadcast(b, 1000, benchCollector()) }

// benchCollector is the real metrics Observer, without runtime collectors.
func benchCollector() Observer { return metrics.New(metrics.Options{NoRuntimeMetrics: true}) }

// BenchmarkBroadcast10000 is the same with 10,000 connections.
func BenchmarkBroadcast10000(b *testing.B) { benchmarkBroadcast(b, 10000, nil) }

// BenchmarkWriter measures one connection's queue + writer goroutine path
// with a preserialized record, using the back-pressured enqueue (the path of
// a connection's own replies), so the producer never outruns the writer.
func BenchmarkWriter(b *testing.B) { benchmarkWriter(b, nil) }

// BenchmarkWriterObserved is BenchmarkWriter with the metrics Observer.
func BenchmarkWriterObserved(b *testing.B) { benchmarkWriter(b, benchCollector()) }

func benchmarkWriter(b *testing.B, obs Observer) {
	_, conns, _ := benchConns(b, 1, obs)
	c := conns[0]
	enc, _ := NewInvocationMessage("ReceiveMessage", []any{"user", "a chat message of modest size"}).Bytes(protocol.JSON)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	ctx := context.Background()
	for b.Loop() {
		if err := c.enqueueWait(ctx, enc, protocol.TypeInvocation); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInvoke measures a JSON invocation end to end over the in-memory
// connection: parse, bind, call, encode the Completion, write, receive.
func BenchmarkInvoke(b *testing.B) { benchmarkInvoke(b, nil) }

// BenchmarkInvokeObserved is BenchmarkInvoke with the metrics Observer.
func BenchmarkInvokeObserved(b *testing.B) { benchmarkInvoke(b, benchCollector()) }

func benchmarkInvoke(b *testing.B, obs Observer) {
	h := newHandler(b, newTestHub(), Options{Observer: obs})
	c := connect(b, h, "bench")
	rec := []byte(`{"type":1,"invocationId":"1","target":"Add","arguments":[2,3]}` + "\x1e")
	b.ReportAllocs()
	for b.Loop() {
		c.conn.in <- rec
		<-c.conn.out
	}
}

// BenchmarkFanoutSenderSide1000 isolates the broadcaster's own cost (what a
// hub method calling Clients.All().Send pays): one encoding and 1,000 queue
// appends, with no writer goroutines competing for the CPU. Queues are
// emptied outside the timer.
func BenchmarkFanoutSenderSide1000(b *testing.B) {
	opts := Options{OutboundQueueSize: 1 << 20}.withDefaults()
	lm := NewDefaultHubLifetimeManager()
	conns := make([]*HubConnection, 1000)
	for i := range conns {
		conns[i] = newHubConnection(context.Background(), &discardConn{memConn: newMemConn(fmt.Sprint("c", i), 1), sink: newByteSink()}, protocol.JSON, &opts)
		_ = lm.OnConnected(context.Background(), conns[i])
	}
	defer func() {
		for _, c := range conns {
			c.cancel()
		}
	}()
	ctx := context.Background()
	args := []any{"user", "a chat message of modest size"}
	b.ReportAllocs()
	cpu0 := processCPU()
	i := 0
	for b.Loop() {
		if err := lm.SendAll(ctx, "ReceiveMessage", args); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 {
			b.StopTimer()
			for _, c := range conns {
				c.qmu.Lock()
				clear(c.q)
				c.q = c.q[:0]
				c.qmu.Unlock()
				select {
				case <-c.wake:
				default:
				}
			}
			b.StartTimer()
		}
	}
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkIdleConnectionMemory reports the heap and stack bytes one idle
// connection costs the hub runtime (in-memory transport, after handshake):
// HubConnection, read buffer, writer goroutine, ServeConn goroutine.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	const n = 2000
	h := newHandler(b, newTestHub(), Options{})
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*memConn, n)
		served := make(chan struct{}, n)
		for i := range conns {
			conns[i] = newMemConn(fmt.Sprint("c", i), 4)
			go func() { h.ServeConn(context.Background(), conns[i]); served <- struct{}{} }()
			conns[i].in <- []byte(`{"protocol":"json","version":1}` + "\x1e")
			<-conns[i].out
		}
		for h.ConnectionCount() != n {
			runtime.Gosched()
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse)/n, "bytes/conn")
		for _, c := range conns {
			c.clientClose()
		}
		for range conns {
			<-served
		}
	}
}
