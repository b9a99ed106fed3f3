package npgsql

import (
	"context"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// A broadcast travels through PostgreSQL; a send to a local connection
// right after it must not overtake it.
func TestLocalSendKeepsPublishOrder(t *testing.T) {
	for _, batch := range []int{1, 0} {
		t.Run(map[int]string{1: "single-row", 0: "coalesced"}[batch], func(t *testing.T) {
			opts := fastOptions(pgtest.DSN(t))
			opts.MaxBatchSize = batch
			e := newFakeEngine(map[string]string{"a1": ""})
			m := newManager(t, opts, e)
			ctx := context.Background()
			const n = 40
			for i := range n {
				if err := m.SendAll(ctx, "M", []any{0, 2 * i}); err != nil {
					t.Fatal(err)
				}
				if err := m.SendConnection(ctx, "a1", "M", []any{0, 2*i + 1}); err != nil {
					t.Fatal(err)
				}
			}
			checkExactlyOnceInOrder(t, "a1", e.waitFor(t, "a1", 2*n), 1, 2*n)

			// Once everything is delivered, the short path is back.
			deadline := time.Now().Add(5 * time.Second)
			for !m.order.idle() {
				if time.Now().After(deadline) {
					t.Fatal("rows still pending after delivery")
				}
				time.Sleep(5 * time.Millisecond)
			}
			e.mu.Lock()
			before := e.direct
			e.mu.Unlock()
			if err := m.SendConnection(ctx, "a1", "M", []any{0, 2 * n}); err != nil {
				t.Fatal(err)
			}
			e.mu.Lock()
			after := e.direct
			e.mu.Unlock()
			if after != before+1 {
				t.Fatalf("idle send to a local connection did not take the short path")
			}
		})
	}
}

// A message sent to a group before a local member leaves it still reaches
// that member, and one sent after it joins does too.
func TestLocalGroupChangeKeepsPublishOrder(t *testing.T) {
	e := newFakeEngine(map[string]string{"a1": ""})
	m := newManager(t, fastOptions(pgtest.DSN(t)), e)
	ctx := context.Background()
	const n = 20
	for i := range n {
		if err := m.AddToGroup(ctx, "a1", "g"); err != nil {
			t.Fatal(err)
		}
		if err := m.SendGroup(ctx, "g", "M", []any{0, i}); err != nil {
			t.Fatal(err)
		}
		if err := m.RemoveFromGroup(ctx, "a1", "g"); err != nil {
			t.Fatal(err)
		}
	}
	checkExactlyOnceInOrder(t, "a1", e.waitFor(t, "a1", n), 1, n)
}
