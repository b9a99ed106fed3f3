package signalr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// HubBinder is an optional interface of a HubLifetimeManager that wants to
// know the hub it serves (a backplane needs the hub name for its channel and
// the protocols to pre-serialize messages). It is called once, when the
// handler is built.
type HubBinder interface {
	BindHub(info HubInfo) error
}

// HubInfo describes the hub a lifetime manager serves.
type HubInfo struct {
	Name      string
	Protocols []protocol.HubProtocol
	Logger    zerolog.Logger
}

// ConnectionHandler runs the SignalR hub protocol over transport connections:
// handshake, message loop, keep-alive, dispatch to hub methods, and the
// Close rules. It is the transports.Handler that a Server mounts; use it
// directly to serve a hub over a custom transport.
type ConnectionHandler struct {
	opts   Options
	hub    *hubDescriptor
	lm     HubLifetimeManager
	log    zerolog.Logger
	hubCtx *HubContext

	mu      sync.Mutex
	live    map[*HubConnection]struct{}
	closing bool
	active  sync.WaitGroup // ServeConn calls in flight
	count   atomic.Int64
}

var _ transports.Handler = (*ConnectionHandler)(nil)

// NewConnectionHandler describes hub by reflection and prepares to serve it.
// Hub methods are the exported methods of hub (one shared value: it must be
// safe for concurrent use), matched case-insensitively. A method may take a
// *Context first, then its arguments; it may return nothing, error, T or
// (T, error). A T that is a receive channel, iter.Seq[E] or
// iter.Seq2[E, error] makes a server-to-client stream; channel parameters
// receive client-to-server streams. OnConnected(*Context) error and
// OnDisconnected(*Context, error) error are lifecycle hooks, not hub methods.
//
// A Context is cancelled when its connection ends (and a server stream's
// when the client cancels it); hub methods and stream producers must return
// then, because a connection ends only once all of them have. The Context of
// OnDisconnected is never cancelled, so the hook can still send to others.
func NewConnectionHandler(hub any, opts Options) (*ConnectionHandler, error) {
	d, err := describeHub(hub, opts.HubName)
	if err != nil {
		return nil, err
	}
	opts.HubName = d.name
	opts = opts.withDefaults()
	h := &ConnectionHandler{
		opts:   opts,
		hub:    d,
		lm:     opts.LifetimeManager,
		log:    opts.Logger,
		hubCtx: NewHubContext(opts.LifetimeManager),
		live:   make(map[*HubConnection]struct{}),
	}
	if b, ok := h.lm.(HubBinder); ok {
		if err := b.BindHub(HubInfo{Name: d.name, Protocols: opts.Protocols, Logger: opts.Logger}); err != nil {
			return nil, fmt.Errorf("signalr: bind lifetime manager to hub %s: %w", d.name, err)
		}
	}
	return h, nil
}

// HubContext sends to clients from outside hub methods.
func (h *ConnectionHandler) HubContext() *HubContext { return h.hubCtx }

// LifetimeManager is the lifetime manager in use.
func (h *ConnectionHandler) LifetimeManager() HubLifetimeManager { return h.lm }

// HubName is the hub's name.
func (h *ConnectionHandler) HubName() string { return h.hub.name }

// ConnectionCount is the number of connections past their handshake.
func (h *ConnectionHandler) ConnectionCount() int { return int(h.count.Load()) }

// Shutdown sends Close{allowReconnect:true} to every connection, refuses
// new ones, and waits for all connections to end or ctx to be done.
func (h *ConnectionHandler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	for c := range h.live {
		c.abort(nil, true)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ShuttingDown reports whether Shutdown has begun: new connections are
// refused from then on.
func (h *ConnectionHandler) ShuttingDown() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

func (h *ConnectionHandler) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.active.Add(1)
	return true
}

func (h *ConnectionHandler) track(c *HubConnection) {
	h.mu.Lock()
	h.live[c] = struct{}{}
	closing := h.closing
	h.mu.Unlock()
	h.count.Add(1)
	if closing {
		c.abort(nil, true)
	}
}

func (h *ConnectionHandler) untrack(c *HubConnection) {
	h.mu.Lock()
	delete(h.live, c)
	h.mu.Unlock()
	h.count.Add(-1)
}

// ServeConn serves one transport connection until it ends.
func (h *ConnectionHandler) ServeConn(ctx context.Context, tc transports.Conn) {
	if !h.enter() {
		return
	}
	defer h.active.Done()
	proto, version, rest, ok := h.handshake(ctx, tc)
	if !ok {
		return
	}
	c := newHubConnection(ctx, tc, proto, &h.opts)
	if h.opts.AllowStatefulReconnects {
		c.enableStateful(version, h.opts.StatefulReconnectBufferSize)
	}
	c.touch()
	h.track(c)
	defer h.untrack(c)
	h.run(c, rest)
}

// handshake reads the handshake request and answers it when it fails. On
// success it returns the chosen protocol, the requested version and any
// bytes that followed the request; run sends the success response.
func (h *ConnectionHandler) handshake(ctx context.Context, tc transports.Conn) (protocol.HubProtocol, int, []byte, bool) {
	hctx, cancel := context.WithTimeout(ctx, h.opts.HandshakeTimeout)
	defer cancel()
	max := int(h.opts.MaximumReceiveMessageSize)
	fail := func(text string) {
		b := protocol.WriteHandshakeResponse(text)
		if err := tc.Send(ctx, b); err != nil {
			h.log.Debug().Err(err).Msg("send handshake error")
		} else if h.opts.Observer != nil {
			h.opts.Observer.BytesOut(len(b))
		}
		h.log.Debug().Str("connectionId", tc.ID()).Str("error", text).Msg("handshake failed")
	}
	var buf []byte
	for {
		name, version, n, err := protocol.ParseHandshakeRequest(buf)
		if max > 0 && ((n == 0 && err == nil && len(buf) > max) || n > max) {
			fail(protocol.HandshakeCanceledText)
			return nil, 0, nil, false
		}
		if err != nil {
			fail(protocol.UnexpectedHandshakeErrorText(err, h.opts.EnableDetailedErrors))
			return nil, 0, nil, false
		}
		if n > 0 {
			p, text := protocol.SelectHubProtocol(h.opts.Protocols, name, version,
				protocol.TransferFormatBinary|protocol.TransferFormatText)
			if p == nil {
				fail(text)
				return nil, 0, nil, false
			}
			if err := tc.SetTransferFormat(p.TransferFormat() == protocol.TransferFormatBinary); err != nil {
				fail(protocol.TransferFormatNotSupportedText(p.Name(), p.TransferFormat()))
				return nil, 0, nil, false
			}
			return p, version, buf[n:], true
		}
		chunk, err := tc.Receive(hctx)
		if err != nil {
			if hctx.Err() != nil && ctx.Err() == nil {
				fail(protocol.HandshakeCanceledText)
			}
			return nil, 0, nil, false
		}
		if h.opts.Observer != nil {
			h.opts.Observer.BytesIn(len(chunk))
		}
		buf = append(buf, chunk...)
	}
}

// run is the life of a connection after its handshake.
func (h *ConnectionHandler) run(c *HubConnection, rest []byte) {
	hctx := &Context{Context: c.ctx, conn: c, h: h}
	// Lifetime-manager calls at the end must work after c.ctx is done.
	bg := context.WithoutCancel(c.ctx)

	// Register before answering the handshake: a client that has the
	// response can then be addressed at once (say, by an HTTP request that
	// names its connection id). What is sent to it meanwhile waits in its
	// queue until the writer starts, after the response.
	lmErr := h.lm.OnConnected(c.ctx, c)
	defer func() {
		if err := h.lm.OnDisconnected(bg, c); err != nil {
			h.log.Error().Err(err).Str("connectionId", c.id).Msg("lifetime manager OnDisconnected failed")
		}
	}()
	sctx, cancel := context.WithTimeout(c.ctx, h.opts.HandshakeTimeout)
	resp := protocol.WriteHandshakeResponse("")
	sendErr := c.conn.Send(sctx, resp)
	cancel()
	c.startWriter()
	if sendErr != nil {
		h.end(c, fmt.Errorf("signalr: send handshake response: %w", sendErr), true)
		return
	}
	if obs := h.opts.Observer; obs != nil {
		// Opened once the handshake is complete; closed when run returns
		// (after the hub's OnDisconnected) on every path from here.
		transport, pname := c.conn.Transport().String(), c.pname
		obs.BytesOut(len(resp))
		obs.ConnectionOpened(transport, pname)
		defer obs.ConnectionClosed(transport, pname)
	}
	if lmErr != nil {
		h.log.Error().Err(lmErr).Str("connectionId", c.id).Msg("lifetime manager OnConnected failed")
		h.end(c, lmErr, false)
		return
	}

	if h.hub.onConnected != nil {
		if err := safeCall(func() error { return h.hub.onConnected(hctx) }); err != nil {
			h.log.Error().Err(err).Str("connectionId", c.id).Msg("OnConnected failed")
			h.end(c, err, false)
			return
		}
	}

	d := newDispatcher(h, c)
	reason, allowReconnect := d.readLoop(rest)
	d.closeUploads()
	h.end(c, reason, allowReconnect)
	d.wait()

	if h.hub.onDisconnected != nil {
		dctx := &Context{Context: bg, conn: c, h: h}
		if err := safeCall(func() error { return h.hub.onDisconnected(dctx, reason) }); err != nil {
			h.log.Error().Err(err).Str("connectionId", c.id).Msg("OnDisconnected failed")
		}
	}
}

// end sends the Close message (§9 rules), flushes and stops the writer, and
// cancels the connection's context.
func (h *ConnectionHandler) end(c *HubConnection, reason error, allowReconnect bool) {
	c.abort(reason, allowReconnect) // stop reading if something else ended us
	cl := &protocol.Close{AllowReconnect: allowReconnect}
	if reason != nil {
		cl.Error = buildErrorMessage("Connection closed with an error.", reason, h.opts.EnableDetailedErrors)
	}
	final, err := c.proto.AppendMessage(nil, cl)
	if err != nil {
		final = nil
	}
	c.closeWriter(final, h.opts.CloseTimeout)
	c.cancel()
	c.endPending()
	c.stopClientTimeout()
	if reason != nil {
		h.log.Debug().Err(reason).Str("connectionId", c.id).Msg("connection closed with an error")
	}
}

func safeCall(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{v: r}
		}
	}()
	return f()
}

// lookup finds a hub method by the target the client sent.
func (h *ConnectionHandler) lookup(target string) *hubMethod {
	if m, ok := h.hub.methods[target]; ok {
		return m
	}
	return h.hub.methods[strings.ToLower(target)]
}

// readError turns a parse or transport error into the reason of the Close.
func (h *ConnectionHandler) readError(err error) error {
	var ide *protocol.InvalidDataError
	switch {
	case errors.Is(err, protocol.ErrMessageTooLarge):
		return &exception{typ: "InvalidDataException", err: err, msg: fmt.Sprintf(
			"The maximum message size of %dB was exceeded. The message size can be configured in AddHubOptions.",
			h.opts.MaximumReceiveMessageSize)}
	case errors.As(err, &ide):
		return &exception{typ: "InvalidDataException", msg: ide.Message, err: err}
	}
	return err
}

var errTerminated = newException("InvalidDataException", "Connection terminated while reading a message.")

// readLoop parses and dispatches messages until the connection ends, and
// returns the reason for the Close message.
func (d *dispatcher) readLoop(rest []byte) (error, bool) {
	c := d.c
	max := int(d.h.opts.MaximumReceiveMessageSize)
	if max < 0 {
		max = 0
	}
	// The buffer grows to the largest chunk seen; idle connections stay small.
	data := append([]byte(nil), rest...)
	for {
		off := 0
		for off < len(data) {
			msg, n, err := c.proto.ParseMessage(data[off:], max)
			if err != nil {
				return d.stop(d.h.readError(err), true)
			}
			if n == 0 {
				break
			}
			off += n
			if msg == nil {
				continue // unknown message type: ignored for forward compatibility
			}
			if obs := d.h.opts.Observer; obs != nil {
				obs.MessageReceived(msgTypeName(msg.MessageType()))
			}
			if _, ok := msg.(*protocol.Close); ok {
				return d.stop(nil, false)
			}
			if err := d.dispatch(msg); err != nil {
				return d.stop(err, true)
			}
			if c.readCtx.Err() != nil {
				return d.stop(nil, true)
			}
		}
		// Parsed values own their bytes (the codecs copy), so the buffer can
		// be compacted and reused.
		data = data[:copy(data, data[off:])]
		if cap(data) > 256<<10 && len(data) < 4096 {
			data = append(make([]byte, 0, 4096), data...)
		}
		chunk, err := c.conn.Receive(c.readCtx)
		if err != nil {
			switch {
			case c.readCtx.Err() != nil:
				return d.stop(nil, true)
			case errors.Is(err, io.EOF), errors.Is(err, transports.ErrConnectionClosed):
				if len(data) > 0 {
					return d.stop(errTerminated, true)
				}
				return d.stop(nil, true)
			}
			return d.stop(err, true)
		}
		c.touch()
		if obs := d.h.opts.Observer; obs != nil {
			obs.BytesIn(len(chunk))
		}
		data = append(data, chunk...)
	}
}

// stop records the reason (unless an abort came first) and returns the winner.
func (d *dispatcher) stop(err error, allowReconnect bool) (error, bool) {
	d.c.abort(err, allowReconnect)
	return d.c.abortErr, d.c.allowReconnect
}
