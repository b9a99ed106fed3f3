package transports

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// wsSocket is one WebSocket of a connection. A connection has one for its
// life, unless stateful reconnect attaches a new one after an ungraceful
// loss.
type wsSocket struct {
	ws          *websocket.Conn
	raw         net.Conn // the hijacked connection, for the close timeout
	writeCtx    context.Context
	writeCancel context.CancelFunc
	lost        chan struct{} // closed when the reader stops: the socket is gone
	closeRecvd  atomic.Bool   // the client sent a close frame
}

// serveWebSocket upgrades GET ?id=<token> (or, with skipNegotiation, no id:
// a fresh connection) and serves the connection until it ends. This request
// goroutine owns the socket: it starts the reader, waits for the end, then
// closes the socket (1000, or 1011 after a server error) within
// WebSocketCloseTimeout. With stateful reconnect enabled, an ungraceful
// loss only detaches the socket and a later request with the same token
// attaches a new one.
func (d *Dispatcher) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	token := connectionToken(r)
	var c *connection
	if token == "" {
		if !d.opts.Transports.Has(WebSockets) {
			writeText(w, http.StatusNotFound, WebSockets.String()+msgNotSupportedFmt)
			return
		}
		var ok bool
		if c, ok = d.newDirectConnection(); !ok {
			writeText(w, http.StatusServiceUnavailable, msgShuttingDown)
			return
		}
	} else if c = d.lookup(token); c == nil {
		// ASP.NET Core writes this body without a content type.
		w.Header()["Content-Type"] = nil
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(msgNoConnection))
		return
	}
	resuming := c.resumable()
	if !resuming && !d.claim(w, c, WebSockets) {
		return
	}
	hw := &hijackRecorder{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		OriginPatterns:     d.opts.OriginPatterns,
		InsecureSkipVerify: d.opts.InsecureSkipVerify,
	})
	if err != nil {
		// Accept has answered (403 for a foreign origin, 400/426 for a bad
		// upgrade). The client negotiates again for its next transport; a
		// failed resume leaves the connection to its expiry.
		d.log.Debug().Err(err).Str("connectionId", c.id).Msg("websocket upgrade failed")
		if !resuming {
			c.dispose()
		}
		return
	}
	ws.SetReadLimit(d.opts.MaxWebSocketMessageSize)
	s := &wsSocket{ws: ws, raw: hw.conn, lost: make(chan struct{})}
	s.writeCtx, s.writeCancel = context.WithCancel(context.Background())
	defer s.writeCancel()

	c.mu.Lock()
	if c.disposed || c.ended {
		c.mu.Unlock()
		_ = ws.CloseNow()
		return
	}
	old := c.sock
	c.sock = s
	// A resumed socket must start with the hub's Sequence and replay
	// (reference §11.7): ordinary sends are held back until ResumeSend.
	c.resumeHeld = resuming
	if !resuming {
		c.req = r
	}
	c.activateLocked()
	onReconnect := c.onReconnect
	c.mu.Unlock()
	if old != nil {
		// The client came back before we noticed the old socket died.
		_ = old.ws.CloseNow()
	}

	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readWebSocket(readCtx, s)
	}()

	if resuming {
		d.log.Debug().Str("connectionId", c.id).Msg("websocket resumed (stateful reconnect)")
		if onReconnect != nil {
			c.runOnReconnect(onReconnect)
		}
	} else if !d.startHandler(c) {
		_ = ws.CloseNow() // shutting down
		c.dispose()
		return
	}

	select {
	case <-c.done:
	case <-s.lost:
		if c.detach(s) {
			// Stateful reconnect: keep the connection for the client's
			// return; the expiry ends it otherwise.
			_ = ws.CloseNow()
			cancelRead()
			<-readerDone
			return
		}
		c.end(true)
	}
	c.closeSocket(s)
	cancelRead()
	<-readerDone
	if c.current(s) || c.isEnded() {
		c.dispose()
	}
}

// runOnReconnect calls the hub's callback; a panic fails the connection
// instead of the process.
func (c *connection) runOnReconnect(f func()) {
	defer func() {
		if p := recover(); p != nil {
			c.d.log.Error().Str("connectionId", c.id).Interface("panic", p).Msg("stateful reconnect callback panicked")
			c.Close(fmt.Errorf("transports: stateful reconnect callback panicked: %v", p))
		}
	}()
	f()
}

// closeSocket ends the socket of an ended connection: at once when the
// client ended it, else with a close handshake bounded by
// WebSocketCloseTimeout (1000 normal, 1011 after a server error).
func (c *connection) closeSocket(s *wsSocket) {
	c.mu.Lock()
	clientEnded, closeErr := c.clientEnded, c.closeErr
	c.mu.Unlock()
	select {
	case <-s.lost:
		clientEnded = true // nothing left to shake hands with
	default:
	}
	if clientEnded {
		_ = s.ws.CloseNow()
		return
	}
	code := websocket.StatusNormalClosure
	if closeErr != nil {
		code = websocket.StatusInternalError
	}
	// coder/websocket bounds each close step by 5 s of its own; we drop the
	// socket when our timeout expires first.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		_ = s.ws.Close(code, "")
	}()
	t := time.NewTimer(c.d.opts.WebSocketCloseTimeout)
	defer t.Stop()
	select {
	case <-closed:
	case <-t.C:
		_ = s.raw.Close()
		<-closed
	}
}

// readWebSocket hands each message of s to Receive until the socket ends.
func (c *connection) readWebSocket(ctx context.Context, s *wsSocket) {
	defer close(s.lost)
	for {
		_, b, err := s.ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				s.closeRecvd.Store(true)
				c.wsCloseRecvd.Store(true)
			}
			c.d.log.Debug().Str("connectionId", c.id).Err(err).Msg("websocket read ended")
			return
		}
		if len(b) == 0 {
			continue // nothing to hand on; an empty chunk would look like "no input"
		}
		if c.deliver(b, ctx.Done()) != nil {
			return
		}
	}
}

// resumable reports whether a WebSocket request for c resumes it (stateful
// reconnect) rather than claims it.
func (c *connection) resumable() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statefulOn && c.transport == WebSockets && !c.disposed && !c.ended
}

// detach drops s from c after an ungraceful loss when stateful reconnect is
// on, making c inactive so it expires unless the client returns. It
// reports whether c lives on.
func (c *connection) detach(s *wsSocket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != s {
		return true // a newer socket took over already
	}
	if !c.statefulOn || s.closeRecvd.Load() || c.ended || c.disposed {
		return false
	}
	c.sock = nil
	c.active = false
	c.inactiveFrom = time.Now()
	c.expiry.Reset(c.d.opts.DisconnectTimeout)
	return true
}

func (c *connection) current(s *wsSocket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sock == s
}

func (c *connection) sendWebSocket(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if c.binary.Load() {
		typ = websocket.MessageBinary
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	s, stateful, held := c.sock, c.statefulOn, c.resumeHeld
	c.mu.Unlock()
	if s == nil || held {
		if stateful {
			// Disconnected, or resumed but not yet replayed: the caller's
			// buffer replays it after the Sequence.
			return nil
		}
		return ErrConnectionClosed
	}
	return c.writeSocket(ctx, s, typ, p, stateful)
}

// ResumeSend implements StatefulReconnector: it writes p (the Sequence and
// the replayed messages) as the first message of a resumed socket and
// releases the sends held back since the socket attached.
func (c *connection) ResumeSend(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if c.binary.Load() {
		typ = websocket.MessageBinary
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	s := c.sock
	c.mu.Unlock()
	if s == nil {
		return nil // lost again: the next resume replays
	}
	err := c.writeSocket(ctx, s, typ, p, true)
	c.mu.Lock()
	if c.sock == s {
		c.resumeHeld = false
	}
	c.mu.Unlock()
	return err
}

// writeSocket writes one message to s.
func (c *connection) writeSocket(ctx context.Context, s *wsSocket, typ websocket.MessageType, p []byte, stateful bool) error {
	// coder/websocket keeps the context of the last write and a cancelled
	// one breaks the close handshake later, so writes use a context that
	// lives as long as the socket; a stuck send or the caller's ctx ending
	// cancels it, which drops the socket.
	stopTimer := time.AfterFunc(c.d.opts.TransportSendTimeout, s.writeCancel)
	stopCaller := context.AfterFunc(ctx, s.writeCancel)
	err := s.ws.Write(s.writeCtx, typ, p)
	stopTimer.Stop()
	stopCaller()
	if err != nil {
		if stateful {
			// The socket is gone; its reader notices and the connection waits
			// for the client to come back. The caller replays.
			_ = s.ws.CloseNow()
			return nil
		}
		err = fmt.Errorf("transports: websocket send: %w", err)
		c.fail(err)
		return err
	}
	return nil
}

// EnableStatefulReconnect implements StatefulReconnector.
func (c *connection) EnableStatefulReconnect(onReconnect func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.statefulAllowed || c.transport != WebSockets {
		return false
	}
	c.statefulOn = true
	c.onReconnect = onReconnect
	return true
}

// StatefulReconnectAllowed implements StatefulReconnector.
func (c *connection) StatefulReconnectAllowed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statefulAllowed
}

// hijackRecorder keeps the connection websocket.Accept hijacks, so the close
// timeout can drop it whatever state the close handshake is in.
type hijackRecorder struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	h.conn = conn
	return conn, rw, err
}
