package transports

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// serveWebSocket upgrades GET ?id=<token> (or, with skipNegotiation, no id:
// a fresh connection) and serves the connection until it ends. This request
// goroutine owns the socket: it starts the reader, waits for the end, then
// closes the socket (1000, or 1011 after a server error) within
// WebSocketCloseTimeout.
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
	if !d.claim(w, c, WebSockets) {
		return
	}
	hw := &hijackRecorder{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, &websocket.AcceptOptions{
		OriginPatterns:     d.opts.OriginPatterns,
		InsecureSkipVerify: d.opts.InsecureSkipVerify,
	})
	if err != nil {
		// Accept has answered (403 for a foreign origin, 400/426 for a bad
		// upgrade). The client negotiates again for its next transport.
		d.log.Debug().Err(err).Str("connectionId", c.id).Msg("websocket upgrade failed")
		c.dispose()
		return
	}
	ws.SetReadLimit(d.opts.MaxWebSocketMessageSize)

	c.wsWriteCtx, c.wsWriteCancel = context.WithCancel(context.Background())
	defer c.wsWriteCancel()
	c.mu.Lock()
	c.ws = ws
	c.req = r
	c.activateLocked()
	c.mu.Unlock()
	if !d.startHandler(c) {
		_ = ws.CloseNow() // shutting down
		c.dispose()
		return
	}

	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readWebSocket(readCtx)
	}()

	<-c.done
	c.mu.Lock()
	clientEnded, closeErr := c.clientEnded, c.closeErr
	c.mu.Unlock()
	if clientEnded {
		_ = ws.CloseNow()
	} else {
		code := websocket.StatusNormalClosure
		if closeErr != nil {
			code = websocket.StatusInternalError
		}
		// coder/websocket bounds each close step by 5 s of its own; we drop
		// the socket when our timeout expires first.
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			_ = ws.Close(code, "")
		}()
		t := time.NewTimer(d.opts.WebSocketCloseTimeout)
		select {
		case <-closed:
		case <-t.C:
			_ = hw.conn.Close()
			<-closed
		}
		t.Stop()
	}
	cancelRead()
	<-readerDone
	c.dispose()
}

// readWebSocket hands each message to Receive until the socket ends.
func (c *connection) readWebSocket(ctx context.Context) {
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				c.wsCloseRecvd.Store(true)
			}
			c.d.log.Debug().Str("connectionId", c.id).Err(err).Msg("websocket read ended")
			c.end(true)
			return
		}
		select {
		case c.inbox <- b:
		case <-c.done:
			return
		}
	}
}

func (c *connection) sendWebSocket(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if c.binary.Load() {
		typ = websocket.MessageBinary
	}
	// coder/websocket keeps the context of the last write and a cancelled
	// one breaks the close handshake later, so writes use a context that
	// lives as long as the socket; a stuck send or the caller's ctx ending
	// cancels it, which drops the socket.
	stopTimer := time.AfterFunc(c.d.opts.TransportSendTimeout, c.wsWriteCancel)
	stopCaller := context.AfterFunc(ctx, c.wsWriteCancel)
	err := c.ws.Write(c.wsWriteCtx, typ, p)
	stopTimer.Stop()
	stopCaller()
	if err != nil {
		err = fmt.Errorf("transports: websocket send: %w", err)
		c.fail(err)
		return err
	}
	return nil
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
