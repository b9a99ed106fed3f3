package npgsql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Ids of a SERIAL column with CYCLE run 1 … 2^31−1 and then start over at
// 1. Positions compare modulo idSpace ("serial number arithmetic"): a is
// after b when it is less than half the space ahead.
const idSpace = int64(1<<31 - 1)

func idDist(from, to int64) int64 { return ((to-from)%idSpace + idSpace) % idSpace }

func idAfter(a, b int64) bool { d := idDist(b, a); return d > 0 && d < idSpace/2 }

func idMin(a, b int64) int64 {
	if idAfter(a, b) {
		return b
	}
	return a
}

type seenKey struct {
	id   int32
	hash uint64
}

// seenWindow remembers the last delivered (id, payload hash) pairs, so that
// a notification for a row the catch-up already delivered is dropped. The
// hash is part of the key because several hubs' tables may notify one
// channel, and their ids overlap.
type seenWindow struct {
	set  map[seenKey]struct{}
	ring []seenKey
	next int
	full bool
}

func newSeenWindow(n int) *seenWindow {
	return &seenWindow{set: make(map[seenKey]struct{}, n), ring: make([]seenKey, n)}
}

// add records k; it reports false if k was already there.
func (w *seenWindow) has(k seenKey) bool {
	_, ok := w.set[k]
	return ok
}

func (w *seenWindow) add(k seenKey) bool {
	if _, ok := w.set[k]; ok {
		return false
	}
	if w.full {
		delete(w.set, w.ring[w.next])
	}
	w.ring[w.next] = k
	w.set[k] = struct{}{}
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	return true
}

// listener owns the dedicated LISTEN connection. It never gives up: on any
// failure it reconnects with capped exponential backoff, LISTENs again and
// catches up from the table, so every row committed meanwhile is delivered
// exactly once, in id order.
type listener struct {
	m      *Manager
	cfg    *pgx.ConnConfig
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// Listener goroutine only.
	initialized bool
	maxSeen     int64 // highest id position delivered
	lastSeq     int64 // the sequence's last value at the last check
	floor       int64 // start position: catch-up never reads below it
	floorValid  bool
	lastHealth  time.Time

	connected  atomic.Bool
	caughtUp   atomic.Bool
	lastNotify atomic.Int64 // unix nanos
	reconnects atomic.Int64
	listening  chan struct{} // closed at the first successful LISTEN
	lastErr    atomic.Pointer[string]
	queueUse   atomic.Uint64 // float64 bits: pg_notification_queue_usage() at the last check
}

func newListener(m *Manager, cfg *pgx.ConnConfig) *listener {
	l := &listener{
		m:         m,
		cfg:       cfg,
		done:      make(chan struct{}),
		listening: make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.run()
	return l
}

func (l *listener) close() {
	l.cancel()
	<-l.done
}

func (l *listener) backoff(failures int) time.Duration {
	o := &l.m.opts
	n := min(failures, o.MaxRetryAttempts, 30)
	d := o.BaseRetryDelay << (n - 1)
	if d > o.MaxRetryDelay || d <= 0 {
		d = o.MaxRetryDelay
	}
	return d + rand.N(d/2+1)
}

func (l *listener) run() {
	defer close(l.done)
	failures := 0
	for {
		ok, err := l.session()
		if l.ctx.Err() != nil {
			return
		}
		l.connected.Store(false)
		l.caughtUp.Store(false)
		msg := err.Error()
		l.lastErr.Store(&msg)
		if ok {
			failures = 0
		}
		failures++
		delay := l.backoff(failures)
		l.m.log.Warn().Err(err).Int("attempt", failures).Dur("retry_in", delay).Msg("npgsql: backplane listener lost; reconnecting")
		t := time.NewTimer(delay)
		select {
		case <-l.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session connects, LISTENs, catches up and dispatches notifications until
// the connection fails. ok reports whether it got as far as listening.
func (l *listener) session() (ok bool, err error) {
	o := &l.m.opts
	cctx, cancel := context.WithTimeout(l.ctx, o.CommandTimeout)
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("npgsql: listener connect: %w", err)
	}
	defer func() {
		// Bounded: a dead peer must not hold up the reconnect.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(ctx)
	}()

	if err := l.m.ensureSchema(l.ctx); err != nil {
		return false, err
	}
	if err := l.exec(conn, "LISTEN "+quoteIdent(l.m.names.channel)); err != nil {
		return false, fmt.Errorf("npgsql: LISTEN: %w", err)
	}
	last, err := l.sequenceValue(conn)
	if err != nil {
		return false, err
	}
	if !l.initialized {
		// Rows committed before this LISTEN predate this server.
		l.initialized = true
		l.maxSeen, l.lastSeq, l.floor, l.floorValid = last, last, last, true
		l.m.log.Debug().Int64("start_id", last).Msg("npgsql: backplane listener started")
	} else {
		l.reconnects.Add(1)
		if f := l.m.opts.Metrics.Reconnected; f != nil {
			f()
		}
		if err := l.catchUp(conn); err != nil {
			return false, err
		}
		l.lastSeq = last
	}
	l.lastHealth = time.Now()
	l.connected.Store(true)
	l.caughtUp.Store(true)
	select {
	case <-l.listening:
	default:
		close(l.listening)
	}
	l.m.log.Info().Str("channel", l.m.names.channel).Msg("npgsql: backplane listening")

	for {
		wctx, cancel := context.WithTimeout(l.ctx, o.HealthCheckInterval)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if l.ctx.Err() != nil {
			return true, l.ctx.Err()
		}
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || conn.IsClosed() {
				return true, fmt.Errorf("npgsql: waiting for notifications: %w", err)
			}
		}
		if n != nil {
			l.lastNotify.Store(time.Now().UnixNano())
			if n.Channel == l.m.names.channel {
				if err := l.handle(conn, n.Payload); err != nil {
					return true, err
				}
			}
		}
		// A periodic query proves the connection alive even when it is idle
		// (half-open TCP connections otherwise go unnoticed) and tracks the
		// sequence for the next catch-up.
		if time.Since(l.lastHealth) >= o.HealthCheckInterval {
			v, err := l.sequenceValue(conn)
			if err != nil {
				return true, err
			}
			l.lastSeq = v
			l.lastHealth = time.Now()
		}
	}
}

func (l *listener) exec(conn *pgx.Conn, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(l.ctx, l.m.opts.CommandTimeout)
	defer cancel()
	_, err := conn.Exec(ctx, sql, args...)
	return err
}

// sequenceValue returns the last id handed out (0 if none yet).
func (l *listener) sequenceValue(conn *pgx.Conn) (int64, error) {
	ctx, cancel := context.WithTimeout(l.ctx, l.m.opts.CommandTimeout)
	defer cancel()
	var v int64
	var called bool
	var use float64
	err := conn.QueryRow(ctx, `SELECT last_value, is_called, pg_notification_queue_usage() FROM `+l.m.names.sequence).Scan(&v, &called, &use)
	if err != nil {
		return 0, fmt.Errorf("npgsql: read %s: %w", l.m.names.sequence, err)
	}
	l.queueUse.Store(math.Float64bits(use))
	if use >= 0.5 {
		// PostgreSQL fails NOTIFYing commits when the queue is full; a
		// listener stuck in a long transaction keeps it from draining.
		l.m.log.Warn().Float64("usage", use).Msg("npgsql: PostgreSQL notification queue is half full or more")
	}
	if !called {
		v--
	}
	return v % idSpace, nil
}

// handle processes one notification.
func (l *listener) handle(conn *pgx.Conn, text string) error {
	n, err := ParseNotification(text)
	if err != nil {
		l.m.log.Warn().Err(err).Msg("npgsql: dropping malformed notification")
		return nil
	}
	payload := n.Payload
	if !n.HasPayload {
		// Native mode announced a large row by id: read it.
		ctx, cancel := context.WithTimeout(l.ctx, l.m.opts.CommandTimeout)
		err := conn.QueryRow(ctx, `SELECT "Payload" FROM `+l.m.names.qTable+` WHERE "Id" = $1`, n.ID).Scan(&payload)
		cancel()
		if errors.Is(err, pgx.ErrNoRows) {
			l.m.log.Warn().Int32("id", n.ID).Msg("npgsql: notified row not found (deleted, or another hub's table on the same channel)")
			return nil
		}
		if err != nil {
			return fmt.Errorf("npgsql: read row %d: %w", n.ID, err)
		}
	}
	l.deliver(n.ID, payload)
	return nil
}

// deliver dispatches a row unless it was already delivered.
func (l *listener) deliver(id int32, payload []byte) bool {
	if !l.m.order.delivered(id, payload) {
		if f := l.m.opts.Metrics.DuplicateSkips; f != nil {
			f()
		}
		return false
	}
	pos := int64(id) % idSpace
	if idAfter(pos, l.maxSeen) {
		l.maxSeen = pos
	}
	if l.floorValid && idDist(l.floor, l.maxSeen) > idSpace/4 {
		l.floorValid = false // long past the start: the floor no longer matters
	}
	l.m.dispatch(payload)
	return true
}

type row struct {
	id      int32
	payload []byte
}

// catchUp delivers the rows committed while the listener was away. It
// re-reads from CatchUpMargin ids below what it had seen (the sequence value
// of the last health check bounds that from below when other tables' ids
// share the channel), never below the start position, in id order across a
// wrap of the sequence; the seen window drops rows already delivered.
func (l *listener) catchUp(conn *pgx.Conn) error {
	lo := idMin(l.maxSeen, l.lastSeq)
	lo = ((lo-int64(l.m.opts.CatchUpMargin))%idSpace + idSpace) % idSpace
	if l.floorValid && idAfter(l.floor, lo) {
		lo = l.floor
	}
	hi := lo + idSpace/2
	upper, wrapped := hi, int64(0)
	if hi > idSpace {
		upper, wrapped = idSpace, hi-idSpace
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.m.opts.CommandTimeout)
	defer cancel()
	rows, err := conn.Query(ctx, `SELECT "Id", "Payload" FROM `+l.m.names.qTable+
		` WHERE ("Id" > $1 AND "Id" <= $2) OR "Id" <= $3`, lo, upper, wrapped)
	if err != nil {
		return fmt.Errorf("npgsql: catch-up query: %w", err)
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.payload); err != nil {
			rows.Close()
			return fmt.Errorf("npgsql: catch-up scan: %w", err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("npgsql: catch-up query: %w", err)
	}
	sort.Slice(got, func(i, j int) bool { return idDist(lo, int64(got[i].id)) < idDist(lo, int64(got[j].id)) })
	delivered := 0
	for _, r := range got {
		if l.deliver(r.id, r.payload) {
			delivered++
		}
	}
	if f := l.m.opts.Metrics.CaughtUp; f != nil {
		f(delivered)
	}
	l.m.log.Info().Int("rows", delivered).Int("scanned", len(got)).Int64("from_id", lo).Msg("npgsql: backplane caught up after reconnect")
	return nil
}
