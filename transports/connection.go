package transports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// connection is the Conn of every transport. The transport is fixed by the
// first transport request; the fields below the marker belong to it.
type connection struct {
	d     *Dispatcher
	id    string
	token string

	// Client bytes not yet taken by Receive, like ASP.NET Core's transport
	// pipe: a POST or a WebSocket message is acknowledged once buffered,
	// and waits (back-pressure) only while InputBufferSize bytes are
	// unread. Receive takes everything buffered at once.
	inMu     sync.Mutex
	inBuf    []byte
	inNotify chan struct{} // bytes buffered
	inSpace  chan struct{} // buffer taken
	done     chan struct{} // closed by end
	binary   atomic.Bool

	postMu sync.Mutex // serializes POSTs, like ASP.NET Core's WriteLock

	mu           sync.Mutex
	transport    TransportType // 0 until the first transport request
	claimed      bool          // a WebSocket/SSE request owns the connection
	started      bool          // the handler runs (or ran)
	active       bool          // a request serves it now; inactive ones expire
	inactiveFrom time.Time
	disposed     bool
	ended        bool
	clientEnded  bool  // the client side ended it (Receive returns io.EOF)
	closeErr     error // server-side close error (WebSocket 1011)
	pending      bool  // counted in Dispatcher.pending
	expiry       *time.Timer
	req          *http.Request

	// WebSockets (sock, stateful* and onReconnect under mu).
	sock            *wsSocket // nil while a stateful connection waits for its client
	wsCloseRecvd    atomic.Bool
	statefulAllowed bool       // negotiate granted useStatefulReconnect
	statefulOn      bool       // the handler enabled it (after a version 2 handshake)
	onReconnect     func()     // called when a new socket is attached
	resumeHeld      bool       // a resumed socket carries nothing until ResumeSend
	wmu             sync.Mutex // WebSocket writes: orders ResumeSend before released sends

	// Server-Sent Events: Send writes the response under sseMu until the
	// request goroutine marks it closed.
	sseMu     sync.Mutex
	sseW      http.ResponseWriter
	sseRC     *http.ResponseController
	sseClosed bool
	sseBuf    []byte

	// Long Polling (lpBuf and lpPoll under mu).
	lpBuf    []byte
	lpPoll   *poll
	lpNotify chan struct{} // data appended or connection ended
	lpSpace  chan struct{} // buffer drained
}

func newConnection(d *Dispatcher, id, token string) *connection {
	c := &connection{
		d:            d,
		id:           id,
		token:        token,
		inNotify:     make(chan struct{}, 1),
		inSpace:      make(chan struct{}, 1),
		done:         make(chan struct{}),
		inactiveFrom: time.Now(),
		lpNotify:     make(chan struct{}, 1),
		lpSpace:      make(chan struct{}, 1),
	}
	return c
}

// arm starts the expiry clock of a new connection; pending counts it
// against MaxPendingConnections. Called once, before anyone else sees c.
func (c *connection) arm(pending bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = pending
	c.expiry = time.AfterFunc(c.d.opts.DisconnectTimeout, c.expire)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// ID implements Conn.
func (c *connection) ID() string { return c.id }

// Transport implements Conn.
func (c *connection) Transport() TransportType {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transport
}

// Request implements Conn.
func (c *connection) Request() *http.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.req
}

// InherentKeepAlive implements Conn.
func (c *connection) InherentKeepAlive() bool { return c.Transport() == LongPolling }

// Done implements Conn.
func (c *connection) Done() <-chan struct{} { return c.done }

// CloseReceived reports whether the client sent a WebSocket close frame,
// that is, ended the connection gracefully. Stateful reconnect keeps only
// connections that ended without one.
func (c *connection) CloseReceived() bool { return c.wsCloseRecvd.Load() }

// SetTransferFormat implements Conn.
func (c *connection) SetTransferFormat(binary bool) error {
	if binary && c.Transport() == ServerSentEvents {
		return errors.New("transports: ServerSentEvents cannot carry the Binary transfer format")
	}
	c.binary.Store(binary)
	return nil
}

// Receive implements Conn. Bytes the transport acknowledged are handed out
// even after the connection ended (a Close message POSTed just before a
// DELETE), then the end is reported.
func (c *connection) Receive(ctx context.Context) ([]byte, error) {
	for {
		if b := c.takeInput(); b != nil {
			return b, nil
		}
		select {
		case <-c.inNotify:
		case <-c.done:
			if b := c.takeInput(); b != nil {
				return b, nil
			}
			return nil, c.endError()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (c *connection) takeInput() []byte {
	c.inMu.Lock()
	b := c.inBuf
	c.inBuf = nil
	c.inMu.Unlock()
	if b != nil {
		signal(c.inSpace)
	}
	return b
}

// deliver buffers b (which the caller hands over) for Receive. It waits
// while the buffer holds InputBufferSize bytes or more, and fails once the
// connection has ended or stop is closed (the request went away).
func (c *connection) deliver(b []byte, stop <-chan struct{}) error {
	for {
		select {
		case <-c.done:
			return ErrConnectionClosed
		default:
		}
		c.inMu.Lock()
		if len(c.inBuf) < c.d.opts.InputBufferSize {
			if c.inBuf == nil {
				c.inBuf = b
			} else {
				c.inBuf = append(c.inBuf, b...)
			}
			c.inMu.Unlock()
			signal(c.inNotify)
			return nil
		}
		c.inMu.Unlock()
		select {
		case <-c.inSpace:
		case <-c.done:
			return ErrConnectionClosed
		case <-stop:
			return context.Canceled
		}
	}
}

// Send implements Conn.
func (c *connection) Send(ctx context.Context, p []byte) error {
	select {
	case <-c.done:
		return ErrConnectionClosed
	default:
	}
	switch c.Transport() {
	case WebSockets:
		return c.sendWebSocket(ctx, p)
	case ServerSentEvents:
		return c.sendSSE(p)
	case LongPolling:
		return c.sendLongPolling(ctx, p)
	}
	return ErrConnectionClosed
}

// Close implements Conn: it ends the connection from the server side.
func (c *connection) Close(err error) {
	c.mu.Lock()
	if !c.ended && err != nil {
		c.closeErr = err
	}
	// A stateful connection waiting for its client has no request to
	// finish it: remove it here.
	detached := c.statefulOn && c.sock == nil
	c.mu.Unlock()
	c.end(false)
	if detached {
		c.dispose()
	}
}

// end marks the connection ended once; client tells who ended it.
func (c *connection) end(client bool) {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return
	}
	c.ended = true
	c.clientEnded = client
	close(c.done)
	c.mu.Unlock()
	signal(c.lpNotify)
}

// fail ends the connection after a transport error on the server side.
func (c *connection) fail(err error) {
	c.d.log.Debug().Str("connectionId", c.id).Err(err).Msg("transport failed")
	c.Close(err)
}

func (c *connection) endError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clientEnded {
		return io.EOF
	}
	return ErrConnectionClosed
}

func (c *connection) isEnded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// dispose removes the connection from the table and ends it; the client
// counts as the side that ended it unless the server did first.
func (c *connection) dispose() {
	c.mu.Lock()
	if c.disposed {
		c.mu.Unlock()
		return
	}
	c.disposed = true
	c.expiry.Stop()
	wasPending := c.pending
	c.pending = false
	c.mu.Unlock()
	c.end(true)
	c.d.remove(c, wasPending)
}

// activate marks the connection as served by a request (no expiry) and no
// longer pending. Caller holds c.mu.
func (c *connection) activateLocked() {
	c.active = true
	c.expiry.Stop()
	if c.pending {
		c.pending = false
		c.d.unpend()
	}
}

// expire disposes a connection that stayed inactive for DisconnectTimeout.
func (c *connection) expire() {
	c.mu.Lock()
	if c.active || c.disposed {
		c.mu.Unlock()
		return
	}
	if wait := c.d.opts.DisconnectTimeout - time.Since(c.inactiveFrom); wait > 0 {
		// Re-armed after this timer fired; the newer deadline counts.
		c.expiry.Reset(wait)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.d.log.Debug().Str("connectionId", c.id).Msg("inactive connection expired")
	c.dispose()
}

// runHandler is the handler goroutine, owned by the dispatcher.
func (c *connection) runHandler(ctx context.Context) {
	defer c.d.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			c.d.log.Error().Str("connectionId", c.id).Interface("panic", p).Msg("connection handler panicked")
			c.Close(fmt.Errorf("transports: connection handler panicked: %v", p))
			return
		}
		c.Close(nil)
	}()
	c.d.h.ServeConn(ctx, c)
}
