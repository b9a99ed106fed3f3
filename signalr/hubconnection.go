package signalr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// ErrConnectionClosed is returned by HubConnection.Write once the connection
// is closing or closed.
var ErrConnectionClosed = errors.New("signalr: connection closed")

// ErrSlowConsumer is returned by HubConnection.Write when the connection's
// outbound queue is full; the connection is then aborted.
var ErrSlowConsumer = errors.New("signalr: outbound queue full, slow consumer disconnected")

// maxBatchBytes caps how many queued bytes the writer joins into one
// transport send, so one frame never grows without bound.
const maxBatchBytes = 64 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// HubConnection is one client connection after its handshake, as lifetime
// managers and hub code see it. It owns one writer goroutine fed by a bounded
// queue: Write never blocks, and the writer sends everything queued in one
// transport send (records are never split).
type HubConnection struct {
	id      string
	pname   string // protocol name, to reuse one encoding across a broadcast
	userID  string
	user    *Principal
	conn    transports.Conn
	proto   protocol.HubProtocol
	request *http.Request
	log     zerolog.Logger
	obs     Observer // nil: no metrics
	items   sync.Map

	// ctx ends when the connection ends; hub code and client-result waits use it.
	ctx    context.Context
	cancel context.CancelFunc

	// Abort: the first reason wins and stops the read loop.
	abortOnce      sync.Once
	abortErr       error
	allowReconnect bool
	readCtx        context.Context
	readCancel     context.CancelFunc

	// Outbound queue, drained by writeLoop. The fields every enqueue
	// touches come first, within one cache line: a broadcast touches them
	// on every recipient.
	qmu      sync.Mutex
	qclosed  bool
	qtypes   bool // keep qt: there is an Observer
	qmax     int
	q        [][]byte
	wake     chan struct{} // cap 1: "the queue has something"
	qt       []uint8       // message types of q, kept only with an Observer
	spare    [][]byte
	spareT   []uint8
	space    chan struct{} // cap 1: "the writer drained a batch"
	wdone    chan struct{} // closed when writeLoop returns
	wcancel  context.CancelFunc
	wctx     context.Context
	ping     []byte
	keepAliv time.Duration
	final    []byte        // the Close message, sent after the queue drains
	replay   *replayBuffer // non-nil with stateful reconnect

	// Group membership, maintained by DefaultHubLifetimeManager.
	groupsMu sync.Mutex
	groups   map[string]struct{}
	removed  bool

	// Client results awaiting a Completion, keyed by invocation id.
	pendMu  sync.Mutex
	pending map[string]chan *protocol.Completion
	pendEnd bool

	// Client timeout state.
	lastRecv  atomic.Int64 // unix nanos of the last received chunk
	suspended atomic.Bool  // reading is paused for the invocation limit
	timeout   atomic.Pointer[time.Timer]
}

// newHubConnection builds the connection and its contexts; the writer is
// started separately so a connection can exist in tests without one.
func newHubConnection(parent context.Context, tc transports.Conn, proto protocol.HubProtocol, opts *Options) *HubConnection {
	ctx, cancel := context.WithCancel(parent)
	wctx, wcancel := context.WithCancel(context.Background())
	c := &HubConnection{
		id:      tc.ID(),
		conn:    tc,
		proto:   proto,
		pname:   proto.Name(),
		request: tc.Request(),
		// No per-connection Logger.With: its context buffer cost ~0.75 KiB
		// per idle connection; each event adds connectionId itself.
		log:     opts.Logger,
		obs:     opts.Observer,
		qtypes:  opts.Observer != nil,
		ctx:     ctx,
		cancel:  cancel,
		qmax:    opts.OutboundQueueSize,
		wake:    make(chan struct{}, 1),
		space:   make(chan struct{}, 1),
		wdone:   make(chan struct{}),
		wctx:    wctx,
		wcancel: wcancel,
	}
	c.readCtx, c.readCancel = context.WithCancel(ctx)
	if c.request != nil {
		c.user = PrincipalFromContext(c.request.Context())
	}
	c.userID = opts.UserIdentifier(c.request)
	if !tc.InherentKeepAlive() && opts.KeepAliveInterval > 0 {
		c.keepAliv = opts.KeepAliveInterval
		c.ping, _ = proto.AppendMessage(nil, &protocol.Ping{})
	}
	return c
}

// ID is the connection id (Context.ConnectionId in .NET).
func (c *HubConnection) ID() string { return c.id }

// UserIdentifier is the user id used by Clients.User ("" when anonymous).
func (c *HubConnection) UserIdentifier() string { return c.userID }

// User is the authenticated user, nil when anonymous.
func (c *HubConnection) User() *Principal { return c.user }

// Protocol is the hub protocol chosen at handshake.
func (c *HubConnection) Protocol() protocol.HubProtocol { return c.proto }

// Context is done when the connection ends.
func (c *HubConnection) Context() context.Context { return c.ctx }

// Transport is the transport serving the connection.
func (c *HubConnection) Transport() transports.TransportType { return c.conn.Transport() }

// Request is the HTTP request that started the connection.
func (c *HubConnection) Request() *http.Request { return c.request }

// Items holds per-connection state for hub code.
func (c *HubConnection) Items() *sync.Map { return &c.items }

// Abort ends the connection without allowing the client to reconnect
// automatically, like .NET's HubConnectionContext.Abort.
func (c *HubConnection) Abort() { c.abort(nil, false) }

// abort records why the connection ends (first call wins) and stops reading.
func (c *HubConnection) abort(err error, allowReconnect bool) {
	c.abortOnce.Do(func() {
		c.abortErr = err
		c.allowReconnect = allowReconnect
		c.readCancel()
	})
}

// Write queues m for the connection's writer without blocking. A full queue
// marks the client a slow consumer: the connection is aborted and
// ErrSlowConsumer returned. Messages from one caller are delivered in order.
func (c *HubConnection) Write(m *SerializedMessage) error {
	b, err := m.Bytes(c.proto)
	if err != nil {
		return fmt.Errorf("signalr: encode message for %s: %w", c.proto.Name(), err)
	}
	return c.enqueue(b, m.typ)
}

func (c *HubConnection) enqueue(b []byte, t protocol.MessageType) error {
	c.qmu.Lock()
	if c.qclosed {
		c.qmu.Unlock()
		return ErrConnectionClosed
	}
	if len(c.q) >= c.qmax {
		// Slow consumer: what is queued will never be wanted; drop it so the
		// Close message goes out promptly.
		clear(c.q)
		c.q = c.q[:0]
		c.qt = c.qt[:0]
		c.qclosed = true
		c.qmu.Unlock()
		c.log.Warn().Str("connectionId", c.id).Int("queued", c.qmax).Msg("slow consumer: outbound queue full, disconnecting")
		if c.obs != nil {
			c.obs.SlowConsumerDisconnect()
		}
		c.abort(ErrSlowConsumer, true)
		return ErrSlowConsumer
	}
	c.q = append(c.q, b)
	if c.qtypes {
		// A parallel slice rather than a wider queue element: without an
		// Observer the queue stays as compact as it was.
		c.qt = append(c.qt, uint8(t))
	}
	first := len(c.q) == 1
	c.qmu.Unlock()
	// Only the message that makes the queue non-empty wakes the writer; it
	// takes everything queued up to its swap, so later ones ride along.
	if first {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// enqueueWait queues b, waiting while the queue is more than half full. The
// connection's own replies (completions, stream items) use it: they get
// back-pressure instead of tripping the slow-consumer limit, and the other
// half of the queue stays free for broadcasts.
func (c *HubConnection) enqueueWait(ctx context.Context, b []byte, t protocol.MessageType) error {
	for {
		c.qmu.Lock()
		if c.qclosed {
			c.qmu.Unlock()
			return ErrConnectionClosed
		}
		if len(c.q) < c.qmax/2+1 {
			c.q = append(c.q, b)
			if c.qtypes {
				c.qt = append(c.qt, uint8(t))
			}
			first := len(c.q) == 1
			c.qmu.Unlock()
			if first {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
			return nil
		}
		c.qmu.Unlock()
		select {
		case <-c.space:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.wdone:
			return ErrConnectionClosed
		}
	}
}

// writeMessage encodes msg for this connection and queues it with back-pressure.
func (c *HubConnection) writeMessage(ctx context.Context, msg protocol.HubMessage) error {
	b, err := c.proto.AppendMessage(nil, msg)
	if err != nil {
		return err
	}
	return c.enqueueWait(ctx, b, msg.MessageType())
}

func (c *HubConnection) startWriter() { go c.writeLoop() }

// writeLoop is the connection's only sender. It also sends keep-alive Pings
// after KeepAliveInterval of outbound silence and, with stateful reconnect,
// Acks and the replay after a reconnect.
func (c *HubConnection) writeLoop() {
	defer close(c.wdone)
	var tick <-chan time.Time
	var timer *time.Timer
	if c.keepAliv > 0 {
		timer = time.NewTimer(c.keepAliv)
		defer timer.Stop()
		tick = timer.C
	}
	var reconnect <-chan struct{}
	var ackTicker *time.Ticker
	var ackC <-chan time.Time
	if c.replay != nil {
		reconnect = c.replay.reconnect
		ackTicker = time.NewTicker(statefulAckInterval)
		defer ackTicker.Stop()
		ackC = ackTicker.C
	}
	lastSend := time.Now()
	for {
		select {
		case <-c.wake:
		case <-tick:
			idle := time.Since(lastSend)
			if idle >= c.keepAliv {
				if err := c.send(c.ping); err != nil {
					c.writeFailed(err)
					return
				}
				if c.obs != nil {
					c.obs.MessageSent(msgTypeNames[protocol.TypePing], 1)
				}
				lastSend = time.Now()
				idle = 0
			}
			timer.Reset(c.keepAliv - idle)
			continue
		case <-ackC:
			if err := c.sendAck(); err != nil {
				c.writeFailed(err)
				return
			}
			continue
		case <-reconnect:
			if err := c.replayAll(); err != nil {
				c.writeFailed(err)
				return
			}
			lastSend = time.Now()
			continue
		case <-c.wctx.Done():
			return
		}
		for {
			// Swap the queue with the spare slice: senders fill one while
			// this goroutine sends the other.
			c.qmu.Lock()
			batch, types := c.q, c.qt
			if len(batch) > 0 {
				c.q, c.qt = c.spare, c.spareT
			}
			closed := c.qclosed
			final := c.final
			c.qmu.Unlock()
			if len(batch) == 0 {
				if closed {
					if final != nil && c.send(final) == nil && c.obs != nil {
						c.obs.MessageSent(msgTypeNames[protocol.TypeClose], 1)
					}
					return
				}
				break
			}
			var err error
			if c.replay != nil {
				err = c.track(batch, types)
			}
			if err == nil {
				err = c.sendRecords(batch)
			}
			if err == nil && c.obs != nil {
				c.countSent(types)
			}
			clear(batch)
			c.spare, c.spareT = batch[:0], types[:0]
			select {
			case c.space <- struct{}{}:
			default:
			}
			if err != nil {
				c.writeFailed(err)
				return
			}
			lastSend = time.Now()
		}
	}
}

// track adds sent records to the replay buffer (stateful reconnect).
func (c *HubConnection) track(batch [][]byte, types []uint8) error {
	for i, b := range batch {
		var t uint8
		if i < len(types) {
			t = types[i]
		}
		if err := c.replay.add(c.wctx, b, t); err != nil {
			return err
		}
	}
	return nil
}

// errReplayFull ends a stateful connection whose client acknowledged nothing
// for replayWaitLimit while the replay buffer was full: waiting longer could
// deadlock (the Ack may sit unread behind an invocation that waits for this
// writer), so the connection fails instead.
var errReplayFull = newException("InvalidOperationException", "The client did not acknowledge messages in time; the stateful reconnect buffer is full.")

const replayWaitLimit = 30 * time.Second

// sendRecords joins records into as few transport sends as the batch cap
// allows. A single record goes out as is, without a copy.
func (c *HubConnection) sendRecords(batch [][]byte) error {
	if len(batch) == 1 {
		return c.send(batch[0])
	}
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= 4*maxBatchBytes {
			*bp = buf[:0]
			batchPool.Put(bp)
		}
	}()
	for _, b := range batch {
		if len(buf) > 0 && len(buf)+len(b) > maxBatchBytes {
			if err := c.send(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		buf = append(buf, b...)
	}
	return c.send(buf)
}

// send is the writer's transport send; it counts the bytes for Observer.
func (c *HubConnection) send(b []byte) error {
	if err := c.conn.Send(c.wctx, b); err != nil {
		return err
	}
	if c.obs != nil {
		c.obs.BytesOut(len(b))
	}
	return nil
}

// countSent reports a sent batch's message types to Observer, one call per
// type.
func (c *HubConnection) countSent(types []uint8) {
	var n typeCounts
	for _, t := range types {
		n.add(protocol.MessageType(t))
	}
	n.report(c.obs)
}

func (c *HubConnection) writeFailed(err error) {
	c.qmu.Lock()
	c.qclosed = true
	clear(c.q)
	c.q = c.q[:0]
	c.qt = c.qt[:0]
	c.qmu.Unlock()
	if c.wctx.Err() == nil {
		c.log.Debug().Str("connectionId", c.id).Err(err).Msg("send failed")
	}
	c.abort(fmt.Errorf("signalr: send: %w", err), true)
}

// closeWriter refuses further writes, lets the writer send what is queued
// and then final (the Close message, may be nil), and waits up to timeout
// for it to finish.
func (c *HubConnection) closeWriter(final []byte, timeout time.Duration) {
	c.qmu.Lock()
	c.final = final
	c.qclosed = true
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.wdone:
	case <-t.C:
		c.log.Debug().Str("connectionId", c.id).Msg("close flush timed out")
	}
	c.wcancel()
	<-c.wdone
}

// Client results: pending server-to-client invocations of this connection.

func (c *HubConnection) addPending(id string) (chan *protocol.Completion, bool) {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	if c.pendEnd {
		return nil, false
	}
	if c.pending == nil {
		c.pending = make(map[string]chan *protocol.Completion)
	}
	ch := make(chan *protocol.Completion, 1)
	c.pending[id] = ch
	return ch, true
}

func (c *HubConnection) removePending(id string) {
	c.pendMu.Lock()
	delete(c.pending, id)
	c.pendMu.Unlock()
}

func (c *HubConnection) completePending(m *protocol.Completion) bool {
	c.pendMu.Lock()
	ch, ok := c.pending[m.InvocationID]
	delete(c.pending, m.InvocationID)
	c.pendMu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

func (c *HubConnection) endPending() {
	c.pendMu.Lock()
	c.pendEnd = true
	c.pendMu.Unlock()
}

// Client timeout: armed at the client's first Ping, checked lazily so a
// received chunk costs one atomic store, not a timer reset.

func (c *HubConnection) touch() { c.lastRecv.Store(time.Now().UnixNano()) }

func (c *HubConnection) armClientTimeout(d time.Duration) {
	if c.timeout.Load() != nil || d <= 0 || c.conn.InherentKeepAlive() {
		return
	}
	t := time.AfterFunc(time.Duration(1<<62), func() { c.checkClientTimeout(d) })
	c.timeout.Store(t)
	t.Reset(d)
}

func (c *HubConnection) checkClientTimeout(d time.Duration) {
	if c.ctx.Err() != nil {
		return
	}
	t := c.timeout.Load()
	if c.suspended.Load() {
		t.Reset(d)
		return
	}
	idle := time.Duration(time.Now().UnixNano() - c.lastRecv.Load())
	if idle >= d {
		c.abort(newException("OperationCanceledException",
			"Client hasn't sent a message/ping within the configured ClientTimeoutInterval."), true)
		return
	}
	t.Reset(d - idle)
}

func (c *HubConnection) stopClientTimeout() {
	if t := c.timeout.Load(); t != nil {
		t.Stop()
	}
}
