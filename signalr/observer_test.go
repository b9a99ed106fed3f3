package signalr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// recObserver records every Observer call.
type recObserver struct {
	mu       sync.Mutex
	opened   []string // "transport/protocol"
	closed   []string
	recv     map[string]int
	sent     map[string]int
	invs     []string // "Method:ok" or "Method:error"
	durs     map[string]time.Duration
	bytesIn  int
	bytesOut int
	slow     int
	bad      []string // calls that must never happen
}

func newRecObserver() *recObserver {
	return &recObserver{recv: map[string]int{}, sent: map[string]int{}, durs: map[string]time.Duration{}}
}

func (o *recObserver) ConnectionOpened(transport, protocol string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opened = append(o.opened, transport+"/"+protocol)
}

func (o *recObserver) ConnectionClosed(transport, protocol string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = append(o.closed, transport+"/"+protocol)
}

func (o *recObserver) MessageReceived(msgType string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.recv[msgType]++
}

func (o *recObserver) MessageSent(msgType string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= 0 {
		o.bad = append(o.bad, fmt.Sprintf("MessageSent(%s, %d)", msgType, n))
	}
	o.sent[msgType] += n
}

func (o *recObserver) InvocationCompleted(method string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	result := "ok"
	if err != nil {
		result = "error"
	}
	if d < 0 {
		o.bad = append(o.bad, fmt.Sprintf("InvocationCompleted(%s, %v)", method, d))
	}
	o.invs = append(o.invs, method+":"+result)
	o.durs[method] = d
}

func (o *recObserver) BytesIn(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= 0 {
		o.bad = append(o.bad, fmt.Sprintf("BytesIn(%d)", n))
	}
	o.bytesIn += n
}

func (o *recObserver) BytesOut(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if n <= 0 {
		o.bad = append(o.bad, fmt.Sprintf("BytesOut(%d)", n))
	}
	o.bytesOut += n
}

func (o *recObserver) SlowConsumerDisconnect() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.slow++
}

// countingConn counts the payload bytes the transport really carried, to
// check BytesIn/BytesOut against.
type countingConn struct {
	*memConn
	in, out atomic.Int64
}

func (c *countingConn) Receive(ctx context.Context) ([]byte, error) {
	b, err := c.memConn.Receive(ctx)
	c.in.Add(int64(len(b)))
	return b, err
}

func (c *countingConn) Send(ctx context.Context, p []byte) error {
	err := c.memConn.Send(ctx, p)
	if err == nil {
		c.out.Add(int64(len(p)))
	}
	return err
}

// napHub's method takes a known minimum time.
type napHub struct{}

func (napHub) Nap(ms int) { time.Sleep(time.Duration(ms) * time.Millisecond) }

// untilCompletion reads server messages up to and including a Completion.
func (tc *testClient) untilCompletion() {
	tc.t.Helper()
	for {
		if _, ok := tc.next().(*protocol.Completion); ok {
			return
		}
	}
}

func TestObserver(t *testing.T) {
	const jsonHS = `{"protocol":"json","version":1}`
	closeMsg := `{"type":7}`
	tests := []struct {
		name      string
		hub       any
		opts      Options
		transport transports.TransportType // default WebSockets
		handshake string                   // default JSON
		hsFails   bool
		script    func(c *testClient) // after the handshake; the client's EOF follows
		opened    []string            // nil: []string{"WebSockets/json"} unless hsFails
		recv      map[string]int
		sent      map[string]int // nil: not checked
		invs      []string
	}{
		{
			name: "invocation",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"add","arguments":[2,3]}`)
				c.untilCompletion()
				c.send(closeMsg)
			},
			recv: map[string]int{"Invocation": 1, "Close": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"Add:ok"},
		},
		{
			name: "every client message type",
			script: func(c *testClient) {
				c.send(`{"type":1,"target":"Void","arguments":[]}`,
					`{"type":6}`,
					`{"type":8,"sequenceId":1}`,
					`{"type":9,"sequenceId":1}`,
					`{"type":3,"invocationId":"nobody"}`,
					`{"type":2,"invocationId":"nostream","item":1}`,
					`{"type":5,"invocationId":"nothing"}`,
					`{"type":4,"invocationId":"s","target":"Stream","arguments":[0]}`,
					`{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}`)
				c.untilCompletion()
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 2, "Ping": 1, "Ack": 1, "Sequence": 1, "Completion": 1,
				"StreamItem": 1, "CancelInvocation": 1, "StreamInvocation": 1},
			sent: map[string]int{"Completion": 2, "Close": 1},
			invs: []string{"Void:ok", "Stream:ok", "Echo:ok"},
		},
		{
			name: "hub error",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"ThrowException","arguments":["no"]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"ThrowException:error"},
		},
		{
			name: "unknown method is not an invocation",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Missing","arguments":[]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: nil,
		},
		{
			name: "arguments that do not bind",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Add","arguments":["x",1]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"Add:error"},
		},
		{
			name: "unauthorized",
			opts: Options{AuthorizeMethod: func(_ *Context, m string) bool { return m != "Echo" }},
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}`)
				c.untilCompletion()
				c.send(`{"type":1,"invocationId":"2","target":"Add","arguments":[1,1]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 2},
			sent: map[string]int{"Completion": 2, "Close": 1},
			invs: []string{"Echo:error", "Add:ok"},
		},
		{
			name: "server stream",
			script: func(c *testClient) {
				c.send(`{"type":4,"invocationId":"1","target":"stream","arguments":[3]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"StreamInvocation": 1},
			sent: map[string]int{"StreamItem": 3, "Completion": 1, "Close": 1},
			invs: []string{"Stream:ok"},
		},
		{
			name: "server stream failing midway",
			script: func(c *testClient) {
				c.send(`{"type":4,"invocationId":"1","target":"FailingStream","arguments":[]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"StreamInvocation": 1},
			sent: map[string]int{"StreamItem": 1, "Completion": 1, "Close": 1},
			invs: []string{"FailingStream:error"},
		},
		{
			name: "streaming method invoked without streaming",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Stream","arguments":[1]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"Stream:error"},
		},
		{
			name: "cancelled stream",
			script: func(c *testClient) {
				c.send(`{"type":4,"invocationId":"1","target":"InfiniteStream","arguments":[]}`)
				c.send(`{"type":5,"invocationId":"1"}`)
				c.untilCompletion()
			},
			recv: map[string]int{"StreamInvocation": 1, "CancelInvocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"InfiniteStream:ok"},
		},
		{
			name: "upload stream",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"StreamingConcat","arguments":[],"streamIds":["s"]}`,
					`{"type":2,"invocationId":"s","item":"a"}`,
					`{"type":2,"invocationId":"s","item":"b"}`,
					`{"type":3,"invocationId":"s"}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1, "StreamItem": 2, "Completion": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"StreamingConcat:ok"},
		},
		{
			name: "broadcast from a hub method",
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Broadcast","arguments":["hi"]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Invocation": 1, "Completion": 1, "Close": 1},
			invs: []string{"Broadcast:ok"},
		},
		{
			name:      "server-sent events, closed by the client's EOF",
			transport: transports.ServerSentEvents,
			script:    func(*testClient) {},
			opened:    []string{"ServerSentEvents/json"},
			recv:      map[string]int{},
			sent:      map[string]int{"Close": 1},
		},
		{
			name:      "messagepack over long polling",
			transport: transports.LongPolling,
			handshake: `{"protocol":"messagepack","version":1}`,
			script:    func(*testClient) {},
			opened:    []string{"LongPolling/messagepack"},
			recv:      map[string]int{},
			sent:      map[string]int{"Close": 1},
		},
		{
			name:      "failed handshake opens nothing",
			handshake: `{"protocol":"carrier-pigeon","version":1}`,
			hsFails:   true,
			recv:      map[string]int{},
			sent:      map[string]int{},
		},
		{
			name: "duration covers the method",
			hub:  napHub{},
			script: func(c *testClient) {
				c.send(`{"type":1,"invocationId":"1","target":"Nap","arguments":[20]}`)
				c.untilCompletion()
			},
			recv: map[string]int{"Invocation": 1},
			sent: map[string]int{"Completion": 1, "Close": 1},
			invs: []string{"Nap:ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecObserver()
			opts := tt.opts
			opts.Observer = rec
			opts.KeepAliveInterval = -1
			hub := tt.hub
			if hub == nil {
				hub = newTestHub()
			}
			h := newHandler(t, hub, opts)
			mc := newMemConn("obs", 4096)
			if tt.transport != 0 {
				mc.transport = tt.transport
			}
			cc := &countingConn{memConn: mc}
			c := &testClient{t: t, conn: mc, served: make(chan struct{})}
			go func() {
				defer close(c.served)
				h.ServeConn(context.Background(), cc)
				mc.Close(nil)
			}()
			t.Cleanup(func() { mc.clientClose(); c.waitServed() })

			hs := tt.handshake
			if hs == "" {
				hs = jsonHS
			}
			c.send(hs)
			resp := string(c.frame())
			if tt.hsFails != (resp != "{}\x1e") {
				t.Fatalf("handshake response %q", resp)
			}
			if tt.script != nil {
				tt.script(c)
			}
			mc.clientClose()
			c.waitServed()

			rec.mu.Lock()
			defer rec.mu.Unlock()
			wantOpened := tt.opened
			if wantOpened == nil && !tt.hsFails {
				wantOpened = []string{"WebSockets/json"}
			}
			if !slices.Equal(rec.opened, wantOpened) || !slices.Equal(rec.closed, wantOpened) {
				t.Errorf("opened %v, closed %v; want %v for both", rec.opened, rec.closed, wantOpened)
			}
			if !maps.Equal(rec.recv, tt.recv) {
				t.Errorf("received %v, want %v", rec.recv, tt.recv)
			}
			if tt.sent != nil && !maps.Equal(rec.sent, tt.sent) {
				t.Errorf("sent %v, want %v", rec.sent, tt.sent)
			}
			// Streams run beside invocations: compare as sets.
			slices.Sort(rec.invs)
			want := slices.Sorted(slices.Values(tt.invs))
			if !slices.Equal(rec.invs, want) {
				t.Errorf("invocations %v, want %v", rec.invs, tt.invs)
			}
			if got, want := rec.bytesIn, int(cc.in.Load()); got != want {
				t.Errorf("BytesIn total %d, transport received %d", got, want)
			}
			if got, want := rec.bytesOut, int(cc.out.Load()); got != want {
				t.Errorf("BytesOut total %d, transport sent %d", got, want)
			}
			if rec.slow != 0 {
				t.Errorf("%d slow-consumer disconnects", rec.slow)
			}
			if len(rec.bad) > 0 {
				t.Errorf("bad calls: %s", strings.Join(rec.bad, ", "))
			}
			if d, ok := rec.durs["Nap"]; ok && d < 20*time.Millisecond {
				t.Errorf("Nap(20ms) reported %v", d)
			}
		})
	}
}

// Keep-alive Pings are messages sent too.
func TestObserverCountsKeepAlivePings(t *testing.T) {
	rec := newRecObserver()
	h := newHandler(t, newTestHub(), Options{Observer: rec, KeepAliveInterval: 5 * time.Millisecond})
	c := connect(t, h, "ka")
	if _, ok := c.nextMsg(true).(*protocol.Ping); !ok {
		t.Fatal("expected a Ping")
	}
	c.conn.clientClose()
	c.waitServed()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.sent["Ping"] < 1 || rec.sent["Close"] != 1 {
		t.Errorf("sent %v, want at least one Ping and one Close", rec.sent)
	}
}

// A connection whose queue overflows is reported once as a slow consumer.
func TestObserverSlowConsumer(t *testing.T) {
	rec := newRecObserver()
	h := newHandler(t, newTestHub(), Options{Observer: rec, KeepAliveInterval: -1, OutboundQueueSize: 2})
	// An unbuffered transport: the writer blocks in its first Send until
	// the test reads, so later messages pile up in the queue.
	c := serve(t, h, newMemConn("slow", 0))
	c.sendRaw(`{"protocol":"json","version":1}` + "\x1e")
	if got := string(c.frame()); got != "{}\x1e" {
		t.Fatalf("handshake %q", got)
	}
	hc := h.LifetimeManager().(*DefaultHubLifetimeManager).LocalConnection("slow")
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = hc.Write(NewInvocationMessage("M", []any{i}))
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("writes ended with %v, want ErrSlowConsumer", err)
	}
	for range 3 { // later writes are refused, not reported again
		if err := hc.Write(NewInvocationMessage("M", nil)); !errors.Is(err, ErrConnectionClosed) {
			t.Fatalf("write after overflow: %v", err)
		}
	}
	// Let the writer finish: read until the transport is closed.
	go func() {
		for range c.conn.out {
		}
	}()
	c.waitServed()
	close(c.conn.out)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.slow != 1 {
		t.Errorf("%d slow-consumer disconnects, want 1", rec.slow)
	}
	if len(rec.closed) != 1 {
		t.Errorf("closed %v", rec.closed)
	}
}

// With stateful reconnect the writer's own Acks and the Sequence before a
// replay are counted, and so are the replayed messages.
func TestObserverStatefulMessages(t *testing.T) {
	old := statefulAckInterval
	statefulAckInterval = 5 * time.Millisecond
	t.Cleanup(func() { statefulAckInterval = old })
	rec := newRecObserver()
	c, conn := connectStateful(t, 2, Options{KeepAliveInterval: -1, Observer: rec})
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["a"]}`)
	for {
		if _, ok := c.next().(*protocol.Ack); ok {
			break
		}
	}
	conn.reconnect()
	for {
		if _, ok := c.next().(*protocol.Sequence); ok {
			break
		}
	}
	c.untilCompletion() // the replayed Completion
	conn.clientClose()
	c.waitServed()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.sent["Ack"] < 1 || rec.sent["Sequence"] != 1 || rec.sent["Completion"] != 2 {
		t.Errorf("sent %v, want Ack >= 1, Sequence 1, Completion 2 (one replayed)", rec.sent)
	}
}

func TestMsgTypeName(t *testing.T) {
	tests := []struct {
		t    protocol.MessageType
		want string
	}{
		{protocol.TypeInvocation, "Invocation"},
		{protocol.TypeStreamItem, "StreamItem"},
		{protocol.TypeCompletion, "Completion"},
		{protocol.TypeStreamInvocation, "StreamInvocation"},
		{protocol.TypeCancelInvocation, "CancelInvocation"},
		{protocol.TypePing, "Ping"},
		{protocol.TypeClose, "Close"},
		{protocol.TypeAck, "Ack"},
		{protocol.TypeSequence, "Sequence"},
		{0, "Unknown"},
		{-1, "Unknown"},
		{42, "Unknown"},
	}
	for _, tt := range tests {
		if got := msgTypeName(tt.t); got != tt.want {
			t.Errorf("msgTypeName(%d) = %q, want %q", tt.t, got, tt.want)
		}
		var n typeCounts
		n.add(tt.t)
		rec := newRecObserver()
		n.report(rec)
		if rec.sent[tt.want] != 1 || len(rec.sent) != 1 {
			t.Errorf("typeCounts for %d reported %v", tt.t, rec.sent)
		}
	}
}

// The message type of a SerializedMessage drives MessageSent.
func TestSerializedMessageType(t *testing.T) {
	if got := NewSerializedMessage(&protocol.Completion{InvocationID: "1"}).typ; got != protocol.TypeCompletion {
		t.Errorf("Completion: %d", got)
	}
	if got := NewPreserializedMessage(nil, map[string][]byte{"json": []byte("{}\x1e")}).typ; got != protocol.TypeInvocation {
		t.Errorf("preserialized without a message: %d", got)
	}
}
