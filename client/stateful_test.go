package client

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/transports"
)

// These tests run against the fake server: our real server's side of
// stateful reconnect is built later.

func statefulOptions(extra func(*Options)) Options {
	o := Options{Transports: transports.WebSockets, StatefulReconnect: true, ackInterval: 5 * time.Millisecond}
	if extra != nil {
		extra(&o)
	}
	return o
}

func TestStatefulReconnectResumesInPlace(t *testing.T) {
	fs := newFakeServer(t)
	fs.stateful = true
	var mu sync.Mutex
	var events []string
	c := startClient(t, fs.url(), statefulOptions(func(o *Options) {
		o.Reconnect = DefaultReconnectPolicy()
		o.OnReconnecting = func(error) { mu.Lock(); events = append(events, "reconnecting"); mu.Unlock() }
		o.OnClose = func(error) { mu.Lock(); events = append(events, "closed"); mu.Unlock() }
	}))
	ctx := testCtx(t)
	conn := fs.latest()
	if got, err := Invoke[string](ctx, c, "Echo", "a"); err != nil || got != "a" {
		t.Fatalf("Echo = %q %v", got, err)
	}
	conn.mu.Lock()
	version := conn.version
	conn.mu.Unlock()
	if version != 2 {
		t.Fatalf("handshake version %d, want 2", version)
	}
	id := c.ConnectionID()
	// The server buffers its answer and drops the socket without a close
	// frame; the client resumes and receives the answer from the replay.
	if got, err := Invoke[string](ctx, c, "Hold"); err != nil || got != "held" {
		t.Fatalf("Hold = %q %v", got, err)
	}
	select {
	case seq := <-conn.gotSeq:
		if seq < 1 {
			t.Fatalf("client Sequence %d", seq)
		}
	case <-ctx.Done():
		t.Fatal("client sent no Sequence")
	}
	if c.ConnectionID() != id || c.State() != Connected {
		t.Fatalf("id %q state %v after resume", c.ConnectionID(), c.State())
	}
	if got, err := Invoke[string](ctx, c, "Echo", "b"); err != nil || got != "b" {
		t.Fatalf("Echo after resume = %q %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 0 {
		t.Fatalf("hub-level events during a resume: %v", events)
	}
}

func TestStatefulReconnectDropsDuplicates(t *testing.T) {
	fs := newFakeServer(t)
	fs.stateful = true
	fs.replayAll = true // resume with Sequence 1: everything already seen is a duplicate
	var mu sync.Mutex
	var ticks []int
	c, err := New(fs.url(), statefulOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.On("Tick", func(i int) { mu.Lock(); ticks = append(ticks, i); mu.Unlock() })
	ctx := testCtx(t)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(ctx)
	if n, err := Invoke[int](ctx, c, "Count", 5); err != nil || n != 5 {
		t.Fatalf("Count = %d %v", n, err)
	}
	if got, err := Invoke[string](ctx, c, "Hold"); err != nil || got != "held" {
		t.Fatalf("Hold = %q %v", got, err)
	}
	if got, err := Invoke[string](ctx, c, "Echo", "x"); err != nil || got != "x" {
		t.Fatalf("Echo = %q %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ticks) != 5 {
		t.Fatalf("ticks %v: replayed duplicates were delivered", ticks)
	}
}

func TestStatefulReconnectReplaysClientMessages(t *testing.T) {
	fs := newFakeServer(t)
	fs.stateful = true
	fs.noAck.Store(true) // nothing is acknowledged: every client message is replayed
	c := startClient(t, fs.url(), statefulOptions(nil))
	ctx := testCtx(t)
	for i := range 3 {
		if err := c.Send(ctx, "Echo", i); err != nil {
			t.Fatal(err)
		}
	}
	conn := fs.latest()
	conn.drop()
	// The server dedupes the replay: it counts each client message once.
	if n, err := Invoke[int](ctx, c, "Received"); err != nil || n != 4 {
		t.Fatalf("server received %d trackable messages (%v), want 4", n, err)
	}
	if seq := <-conn.gotSeq; seq != 1 {
		t.Fatalf("client resumed with Sequence %d, want 1 (nothing acknowledged)", seq)
	}
}

func TestStatefulReconnectBackPressure(t *testing.T) {
	fs := newFakeServer(t)
	fs.stateful = true
	fs.noAck.Store(true)
	c := startClient(t, fs.url(), statefulOptions(func(o *Options) {
		o.StatefulReconnectBufferSize = 200
		o.KeepAliveInterval = 20 * time.Millisecond // pings let the fake server acknowledge later
	}))
	ctx := testCtx(t)
	blocked := false
	for i := range 50 {
		sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := c.Send(sctx, "Echo", "0123456789012345678901234567890123456789")
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			blocked = i > 0
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !blocked {
		t.Fatal("sending never waited for acknowledgements")
	}
	// Acknowledgements free the buffer and sending resumes.
	fs.noAck.Store(false)
	if err := c.Send(ctx, "Echo", "flush"); err != nil {
		t.Fatalf("send after acknowledgements: %v", err)
	}
}

func TestStatefulReconnectSequenceTooLarge(t *testing.T) {
	fs := newFakeServer(t)
	fs.stateful = true
	fs.badSeq = true
	closed := make(chan error, 1)
	c := startClient(t, fs.url(), statefulOptions(func(o *Options) { o.OnClose = func(err error) { closed <- err } }))
	_, err := c.Invoke(testCtx(t), "Hold")
	if !errors.Is(err, ErrConnectionClosed) {
		t.Fatalf("pending invoke: %v", err)
	}
	if err := <-closed; !errors.Is(err, ErrSequenceTooLarge) || err.Error() != "Sequence ID greater than amount of messages we've received." {
		t.Fatalf("closed with %v", err)
	}
}

func TestStatefulNotUsedWithoutServerConsent(t *testing.T) {
	fs := newFakeServer(t) // does not allow stateful reconnect
	c := startClient(t, fs.url(), statefulOptions(nil))
	if _, err := c.Invoke(testCtx(t), "Void"); err != nil {
		t.Fatal(err)
	}
	conn := fs.latest()
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if conn.version != 1 {
		t.Fatalf("handshake version %d, want 1", conn.version)
	}
}
