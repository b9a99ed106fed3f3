package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
)

// BaselineServer is the socket layer alone: a WebSocket server with no hub
// runtime. It answers negotiate and the handshake like a SignalR server, then
// fans every frame a client sends out, byte for byte, to every connection.
// Each connection has one writer goroutine and a bounded queue, as a hub
// runtime would, and batches queued frames into one WebSocket message. A
// broadcast run against it therefore measures the ceiling the hub runtime
// is compared with.
//
// Frames that are exactly a Ping record are dropped, and a Close record ends
// the sender's connection, so the load client's keep-alives are not fanned out.
type BaselineServer struct {
	// QueueSize is the number of frames queued per connection before it is
	// dropped as a slow consumer. Zero means 1024.
	QueueSize int
	// Logger receives connection errors; zero value: silent.
	Logger zerolog.Logger

	conns    atomic.Pointer[[]*baseConn] // copy-on-write snapshot for lock-free fan-out
	mu       sync.Mutex                  // guards writes to conns and closed
	closed   bool
	active   sync.WaitGroup
	accepted atomic.Int64
}

type baseConn struct {
	ws     *websocket.Conn
	typ    websocket.MessageType
	ctx    context.Context
	cancel context.CancelFunc
	limit  int

	// The queue is a slice that is nil while idle, and the writer goroutine
	// exists only while there is something to write, so an idle connection
	// costs neither queue memory nor a goroutine stack.
	mu      sync.Mutex
	pending [][]byte
	writing bool           // a flush goroutine is running
	closed  bool           // no more writers may start
	writers sync.WaitGroup // the flush goroutine, if any
}

var (
	jsonPingRecord  = []byte("{\"type\":6}\x1e")
	jsonCloseRecord = []byte("{\"type\":7}\x1e")
	msgpPingRecord  = []byte{0x02, 0x91, 0x06}
)

// ServeHTTP serves negotiate (any path ending in /negotiate) and WebSocket
// connections (anything else).
func (s *BaselineServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(strings.ToLower(r.URL.Path), "/negotiate") {
		s.negotiate(w, r)
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "the baseline server only speaks WebSockets", http.StatusNotFound)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "server closed", http.StatusServiceUnavailable)
		return
	}
	s.active.Add(1)
	s.mu.Unlock()
	defer s.active.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	s.serve(r.Context(), ws)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *BaselineServer) negotiate(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	id := newID()
	body, _ := json.Marshal(map[string]any{
		"negotiateVersion": 1,
		"connectionId":     id,
		"connectionToken":  id,
		"availableTransports": []map[string]any{
			{"transport": "WebSockets", "transferFormats": []string{"Text", "Binary"}},
		},
	})
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *BaselineServer) serve(ctx context.Context, ws *websocket.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Handshake: the first record is JSON; answer {} in the frame type the
	// protocol needs.
	var hs []byte
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			return
		}
		hs = append(hs, p...)
		if bytes.IndexByte(hs, recordSeparator) >= 0 {
			break
		}
		if len(hs) > 1<<16 {
			ws.Close(websocket.StatusPolicyViolation, "handshake too large")
			return
		}
	}
	i := bytes.IndexByte(hs, recordSeparator)
	var req struct {
		Protocol string `json:"protocol"`
	}
	if err := json.Unmarshal(hs[:i], &req); err != nil {
		_ = ws.Write(ctx, websocket.MessageText, []byte("{\"error\":\"An unexpected error occurred during connection handshake.\"}\x1e"))
		ws.Close(websocket.StatusNormalClosure, "")
		return
	}
	typ := websocket.MessageText
	if req.Protocol == "messagepack" {
		typ = websocket.MessageBinary
	}
	size := s.QueueSize
	if size <= 0 {
		size = 1024
	}
	c := &baseConn{ws: ws, typ: typ, ctx: ctx, cancel: cancel, limit: size}
	// The handshake response goes first through the queue, and the
	// connection is registered before it is written: a client that has its
	// response is sure to get every later broadcast.
	s.enqueue(c, []byte("{}\x1e"))
	if !s.add(c) {
		ws.Close(websocket.StatusGoingAway, "")
		return
	}
	s.accepted.Add(1)
	defer func() {
		s.remove(c)
		cancel()
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.writers.Wait()
		ws.CloseNow()
	}()
	if rest := hs[i+1:]; len(rest) > 0 {
		s.fanOut(rest)
	}
	for {
		_, p, err := ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && ctx.Err() == nil {
				s.Logger.Debug().Err(err).Msg("baseline: read")
			}
			return
		}
		switch {
		case bytes.Equal(p, jsonPingRecord), bytes.Equal(p, msgpPingRecord):
			continue
		case bytes.Equal(p, jsonCloseRecord):
			ws.Close(websocket.StatusNormalClosure, "")
			return
		}
		if id, ok := invocationID(p); ok {
			// A blocking invocation (the load client's ready check) gets
			// a void completion, to the caller only.
			s.enqueue(c, []byte("{\"type\":3,\"invocationId\":\""+id+"\",\"result\":null}\x1e"))
			continue
		}
		s.fanOut(p)
	}
}

// flush writes what is queued, batching it into as few WebSocket messages
// as possible (64 KiB at most each; records are never split), and returns
// when the queue is empty.
func (s *BaselineServer) flush(c *baseConn) {
	defer c.writers.Done()
	var batch []byte
	for {
		c.mu.Lock()
		msgs := c.pending
		c.pending = nil
		if len(msgs) == 0 || c.ctx.Err() != nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		for len(msgs) > 0 {
			p := msgs[0]
			n := 1
			if len(msgs) > 1 {
				batch = append(batch[:0], p...)
				for n < len(msgs) && len(batch)+len(msgs[n]) <= 64<<10 {
					batch = append(batch, msgs[n]...)
					n++
				}
				p = batch
			}
			if err := c.ws.Write(c.ctx, c.typ, p); err != nil {
				c.cancel()
				break
			}
			msgs = msgs[n:]
		}
	}
}

func (s *BaselineServer) fanOut(p []byte) {
	conns := s.conns.Load()
	if conns == nil {
		return
	}
	for _, c := range *conns {
		s.enqueue(c, p)
	}
}

func (s *BaselineServer) enqueue(c *baseConn, p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if len(c.pending) >= c.limit {
		// Slow consumer: drop the connection rather than block everyone.
		s.Logger.Warn().Msg("baseline: slow consumer dropped")
		c.cancel()
		return
	}
	c.pending = append(c.pending, p)
	if !c.writing {
		c.writing = true
		c.writers.Add(1)
		go s.flush(c)
	}
}

// invocationID finds the invocation id of a single JSON Invocation record
// with one; only the load client's own simple records need to be understood.
func invocationID(p []byte) (string, bool) {
	const key = `"invocationId":"`
	if !bytes.HasPrefix(p, []byte(`{"type":1,`)) {
		return "", false
	}
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := p[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 64 || bytes.ContainsAny(rest[:j], "\\") {
		return "", false
	}
	return string(rest[:j]), true
}

func (s *BaselineServer) add(c *baseConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	var next []*baseConn
	if old := s.conns.Load(); old != nil {
		next = append(make([]*baseConn, 0, len(*old)+1), *old...)
	}
	next = append(next, c)
	s.conns.Store(&next)
	return true
}

func (s *BaselineServer) remove(c *baseConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.conns.Load()
	if old == nil {
		return
	}
	next := make([]*baseConn, 0, len(*old))
	for _, x := range *old {
		if x != c {
			next = append(next, x)
		}
	}
	s.conns.Store(&next)
}

// ConnectionCount is the number of connections past their handshake.
func (s *BaselineServer) ConnectionCount() int {
	if conns := s.conns.Load(); conns != nil {
		return len(*conns)
	}
	return 0
}

// Close ends every connection and waits for their handlers to return.
func (s *BaselineServer) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns.Load()
	s.mu.Unlock()
	if conns != nil {
		for _, c := range *conns {
			c.cancel()
		}
	}
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("loadgen: baseline close: " + ctx.Err().Error())
	}
}
