package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/gosignalr/gosignalr/transports"
)

// transport moves bytes between the client and the server for one connection.
// receive is called from one goroutine, send from one other goroutine.
type transport interface {
	// connect opens the transport at url (which carries id=<token>).
	connect(ctx context.Context, url string, binary bool) error
	// send delivers p (one or more whole records) as one unit.
	send(ctx context.Context, p []byte) error
	// receive returns the next chunk from the server; io.EOF when the server ended the connection cleanly.
	receive(ctx context.Context) ([]byte, error)
	// stop ends the transport gracefully (WebSocket close, SSE close, Long Polling DELETE).
	stop(ctx context.Context) error
	// abort ends the transport at once and unblocks send and receive.
	abort()
	kind() transports.TransportType
}

func newTransport(t transports.TransportType, h *httpDoer, maxReceive int) transport {
	switch t {
	case transports.WebSockets:
		return &wsTransport{http: h, maxReceive: maxReceive}
	case transports.ServerSentEvents:
		return &sseTransport{http: h, maxReceive: maxReceive}
	case transports.LongPolling:
		return &lpTransport{http: h, maxReceive: maxReceive}
	}
	return nil
}

// ---- WebSockets ----

type wsTransport struct {
	http       *httpDoer
	maxReceive int
	url        string
	binary     bool

	mu   sync.Mutex
	conn *websocket.Conn
}

func (t *wsTransport) kind() transports.TransportType { return transports.WebSockets }

func wsURL(u string) string {
	switch {
	case strings.HasPrefix(u, "https://"):
		return "wss://" + u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		return "ws://" + u[len("http://"):]
	}
	return u
}

func (t *wsTransport) connect(ctx context.Context, url string, binary bool) error {
	t.url, t.binary = url, binary
	c, err := t.dial(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.conn = c
	t.mu.Unlock()
	return nil
}

func (t *wsTransport) dial(ctx context.Context) (*websocket.Conn, error) {
	tok, err := t.http.accessToken(ctx, false)
	if err != nil {
		return nil, err
	}
	hd := t.http.header(tok)
	hd.Del("X-Requested-With")
	c, resp, err := websocket.Dial(ctx, wsURL(t.url), &websocket.DialOptions{
		HTTPClient: t.http.client,
		HTTPHeader: hd,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			err = &HTTPError{StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		}
		return nil, fmt.Errorf("%s (%w)", textWebSocketFailed, err)
	}
	c.SetReadLimit(int64(t.maxReceive) * 4)
	return c, nil
}

// redial opens a new WebSocket to the same URL (stateful reconnect).
func (t *wsTransport) redial(ctx context.Context) error {
	c, err := t.dial(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	old := t.conn
	t.conn = c
	t.mu.Unlock()
	if old != nil {
		_ = old.CloseNow()
	}
	return nil
}

func (t *wsTransport) current() *websocket.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conn
}

func (t *wsTransport) send(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if t.binary {
		typ = websocket.MessageBinary
	}
	return t.current().Write(ctx, typ, p)
}

// wsClosedError is a WebSocket that ended other than by a normal close, with
// the JS client's text. code < 0 means no close frame arrived (an unclean
// close), the case stateful reconnect resumes; Unwrap gives the cause.
type wsClosedError struct {
	code   websocket.StatusCode
	reason string
	err    error
}

func (e *wsClosedError) Error() string {
	if e.code < 0 { // no close frame: what browsers report as 1006
		return "WebSocket closed with status code: 1006 (no reason given)."
	}
	reason := e.reason
	if reason == "" {
		reason = "no reason given"
	}
	return fmt.Sprintf("WebSocket closed with status code: %d (%s).", e.code, reason)
}
func (e *wsClosedError) Unwrap() error { return e.err }

func (t *wsTransport) receive(ctx context.Context) ([]byte, error) {
	_, p, err := t.current().Read(ctx)
	if err == nil {
		return p, nil
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.StatusNormalClosure {
			return nil, io.EOF
		}
		return nil, &wsClosedError{code: ce.Code, reason: ce.Reason, err: err}
	}
	return nil, &wsClosedError{code: -1, err: err}
}

func (t *wsTransport) stop(ctx context.Context) error {
	c := t.current()
	if c == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- c.Close(websocket.StatusNormalClosure, "") }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = c.CloseNow()
		<-done
		return ctx.Err()
	}
}

func (t *wsTransport) abort() {
	if c := t.current(); c != nil {
		_ = c.CloseNow()
	}
}

// ---- POST sends (SSE and Long Polling) ----

func postSend(ctx context.Context, h *httpDoer, url string, p []byte, binary bool) error {
	ct := "text/plain;charset=UTF-8"
	if binary {
		ct = "application/octet-stream"
	}
	ctx, cancel := context.WithTimeout(ctx, httpRequestTimeout)
	defer cancel()
	// The HTTP transport may still read the body after Do returns, and the
	// writer reuses p: send a copy.
	body := append([]byte(nil), p...)
	resp, err := h.do(ctx, request{method: http.MethodPost, url: url, body: body, contentType: ct})
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return httpErrorFrom(resp)
	}
	drain(resp)
	return nil
}

// ---- Server-Sent Events ----

type sseTransport struct {
	http       *httpDoer
	maxReceive int
	url        string

	cancel context.CancelFunc
	body   io.ReadCloser
	r      *sseReader
}

func (t *sseTransport) kind() transports.TransportType { return transports.ServerSentEvents }

const textWebSocketFailed = "WebSocket failed to connect. The connection could not be found on the server, either the endpoint may not be a SignalR endpoint, the connection ID is not present on the server, or there is a proxy blocking WebSockets. If you have multiple servers check that sticky sessions are enabled."

const textEventSourceFailed = "EventSource failed to connect. The connection could not be found on the server, either the connection ID is not present on the server, or a proxy is refusing/buffering the connection. If you have multiple servers check that sticky sessions are enabled."

func (t *sseTransport) connect(ctx context.Context, url string, binary bool) error {
	if binary {
		return errors.New("The Server-Sent Events transport only supports the 'Text' transfer format")
	}
	t.url = url
	// The stream outlives ctx (which only bounds connecting), so it gets its own context.
	sctx, cancel := context.WithCancel(context.Background())
	stopWatch := context.AfterFunc(ctx, cancel)
	resp, err := t.http.do(sctx, request{method: http.MethodGet, url: url, accept: "text/event-stream"})
	stopped := stopWatch()
	if err != nil {
		cancel()
		if !stopped {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", textEventSourceFailed, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		he := httpErrorFrom(resp)
		cancel()
		return fmt.Errorf("%s: %w", textEventSourceFailed, he)
	}
	t.cancel, t.body = cancel, resp.Body
	t.r = newSSEReader(resp.Body, t.maxReceive*4) // an event may batch several messages
	return nil
}

func (t *sseTransport) send(ctx context.Context, p []byte) error {
	return postSend(ctx, t.http, t.url, p, false)
}

func (t *sseTransport) receive(ctx context.Context) ([]byte, error) {
	stop := context.AfterFunc(ctx, t.cancel)
	defer stop()
	p, err := t.r.next()
	if err != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return p, err
}

func (t *sseTransport) stop(context.Context) error {
	t.abort()
	return nil
}

func (t *sseTransport) abort() {
	if t.cancel != nil {
		t.cancel()
	}
}

// ---- Long Polling ----

type lpTransport struct {
	http       *httpDoer
	maxReceive int
	url        string
	binary     bool

	ctx     context.Context // ends the poll loop
	cancel  context.CancelFunc
	pending []byte // data that arrived on the first poll
}

func (t *lpTransport) kind() transports.TransportType { return transports.LongPolling }

func (t *lpTransport) connect(ctx context.Context, url string, binary bool) error {
	t.url, t.binary = url, binary
	t.ctx, t.cancel = context.WithCancel(context.Background())
	stopWatch := context.AfterFunc(ctx, t.cancel)
	defer stopWatch()
	// The JS client counts the connection as open only after the first poll's 200.
	p, status, err := t.poll(t.ctx)
	if err != nil {
		t.cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if status != http.StatusOK {
		t.cancel()
		return fmt.Errorf("Long Polling failed to connect: %w", &HTTPError{StatusCode: status, Message: http.StatusText(status)})
	}
	t.pending = p
	return nil
}

// poll sends one poll request and returns its body and status. Non-2xx
// statuses other than 204 come back as an HTTPError.
func (t *lpTransport) poll(ctx context.Context) ([]byte, int, error) {
	u := t.url
	if strings.Contains(u, "?") {
		u += "&"
	} else {
		u += "?"
	}
	u += fmt.Sprintf("_=%d", time.Now().UnixMilli())
	ctx, cancel := context.WithTimeout(ctx, longPollRequestTimeout)
	defer cancel()
	resp, err := t.http.do(ctx, request{method: http.MethodGet, url: u})
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode == http.StatusNoContent {
		drain(resp)
		return nil, resp.StatusCode, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode, httpErrorFrom(resp)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(t.maxReceive)*4+1))
	if err != nil {
		return nil, 0, err
	}
	if len(b) > t.maxReceive*4 {
		return nil, 0, errors.New("long polling response exceeds the maximum size")
	}
	return b, resp.StatusCode, nil
}

func (t *lpTransport) send(ctx context.Context, p []byte) error {
	return postSend(ctx, t.http, t.url, p, t.binary)
}

func (t *lpTransport) receive(ctx context.Context) ([]byte, error) {
	if p := t.pending; len(p) > 0 {
		t.pending = nil
		return p, nil
	}
	stop := context.AfterFunc(ctx, t.cancel)
	defer stop()
	for {
		p, status, err := t.poll(t.ctx)
		switch {
		case t.ctx.Err() != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, io.EOF // stopped by us
		case errors.Is(err, context.DeadlineExceeded):
			continue // client-side poll timeout: poll again
		case err != nil:
			return nil, err
		case status == http.StatusNoContent:
			return nil, io.EOF // the server ended the connection
		case len(p) > 0:
			return p, nil
		}
	}
}

func (t *lpTransport) stop(ctx context.Context) error {
	t.abort()
	ctx, cancel := context.WithTimeout(ctx, httpRequestTimeout)
	defer cancel()
	resp, err := t.http.do(ctx, request{method: http.MethodDelete, url: t.url})
	if err != nil {
		return fmt.Errorf("long polling DELETE: %w", err)
	}
	if resp.StatusCode == http.StatusNotFound { // already gone: fine
		drain(resp)
		return nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return httpErrorFrom(resp)
	}
	drain(resp)
	return nil
}

func (t *lpTransport) abort() {
	if t.cancel != nil {
		t.cancel()
	}
}
