package client

import (
	"context"
	"sync"
)

// queue is an unbounded FIFO between the reader goroutine and a consumer
// (handler dispatch, a stream's iterator). The reader must never block on a
// slow consumer: a handler that calls Invoke waits for a Completion that only
// the reader can deliver.
type queue[T any] struct {
	mu     sync.Mutex
	items  []T
	head   int
	closed bool
	signal chan struct{} // holds one token while items are waiting or the queue closed
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{signal: make(chan struct{}, 1)}
}

func (q *queue[T]) push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.notify()
	return true
}

func (q *queue[T]) notify() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// close makes pop return false once the queued items are consumed.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.notify()
}

// pop waits for the next item. It returns false when the queue is closed and
// empty, or ctx ended.
func (q *queue[T]) pop(ctx context.Context) (T, bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			v := q.items[q.head]
			var zero T
			q.items[q.head] = zero
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			more := q.head < len(q.items) || q.closed
			q.mu.Unlock()
			if more {
				q.notify()
			}
			return v, true
		}
		closed := q.closed
		q.mu.Unlock()
		if closed {
			q.notify() // keep other poppers awake
			var zero T
			return zero, false
		}
		select {
		case <-q.signal:
		case <-ctx.Done():
			var zero T
			return zero, false
		}
	}
}
