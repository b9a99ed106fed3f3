package npgsql

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrClosed is returned by operations on a closed Manager.
var ErrClosed = errors.New("npgsql: backplane manager is closed")

type pubReq struct {
	payload []byte
	done    chan pubResult // nil: fire and forget (acks)
}

type pubResult struct {
	id  int32 // the row's Id
	err error
}

// publisher inserts payloads. With coalescing, one goroutine drains a queue
// and writes everything waiting as one multi-row INSERT (one transaction,
// one round trip; each row still fires its own NOTIFY). Because a batch is
// inserted only after the previous one committed, and rows of one INSERT get
// ascending ids in array order, messages keep their publish order.
type publisher struct {
	pool     *pgxpool.Pool
	insert1  string
	insertN  string
	maxBatch int
	timeout  func(context.Context) (context.Context, context.CancelFunc)
	metrics  *Metrics
	onError  func(error)

	base   context.Context // cancelled by close: aborts an in-flight INSERT
	cancel context.CancelFunc

	mu     sync.Mutex
	queue  []pubReq
	closed bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

const maxBatchBytes = 4 << 20

func newPublisher(pool *pgxpool.Pool, n names, maxBatch int, timeout func(context.Context) (context.Context, context.CancelFunc), metrics *Metrics, onError func(error)) *publisher {
	p := &publisher{
		pool:    pool,
		insert1: `INSERT INTO ` + n.qTable + ` ("Payload") VALUES ($1) RETURNING "Id"`,
		// Rows are inserted, and ids drawn, in array order; RETURNING
		// reports them in that order.
		insertN:  `INSERT INTO ` + n.qTable + ` ("Payload") SELECT unnest($1::bytea[]) RETURNING "Id"`,
		maxBatch: maxBatch,
		timeout:  timeout,
		metrics:  metrics,
		onError:  onError,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	p.base, p.cancel = context.WithCancel(context.Background())
	go p.run()
	return p
}

// publish inserts payload and returns the row's Id once it is committed.
func (p *publisher) publish(ctx context.Context, payload []byte) (int32, error) {
	if p.maxBatch <= 1 {
		// No coalescing: one INSERT per message on a pooled connection, as .NET.
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			return 0, ErrClosed
		}
		tctx, cancel := p.timeout(ctx)
		defer cancel()
		var id int32
		if err := p.pool.QueryRow(tctx, p.insert1, payload).Scan(&id); err != nil {
			err = fmt.Errorf("npgsql: publish: %w", err)
			p.failed(err)
			return 0, err
		}
		if p.metrics.Published != nil {
			p.metrics.Published(1)
		}
		return id, nil
	}
	done := make(chan pubResult, 1)
	if err := p.enqueue(pubReq{payload: payload, done: done}); err != nil {
		return 0, err
	}
	select {
	case r := <-done:
		return r.id, r.err
	case <-ctx.Done():
		// The row may still be inserted: the batch is already on its way.
		return 0, ctx.Err()
	}
}

// publishAsync queues payload without waiting (acks from the listener, which
// must never block on the database).
func (p *publisher) publishAsync(payload []byte) {
	_ = p.enqueue(pubReq{payload: payload})
}

func (p *publisher) enqueue(r pubReq) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.queue = append(p.queue, r)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *publisher) failed(err error) {
	if p.metrics.PublishFailed != nil {
		p.metrics.PublishFailed(err)
	}
	if p.onError != nil {
		p.onError(err)
	}
}

func (p *publisher) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		}
		for {
			batch := p.take()
			if len(batch) == 0 {
				break
			}
			p.insert(batch)
		}
	}
}

// take removes the next batch from the queue.
func (p *publisher) take() []pubReq {
	limit := max(p.maxBatch, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	n, size := 0, 0
	for n < len(p.queue) && n < limit && (n == 0 || size+len(p.queue[n].payload) <= maxBatchBytes) {
		size += len(p.queue[n].payload)
		n++
	}
	batch := p.queue[:n:n]
	p.queue = p.queue[n:]
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
	}
	return batch
}

func (p *publisher) insert(batch []pubReq) {
	ctx, cancel := p.timeout(p.base)
	defer cancel()
	ids := make([]int32, 0, len(batch))
	var err error
	if len(batch) == 1 {
		var id int32
		err = p.pool.QueryRow(ctx, p.insert1, batch[0].payload).Scan(&id)
		ids = append(ids, id)
	} else {
		payloads := make([][]byte, len(batch))
		for i, r := range batch {
			payloads[i] = r.payload
		}
		var rows pgx.Rows
		if rows, err = p.pool.Query(ctx, p.insertN, payloads); err == nil {
			var id int32
			_, err = pgx.ForEachRow(rows, []any{&id}, func() error { ids = append(ids, id); return nil })
		}
		if err == nil && len(ids) != len(batch) {
			err = fmt.Errorf("inserted %d rows for %d messages", len(ids), len(batch))
		}
	}
	if err != nil {
		err = fmt.Errorf("npgsql: publish: %w", err)
		p.failed(err)
	} else if p.metrics.Published != nil {
		p.metrics.Published(len(batch))
	}
	for i, r := range batch {
		if r.done != nil {
			res := pubResult{err: err}
			if err == nil {
				res.id = ids[i]
			}
			r.done <- res
		}
	}
}

// close stops the goroutine and fails whatever is still queued.
func (p *publisher) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	rest := p.queue
	p.queue = nil
	p.mu.Unlock()
	for _, r := range rest {
		if r.done != nil {
			r.done <- pubResult{err: ErrClosed}
		}
	}
}
