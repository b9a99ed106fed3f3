package client

import "sync"

// messageBuffer keeps the sent, not yet acknowledged trackable messages of a
// stateful-reconnect connection so they can be replayed after a resume.
// Messages are numbered 1, 2, 3... implicitly, in send order.
type messageBuffer struct {
	mu      sync.Mutex
	limit   int
	entries []bufferedMessage
	bytes   int
	sent    int64         // number of trackable messages sent so far
	freed   chan struct{} // signalled when an Ack freed space
}

type bufferedMessage struct {
	seq  int64
	data []byte
}

func newMessageBuffer(limit int) *messageBuffer {
	return &messageBuffer{limit: limit, freed: make(chan struct{}, 1)}
}

// add records a trackable message about to be sent.
func (b *messageBuffer) add(data []byte) {
	b.mu.Lock()
	b.sent++
	b.entries = append(b.entries, bufferedMessage{seq: b.sent, data: data})
	b.bytes += len(data)
	b.mu.Unlock()
}

// full reports whether new trackable messages must wait for an Ack.
func (b *messageBuffer) full() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes >= b.limit
}

// ack drops the messages numbered up to seq.
func (b *messageBuffer) ack(seq int64) {
	b.mu.Lock()
	i := 0
	for i < len(b.entries) && b.entries[i].seq <= seq {
		b.bytes -= len(b.entries[i].data)
		i++
	}
	if i > 0 {
		b.entries = append(b.entries[:0], b.entries[i:]...)
	}
	b.mu.Unlock()
	if i > 0 {
		select {
		case b.freed <- struct{}{}:
		default:
		}
	}
}

// replay returns the Sequence number to announce (the oldest unacknowledged
// message, or the next number when none is waiting) and the messages to resend.
func (b *messageBuffer) replay() (int64, [][]byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.entries) == 0 {
		return b.sent + 1, nil
	}
	out := make([][]byte, len(b.entries))
	for i, e := range b.entries {
		out[i] = e.data
	}
	return b.entries[0].seq, out
}
