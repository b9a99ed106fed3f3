package loadgen

import "testing"

func observeAll(lc *lconn, sender int, seqs ...int64) {
	st := lc.tr.state(sender)
	for _, s := range seqs {
		st.observe(s)
	}
}

func TestAccountGroup(t *testing.T) {
	r := &runner{cfg: Config{Scenario: ScenarioGroup, GroupSize: 2, Connections: 4}}
	for i := 0; i < 4; i++ {
		r.conns = append(r.conns, &lconn{idx: i, group: i / 2})
	}
	r.conns[0].sent.Store(5)
	r.conns[2].sent.Store(3)
	observeAll(r.conns[0], 0, 1, 2, 3, 4, 5)
	observeAll(r.conns[1], 0, 1, 2, 4) // 3 missing, 5 never came: 2 lost
	observeAll(r.conns[2], 2, 1, 3, 2) // late 2: reordered
	observeAll(r.conns[3], 2, 1, 2, 3, 3)
	r.conns[3].tr.unexpected = 1
	var rep Report
	r.account(&rep)
	if rep.Lost != 2 || rep.OutOfOrder != 1 || rep.Duplicates != 1 || rep.Unexpected != 1 {
		t.Errorf("lost %d ooo %d dup %d unexpected %d, want 2 1 1 1", rep.Lost, rep.OutOfOrder, rep.Duplicates, rep.Unexpected)
	}
	if got := r.expected(); got != 5*2+3*2 {
		t.Errorf("expected %d, want 16", got)
	}
}

func TestAccountConnectionRingSkipsFailed(t *testing.T) {
	r := &runner{cfg: Config{Scenario: ScenarioConnection, Connections: 3}}
	r.conns = []*lconn{{idx: 0}, nil, {idx: 2}}
	r.conns[0].sent.Store(4) // to conn 2
	r.conns[2].sent.Store(2) // to conn 0
	observeAll(r.conns[2], 0, 1, 2, 3, 4)
	observeAll(r.conns[0], 2, 1) // 1 lost
	if !r.isRecipient(r.conns[2], 0) || r.isRecipient(r.conns[2], 2) || !r.isRecipient(r.conns[0], 2) {
		t.Error("ring recipients wrong")
	}
	if r.successor(0) != r.conns[2] || r.successor(2) != r.conns[0] {
		t.Error("ring successors wrong")
	}
	var rep Report
	r.account(&rep)
	if rep.Lost != 1 || rep.OutOfOrder != 0 {
		t.Errorf("lost %d ooo %d, want 1 0", rep.Lost, rep.OutOfOrder)
	}
	if got := r.expected(); got != 6 {
		t.Errorf("expected %d, want 6", got)
	}
}

func TestAccountBroadcastSilentReceiver(t *testing.T) {
	r := &runner{cfg: Config{Scenario: ScenarioBroadcast, Connections: 3, Senders: 2}}
	for i := 0; i < 3; i++ {
		r.conns = append(r.conns, &lconn{idx: i})
	}
	r.connected.Store(3)
	r.conns[0].sent.Store(3)
	r.conns[1].sent.Store(2)
	for _, lc := range r.conns[:2] {
		observeAll(lc, 0, 1, 2, 3)
		observeAll(lc, 1, 1, 2)
	}
	// Connection 2 heard nothing: every message of both senders is lost.
	var rep Report
	r.account(&rep)
	if rep.Lost != 5 {
		t.Errorf("lost %d, want 5", rep.Lost)
	}
	if got := r.expected(); got != 15 {
		t.Errorf("expected %d, want 15", got)
	}
}
