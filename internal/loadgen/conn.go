package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/gosignalr/gosignalr/transports"
)

// dialConfig holds what every connection of a run shares.
type dialConfig struct {
	http      *http.Client
	codec     wireCodec
	transport transports.TransportType
	// skipNegotiate opens WebSockets without negotiate (as the JS client's
	// skipNegotiation does); the connection id is then unknown.
	skipNegotiate bool
	// onFail, if set, is called once when a connection's reader ends with an
	// error (not for Close).
	onFail func(err error)
}

// rawTransport moves bytes for one connection.
type rawTransport interface {
	// send delivers p (whole records) as one unit. Calls are serialized by Conn.
	send(ctx context.Context, p []byte) error
	// recv returns the next chunk from the server, valid until the next call.
	// It returns io.EOF when the server ended the connection normally.
	recv(ctx context.Context) ([]byte, error)
	// close ends the transport; recv then returns.
	close()
}

// Conn is one lean SignalR client connection: negotiate, transport,
// handshake, then a reader goroutine that dispatches records.
type Conn struct {
	id    string // connection id from negotiate ("" with skipNegotiate)
	codec wireCodec
	t     rawTransport

	// onMessage is called on the reader goroutine for each Invocation from
	// the server, with its last string argument (nil if none).
	onMessage func(arg []byte, rec *record)
	onFail    func(err error)

	wmu  sync.Mutex // serializes sends: keeps one sender's messages in order
	wbuf []byte

	pmu     sync.Mutex
	pending map[string]chan invokeResult
	nextID  atomic.Int64

	leftover []byte // bytes of an incomplete record carried to the next chunk

	ctx     context.Context
	cancel  context.CancelFunc
	closing atomic.Bool
	done    chan struct{}
	err     error // why the reader ended; read after done
}

type invokeResult struct {
	result []byte
	err    error
}

// errInvocationFailed wraps the error text of a Completion.
var errInvocationFailed = errors.New("loadgen: invocation failed")

// errServerClosed marks a connection the server ended while the run still needed it.
var errServerClosed = errors.New("loadgen: server closed the connection")

type negotiateResponse struct {
	ConnectionID        string `json:"connectionId"`
	ConnectionToken     string `json:"connectionToken"`
	NegotiateVersion    int    `json:"negotiateVersion"`
	Error               string `json:"error"`
	URL                 string `json:"url"`
	AvailableTransports []struct {
		Transport       string   `json:"transport"`
		TransferFormats []string `json:"transferFormats"`
	} `json:"availableTransports"`
}

// dial opens a connection to the hub at base (an http(s) URL) and completes
// the handshake. onMessage must be set before messages can arrive, so it is
// passed in.
func dial(ctx context.Context, cfg *dialConfig, base string, onMessage func([]byte, *record)) (*Conn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("loadgen: bad hub URL %q: %w", base, err)
	}
	var token, id string
	if !(cfg.skipNegotiate && cfg.transport == transports.WebSockets) {
		nr, err := negotiate(ctx, cfg.http, u)
		if err != nil {
			return nil, err
		}
		token, id = nr.ConnectionToken, nr.ConnectionID
		if token == "" {
			token = id // negotiate version 0
		}
		found := false
		for _, t := range nr.AvailableTransports {
			if t.Transport == cfg.transport.String() {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("loadgen: server does not offer %s", cfg.transport)
		}
	}
	connURL := *u
	if token != "" {
		q := connURL.Query()
		q.Set("id", token)
		connURL.RawQuery = q.Encode()
	}

	cctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		onFail:    cfg.onFail,
		id:        id,
		codec:     cfg.codec,
		onMessage: onMessage,
		pending:   make(map[string]chan invokeResult),
		ctx:       cctx,
		cancel:    cancel,
		done:      make(chan struct{}),
	}
	switch cfg.transport {
	case transports.WebSockets:
		c.t, err = dialWS(ctx, cctx, cfg, connURL)
	case transports.ServerSentEvents:
		c.t, err = dialSSE(ctx, cctx, cfg, connURL)
	case transports.LongPolling:
		c.t, err = dialLP(ctx, cctx, cfg, connURL)
	default:
		err = fmt.Errorf("loadgen: unknown transport %v", cfg.transport)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if err := c.handshake(ctx); err != nil {
		c.t.close()
		cancel()
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

func negotiate(ctx context.Context, hc *http.Client, u *url.URL) (*negotiateResponse, error) {
	nu := *u
	nu.Path = strings.TrimSuffix(nu.Path, "/") + "/negotiate"
	q := nu.Query()
	q.Set("negotiateVersion", "1")
	nu.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, nu.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: negotiate: %w", err)
	}
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadgen: negotiate: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("loadgen: negotiate: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("loadgen: negotiate: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var nr negotiateResponse
	if err := json.Unmarshal(body, &nr); err != nil {
		return nil, fmt.Errorf("loadgen: negotiate: %w", err)
	}
	switch {
	case nr.Error != "":
		return nil, fmt.Errorf("loadgen: negotiate: server error: %s", nr.Error)
	case nr.URL != "":
		return nil, fmt.Errorf("loadgen: negotiate: redirects are not supported (to %s)", nr.URL)
	case nr.ConnectionID == "":
		return nil, errors.New("loadgen: negotiate: no connectionId")
	}
	return &nr, nil
}

// handshake sends the handshake request and reads the response; bytes after
// the response are kept as the start of the record stream.
func (c *Conn) handshake(ctx context.Context) error {
	req := fmt.Sprintf("{\"protocol\":%q,\"version\":1}\x1e", c.codec.Name())
	if err := c.t.send(ctx, []byte(req)); err != nil {
		return fmt.Errorf("loadgen: handshake: %w", err)
	}
	var buf []byte
	for {
		chunk, err := c.t.recv(ctx)
		if err != nil {
			return fmt.Errorf("loadgen: handshake: %w", err)
		}
		buf = append(buf, chunk...)
		i := bytes.IndexByte(buf, recordSeparator)
		if i < 0 {
			if len(buf) > 1<<16 {
				return errors.New("loadgen: handshake: response too large")
			}
			continue
		}
		var resp struct {
			Error string `json:"error"`
			Type  *int   `json:"type"`
		}
		if err := json.Unmarshal(buf[:i], &resp); err != nil {
			return fmt.Errorf("loadgen: handshake: bad response %q: %w", buf[:i], err)
		}
		if resp.Error != "" {
			return fmt.Errorf("loadgen: handshake: server error: %s", resp.Error)
		}
		if resp.Type != nil {
			return errors.New("loadgen: handshake: expected a handshake response")
		}
		c.leftover = append(c.leftover[:0], buf[i+1:]...)
		return nil
	}
}

func (c *Conn) readLoop() {
	defer close(c.done)
	defer c.failPending()
	var rec record
	// Records that arrived with the handshake response.
	if err := c.feed(nil, &rec); err != nil {
		c.finish(err)
		return
	}
	for {
		chunk, err := c.t.recv(c.ctx)
		if err != nil {
			if c.closing.Load() {
				err = nil
			} else if errors.Is(err, io.EOF) {
				err = errServerClosed
			}
			c.finish(err)
			return
		}
		if err := c.feed(chunk, &rec); err != nil {
			c.finish(err)
			return
		}
	}
}

func (c *Conn) finish(err error) {
	c.err = err
	if err != nil && c.onFail != nil {
		c.onFail(err)
	}
	c.cancel()
	c.t.close()
}

// feed parses every complete record of leftover+chunk and dispatches it.
func (c *Conn) feed(chunk []byte, rec *record) error {
	buf := chunk
	if len(c.leftover) > 0 {
		c.leftover = append(c.leftover, chunk...)
		buf = c.leftover
	}
	for len(buf) > 0 {
		n, err := c.codec.Parse(buf, rec)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		buf = buf[n:]
		if err := c.dispatch(rec); err != nil {
			return err
		}
	}
	// Keep the incomplete tail; copy because chunk's memory is reused.
	if len(buf) == 0 {
		c.leftover = c.leftover[:0]
	} else {
		c.leftover = append(c.leftover[:0], buf...)
	}
	return nil
}

func (c *Conn) dispatch(rec *record) error {
	switch rec.Type {
	case 1: // Invocation
		if c.onMessage != nil {
			c.onMessage(rec.Arg, rec)
		}
	case 3: // Completion
		c.pmu.Lock()
		ch := c.pending[string(rec.InvocationID)]
		delete(c.pending, string(rec.InvocationID))
		c.pmu.Unlock()
		if ch == nil {
			return fmt.Errorf("loadgen: completion for unknown invocation %q", rec.InvocationID)
		}
		var res invokeResult
		if len(rec.Error) > 0 {
			res.err = fmt.Errorf("%w: %s", errInvocationFailed, rec.Error)
		} else if rec.Result != nil {
			res.result = append([]byte(nil), rec.Result...)
		}
		ch <- res
	case 7: // Close
		if c.closing.Load() {
			return nil
		}
		if len(rec.Error) > 0 {
			return fmt.Errorf("%w with error: %s", errServerClosed, rec.Error)
		}
		return errServerClosed
	}
	return nil
}

func (c *Conn) failPending() {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for id, ch := range c.pending {
		ch <- invokeResult{err: errors.New("loadgen: connection ended before the completion")}
		delete(c.pending, id)
	}
	c.pending = nil
}

// writeTimeout bounds one send. Sends do not take the caller's context: a
// WebSocket write cut short by a cancelled context kills the connection, and
// the end of a run must not do that.
const writeTimeout = 10 * time.Second

// write sends p under the write lock's protection (callers hold wmu).
func (c *Conn) write(p []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.t.send(ctx, p)
}

// send writes a non-blocking invocation (no completion expected).
func (c *Conn) send(target string, args ...[]byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	c.wbuf, err = c.codec.AppendInvocation(c.wbuf[:0], "", target, args...)
	if err != nil {
		return err
	}
	return c.write(c.wbuf)
}

// sendRaw writes already-encoded records.
func (c *Conn) sendRaw(p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.write(p)
}

// invoke calls target and waits for its completion (ctx bounds the wait,
// not the send); it returns the string result (nil for a null or non-string
// result).
func (c *Conn) invoke(ctx context.Context, target string, args ...[]byte) ([]byte, error) {
	id := strconv.FormatInt(c.nextID.Add(1), 10)
	ch := make(chan invokeResult, 1)
	c.pmu.Lock()
	if c.pending == nil {
		c.pmu.Unlock()
		return nil, errors.New("loadgen: connection ended")
	}
	c.pending[id] = ch
	c.pmu.Unlock()

	c.wmu.Lock()
	var err error
	c.wbuf, err = c.codec.AppendInvocation(c.wbuf[:0], id, target, args...)
	if err == nil {
		err = c.write(c.wbuf)
	}
	c.wmu.Unlock()
	if err != nil {
		c.pmu.Lock()
		if c.pending != nil {
			delete(c.pending, id)
		}
		c.pmu.Unlock()
		return nil, err
	}
	select {
	case r := <-ch:
		return r.result, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ping sends a keep-alive Ping.
func (c *Conn) ping() error {
	return c.sendRaw(c.codec.AppendPing(nil))
}

// Close ends the connection gracefully (Close record, then transport close)
// and waits for the reader to stop. It returns the reader's error, if the
// connection had failed before.
func (c *Conn) Close() error {
	if c.closing.Swap(true) {
		<-c.done
		return c.err
	}
	select {
	case <-c.done: // already failed
	default:
		_ = c.sendRaw(c.codec.AppendClose(nil))
	}
	c.t.close()
	c.cancel()
	<-c.done
	return c.err
}

// Err is why the connection ended before Close; nil while it is alive.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// --- WebSockets ---

type wsTransport struct {
	c      *websocket.Conn
	binary bool
	rbuf   []byte
}

func dialWS(ctx, connCtx context.Context, cfg *dialConfig, u url.URL) (rawTransport, error) {
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	c, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{
		HTTPClient:      cfg.http,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("loadgen: websocket: %w", err)
	}
	c.SetReadLimit(maxRecordSize)
	return &wsTransport{c: c, binary: cfg.codec.Binary()}, nil
}

func (t *wsTransport) send(ctx context.Context, p []byte) error {
	typ := websocket.MessageText
	if t.binary {
		typ = websocket.MessageBinary
	}
	return t.c.Write(ctx, typ, p)
}

func (t *wsTransport) recv(ctx context.Context) ([]byte, error) {
	_, r, err := t.c.Reader(ctx)
	if err != nil {
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
			return nil, io.EOF
		}
		return nil, err
	}
	t.rbuf = t.rbuf[:0]
	for {
		if len(t.rbuf) == cap(t.rbuf) {
			t.rbuf = append(t.rbuf, 0)[:len(t.rbuf)]
		}
		n, err := r.Read(t.rbuf[len(t.rbuf):cap(t.rbuf)])
		t.rbuf = t.rbuf[:len(t.rbuf)+n]
		if err == io.EOF {
			return t.rbuf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (t *wsTransport) close() { _ = t.c.Close(websocket.StatusNormalClosure, "") }

// --- HTTP send (SSE and Long Polling) ---

type httpSender struct {
	hc      *http.Client
	url     string
	binary  bool
	connCtx context.Context
}

func (s *httpSender) send(ctx context.Context, p []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(p))
	if err != nil {
		return err
	}
	if s.binary {
		req.Header.Set("Content-Type", "application/octet-stream")
	} else {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("loadgen: send: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("loadgen: send: status %d", resp.StatusCode)
	}
	return nil
}

// --- Server-Sent Events ---

type sseTransport struct {
	httpSender
	body   io.ReadCloser
	br     *bufio.Reader
	cancel context.CancelFunc
	event  []byte
}

func dialSSE(ctx, connCtx context.Context, cfg *dialConfig, u url.URL) (rawTransport, error) {
	// The stream outlives ctx (the dial deadline), so it runs on its own context.
	sctx, cancel := context.WithCancel(connCtx)
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	type result struct {
		resp *http.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := cfg.http.Do(req)
		ch <- result{resp, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		cancel()
		if r = <-ch; r.err == nil {
			r.resp.Body.Close()
		}
		return nil, fmt.Errorf("loadgen: sse: %w", ctx.Err())
	}
	if r.err != nil {
		cancel()
		return nil, fmt.Errorf("loadgen: sse: %w", r.err)
	}
	if r.resp.StatusCode != http.StatusOK {
		r.resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("loadgen: sse: status %d", r.resp.StatusCode)
	}
	return &sseTransport{
		httpSender: httpSender{hc: cfg.http, url: u.String(), connCtx: connCtx},
		body:       r.resp.Body,
		br:         bufio.NewReaderSize(r.resp.Body, 4096),
		cancel:     cancel,
	}, nil
}

// recv returns the data of the next event, lines joined by '\n'.
func (t *sseTransport) recv(ctx context.Context) ([]byte, error) {
	t.event = t.event[:0]
	hasData := false
	for {
		line, err := t.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it whole.
			full := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = t.br.ReadSlice('\n')
				full = append(full, line...)
				if len(full) > maxRecordSize {
					return nil, errors.New("loadgen: sse: line too long")
				}
			}
			line = full
		}
		if err != nil {
			if err == io.EOF || t.connCtx.Err() != nil {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("loadgen: sse: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if hasData {
				return t.event, nil
			}
		case line[0] == ':':
			// comment
		case bytes.HasPrefix(line, []byte("data:")):
			v := line[len("data:"):]
			if len(v) > 0 && v[0] == ' ' {
				v = v[1:]
			}
			if hasData {
				t.event = append(t.event, '\n')
			}
			t.event = append(t.event, v...)
			hasData = true
		}
	}
}

func (t *sseTransport) close() {
	t.cancel()
	t.body.Close()
}

// --- Long Polling ---

type lpTransport struct {
	httpSender
	rbuf      []byte
	closeOnce sync.Once
}

func dialLP(ctx, connCtx context.Context, cfg *dialConfig, u url.URL) (rawTransport, error) {
	t := &lpTransport{httpSender: httpSender{hc: cfg.http, url: u.String(), binary: cfg.codec.Binary(), connCtx: connCtx}}
	// The first poll starts the connection and answers at once with no data.
	body, status, err := t.poll(ctx)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK || len(body) != 0 {
		return nil, fmt.Errorf("loadgen: long polling: first poll gave status %d with %d bytes", status, len(body))
	}
	return t, nil
}

func (t *lpTransport) poll(ctx context.Context) ([]byte, int, error) {
	u := t.url + "&_=" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("loadgen: poll: %w", err)
	}
	defer resp.Body.Close()
	t.rbuf = t.rbuf[:0]
	buf := bytes.NewBuffer(t.rbuf)
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxRecordSize)); err != nil {
		return nil, 0, fmt.Errorf("loadgen: poll: %w", err)
	}
	t.rbuf = buf.Bytes()
	return t.rbuf, resp.StatusCode, nil
}

func (t *lpTransport) recv(ctx context.Context) ([]byte, error) {
	for {
		body, status, err := t.poll(ctx)
		if err != nil {
			if t.connCtx.Err() != nil {
				return nil, io.EOF
			}
			return nil, err
		}
		switch status {
		case http.StatusOK:
			if len(body) > 0 {
				return body, nil
			}
		case http.StatusNoContent:
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("loadgen: poll: status %d", status)
		}
	}
}

func (t *lpTransport) close() {
	t.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, t.url, nil)
		if err != nil {
			return
		}
		if resp, err := t.hc.Do(req); err == nil {
			resp.Body.Close()
		}
	})
}
