package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosignalr/gosignalr/transports"
)

// lconn is one load connection and its receive-side bookkeeping.
type lconn struct {
	idx   int
	c     *Conn
	tr    tracker      // owned by c's reader goroutine until c is closed
	sent  atomic.Int64 // messages sent as a sender; the last sequence number used
	group int
	// window is the closed-loop in-flight semaphore: a sender puts a token in
	// before each send; its reader takes one out when its own copy returns.
	window chan struct{}
	dead   atomic.Bool
}

type runner struct {
	cfg Config
	dc  *dialConfig

	conns     []*lconn // index = connection index; nil when it failed to connect
	connected atomic.Int64
	failed    atomic.Int64 // connections whose reader ended with an error

	sent       atomic.Int64
	received   atomic.Int64
	outOfOrder atomic.Int64 // live count for progress; the exact figure comes from trackers
	other      atomic.Int64 // invocations without a load payload (e.g. ChatServer notices)
	lastRecvNs atomic.Int64
	lat        Histogram
	// crossLat is the latency of deliveries whose receiver is connected to
	// another URL (backplane node) than the sender.
	crossLat Histogram

	errCount   atomic.Int64
	errMu      sync.Mutex
	errSamples []string

	connectErrors  atomic.Int64
	stormConnects  atomic.Int64
	stormFailures  atomic.Int64
	measuring      atomic.Bool
	ownsHTTPClient bool
}

// Run executes one load run as configured and returns its report. It returns
// an error only when the run could not be carried out at all (bad config,
// context cancelled before the measuring phase); lost messages and connection
// errors are in the report, see Report.OK. A context cancelled during the
// measuring phase gives a report marked Interrupted.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	codec, err := c.codec()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: c}
	hc := c.HTTPClient
	if hc == nil {
		hc = newHTTPClient()
		r.ownsHTTPClient = true
		defer hc.CloseIdleConnections()
	}
	r.dc = &dialConfig{http: hc, codec: codec, transport: c.Transport, skipNegotiate: c.SkipNegotiate,
		onFail: func(error) { r.failed.Add(1) }}
	return r.run(ctx)
}

func newHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 1 << 16,
		IdleConnTimeout:     30 * time.Second,
		// Long polls and SSE streams hold requests open for long.
		ResponseHeaderTimeout: 0,
	}}
}

func (r *runner) fail(format string, args ...any) {
	r.errCount.Add(1)
	msg := fmt.Sprintf(format, args...)
	r.cfg.Logger.Debug().Msg(msg)
	r.errMu.Lock()
	if len(r.errSamples) < 10 {
		r.errSamples = append(r.errSamples, msg)
	}
	r.errMu.Unlock()
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	cfg := &r.cfg
	rep := &Report{
		Scenario:    string(cfg.Scenario),
		Transport:   cfg.Transport.String(),
		Protocol:    cfg.Protocol,
		Dialect:     string(cfg.Dialect),
		URLs:        cfg.URLs,
		Connections: cfg.Connections,
		MessageSize: cfg.MessageSize,
		Rate:        cfg.Rate,
	}

	progressDone := make(chan struct{})
	progressStop := make(chan struct{})
	if cfg.Progress != nil {
		go func() {
			defer close(progressDone)
			r.progress(progressStop)
		}()
	} else {
		close(progressDone)
	}
	defer func() {
		close(progressStop)
		<-progressDone
	}()

	var memBefore uint64
	if cfg.Memory != nil && (cfg.Scenario == ScenarioConnect || cfg.Scenario == ScenarioStorm) {
		b, _, err := cfg.Memory(ctx)
		if err != nil {
			return nil, err
		}
		memBefore = b
	}

	connectStart := time.Now()
	r.connectAll(ctx)
	rep.ConnectSeconds = time.Since(connectStart).Seconds()
	rep.Connected = int(r.connected.Load())
	defer r.closeAll()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	if cfg.Memory != nil && (cfg.Scenario == ScenarioConnect || cfg.Scenario == ScenarioStorm) {
		// Let the server finish per-connection setup before sampling.
		if !sleepCtx(ctx, cfg.Settle) {
			return nil, ctx.Err()
		}
		after, source, err := cfg.Memory(ctx)
		if err != nil {
			return nil, err
		}
		rep.Memory = &MemoryReport{BeforeBytes: memBefore, AfterBytes: after, Source: source}
		if rep.Connected > 0 && after > memBefore {
			rep.Memory.PerConnectionBytes = (after - memBefore) / uint64(rep.Connected)
		}
	}

	switch cfg.Scenario {
	case ScenarioGroup:
		r.joinGroups(ctx) // a completed JoinGroup also proves the connection is registered
	case ScenarioBroadcast, ScenarioConnection:
		r.readyCheck(ctx)
	}

	pinger := r.startPinger()
	var serverCPU0 float64
	if cfg.ServerCPU != nil {
		v, err := cfg.ServerCPU(ctx)
		if err != nil {
			pinger()
			return nil, err
		}
		serverCPU0 = v
	}
	clientCPU0 := processCPUSeconds()
	measureStart := time.Now()
	r.measuring.Store(true)
	mctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	var expected int64
	switch cfg.Scenario {
	case ScenarioConnect:
		<-mctx.Done()
	case ScenarioEcho:
		r.echo(mctx)
	case ScenarioBroadcast, ScenarioGroup, ScenarioConnection:
		r.sendLoad(mctx)
	case ScenarioStorm:
		r.storm(mctx)
	}
	cancel()
	sendEnd := time.Now()
	rep.DurationSeconds = sendEnd.Sub(measureStart).Seconds()
	// Interrupted while measuring: still account for what happened so far.
	rep.Interrupted = ctx.Err() != nil
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer pcancel()

	// Wait for what is still in flight.
	// Wait for what is still in flight: until everything arrived, or
	// nothing more arrived for cfg.Drain (an overloaded server that is still
	// delivering is slow, not lossy).
	expected = r.expected()
	lastCount, lastProgress := r.received.Load(), time.Now()
	for lastCount < expected {
		if !sleepCtx(ctx, 5*time.Millisecond) {
			break
		}
		if c := r.received.Load(); c != lastCount {
			lastCount, lastProgress = c, time.Now()
		} else if time.Since(lastProgress) > cfg.Drain {
			break
		}
	}
	r.measuring.Store(false)
	pinger()
	rep.DrainSeconds = time.Since(sendEnd).Seconds()
	rep.ClientCPUSeconds = processCPUSeconds() - clientCPU0
	if cfg.ServerCPU != nil {
		v, err := cfg.ServerCPU(pctx)
		if err != nil {
			r.fail("server cpu: %v", err)
		} else {
			rep.ServerCPUSeconds = v - serverCPU0
		}
	}

	// Connections that died during the run are errors; then close the rest
	// so trackers can be read.
	for _, lc := range r.conns {
		if lc != nil && lc.c.Err() != nil {
			r.fail("connection %d ended early: %v", lc.idx, lc.c.Err())
			lc.dead.Store(true)
		}
	}
	r.closeAll()

	rep.Sent = r.sent.Load()
	rep.Received = r.received.Load()
	rep.Expected = expected
	rep.OtherMessages = r.other.Load()
	r.account(rep)
	rep.ConnectErrors = r.connectErrors.Load()
	rep.Errors = r.errCount.Load()
	rep.ErrorSamples = r.errSamples
	if rep.DurationSeconds > 0 {
		rep.SentPerSecond = float64(rep.Sent) / rep.DurationSeconds
	}
	// Deliveries per second: from the start of sending to the last delivery.
	if last := r.lastRecvNs.Load(); last > 0 && rep.Received > 0 {
		span := time.Unix(0, last).Sub(measureStart).Seconds()
		if span < rep.DurationSeconds {
			span = rep.DurationSeconds
		}
		rep.ReceivedPerSecond = float64(rep.Received) / span
	}
	rep.Latency = latencyReport(r.lat.Snapshot())
	if len(r.cfg.URLs) > 1 {
		cl := latencyReport(r.crossLat.Snapshot())
		rep.CrossNodeLatency = &cl
	}
	units := rep.Received
	if cfg.Scenario == ScenarioStorm {
		rep.Storm = &StormReport{Connects: r.stormConnects.Load(), Failures: r.stormFailures.Load()}
		if rep.DurationSeconds > 0 {
			rep.Storm.ConnectsPerSecond = float64(rep.Storm.Connects) / rep.DurationSeconds
		}
		units = rep.Storm.Connects
	}
	if units > 0 {
		rep.ServerCPUPerDeliveryMicro = rep.ServerCPUSeconds / float64(units) * 1e6
		rep.ClientCPUPerDeliveryMicro = rep.ClientCPUSeconds / float64(units) * 1e6
	}
	rep.Passed = rep.OK() && !rep.Interrupted
	return rep, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connectAll opens cfg.Connections connections, ramped and bounded.
func (r *runner) connectAll(ctx context.Context) {
	cfg := &r.cfg
	r.conns = make([]*lconn, cfg.Connections)
	sem := make(chan struct{}, cfg.DialConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < cfg.Connections; i++ {
		if cfg.RampRate > 0 {
			at := start.Add(time.Duration(float64(i) / cfg.RampRate * float64(time.Second)))
			if d := time.Until(at); d > 0 && !sleepCtx(ctx, d) {
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			lc, err := r.open(ctx, i)
			if err != nil {
				r.connectErrors.Add(1)
				r.fail("connect %d: %v", i, err)
				return
			}
			r.conns[i] = lc
			r.connected.Add(1)
		}(i)
	}
	wg.Wait()
}

func (r *runner) open(ctx context.Context, i int) (*lconn, error) {
	lc := &lconn{idx: i, group: i / r.cfg.GroupSize}
	if r.cfg.Scenario == ScenarioBroadcast || r.cfg.Scenario == ScenarioGroup {
		lc.window = make(chan struct{}, r.cfg.Window)
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := r.cfg.URLs[i%len(r.cfg.URLs)]
	c, err := dial(dctx, r.dc, u, func(arg []byte, rec *record) { r.onMessage(lc, arg) })
	if err != nil {
		return nil, err
	}
	lc.c = c
	return lc, nil
}

// onMessage runs on lc's reader goroutine for every Invocation it receives.
func (r *runner) onMessage(lc *lconn, arg []byte) {
	p, err := ParsePayload(arg)
	if err != nil {
		r.other.Add(1)
		return
	}
	now := time.Now().UnixNano()
	r.lat.Record(time.Duration(now - p.SentNs))
	if n := len(r.cfg.URLs); n > 1 && p.Sender >= 0 && p.Sender%n != lc.idx%n {
		r.crossLat.Record(time.Duration(now - p.SentNs))
	}
	r.received.Add(1)
	r.lastRecvNs.Store(now)
	if !r.isRecipient(lc, p.Sender) {
		lc.tr.unexpected++
		return
	}
	if !lc.tr.state(p.Sender).observe(p.Seq) {
		r.outOfOrder.Add(1)
	}
	if p.Sender == lc.idx && lc.window != nil {
		select {
		case <-lc.window:
		default:
		}
	}
}

// isRecipient reports whether lc should receive messages from sender.
func (r *runner) isRecipient(lc *lconn, sender int) bool {
	switch r.cfg.Scenario {
	case ScenarioBroadcast:
		return sender >= 0 && sender < r.cfg.Connections
	case ScenarioGroup:
		return sender >= 0 && sender/r.cfg.GroupSize == lc.group
	case ScenarioConnection:
		return sender == r.predecessor(lc.idx)
	}
	return false
}

// ring is the connected connections in index order (the connection scenario's
// send ring skips those that failed to connect).
func (r *runner) ring() []*lconn {
	var out []*lconn
	for _, lc := range r.conns {
		if lc != nil {
			out = append(out, lc)
		}
	}
	return out
}

func (r *runner) predecessor(idx int) int {
	n := len(r.conns)
	for k := 1; k < n; k++ {
		j := (idx - k + n) % n
		if r.conns[j] != nil {
			return j
		}
	}
	return -1
}

func (r *runner) successor(idx int) *lconn {
	n := len(r.conns)
	for k := 1; k < n; k++ {
		if lc := r.conns[(idx+k)%n]; lc != nil {
			return lc
		}
	}
	return nil
}

func (r *runner) joinGroups(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	for _, lc := range r.conns {
		if lc == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(lc *lconn) {
			defer wg.Done()
			defer func() { <-sem }()
			ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if _, err := lc.c.invoke(ictx, "JoinGroup", []byte(groupName(lc.group))); err != nil {
				r.fail("connection %d: JoinGroup: %v", lc.idx, err)
			}
		}(lc)
	}
	wg.Wait()
}

// readyCheck completes one invocation on every connection before load
// starts. A server may answer the handshake before it registers the
// connection for fan-out (ASP.NET does), so a message sent right after the
// handshake can legitimately miss a brand-new connection; a completed
// invocation proves the connection's message loop, which runs after
// registration. Any completion counts, so the chat hub's "method does not
// exist" error is as good as the bench hub's echo.
func (r *runner) readyCheck(ctx context.Context) {
	target := "Echo"
	if r.cfg.Dialect == DialectChat {
		target = "LoadgenReadyCheck"
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	for _, lc := range r.conns {
		if lc == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(lc *lconn) {
			defer wg.Done()
			defer func() { <-sem }()
			ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if _, err := lc.c.invoke(ictx, target, []byte("ready")); err != nil && !errors.Is(err, errInvocationFailed) {
				r.fail("connection %d: ready check: %v", lc.idx, err)
			}
		}(lc)
	}
	wg.Wait()
}

func groupName(g int) string { return "lg-" + strconv.Itoa(g) }

// senders lists the sending connections of a message scenario.
func (r *runner) senders() []*lconn {
	var out []*lconn
	switch r.cfg.Scenario {
	case ScenarioBroadcast:
		for _, lc := range r.conns {
			if lc != nil && len(out) < r.cfg.Senders {
				out = append(out, lc)
			}
		}
	case ScenarioGroup:
		// The first connected member of each group sends.
		seen := map[int]bool{}
		for _, lc := range r.conns {
			if lc != nil && !seen[lc.group] {
				seen[lc.group] = true
				out = append(out, lc)
			}
		}
	case ScenarioConnection:
		out = r.ring()
	}
	return out
}

// sendLoad drives broadcast, group and connection: each sender sends its
// share of Rate (or closed loop) until ctx ends.
func (r *runner) sendLoad(ctx context.Context) {
	senders := r.senders()
	if len(senders) == 0 {
		<-ctx.Done()
		return
	}
	rate := r.cfg.Rate
	if rate == 0 && r.cfg.Scenario == ScenarioConnection {
		rate = 10 * float64(len(senders))
	}
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(len(senders)) / rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for k, lc := range senders {
		wg.Add(1)
		go func(k int, lc *lconn) {
			defer wg.Done()
			// Spread the senders' phases over one interval.
			var offset time.Duration
			if interval > 0 {
				offset = interval * time.Duration(k) / time.Duration(len(senders))
			}
			r.senderLoop(ctx, lc, interval, offset)
		}(k, lc)
	}
	wg.Wait()
}

func (r *runner) senderLoop(ctx context.Context, lc *lconn, interval, offset time.Duration) {
	var target string
	var to []byte
	switch {
	case r.cfg.Scenario == ScenarioBroadcast && r.cfg.Dialect == DialectChat:
		target = "SendMessage"
	case r.cfg.Scenario == ScenarioBroadcast:
		target = "Broadcast"
	case r.cfg.Scenario == ScenarioGroup && r.cfg.Dialect == DialectChat:
		target = "SendMessageToGroup"
		to = []byte(groupName(lc.group))
	case r.cfg.Scenario == ScenarioGroup:
		target = "SendToGroup"
		to = []byte(groupName(lc.group))
	case r.cfg.Scenario == ScenarioConnection:
		target = "SendToConnection"
		next := r.successor(lc.idx)
		if next == nil {
			return
		}
		to = []byte(next.c.id)
	}
	user := []byte("lg" + strconv.Itoa(lc.idx))
	var payload []byte
	start := time.Now().Add(offset)
	for n := int64(0); ; n++ {
		if interval > 0 {
			if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 && !sleepCtx(ctx, d) {
				return
			}
		} else {
			select {
			case lc.window <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		seq := lc.sent.Load() + 1
		payload = AppendPayload(payload[:0], Payload{Sender: lc.idx, Seq: seq, SentNs: time.Now().UnixNano()}, r.cfg.MessageSize)
		var err error
		switch {
		case r.cfg.Dialect == DialectChat && to == nil:
			err = lc.c.send(target, user, payload)
		case r.cfg.Dialect == DialectChat:
			err = lc.c.send(target, to, user, payload)
		case to == nil:
			err = lc.c.send(target, payload)
		default:
			err = lc.c.send(target, to, payload)
		}
		if err != nil {
			// The message may or may not have left: count it as sent, so a
			// late delivery is never "unexpected"; the run fails anyway.
			lc.sent.Store(seq)
			r.sent.Add(1)
			r.fail("connection %d: send: %v", lc.idx, err)
			return
		}
		lc.sent.Store(seq)
		r.sent.Add(1)
	}
}

// expected is the number of deliveries the senders' messages should make.
func (r *runner) expected() int64 {
	var total int64
	switch r.cfg.Scenario {
	case ScenarioBroadcast:
		n := r.connected.Load()
		for _, s := range r.senders() {
			total += s.sent.Load() * n
		}
	case ScenarioGroup:
		members := map[int]int64{}
		for _, lc := range r.conns {
			if lc != nil {
				members[lc.group]++
			}
		}
		for _, s := range r.senders() {
			total += s.sent.Load() * members[s.group]
		}
	case ScenarioConnection:
		for _, s := range r.senders() {
			total += s.sent.Load()
		}
	case ScenarioEcho:
		total = r.sent.Load()
	}
	return total
}

// account computes exact loss, reordering and duplicates from the trackers.
// Connections must be closed (readers stopped).
func (r *runner) account(rep *Report) {
	if r.cfg.Scenario == ScenarioEcho || r.cfg.Scenario == ScenarioConnect || r.cfg.Scenario == ScenarioStorm {
		rep.Lost = rep.Expected - rep.Received
		if rep.Lost < 0 {
			rep.Lost = 0
		}
		return
	}
	senders := r.senders()
	groupSender := map[int]*lconn{}
	for _, s := range senders {
		groupSender[s.group] = s
	}
	for _, lc := range r.conns {
		if lc == nil {
			continue
		}
		rep.Unexpected += lc.tr.unexpected
		// The senders this connection should hear from.
		from := senders
		switch r.cfg.Scenario {
		case ScenarioGroup:
			from = nil
			if s := groupSender[lc.group]; s != nil {
				from = []*lconn{s}
			}
		case ScenarioConnection:
			from = nil
			if p := r.predecessor(lc.idx); p >= 0 {
				from = []*lconn{r.conns[p]}
			}
		}
		for _, s := range from {
			st := lc.tr.bySender[s.idx]
			if st == nil {
				rep.Lost += s.sent.Load()
				continue
			}
			rep.Lost += st.lost(s.sent.Load())
			rep.OutOfOrder += st.reorder
			rep.Duplicates += st.dup
		}
	}
}

// echo runs a closed loop (or Rate-paced loop) of Echo invocations on every
// connection and checks each result.
func (r *runner) echo(ctx context.Context) {
	conns := r.ring()
	var interval time.Duration
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(len(conns)) / r.cfg.Rate * float64(time.Second))
	}
	var wg sync.WaitGroup
	for _, lc := range conns {
		wg.Add(1)
		go func(lc *lconn) {
			defer wg.Done()
			var payload []byte
			start := time.Now()
			for n := int64(0); ctx.Err() == nil; n++ {
				if interval > 0 {
					if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 && !sleepCtx(ctx, d) {
						return
					}
				}
				seq := lc.sent.Load() + 1
				t0 := time.Now()
				payload = AppendPayload(payload[:0], Payload{Sender: lc.idx, Seq: seq, SentNs: t0.UnixNano()}, r.cfg.MessageSize)
				res, err := lc.c.invoke(ctx, "Echo", payload)
				if err != nil {
					if ctx.Err() != nil {
						// The invocation was cut off by the end of the run: it
						// does not count either way.
						return
					}
					r.fail("connection %d: Echo: %v", lc.idx, err)
					return
				}
				lc.sent.Store(seq)
				r.sent.Add(1)
				if !bytes.Equal(res, payload) {
					r.fail("connection %d: Echo returned %.60q, want %.60q", lc.idx, res, payload)
					continue
				}
				now := time.Now()
				r.lat.Record(now.Sub(t0))
				r.received.Add(1)
				r.lastRecvNs.Store(now.UnixNano())
			}
		}(lc)
	}
	wg.Wait()
}

// storm opens and closes connections at Rate per second (each one also
// completes an Echo with the bench hub) while the idle ones stay connected.
func (r *runner) storm(ctx context.Context) {
	rate := r.cfg.Rate
	if rate == 0 {
		rate = 50
	}
	interval := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, r.cfg.DialConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for n := 0; ; n++ {
		if d := time.Until(start.Add(time.Duration(n) * interval)); d > 0 && !sleepCtx(ctx, d) {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			defer func() { <-sem }()
			// Storm connections finish even when the phase ends meanwhile.
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			t0 := time.Now()
			idx := r.cfg.Connections + n
			c, err := dial(sctx, r.dc, r.cfg.URLs[idx%len(r.cfg.URLs)], nil)
			if err != nil {
				r.stormFailures.Add(1)
				r.fail("storm connect: %v", err)
				return
			}
			if r.cfg.Dialect == DialectBench {
				p := AppendPayload(nil, Payload{Sender: idx, Seq: 1, SentNs: t0.UnixNano()}, r.cfg.MessageSize)
				res, err := c.invoke(sctx, "Echo", p)
				if err != nil || !bytes.Equal(res, p) {
					r.stormFailures.Add(1)
					r.fail("storm echo: %v (result %.40q)", err, res)
					_ = c.Close()
					return
				}
			}
			if err := c.Close(); err != nil {
				r.stormFailures.Add(1)
				r.fail("storm close: %v", err)
				return
			}
			r.lat.Record(time.Since(t0))
			r.stormConnects.Add(1)
		}(n)
	}
	wg.Wait()
}

// startPinger sends Pings on every connection each PingInterval (not over
// Long Polling, which has inherent keep-alive). The returned func stops it.
func (r *runner) startPinger() func() {
	if r.cfg.PingInterval < 0 || r.cfg.Transport == transports.LongPolling {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.PingInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			for _, lc := range r.conns {
				if lc == nil || lc.c.Err() != nil {
					continue
				}
				_ = lc.c.ping()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(stop); <-done }) }
}

// closeAll closes every connection (idempotent), a bounded number at a time.
func (r *runner) closeAll() {
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for _, lc := range r.conns {
		if lc == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(lc *lconn) {
			defer wg.Done()
			defer func() { <-sem }()
			if err := lc.c.Close(); err != nil && !lc.dead.Swap(true) {
				r.fail("connection %d: %v", lc.idx, err)
			}
		}(lc)
	}
	wg.Wait()
}
