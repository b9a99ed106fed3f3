package signalr

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// Stateful reconnect (reference §11), the hub half. The transport keeps a
// WebSocket connection alive across an unclean socket loss and tells us when
// a new socket attaches; we number our trackable messages (every queued
// record: invocations, stream items, completions), keep their bytes until
// the client acknowledges them, acknowledge what we receive, and on
// reconnect send a Sequence followed by everything unacknowledged.

// DefaultStatefulReconnectBufferSize bounds the unacknowledged bytes kept
// for replay; the writer waits for Acks beyond it, like .NET.
const DefaultStatefulReconnectBufferSize = 100000

// statefulAckInterval is how often a grown receive count is acknowledged.
var statefulAckInterval = time.Second

// statefulConn is the transport side (transports.StatefulReconnector).
type statefulConn interface {
	StatefulReconnectAllowed() bool
	EnableStatefulReconnect(onReconnect func()) bool
	ResumeSend(ctx context.Context, p []byte) error
}

type replayBuffer struct {
	limit int

	mu    sync.Mutex
	items [][]byte // unacknowledged records, oldest first
	types []uint8  // their message types, for Observer
	first int64    // sequence number of items[0]
	next  int64    // sequence number of the next record sent
	bytes int

	freed     chan struct{} // cap 1: an Ack released space
	reconnect chan struct{} // cap 1: a new socket attached

	// Receiving side, read loop only except received (read by the writer).
	received atomic.Int64 // trackable messages processed
	skip     int64        // duplicates to drop after the client's Sequence
	acked    int64        // writer only: the last count acknowledged
}

func newReplayBuffer(limit int) *replayBuffer {
	return &replayBuffer{
		limit:     limit,
		first:     1,
		next:      1,
		freed:     make(chan struct{}, 1),
		reconnect: make(chan struct{}, 1),
	}
}

// add records a sent trackable message, waiting while the buffer is full
// (at most replayWaitLimit without an Ack freeing space).
func (r *replayBuffer) add(ctx context.Context, b []byte, t uint8) error {
	var limit <-chan time.Time
	for {
		r.mu.Lock()
		if r.bytes < r.limit || len(r.items) == 0 {
			r.items = append(r.items, b)
			r.types = append(r.types, t)
			r.bytes += len(b)
			r.next++
			r.mu.Unlock()
			return nil
		}
		r.mu.Unlock()
		if limit == nil {
			t := time.NewTimer(replayWaitLimit)
			defer t.Stop()
			limit = t.C
		}
		select {
		case <-r.freed:
		case <-limit:
			return errReplayFull
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ack drops the records the client has received (sequence numbers <= id).
func (r *replayBuffer) ack(id int64) {
	r.mu.Lock()
	n := 0
	for n < len(r.items) && r.first+int64(n) <= id {
		r.bytes -= len(r.items[n])
		n++
	}
	if n > 0 {
		clear(r.items[:n])
		r.items = r.items[n:]
		r.types = r.types[n:]
		r.first += int64(n)
	}
	r.mu.Unlock()
	if n > 0 {
		select {
		case r.freed <- struct{}{}:
		default:
		}
	}
}

// snapshot returns the Sequence to announce and the records to replay.
func (r *replayBuffer) snapshot() (int64, [][]byte, []uint8) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.first, append([][]byte(nil), r.items...), append([]uint8(nil), r.types...)
}

var errSequenceAhead = newException("InvalidOperationException", "Sequence ID greater than amount of messages we've received.")

// sequence handles the client's Sequence after a reconnect: the next message
// it sends is number id, so those up to what we processed are duplicates.
func (r *replayBuffer) sequence(id int64) error {
	got := r.received.Load()
	if id > got+1 {
		return errSequenceAhead
	}
	r.skip = got + 1 - id
	return nil
}

// receive counts an incoming trackable message; false means it is a replayed
// duplicate to drop.
func (r *replayBuffer) receive() bool {
	if r.skip > 0 {
		r.skip--
		return false
	}
	r.received.Add(1)
	return true
}

// enableStateful turns stateful reconnect on after a version 2 handshake
// when negotiate granted it and the transport can carry it.
func (c *HubConnection) enableStateful(version int, limit int) {
	sc, ok := c.conn.(statefulConn)
	if !ok || version < 2 || !sc.StatefulReconnectAllowed() {
		return
	}
	r := newReplayBuffer(limit)
	if !sc.EnableStatefulReconnect(func() {
		select {
		case r.reconnect <- struct{}{}:
		default:
		}
	}) {
		return
	}
	c.replay = r
}

// replayAll runs in the writer: Sequence, then every unacknowledged record,
// as the first message on the resumed socket. The transport holds back
// ordinary sends until then, so nothing overtakes the Sequence; whatever it
// dropped meanwhile is in the buffer and so in this replay.
func (c *HubConnection) replayAll() error {
	seq, items, types := c.replay.snapshot()
	b, err := c.proto.AppendMessage(nil, &protocol.Sequence{SequenceID: seq})
	if err != nil {
		return err
	}
	for _, it := range items {
		b = append(b, it...)
	}
	if err := c.conn.(statefulConn).ResumeSend(c.wctx, b); err != nil {
		return err
	}
	if c.obs != nil {
		c.obs.BytesOut(len(b))
		c.obs.MessageSent(msgTypeNames[protocol.TypeSequence], 1)
		if len(items) > 0 {
			c.countSent(types)
		}
	}
	return nil
}

// sendAck runs in the writer on the ack tick, when the receive count grew.
func (c *HubConnection) sendAck() error {
	n := c.replay.received.Load()
	if n == c.replay.acked {
		return nil
	}
	c.replay.acked = n
	b, err := c.proto.AppendMessage(nil, &protocol.Ack{SequenceID: n})
	if err != nil {
		return err
	}
	if err := c.send(b); err != nil {
		return err
	}
	if c.obs != nil {
		c.obs.MessageSent(msgTypeNames[protocol.TypeAck], 1)
	}
	return nil
}
