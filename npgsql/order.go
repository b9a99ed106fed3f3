package npgsql

import (
	"hash/maphash"
	"sync"
	"time"
)

// orderGuard keeps one publisher's messages in order across the two
// delivery paths. Broadcasts reach this server's clients through the round
// trip, while a send to a local connection (and a local group change) would
// take effect at once and could overtake an earlier broadcast still on its
// way. So the short path is taken only while none of this server's rows is
// in flight: being inserted, or committed but not yet delivered by the
// listener. Otherwise the message goes through the backplane as well and
// arrives in commit order after the earlier ones.
//
// The guard also owns the listener's seen window: a publisher registering
// its committed row and the listener delivering it must agree on whether
// that already happened, so both use one lock.
type orderGuard struct {
	seed maphash.Seed

	mu       sync.Mutex
	inflight int                   // publishes started, not returned
	pending  map[seenKey]time.Time // committed, not yet delivered
	seen     *seenWindow
}

// pendingTTL drops a pending row that never shows up (deleted by retention
// before a long outage ended, say), so the short path is not lost for good.
const pendingTTL = time.Minute

func newOrderGuard(window int) *orderGuard {
	return &orderGuard{seed: maphash.MakeSeed(), pending: map[seenKey]time.Time{}, seen: newSeenWindow(window)}
}

func (g *orderGuard) key(id int32, payload []byte) seenKey {
	return seenKey{id: id, hash: maphash.Bytes(g.seed, payload)}
}

func (g *orderGuard) begin() {
	g.mu.Lock()
	g.inflight++
	g.mu.Unlock()
}

// end records the outcome of a publish begun with begin.
func (g *orderGuard) end(id int32, payload []byte, err error) {
	k := g.key(id, payload)
	g.mu.Lock()
	g.inflight--
	if err == nil && !g.seen.has(k) {
		g.pending[k] = time.Now()
	}
	g.mu.Unlock()
}

// delivered marks a row delivered; false if it already was.
func (g *orderGuard) delivered(id int32, payload []byte) bool {
	k := g.key(id, payload)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) > 0 {
		delete(g.pending, k)
	}
	return g.seen.add(k)
}

// idle reports whether no row of this server is in flight.
func (g *orderGuard) idle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inflight > 0 {
		return false
	}
	for k, t := range g.pending {
		if time.Since(t) > pendingTTL {
			delete(g.pending, k)
		}
	}
	return len(g.pending) == 0
}
