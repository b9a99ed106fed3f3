package npgsql

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// retention deletes rows older than RetentionAge every RetentionInterval.
// .NET never deletes, so without this the table grows forever and the int4
// sequence eventually wraps onto live ids. The sweep is safe for .NET
// servers, which never read rows back, and for our catch-up as long as an
// outage is shorter than RetentionAge.
type retention struct {
	m      *Manager
	ctx    context.Context // cancelled by close: aborts a running sweep
	cancel context.CancelFunc
	done   chan struct{}
}

const retentionBatch = 10000

func newRetention(m *Manager) *retention {
	r := &retention{m: m, done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	go r.run()
	return r
}

func (r *retention) close() {
	r.cancel()
	<-r.done
}

func (r *retention) run() {
	defer close(r.done)
	t := time.NewTicker(r.m.opts.RetentionInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		n, err := r.m.sweep(r.ctx)
		if r.ctx.Err() != nil {
			return
		}
		if err != nil {
			r.m.log.Warn().Err(err).Msg("npgsql: retention sweep failed")
		} else if n > 0 {
			r.m.log.Debug().Int64("rows", n).Msg("npgsql: retention deleted old rows")
		}
	}
}

// sweep deletes rows older than RetentionAge in batches. One instance at a
// time does it (a transaction-scoped try-lock); the others skip the round.
// InsertedOn is the inserting session's local time (timestamp without time
// zone, as .NET defines it), compared with this session's LOCALTIMESTAMP:
// servers should share a time zone setting.
func (m *Manager) sweep(ctx context.Context) (int64, error) {
	var total int64
	age := fmt.Sprintf("%d microseconds", m.opts.RetentionAge.Microseconds())
	for {
		var n int64
		err := pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
			var got bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext($1)::bigint)`, m.names.lockKey()+":retention").Scan(&got); err != nil {
				return err
			}
			if !got {
				return nil
			}
			tag, err := tx.Exec(ctx, `DELETE FROM `+m.names.qTable+` WHERE "Id" IN (SELECT "Id" FROM `+m.names.qTable+
				` WHERE "InsertedOn" < LOCALTIMESTAMP - $1::interval LIMIT `+fmt.Sprint(retentionBatch)+`)`, age)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("npgsql: retention: %w", err)
		}
		total += n
		if n < retentionBatch {
			return total, nil
		}
	}
}
