package loadgen

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the outcome of one run; it is also the JSON report.
type Report struct {
	Scenario    string   `json:"scenario"`
	Transport   string   `json:"transport"`
	Protocol    string   `json:"protocol"`
	Dialect     string   `json:"dialect"`
	URLs        []string `json:"urls"`
	Connections int      `json:"connections"` // requested
	Connected   int      `json:"connected"`
	MessageSize int      `json:"messageSize"`
	Rate        float64  `json:"rate"` // configured; 0 = closed loop

	ConnectSeconds  float64 `json:"connectSeconds"`
	DurationSeconds float64 `json:"durationSeconds"` // measuring phase
	DrainSeconds    float64 `json:"drainSeconds"`

	// Sent counts messages (invocations for echo) that left the senders;
	// Expected the deliveries they should make; Received the deliveries made.
	Sent              int64   `json:"sent"`
	Expected          int64   `json:"expected"`
	Received          int64   `json:"received"`
	SentPerSecond     float64 `json:"sentPerSecond"`
	ReceivedPerSecond float64 `json:"receivedPerSecond"`

	// Exact per-sender counts from sequence numbers.
	Lost          int64 `json:"lost"`
	OutOfOrder    int64 `json:"outOfOrder"`
	Duplicates    int64 `json:"duplicates"`
	Unexpected    int64 `json:"unexpected"`    // delivered to a connection that should not get it
	OtherMessages int64 `json:"otherMessages"` // invocations without a load payload (e.g. chat notices)

	ConnectErrors int64    `json:"connectErrors"`
	Errors        int64    `json:"errors"`
	ErrorSamples  []string `json:"errorSamples,omitempty"`

	// CPU time used during the measuring phase and drain, and per delivery
	// (per invocation for echo, per cycle for storm).
	ServerCPUSeconds          float64 `json:"serverCpuSeconds,omitempty"`
	ServerCPUPerDeliveryMicro float64 `json:"serverCpuPerDeliveryMicros,omitempty"`
	ClientCPUSeconds          float64 `json:"clientCpuSeconds"`
	ClientCPUPerDeliveryMicro float64 `json:"clientCpuPerDeliveryMicros,omitempty"`

	Latency LatencyReport `json:"latency"`
	// CrossNodeLatency covers only deliveries to a connection on another
	// URL than the sender's (connection i uses URLs[i % len(URLs)]); set
	// when there are several URLs (backplane nodes).
	CrossNodeLatency *LatencyReport `json:"crossNodeLatency,omitempty"`
	Memory           *MemoryReport  `json:"memory,omitempty"`
	Storm            *StormReport   `json:"storm,omitempty"`

	// Interrupted is set when the context ended during the measuring phase;
	// the figures cover the run up to then.
	Interrupted bool `json:"interrupted,omitempty"`
	Passed      bool `json:"passed"`
}

// LatencyReport summarizes delivery latency (send timestamp in the payload
// to receipt), the invocation round trip for echo, and connect+handshake+
// echo+close for storm. Resolution is about 6%.
type LatencyReport struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"meanMs"`
	P50Ms  float64 `json:"p50Ms"`
	P90Ms  float64 `json:"p90Ms"`
	P99Ms  float64 `json:"p99Ms"`
	P999Ms float64 `json:"p999Ms"`
	MaxMs  float64 `json:"maxMs"`
}

// MemoryReport is the server memory before connecting and with every
// connection up.
type MemoryReport struct {
	BeforeBytes        uint64 `json:"beforeBytes"`
	AfterBytes         uint64 `json:"afterBytes"`
	PerConnectionBytes uint64 `json:"perConnectionBytes"`
	Source             string `json:"source"`
}

// StormReport counts churn connections (each: connect, handshake, Echo, close).
type StormReport struct {
	Connects          int64   `json:"connects"`
	Failures          int64   `json:"failures"`
	ConnectsPerSecond float64 `json:"connectsPerSecond"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyReport(s *HistSnapshot) LatencyReport {
	return LatencyReport{
		Count:  s.Count(),
		MeanMs: ms(s.Mean()),
		P50Ms:  ms(s.Quantile(0.50)),
		P90Ms:  ms(s.Quantile(0.90)),
		P99Ms:  ms(s.Quantile(0.99)),
		P999Ms: ms(s.Quantile(0.999)),
		MaxMs:  ms(s.Max()),
	}
}

// OK reports whether the run was clean: every connection up, no errors, and
// no lost, reordered, duplicated or misrouted message.
func (r *Report) OK() bool {
	return r.Connected == r.Connections && r.Errors == 0 && r.ConnectErrors == 0 &&
		r.Lost == 0 && r.OutOfOrder == 0 && r.Duplicates == 0 && r.Unexpected == 0 &&
		(r.Storm == nil || r.Storm.Failures == 0)
}

// WriteTable writes a human-readable summary.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, args...)...)
	}
	row("scenario", "%s (%s, %s, %s hub)", r.Scenario, r.Transport, r.Protocol, r.Dialect)
	row("target", "%s", strings.Join(r.URLs, ", "))
	row("connections", "%d/%d connected in %.2fs (%d connect errors)", r.Connected, r.Connections, r.ConnectSeconds, r.ConnectErrors)
	rate := "closed loop"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%g/s", r.Rate)
	}
	row("load", "%s, %d-byte payloads, %.2fs (+%.2fs drain)", rate, r.MessageSize, r.DurationSeconds, r.DrainSeconds)
	row("sent", "%d (%.0f/s)", r.Sent, r.SentPerSecond)
	row("received", "%d of %d expected (%.0f/s)", r.Received, r.Expected, r.ReceivedPerSecond)
	row("lost / out of order / dup", "%d / %d / %d (misrouted %d, other messages %d)", r.Lost, r.OutOfOrder, r.Duplicates, r.Unexpected, r.OtherMessages)
	l := r.Latency
	row("latency", "p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  (n=%d)", l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs, l.Count)
	if c := r.CrossNodeLatency; c != nil {
		row("cross-node latency", "p50 %.3fms  p90 %.3fms  p99 %.3fms  p99.9 %.3fms  max %.3fms  (n=%d)", c.P50Ms, c.P90Ms, c.P99Ms, c.P999Ms, c.MaxMs, c.Count)
	}
	if r.ServerCPUSeconds > 0 || r.ClientCPUSeconds > 0 {
		row("cpu", "server %.2fs (%.2f µs/delivery), load generator %.2fs (%.2f µs/delivery)",
			r.ServerCPUSeconds, r.ServerCPUPerDeliveryMicro, r.ClientCPUSeconds, r.ClientCPUPerDeliveryMicro)
	}
	if m := r.Memory; m != nil {
		row("server memory", "%.1f MiB -> %.1f MiB, %d bytes/connection [%s]", float64(m.BeforeBytes)/(1<<20), float64(m.AfterBytes)/(1<<20), m.PerConnectionBytes, m.Source)
	}
	if s := r.Storm; s != nil {
		row("storm", "%d connect+echo+close cycles (%.1f/s), %d failed", s.Connects, s.ConnectsPerSecond, s.Failures)
	}
	row("errors", "%d", r.Errors)
	for _, e := range r.ErrorSamples {
		row("", "%s", e)
	}
	verdict := "PASS"
	switch {
	case r.Interrupted:
		verdict = "INTERRUPTED"
	case !r.Passed:
		verdict = "FAIL"
	}
	row("result", "%s", verdict)
	return tw.Flush()
}

// progress writes one status line per interval until stop closes.
func (r *runner) progress(stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressInterval)
	defer t.Stop()
	start := time.Now()
	prev := r.lat.Snapshot()
	prevRecv, prevSent := r.received.Load(), r.sent.Load()
	prevT := start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			cur := r.lat.Snapshot()
			iv := cur.Sub(prev)
			recv, sent := r.received.Load(), r.sent.Load()
			secs := now.Sub(prevT).Seconds()
			alive := r.connected.Load() - r.failed.Load()
			phase := "connecting"
			if r.measuring.Load() {
				phase = string(r.cfg.Scenario)
			}
			fmt.Fprintf(r.cfg.Progress, "[%5.1fs] %-10s conns %d/%d  sent %d (%.0f/s)  recv %d (%.0f/s)  p50 %.2fms  p99 %.2fms  ooo %d  errors %d\n",
				now.Sub(start).Seconds(), phase, alive, r.cfg.Connections,
				sent, float64(sent-prevSent)/secs, recv, float64(recv-prevRecv)/secs,
				ms(iv.Quantile(0.5)), ms(iv.Quantile(0.99)), r.outOfOrder.Load(), r.errCount.Load())
			prev, prevRecv, prevSent, prevT = cur, recv, sent, now
		}
	}
}
