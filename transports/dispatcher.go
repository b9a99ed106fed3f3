package transports

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/rs/zerolog"
)

// Response bodies clients and the official test suite compare byte-for-byte.
const (
	msgIDRequired        = "Connection ID required"
	msgNoConnection      = "No Connection with that ID"
	msgCannotChange      = "Cannot change transports mid-connection"
	msgPostNotAllowedWS  = "POST requests are not allowed for WebSocket connections."
	msgDeleteUnsupported = "Cannot terminate this connection using the DELETE endpoint."
	msgNotSupportedFmt   = " transport not supported by this end point type"
	msgTooManyPending    = "Too many pending connections; try again later."
	msgShuttingDown      = "The server is shutting down."
)

// Dispatcher is the http.Handler for one hub path: POST {path}/negotiate and
// the connection endpoint {path} for all transports. Mount it on both, e.g.
// mux.Handle("/chat", d) and mux.Handle("/chat/", d).
type Dispatcher struct {
	h         Handler
	opts      Options
	log       zerolog.Logger
	available []negotiate.AvailableTransport

	ctx    context.Context // handlers' context, cancelled by Close
	cancel context.CancelFunc

	// reqWG counts in-flight requests, wg handler goroutines, so Close can
	// wait until nothing of this dispatcher runs.
	reqWG sync.WaitGroup
	wg    sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	conns   map[string]*connection // by connection token
	pending atomic.Int64           // negotiated, not yet started
}

// NewDispatcher returns a Dispatcher serving h with opts.
func NewDispatcher(h Handler, opts Options) *Dispatcher {
	opts = opts.withDefaults()
	d := &Dispatcher{h: h, opts: opts, log: opts.Logger, conns: map[string]*connection{}}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if opts.Transports.Has(WebSockets) {
		d.available = append(d.available, negotiate.WebSocketsTransport)
	}
	if opts.Transports.Has(ServerSentEvents) {
		d.available = append(d.available, negotiate.ServerSentEventsTransport)
	}
	if opts.Transports.Has(LongPolling) {
		d.available = append(d.available, negotiate.LongPollingTransport)
	}
	return d
}

// Close ends every connection (WebSockets close with 1000, pending polls
// answer 204), cancels the handlers' context, and waits until all handler
// goroutines and requests of this dispatcher have returned. Later requests
// get 503.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		d.reqWG.Wait()
		d.wg.Wait()
		return
	}
	d.closed = true
	conns := make([]*connection, 0, len(d.conns))
	for _, c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.Close(nil)
		c.dispose()
	}
	// Let the transports finish first (WebSocket close handshakes
	// included), then cancel the handlers' context: coder/websocket drops
	// the socket when the context of a Write in flight is cancelled, and a
	// handler's last Send may still be returning.
	d.reqWG.Wait()
	d.cancel()
	d.wg.Wait()
}

// Len returns the number of connections in the table (negotiated, active
// or between polls).
func (d *Dispatcher) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

// enter registers a request; false once the dispatcher is closed.
func (d *Dispatcher) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.reqWG.Add(1)
	return true
}

// startHandler runs the handler for c in a goroutine the dispatcher owns.
// Callers are inside a request registered with enter, and Close waits
// for requests before it waits for wg, so no Add races with that Wait.
func (d *Dispatcher) startHandler(c *connection) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.wg.Add(1)
	go c.runHandler(d.ctx)
	return true
}

// ServeHTTP implements http.Handler.
func (d *Dispatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !d.enter() {
		writeText(w, http.StatusServiceUnavailable, msgShuttingDown)
		return
	}
	defer d.reqWG.Done()

	if isNegotiatePath(r.URL.Path) {
		d.serveNegotiate(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodConnect:
		switch {
		case acceptsEventStream(r.Header):
			d.serveSSE(w, r)
		case isWebSocketRequest(r):
			d.serveWebSocket(w, r)
		default:
			d.serveLongPolling(w, r)
		}
	case http.MethodPost:
		d.servePost(w, r)
	case http.MethodDelete:
		d.serveDelete(w, r)
	default:
		writeText(w, http.StatusMethodNotAllowed, "")
	}
}

// isNegotiatePath reports whether the last path segment is "negotiate"
// (case-insensitive, a trailing "/" tolerated).
func isNegotiatePath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	const suffix = "/negotiate"
	return len(p) >= len(suffix) && strings.EqualFold(p[len(p)-len(suffix):], suffix)
}

// acceptsEventStream reports whether Accept lists text/event-stream (the
// SSE request of EventSource and the official clients).
func acceptsEventStream(h http.Header) bool {
	for _, v := range h.Values("Accept") {
		for item := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err == nil && mt == "text/event-stream" && len(params) == 0 {
				return true
			}
		}
	}
	return false
}

func isWebSocketRequest(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (d *Dispatcher) serveNegotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeText(w, http.StatusMethodNotAllowed, "")
		return
	}
	req, err := negotiate.ParseRequest(r.URL.Query(), d.opts.MinNegotiateVersion)
	var resp negotiate.Response
	if err != nil {
		// ASP.NET Core answers version errors with 200 and {"error":...}.
		d.log.Debug().Err(err).Msg("negotiate rejected")
		resp.Error = err.Error()
	} else {
		stateful := d.opts.AllowStatefulReconnects && req.UseStatefulReconnect
		c, ok := d.newNegotiatedConnection(req.Version, stateful)
		if !ok {
			// A temporary overload, not a protocol error: 503 with Retry-After
			// lets proxies and monitoring see it; the JS client still shows
			// the body text in its start error.
			w.Header().Set("Retry-After", "1")
			writeText(w, http.StatusServiceUnavailable, msgTooManyPending)
			return
		}
		resp = negotiate.Response{
			UseStatefulReconnect: stateful,
			NegotiateVersion:     req.Version,
			ConnectionID:         c.id,
			ConnectionToken:      c.token,
			AvailableTransports:  d.available,
		}
	}
	body := resp.AppendJSON(make([]byte, 0, 384))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// newNegotiatedConnection creates an unstarted connection, unless too many
// are pending. Version 0 clients address it by its id.
func (d *Dispatcher) newNegotiatedConnection(version int, stateful bool) (*connection, bool) {
	if n := d.pending.Add(1); d.opts.MaxPendingConnections > 0 && n > int64(d.opts.MaxPendingConnections) {
		d.pending.Add(-1)
		return nil, false
	}
	id := negotiate.NewID()
	token := id
	if version > 0 {
		token = negotiate.NewID()
	}
	c := newConnection(d, id, token)
	c.statefulAllowed = stateful
	if !d.insert(c, true) {
		d.pending.Add(-1)
		return nil, false
	}
	return c, true
}

// newDirectConnection creates the connection of a WebSocket request that
// skipped negotiate.
func (d *Dispatcher) newDirectConnection() (*connection, bool) {
	id := negotiate.NewID()
	c := newConnection(d, id, id)
	return c, d.insert(c, false)
}

// insert publishes c and starts its expiry clock. Lock order: d.mu, then
// c.mu (only here, for a connection nobody else knows yet).
func (d *Dispatcher) insert(c *connection, pending bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	d.conns[c.token] = c
	c.arm(pending)
	return true
}

func (d *Dispatcher) remove(c *connection, wasPending bool) {
	if wasPending {
		d.pending.Add(-1)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conns[c.token] == c {
		delete(d.conns, c.token)
	}
}

func (d *Dispatcher) unpend() { d.pending.Add(-1) }

func connectionToken(r *http.Request) string {
	v, _ := negotiate.QueryValue(r.URL.Query(), "id")
	return v
}

func (d *Dispatcher) lookup(token string) *connection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conns[token]
}

// getConnection finds the connection a SSE, Long Polling, POST or DELETE
// request addresses, or answers 400/404.
func (d *Dispatcher) getConnection(w http.ResponseWriter, r *http.Request) *connection {
	token := connectionToken(r)
	if token == "" {
		writeText(w, http.StatusBadRequest, msgIDRequired)
		return nil
	}
	c := d.lookup(token)
	if c == nil {
		writeText(w, http.StatusNotFound, msgNoConnection)
		return nil
	}
	return c
}

// claim binds c to transport t or answers 404/400/409 like ASP.NET Core.
// WebSocket and SSE requests take the connection for good.
func (d *Dispatcher) claim(w http.ResponseWriter, c *connection, t TransportType) bool {
	if !d.opts.Transports.Has(t) {
		writeText(w, http.StatusNotFound, t.String()+msgNotSupportedFmt)
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.disposed:
		writeText(w, http.StatusNotFound, "")
		return false
	case c.transport != 0 && c.transport != t:
		writeText(w, http.StatusBadRequest, msgCannotChange)
		return false
	case t != LongPolling && c.claimed:
		writeText(w, http.StatusConflict, "")
		return false
	}
	c.transport = t
	if t != LongPolling {
		c.claimed = true
	}
	return true
}

func (d *Dispatcher) servePost(w http.ResponseWriter, r *http.Request) {
	c := d.getConnection(w, r)
	if c == nil {
		return
	}
	if c.Transport() == WebSockets {
		writeText(w, http.StatusMethodNotAllowed, msgPostNotAllowedWS)
		return
	}
	c.postMu.Lock()
	defer c.postMu.Unlock()
	if c.isEnded() {
		writeText(w, http.StatusNotFound, "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, d.opts.MaxRequestBodySize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeText(w, http.StatusRequestEntityTooLarge,
				"Request body too large. The limit is "+strconv.FormatInt(d.opts.MaxRequestBodySize, 10)+" bytes.")
			return
		}
		writeText(w, http.StatusBadRequest, "Failed to read the request body.")
		return
	}
	if len(body) > 0 {
		if err := c.deliver(body, r.Context().Done()); err != nil {
			if errors.Is(err, ErrConnectionClosed) {
				writeText(w, http.StatusNotFound, "")
			}
			return
		}
	}
	writeText(w, http.StatusOK, "")
}

func (d *Dispatcher) serveDelete(w http.ResponseWriter, r *http.Request) {
	c := d.getConnection(w, r)
	if c == nil {
		return
	}
	if c.Transport() != LongPolling {
		writeText(w, http.StatusBadRequest, msgDeleteUnsupported)
		return
	}
	d.log.Debug().Str("connectionId", c.id).Msg("terminating long polling connection (DELETE)")
	c.dispose()
	writeText(w, http.StatusAccepted, "")
}

// writeText answers status with a text/plain body.
func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if body != "" {
		_, _ = io.WriteString(w, body)
	}
}
