package signalr

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// statefulMemConn adds the transport half of stateful reconnect to memConn.
type statefulMemConn struct {
	*memConn
	allowed bool
	mu      sync.Mutex
	onRe    func()
}

func (c *statefulMemConn) StatefulReconnectAllowed() bool { return c.allowed }
func (c *statefulMemConn) EnableStatefulReconnect(f func()) bool {
	if !c.allowed {
		return false
	}
	c.mu.Lock()
	c.onRe = f
	c.mu.Unlock()
	return true
}
func (c *statefulMemConn) ResumeSend(ctx context.Context, p []byte) error {
	return c.memConn.Send(ctx, p)
}
func (c *statefulMemConn) reconnect() {
	c.mu.Lock()
	f := c.onRe
	c.mu.Unlock()
	f()
}

func connectStateful(t *testing.T, version int, opts Options) (*testClient, *statefulMemConn) {
	t.Helper()
	opts.AllowStatefulReconnects = true
	h := newHandler(t, newTestHub(), opts)
	conn := &statefulMemConn{memConn: newMemConn("sr", 256), allowed: true}
	tc := &testClient{t: t, conn: conn.memConn, served: make(chan struct{})}
	go func() {
		defer close(tc.served)
		h.ServeConn(t.Context(), conn)
		conn.Close(nil)
	}()
	t.Cleanup(func() {
		conn.clientClose()
		tc.waitServed()
	})
	tc.send(`{"protocol":"json","version":` + string(rune('0'+version)) + `}`)
	if got := string(tc.frame()); got != "{}\x1e" {
		t.Fatalf("handshake %q", got)
	}
	return tc, conn
}

func TestStatefulReconnectReplaysUnacked(t *testing.T) {
	old := statefulAckInterval
	statefulAckInterval = time.Hour // no server Acks in the way
	t.Cleanup(func() { statefulAckInterval = old })
	c, conn := connectStateful(t, 2, Options{KeepAliveInterval: -1})
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["a"]}`)
	c.nextRecord()
	c.send(`{"type":1,"invocationId":"2","target":"Echo","arguments":["b"]}`)
	c.nextRecord()
	c.send(`{"type":8,"sequenceId":1}`) // the client got message 1
	// Wait for the Ack to be processed: it is handled in order before this call.
	c.send(`{"type":1,"invocationId":"3","target":"Echo","arguments":["c"]}`)
	c.nextRecord()

	conn.reconnect()
	want := []string{
		`{"type":9,"sequenceId":2}`,
		`{"type":3,"invocationId":"2","result":"b"}`,
		`{"type":3,"invocationId":"3","result":"c"}`,
	}
	for _, w := range want {
		if got := c.nextRecord(); got != w {
			t.Fatalf("got  %s\nwant %s", got, w)
		}
	}
}

func TestStatefulReconnectDropsDuplicatesAndAcks(t *testing.T) {
	old := statefulAckInterval
	statefulAckInterval = 5 * time.Millisecond
	t.Cleanup(func() { statefulAckInterval = old })

	c, _ := connectStateful(t, 2, Options{KeepAliveInterval: -1})
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["a"]}`,
		`{"type":1,"invocationId":"2","target":"Echo","arguments":["b"]}`)
	var acked int64
	seen := 0
	for acked < 2 || seen < 2 {
		switch m := c.next().(type) {
		case *protocol.Ack:
			acked = m.SequenceID
		case *protocol.Completion:
			seen++
		}
	}
	// After a reconnect the client announces it resends from message 2: that
	// one is a duplicate, the next is new.
	c.send(`{"type":9,"sequenceId":2}`,
		`{"type":1,"invocationId":"2","target":"Echo","arguments":["b"]}`,
		`{"type":1,"invocationId":"3","target":"Echo","arguments":["c"]}`)
	for {
		m := c.next()
		if cm, ok := m.(*protocol.Completion); ok {
			if cm.InvocationID != "3" {
				t.Fatalf("duplicate processed: %+v", cm)
			}
			break
		}
	}
	// A Sequence beyond what was received is fatal.
	c.send(`{"type":9,"sequenceId":9}`)
	for {
		if cl, ok := c.next().(*protocol.Close); ok {
			if cl.Error != "Connection closed with an error." || !cl.AllowReconnect {
				t.Fatalf("close %+v", cl)
			}
			break
		}
	}
}

func TestStatefulReconnectNeedsVersion2(t *testing.T) {
	c, conn := connectStateful(t, 1, Options{})
	conn.mu.Lock()
	enabled := conn.onRe != nil
	conn.mu.Unlock()
	if enabled {
		t.Fatal("stateful reconnect enabled after a version 1 handshake")
	}
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["a"]}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"1","result":"a"}` {
		t.Fatal(got)
	}
}

func TestStatefulReplayBufferBackPressure(t *testing.T) {
	old := statefulAckInterval
	statefulAckInterval = time.Hour
	t.Cleanup(func() { statefulAckInterval = old })

	c, _ := connectStateful(t, 2, Options{KeepAliveInterval: -1, StatefulReconnectBufferSize: 80})
	for i, arg := range []string{"1", "2", "3"} {
		c.send(`{"type":1,"invocationId":"` + arg + `","target":"Echo","arguments":["` + arg + `"]}`)
		if i < 2 {
			c.nextRecord() // 2 x 43 bytes: the buffer is now over its 80-byte limit
		}
	}
	time.Sleep(20 * time.Millisecond)
	select {
	case f := <-c.conn.out:
		t.Fatalf("sent %q while the replay buffer was full", f)
	default:
	}
	c.send(`{"type":8,"sequenceId":2}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"3","result":"3"}` {
		t.Fatal(got)
	}
}
