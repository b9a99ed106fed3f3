package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// fakeServer is a small protocol-level SignalR server for testing the client
// while exercising paths our real server cannot (yet) produce on demand:
// stateful-reconnect replays, abrupt drops, odd negotiate answers. It speaks
// JSON over WebSockets, SSE and Long Polling.
type fakeServer struct {
	t          testing.TB
	srv        *httptest.Server
	transports []string // advertised, in order
	stateful   bool     // honour useStatefulReconnect
	failWS     bool     // reject WebSocket upgrades (fallback tests)
	negotiate  func(w http.ResponseWriter, r *http.Request) bool
	refuse     atomic.Bool // answer negotiate with 503
	token      string      // when set, transport requests need "Bearer <token>" (401 otherwise)
	noAck      atomic.Bool // stateful: never acknowledge client messages
	replayAll  bool        // stateful: resume with Sequence 1 and every message ever sent
	badSeq     bool        // stateful: resume with a Sequence past what the client received

	mu          sync.Mutex
	conns       map[string]*fakeConn
	seq         int
	negotiates  atomic.Int32
	lastHeaders http.Header
}

type fakeConn struct {
	s         *fakeServer
	id, token string
	transport string
	query     string

	mu        sync.Mutex
	ws        *websocket.Conn
	out       chan []byte // SSE / LP output
	closed    chan struct{}
	closeOnce sync.Once
	buf       []byte
	handshake bool
	version   int
	pending   map[string]string // client-result id -> original invocation id
	uploads   map[string]*strings.Builder
	uploadFor map[string]string // stream id -> invocation id
	cancels   chan string
	pings     atomic.Int32

	// stateful
	sent       [][]byte // trackable messages sent (numbered from 1)
	acked      int64
	received   int64
	nextIn     int64 // number of the next trackable message from the client
	gotSeq     chan int64
	statefulOn bool
	holdWrites bool
}

func newFakeServer(t testing.TB) *fakeServer {
	fs := &fakeServer{t: t, transports: []string{"WebSockets", "ServerSentEvents", "LongPolling"}, conns: map[string]*fakeConn{}}
	fs.srv = httptest.NewServer(fs)
	t.Cleanup(fs.close)
	return fs
}

func (fs *fakeServer) url() string { return fs.srv.URL + "/hub" }

func (fs *fakeServer) close() {
	fs.mu.Lock()
	for _, c := range fs.conns {
		c.shutdown()
	}
	fs.mu.Unlock()
	fs.srv.CloseClientConnections()
	fs.srv.Close()
}

func (fs *fakeServer) conn(token string) *fakeConn {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.conns[token]
}

// only returns the single live connection (tests with one client).
func (fs *fakeServer) latest() *fakeConn {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var last *fakeConn
	best := -1
	for _, c := range fs.conns {
		var n int
		fmt.Sscanf(c.id, "conn%d", &n)
		if n > best {
			best, last = n, c
		}
	}
	return last
}

func (fs *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fs.mu.Lock()
	fs.lastHeaders = r.Header.Clone()
	fs.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/negotiate") {
		fs.negotiates.Add(1)
		if fs.refuse.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if fs.negotiate != nil && fs.negotiate(w, r) {
			return
		}
		c := fs.newConn(r)
		resp := map[string]any{"negotiateVersion": 1, "connectionId": c.id, "connectionToken": c.token}
		if fs.stateful && r.URL.Query().Get("useStatefulReconnect") == "true" {
			resp["useStatefulReconnect"] = true
		}
		var ts []map[string]any
		for _, name := range fs.transports {
			formats := []string{"Text", "Binary"}
			if name == "ServerSentEvents" {
				formats = []string{"Text"}
			}
			ts = append(ts, map[string]any{"transport": name, "transferFormats": formats})
		}
		resp["availableTransports"] = ts
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
		return
	}
	if fs.token != "" && r.Header.Get("Authorization") != "Bearer "+fs.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	token := r.URL.Query().Get("id")
	if token == "" && r.Header.Get("Upgrade") != "" { // skipNegotiation
		token = fs.newConn(r).token
	}
	c := fs.conn(token)
	if c == nil {
		http.Error(w, "No Connection with that ID", http.StatusNotFound)
		return
	}
	switch {
	case r.Method == http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		c.feed(b)
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodDelete:
		c.shutdown()
		w.WriteHeader(http.StatusAccepted)
	case strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		c.mu.Lock()
		c.transport = "ServerSentEvents"
		c.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ":\r\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case p := <-c.out:
				for _, line := range strings.Split(string(p), "\n") {
					fmt.Fprintf(w, "data: %s\r\n", strings.TrimSuffix(line, "\r"))
				}
				_, _ = io.WriteString(w, "\r\n")
				w.(http.Flusher).Flush()
			case <-c.closed:
				return
			case <-r.Context().Done():
				return
			}
		}
	case r.Header.Get("Upgrade") != "":
		if fs.failWS {
			http.Error(w, "no websockets here", http.StatusBadRequest)
			return
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.mu.Lock()
		resumed := c.ws != nil
		c.ws = ws
		c.transport = "WebSockets"
		c.buf = nil
		c.mu.Unlock()
		if resumed {
			c.resumeServerSide()
		}
		ctx := r.Context()
		for {
			_, p, err := ws.Read(ctx)
			if err != nil {
				if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
					c.shutdown()
				}
				return
			}
			c.feed(p)
		}
	default: // long polling
		c.mu.Lock()
		first := c.transport == ""
		c.transport = "LongPolling"
		c.mu.Unlock()
		if first {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(http.StatusOK)
			return
		}
		select {
		case p := <-c.out:
			// Batch what is queued, like a real server.
			for more := true; more; {
				select {
				case q := <-c.out:
					p = append(p, q...)
				default:
					more = false
				}
			}
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write(p)
		case <-c.closed:
			w.WriteHeader(http.StatusNoContent)
		case <-time.After(200 * time.Millisecond):
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}
}

func (fs *fakeServer) newConn(r *http.Request) *fakeConn {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.seq++
	c := &fakeConn{s: fs, id: fmt.Sprintf("conn%d", fs.seq), token: fmt.Sprintf("tok%d", fs.seq),
		out: make(chan []byte, 256), closed: make(chan struct{}), pending: map[string]string{},
		uploads: map[string]*strings.Builder{}, uploadFor: map[string]string{}, cancels: make(chan string, 16),
		gotSeq: make(chan int64, 4), query: r.URL.RawQuery, nextIn: 1}
	fs.conns[c.token] = c
	return c
}

func (c *fakeConn) shutdown() {
	c.closeOnce.Do(func() { close(c.closed) })
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		_ = ws.Close(websocket.StatusNormalClosure, "")
	}
}

// drop kills the WebSocket without a close frame.
func (c *fakeConn) drop() {
	c.mu.Lock()
	ws := c.ws
	c.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
}

func (c *fakeConn) write(p []byte) {
	c.mu.Lock()
	ws, tr := c.ws, c.transport
	c.mu.Unlock()
	if tr == "WebSockets" && ws != nil {
		_ = ws.Write(context.Background(), websocket.MessageText, p)
		return
	}
	select {
	case c.out <- p:
	case <-c.closed:
	}
}

func (c *fakeConn) send(m protocol.HubMessage) {
	b, err := protocol.JSON.AppendMessage(nil, m)
	if err != nil {
		c.s.t.Errorf("fake server encode: %v", err)
		return
	}
	c.mu.Lock()
	if c.statefulOn && protocol.IsTrackable(m) {
		c.sent = append(c.sent, b)
	}
	hold := c.holdWrites
	c.mu.Unlock()
	if hold {
		return // buffered only: delivered by the replay after a resume
	}
	c.write(b)
}

// resumeServerSide replays what the client has not acknowledged.
func (c *fakeConn) resumeServerSide() {
	c.mu.Lock()
	from := c.acked + 1
	msgs := append([][]byte(nil), c.sent...) // sent holds only unacknowledged messages
	if c.s.replayAll {
		from = 1
	}
	if c.s.badSeq {
		from = int64(len(c.sent)) + 10
	}
	c.holdWrites = false
	c.mu.Unlock()
	seq, _ := protocol.JSON.AppendMessage(nil, &protocol.Sequence{SequenceID: from})
	for _, m := range msgs {
		seq = append(seq, m...)
	}
	c.write(seq)
}

func (c *fakeConn) feed(p []byte) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	var msgs []protocol.HubMessage
	if !c.handshake {
		i := strings.IndexByte(string(c.buf), 0x1E)
		if i < 0 {
			c.mu.Unlock()
			return
		}
		var hs struct {
			Protocol string `json:"protocol"`
			Version  int    `json:"version"`
		}
		_ = json.Unmarshal(c.buf[:i], &hs)
		c.handshake, c.version = true, hs.Version
		c.statefulOn = hs.Version >= 2
		c.buf = c.buf[i+1:]
		c.mu.Unlock()
		if hs.Protocol != "json" {
			c.write([]byte(`{"error":"The protocol '` + hs.Protocol + `' is not supported."}` + "\x1e"))
			return
		}
		c.write([]byte("{}\x1e"))
		c.mu.Lock()
	}
	for {
		m, n, err := protocol.JSON.ParseMessage(c.buf, 0)
		if err != nil {
			c.s.t.Errorf("fake server parse: %v", err)
			c.buf = nil
			break
		}
		if n == 0 {
			break
		}
		c.buf = c.buf[n:]
		if m == nil {
			continue
		}
		if sq, ok := m.(*protocol.Sequence); ok {
			c.nextIn = sq.SequenceID
			c.gotSeq <- sq.SequenceID
			continue
		}
		if c.statefulOn && protocol.IsTrackable(m) {
			seq := c.nextIn
			c.nextIn++
			if seq <= c.received {
				continue // duplicate replayed by the client
			}
			c.received = seq
		}
		msgs = append(msgs, m)
	}
	ack := c.statefulOn && !c.s.noAck.Load() && c.received > 0
	received := c.received
	c.mu.Unlock()
	for _, m := range msgs {
		c.handle(m)
	}
	if ack {
		c.send(&protocol.Ack{SequenceID: received})
	}
}

func rawString(a any) string {
	var s string
	if r, ok := a.(protocol.RawValue); ok {
		_ = r.Decode(&s)
	}
	return s
}

func (c *fakeConn) handle(m protocol.HubMessage) {
	switch m := m.(type) {
	case *protocol.Invocation:
		if len(m.StreamIDs) > 0 {
			c.mu.Lock()
			for _, sid := range m.StreamIDs {
				c.uploads[sid] = &strings.Builder{}
				c.uploadFor[sid] = m.InvocationID
			}
			c.mu.Unlock()
			return
		}
		c.invoke(m)
	case *protocol.StreamInvocation:
		switch m.Target {
		case "Count":
			var n int
			_ = m.Arguments[0].(protocol.RawValue).Decode(&n)
			for i := range n {
				c.send(&protocol.StreamItem{InvocationID: m.InvocationID, Item: i})
			}
			c.send(&protocol.Completion{InvocationID: m.InvocationID})
		case "FailStream":
			c.send(&protocol.StreamItem{InvocationID: m.InvocationID, Item: "a"})
			c.send(&protocol.Completion{InvocationID: m.InvocationID, Error: "An error occurred on the server while streaming results."})
		case "Infinite":
			c.send(&protocol.StreamItem{InvocationID: m.InvocationID, Item: "tick"})
		}
	case *protocol.StreamItem:
		c.mu.Lock()
		if b := c.uploads[m.InvocationID]; b != nil {
			b.WriteString(rawString(m.Item))
		}
		c.mu.Unlock()
	case *protocol.Completion:
		c.mu.Lock()
		if inv, ok := c.uploadFor[m.InvocationID]; ok {
			text := c.uploads[m.InvocationID].String()
			delete(c.uploadFor, m.InvocationID)
			c.mu.Unlock()
			if m.Error != "" {
				c.send(&protocol.Completion{InvocationID: inv, Error: "An unexpected error occurred invoking 'Concat' on the server. HubException: " + m.Error})
			} else {
				c.send(&protocol.Completion{InvocationID: inv, HasResult: true, Result: text})
			}
			return
		}
		orig, ok := c.pending[m.InvocationID]
		delete(c.pending, m.InvocationID)
		c.mu.Unlock()
		if ok {
			if m.Error != "" {
				c.send(&protocol.Completion{InvocationID: orig, HasResult: true, Result: "error: " + m.Error})
			} else {
				c.send(&protocol.Completion{InvocationID: orig, HasResult: true, Result: m.Result})
			}
		}
	case *protocol.CancelInvocation:
		c.cancels <- m.InvocationID
		c.send(&protocol.Invocation{Target: "StreamCanceled", Arguments: []any{}})
	case *protocol.Ack:
		c.mu.Lock()
		if m.SequenceID > c.acked && !c.s.replayAll {
			c.sent = c.sent[m.SequenceID-c.acked:]
			c.acked = m.SequenceID
			// sent is re-based: keep indexes relative to acked
		}
		c.mu.Unlock()
	case *protocol.Ping:
		c.pings.Add(1)
	case *protocol.Close:
		c.shutdown()
	}
}

func (c *fakeConn) invoke(m *protocol.Invocation) {
	reply := func(v any) {
		if m.InvocationID != "" {
			c.send(&protocol.Completion{InvocationID: m.InvocationID, HasResult: true, Result: v})
		}
	}
	switch m.Target {
	case "Echo":
		reply(m.Arguments[0])
	case "Void":
		reply(nil)
	case "Add":
		var a, b int
		_ = m.Arguments[0].(protocol.RawValue).Decode(&a)
		_ = m.Arguments[1].(protocol.RawValue).Decode(&b)
		reply(a + b)
	case "Fail":
		c.send(&protocol.Completion{InvocationID: m.InvocationID, Error: "An unexpected error occurred invoking 'Fail' on the server. HubException: boom"})
	case "CallMe":
		c.send(&protocol.Invocation{Target: "Message", Arguments: m.Arguments})
		reply(nil)
	case "Transport":
		c.mu.Lock()
		tr := c.transport
		c.mu.Unlock()
		reply(tr)
	case "Query":
		reply(c.query)
	case "Header":
		c.s.mu.Lock()
		h := c.s.lastHeaders.Get(rawString(m.Arguments[0]))
		c.s.mu.Unlock()
		reply(h)
	case "ClientResult":
		c.mu.Lock()
		sid := "s" + m.InvocationID
		c.pending[sid] = m.InvocationID
		c.mu.Unlock()
		c.send(&protocol.Invocation{InvocationID: sid, Target: rawString(m.Arguments[0]), Arguments: m.Arguments[1:]})
	case "CloseMe":
		var allow bool
		_ = m.Arguments[1].(protocol.RawValue).Decode(&allow)
		c.send(&protocol.Close{Error: rawString(m.Arguments[0]), AllowReconnect: allow})
		c.shutdown()
	case "Drop":
		c.drop()
	case "Count":
		var n int
		_ = m.Arguments[0].(protocol.RawValue).Decode(&n)
		for i := range n {
			c.send(&protocol.Invocation{Target: "Tick", Arguments: []any{i}})
		}
		reply(n)
	case "Received":
		c.mu.Lock()
		n := c.received
		c.mu.Unlock()
		reply(n)
	case "Hold":
		// Stateful tests: next messages are only buffered, then the socket drops.
		c.mu.Lock()
		c.holdWrites = true
		c.mu.Unlock()
		reply("held")
		c.drop()
	}
}
