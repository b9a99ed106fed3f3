package signalr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// group of connected test clients on one handler.
type cluster struct {
	h       *ConnectionHandler
	clients map[string]*testClient
}

func newCluster(t *testing.T, ids ...string) *cluster {
	h := newHandler(t, newTestHub(), Options{
		UserIdentifier:    func(r *http.Request) string { return r.Header.Get("X-User") },
		OutboundQueueSize: 1 << 14, // the ordering test bursts thousands of messages
	})
	cl := &cluster{h: h, clients: map[string]*testClient{}}
	for _, id := range ids {
		conn := newMemConn(id, 4096)
		conn.req.Header.Set("X-User", "user-"+id[:1]) // a1,a2 -> user-a
		c := serve(t, h, conn)
		c.send(`{"protocol":"json","version":1}`)
		c.frame()
		cl.clients[id] = c
	}
	return cl
}

// receivers sends a marker to every client after the action and returns who
// got the "Hit" message before the marker.
func (cl *cluster) receivers(t *testing.T, act func(ctx context.Context, hc *HubContext) error) []string {
	t.Helper()
	if err := act(context.Background(), cl.h.HubContext()); err != nil {
		t.Fatal(err)
	}
	if err := cl.h.HubContext().Clients.All().Send(context.Background(), "Marker"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for id, c := range cl.clients {
		for {
			inv, ok := c.next().(*protocol.Invocation)
			if !ok {
				t.Fatalf("%s: unexpected message", id)
			}
			if inv.Target == "Marker" {
				break
			}
			got = append(got, id)
		}
	}
	sort.Strings(got)
	return got
}

func TestHubClientsAddressing(t *testing.T) {
	cl := newCluster(t, "a1", "a2", "b1", "c1")
	g := cl.h.HubContext().Groups
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(g.AddToGroup(ctx, "a1", "g1"))
	must(g.AddToGroup(ctx, "b1", "g1"))
	must(g.AddToGroup(ctx, "b1", "g2"))
	must(g.AddToGroup(ctx, "c1", "g2"))
	must(g.AddToGroup(ctx, "c1", "g3"))
	must(g.RemoveFromGroup(ctx, "c1", "g3"))
	must(g.AddToGroup(ctx, "nobody", "g1")) // unknown connection: ignored

	tests := []struct {
		name string
		send func(ctx context.Context, hc *HubContext) error
		want string
	}{
		{"All", func(ctx context.Context, hc *HubContext) error { return hc.Clients.All().Send(ctx, "Hit") }, "a1,a2,b1,c1"},
		{"AllExcept", func(ctx context.Context, hc *HubContext) error {
			return hc.Clients.AllExcept("a1", "c1").Send(ctx, "Hit")
		}, "a2,b1"},
		{"Client", func(ctx context.Context, hc *HubContext) error { return hc.Clients.Client("b1").Send(ctx, "Hit", 1) }, "b1"},
		{"Clients", func(ctx context.Context, hc *HubContext) error {
			return hc.Clients.Clients("a2", "c1", "missing").Send(ctx, "Hit")
		}, "a2,c1"},
		{"Group", func(ctx context.Context, hc *HubContext) error { return hc.Clients.Group("g1").Send(ctx, "Hit") }, "a1,b1"},
		{"Groups dedupes", func(ctx context.Context, hc *HubContext) error {
			return hc.Clients.Groups("g1", "g2").Send(ctx, "Hit")
		}, "a1,b1,c1"},
		{"GroupExcept", func(ctx context.Context, hc *HubContext) error {
			return hc.Clients.GroupExcept("g2", "c1").Send(ctx, "Hit")
		}, "b1"},
		{"removed group", func(ctx context.Context, hc *HubContext) error { return hc.Clients.Group("g3").Send(ctx, "Hit") }, ""},
		{"User", func(ctx context.Context, hc *HubContext) error { return hc.Clients.User("user-a").Send(ctx, "Hit") }, "a1,a2"},
		{"Users", func(ctx context.Context, hc *HubContext) error {
			return hc.Clients.Users("user-b", "user-c").Send(ctx, "Hit")
		}, "b1,c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(cl.receivers(t, tt.send), ","); got != tt.want {
				t.Fatalf("receivers = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCallerClients(t *testing.T) {
	cl := newCluster(t, "a1", "b1", "c1")
	lm := cl.h.lm.(*DefaultHubLifetimeManager)
	lm.LocalAddToGroup("a1", "g")
	lm.LocalAddToGroup("b1", "g")
	caller := &Context{Context: context.Background(), conn: lm.LocalConnection("a1"), h: cl.h}
	tests := []struct {
		name  string
		proxy ClientProxy
		want  string
	}{
		{"Caller", caller.Clients().Caller(), "a1"},
		{"Others", caller.Clients().Others(), "b1,c1"},
		{"OthersInGroup", caller.Clients().OthersInGroup("g"), "b1"},
		{"All via caller", caller.Clients().All(), "a1,b1,c1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cl.receivers(t, func(ctx context.Context, _ *HubContext) error { return tt.proxy.Send(ctx, "Hit") })
			if s := strings.Join(got, ","); s != tt.want {
				t.Fatalf("receivers = %q, want %q", s, tt.want)
			}
		})
	}
	if err := caller.Groups().RemoveFromGroup(context.Background(), "b1", "g"); err != nil {
		t.Fatal(err)
	}
	got := cl.receivers(t, func(ctx context.Context, hc *HubContext) error { return hc.Clients.Group("g").Send(ctx, "Hit") })
	if s := strings.Join(got, ","); s != "a1" {
		t.Fatalf("after remove: %q", s)
	}
}

func TestBroadcastFromHubMethod(t *testing.T) {
	cl := newCluster(t, "a1", "b1")
	cl.clients["a1"].send(`{"type":1,"invocationId":"1","target":"Broadcast","arguments":["hello"]}`)
	for id, c := range cl.clients {
		inv, ok := c.next().(*protocol.Invocation)
		if !ok || inv.Target != "Receive" || inv.InvocationID != "" {
			t.Fatalf("%s: got %#v", id, inv)
		}
		var s string
		if err := inv.Arguments[0].(protocol.RawValue).Decode(&s); err != nil || s != "hello" {
			t.Fatalf("%s: arg %q %v", id, s, err)
		}
	}
	if got := cl.clients["a1"].nextRecord(); got != `{"type":3,"invocationId":"1","result":null}` {
		t.Fatal(got)
	}
}

func TestGroupsCleanedUpOnDisconnect(t *testing.T) {
	cl := newCluster(t, "a1", "b1")
	lm := cl.h.lm.(*DefaultHubLifetimeManager)
	lm.LocalAddToGroup("a1", "g")
	lm.LocalAddToGroup("b1", "g")
	cl.clients["a1"].send(`{"type":7}`)
	cl.clients["a1"].next()
	cl.clients["a1"].waitServed()
	if lm.LocalAddToGroup("a1", "g") {
		t.Fatal("LocalAddToGroup succeeded for a gone connection")
	}
	s := &lm.groups[shardOf("g")]
	s.mu.RLock()
	n := len(s.m["g"])
	s.mu.RUnlock()
	if n != 1 {
		t.Fatalf("group has %d members, want 1", n)
	}
	if lm.LocalConnection("a1") != nil {
		t.Fatal("connection still registered")
	}
}

// blockingConn never lets a Send finish: a client that stopped reading.
type blockingConn struct{ *memConn }

func (c blockingConn) Send(ctx context.Context, p []byte) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return errors.New("closed")
	}
}

func TestSlowConsumerIsDisconnectedWithoutBlockingOthers(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{OutboundQueueSize: 8})
	fast := connect(t, h, "fast")
	lm := h.lm.(*DefaultHubLifetimeManager)

	// A registered connection whose transport never finishes a send.
	slowMem := newMemConn("slow", 1)
	slow := newHubConnection(context.Background(), blockingConn{slowMem}, protocol.JSON, &h.opts)
	slow.startWriter()
	if err := lm.OnConnected(context.Background(), slow); err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		// Broadcasts return at once even though one recipient is stuck.
		if err := h.HubContext().Clients.All().Send(context.Background(), "Tick", i); err != nil {
			t.Fatal(err)
		}
		inv := fast.next().(*protocol.Invocation)
		var got int
		if err := inv.Arguments[0].(protocol.RawValue).Decode(&got); err != nil || got != i {
			t.Fatalf("fast client got %d (%v), want %d", got, err, i)
		}
	}
	select {
	case <-slow.readCtx.Done():
	default:
		t.Fatal("slow consumer was not aborted")
	}
	if !errors.Is(slow.abortErr, ErrSlowConsumer) || !slow.allowReconnect {
		t.Fatalf("abort reason = %v allowReconnect=%v", slow.abortErr, slow.allowReconnect)
	}
	if err := slow.Write(NewInvocationMessage("X", nil)); !errors.Is(err, ErrConnectionClosed) {
		t.Fatalf("write after abort: %v", err)
	}
	slow.closeWriter(nil, time.Millisecond)
	slow.cancel()
	_ = lm.OnDisconnected(context.Background(), slow)
}

func TestOrderPerSenderUnderConcurrentBroadcasts(t *testing.T) {
	ids := []string{"a1", "b1", "c1", "d1"}
	cl := newCluster(t, ids...)
	const senders, perSender = 6, 100
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				if err := cl.h.HubContext().Clients.All().Send(context.Background(), "Seq", s, i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for id, c := range cl.clients {
		last := make([]int, senders)
		for i := range last {
			last[i] = -1
		}
		for range senders * perSender {
			inv := c.next().(*protocol.Invocation)
			var s, i int
			_ = inv.Arguments[0].(protocol.RawValue).Decode(&s)
			_ = inv.Arguments[1].(protocol.RawValue).Decode(&i)
			if i != last[s]+1 {
				t.Fatalf("%s: sender %d: got %d after %d", id, s, i, last[s])
			}
			last[s] = i
		}
	}
}

func TestClientResults(t *testing.T) {
	cl := newCluster(t, "a1", "b1")
	a := cl.clients["a1"]
	hc := cl.h.HubContext()

	type result struct {
		v   int
		err error
	}
	ask := func(id string) chan result {
		ch := make(chan result, 1)
		go func() {
			v, err := InvokeClient[int](context.Background(), hc.Clients.Client(id), "Result", "q")
			ch <- result{v, err}
		}()
		return ch
	}

	// Success: the invocation carries an "s<n>" id, the client's result comes back.
	r := ask("a1")
	inv := a.next().(*protocol.Invocation)
	if inv.Target != "Result" || !strings.HasPrefix(inv.InvocationID, "s") {
		t.Fatalf("invocation %#v", inv)
	}
	a.send(fmt.Sprintf(`{"type":3,"invocationId":%q,"result":10}`, inv.InvocationID))
	if got := <-r; got.err != nil || got.v != 10 {
		t.Fatalf("result %+v", got)
	}

	// Client error text passes through.
	r = ask("a1")
	inv = a.next().(*protocol.Invocation)
	a.send(fmt.Sprintf(`{"type":3,"invocationId":%q,"error":"Client didn't provide a result."}`, inv.InvocationID))
	if got := <-r; got.err == nil || got.err.Error() != "Client didn't provide a result." {
		t.Fatalf("result %+v", got)
	}

	// Ids increase per manager.
	r = ask("b1")
	inv2 := cl.clients["b1"].next().(*protocol.Invocation)
	if inv2.InvocationID == inv.InvocationID {
		t.Fatal("invocation id reused")
	}

	// Disconnect fails the pending call.
	cl.clients["b1"].conn.clientClose()
	if got := <-r; got.err == nil || got.err.Error() != "Connection 'b1' disconnected." {
		t.Fatalf("result %+v", got)
	}

	// Unknown connection.
	if _, err := hc.Clients.Client("zz").(SingleClientProxy).Invoke(context.Background(), "Result"); err == nil ||
		err.Error() != "Connection 'zz' does not exist." {
		t.Fatalf("err = %v", err)
	}

	// Context cancellation ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := hc.Clients.Client("a1").Invoke(ctx, "Result"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	a.next() // the invocation that nobody answers
}

func TestClientResultFromHubMethod(t *testing.T) {
	hub := newTestHub()
	h := newHandler(t, hub, Options{MaximumParallelInvocationsPerClient: 2})
	c := connect(t, h, "c1")
	c.send(`{"type":1,"invocationId":"1","target":"AskClient","arguments":[]}`)
	inv := c.next().(*protocol.Invocation)
	c.send(fmt.Sprintf(`{"type":3,"invocationId":%q,"result":42}`, inv.InvocationID))
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"1","result":42}` {
		t.Fatal(got)
	}
}
