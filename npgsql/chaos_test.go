package npgsql

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// chaosRun has pubs publishers (spread over the managers) send per messages
// each while disrupt runs, then checks that every connection got every
// message exactly once, in order per publisher. A publish that fails is
// retried unless its row turns out to be committed (a connection can die
// between COMMIT and its reply).
func chaosRun(t *testing.T, dsn string, opts Options, pubs, per int, disrupt func(stop <-chan struct{})) []*Manager {
	t.Helper()
	var caught atomic.Int64
	opts.Metrics.CaughtUp = func(n int) { caught.Add(int64(n)) }
	engines := []*fakeEngine{
		newFakeEngine(map[string]string{"a1": ""}),
		newFakeEngine(map[string]string{"b1": ""}),
	}
	ms := []*Manager{newManager(t, opts, engines[0]), newManager(t, opts, engines[1])}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := ms[p%len(ms)]
			for i := range per {
				for attempt := 0; ; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := m.SendAll(ctx, "M", []any{p, i})
					cancel()
					if err == nil || committed(t, dsn, m, p, i) {
						break
					}
					if attempt > 200 {
						t.Errorf("publisher %d message %d: giving up: %v", p, i, err)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(time.Duration(rand.N(3)) * time.Millisecond)
			}
		}()
	}
	go func() { wg.Wait(); close(stop) }()
	// disrupt runs on the test goroutine: it may call t.Fatal (pgtest.Restart does).
	disrupt(stop)
	wg.Wait()
	for i, e := range engines {
		id := []string{"a1", "b1"}[i]
		checkExactlyOnceInOrder(t, id, e.waitFor(t, id, pubs*per), pubs, per)
	}
	// Nothing arrives late either.
	time.Sleep(300 * time.Millisecond)
	for i, e := range engines {
		id := []string{"a1", "b1"}[i]
		if n := len(e.received(id)); n != pubs*per {
			t.Fatalf("%s: %d messages after settling, want %d", id, n, pubs*per)
		}
	}
	t.Logf("rows recovered by catch-up: %d; reconnects: %d, %d", caught.Load(), ms[0].Status().Reconnects, ms[1].Status().Reconnects)
	return ms
}

// committed reports whether the row of message (p, i) exists.
func committed(t *testing.T, dsn string, m *Manager, p, i int) bool {
	msgs, err := m.serialize("M", []any{p, i})
	if err != nil {
		t.Error(err)
		return false
	}
	b, _ := AppendPayload(nil, &Payload{Type: TypeInvocationAll, Messages: msgs})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false // database down: not known, try again
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM "SignalR"."ChatHub_Messages" WHERE "Payload" = $1`, b).Scan(&n); err != nil {
		return false
	}
	return n > 0
}

func killListeners(t *testing.T, dsn string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pgtest.SuperuserDSN(t))
	if err != nil {
		t.Errorf("superuser connect: %v", err)
		return 0
	}
	defer c.Close(context.Background())
	var n int
	err = c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`,
		ListenerApplicationName, dbName(t, dsn)).Scan(&n)
	if err != nil {
		t.Errorf("terminate: %v", err)
	}
	return n
}

func dbName(t *testing.T, dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

func TestChaosListenerTerminated(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int64 // sequence position to start from
	}{
		{"fresh", 0},
		{"across int4 wrap", 1<<31 - 1 - 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			opts := fastOptions(dsn)
			if tc.start > 0 {
				pool := connect(t, dsn)
				if err := ensureSchema(context.Background(), mustPool(t, dsn), newNames("SignalR", "ChatHub", DefaultNotificationChannel), ModeCompat); err != nil {
					t.Fatal(err)
				}
				if _, err := pool.Exec(context.Background(), `SELECT setval('"SignalR"."ChatHub_Messages_Id_seq"', $1)`, tc.start); err != nil {
					t.Fatal(err)
				}
			}
			kills := 0
			chaosRun(t, dsn, opts, 6, 30, func(stop <-chan struct{}) {
				// The first kill comes early, whatever the publishers' pace.
				time.Sleep(20 * time.Millisecond)
				kills += killListeners(t, dsn)
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Duration(60+rand.N(60)) * time.Millisecond):
					}
					kills += killListeners(t, dsn)
				}
			})
			if kills == 0 {
				t.Fatal("no listener was terminated: the test did not test anything")
			}
			if tc.start > 0 {
				db := connect(t, dsn)
				var lo int
				if err := db.QueryRow(context.Background(), `SELECT min("Id") FROM "SignalR"."ChatHub_Messages"`).Scan(&lo); err != nil || lo > 1000 {
					t.Fatalf("ids did not wrap: min %d, %v", lo, err)
				}
			}
		})
	}
}

func TestChaosPostgresRestart(t *testing.T) {
	if !pgtest.CanRestart() {
		t.Skipf("needs the harness-managed PostgreSQL (%s is set)", pgtest.EnvVar)
	}
	dsn := pgtest.DSN(t)
	opts := fastOptions(dsn)
	ms := chaosRun(t, dsn, opts, 4, 30, func(stop <-chan struct{}) {
		// The first restart comes early, whatever the publishers' pace.
		time.Sleep(30 * time.Millisecond)
		pgtest.Restart(t)
		select {
		case <-stop:
		case <-time.After(150 * time.Millisecond):
			pgtest.Restart(t)
		}
	})
	for _, m := range ms {
		deadline := time.Now().Add(10 * time.Second)
		for {
			ok, reason := m.Ready()
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not ready after restarts: %s", reason)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if m.Status().Reconnects == 0 {
			t.Fatal("listener did not reconnect")
		}
	}
}

func mustPool(t *testing.T, dsn string) *pgxPool {
	t.Helper()
	p, err := newPgxPool(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestRetention(t *testing.T) {
	dsn := pgtest.DSN(t)
	opts := fastOptions(dsn)
	opts.RetentionAge = time.Hour
	opts.RetentionInterval = 50 * time.Millisecond
	m := newManager(t, opts, newFakeEngine(map[string]string{}))
	db := connect(t, dsn)
	ctx := context.Background()
	ack, _ := AppendPayload(nil, &Payload{Type: TypeAck, ID: 1, ServerName: "x"})
	if _, err := db.Exec(ctx, `INSERT INTO "SignalR"."ChatHub_Messages" ("Payload", "InsertedOn")
		SELECT $1, LOCALTIMESTAMP - interval '2 hours' FROM generate_series(1, 12000)`, ack); err != nil {
		t.Fatal(err)
	}
	if err := m.SendAll(ctx, "Fresh", nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var old, fresh int
		if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE "InsertedOn" < LOCALTIMESTAMP - interval '1 hour'),
			count(*) FILTER (WHERE "InsertedOn" >= LOCALTIMESTAMP - interval '1 hour') FROM "SignalR"."ChatHub_Messages"`).Scan(&old, &fresh); err != nil {
			t.Fatal(err)
		}
		if fresh != 1 {
			t.Fatalf("retention touched fresh rows: %d left", fresh)
		}
		if old == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d old rows left", old)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
