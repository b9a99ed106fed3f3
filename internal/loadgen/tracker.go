package loadgen

// seqState follows one sender's sequence as seen by one receiver. Senders
// number messages 1, 2, 3, ...; a receiver expects them in that order.
type seqState struct {
	next     int64              // next expected sequence number
	missing  map[int64]struct{} // skipped numbers that may still arrive late
	lostGap  int64              // skipped numbers beyond the tracking bound
	received int64
	reorder  int64 // arrivals of a skipped number (late, out of order)
	dup      int64 // arrivals of a number already received
}

// maxMissingTracked bounds the per-sender set of skipped numbers; a larger
// gap is counted as lost outright (a stream that broken fails the run anyway).
const maxMissingTracked = 1 << 16

// observe records the arrival of seq. It reports whether it arrived in order.
func (s *seqState) observe(seq int64) bool {
	if s.next == 0 {
		s.next = 1
	}
	s.received++
	switch {
	case seq == s.next:
		s.next++
		return true
	case seq > s.next:
		for m := s.next; m < seq; m++ {
			if len(s.missing) >= maxMissingTracked {
				s.lostGap += seq - m
				break
			}
			if s.missing == nil {
				s.missing = make(map[int64]struct{})
			}
			s.missing[m] = struct{}{}
		}
		s.next = seq + 1
		// In-order from this sender's point of view is broken only if a
		// skipped message shows up later; a plain gap is a loss.
		return true
	default:
		if _, ok := s.missing[seq]; ok {
			delete(s.missing, seq)
			s.reorder++
		} else {
			s.dup++
		}
		return false
	}
}

// lost is how many of the sender's first sent messages never arrived.
func (s *seqState) lost(sent int64) int64 {
	if s.next == 0 {
		return sent
	}
	tail := sent - (s.next - 1)
	if tail < 0 {
		tail = 0 // more arrived than the sender counted: shows up as dup/extra
	}
	return tail + int64(len(s.missing)) + s.lostGap
}

// tracker is one receiving connection's view of all its senders. It is used
// by the connection's single reader goroutine only; the run reads it after
// that goroutine ended.
type tracker struct {
	bySender   map[int]*seqState
	last       *seqState
	lastSender int
	unexpected int64 // payloads from a sender this receiver should not hear
}

func (t *tracker) state(sender int) *seqState {
	if t.last != nil && t.lastSender == sender {
		return t.last
	}
	if t.bySender == nil {
		t.bySender = make(map[int]*seqState)
	}
	st := t.bySender[sender]
	if st == nil {
		st = &seqState{}
		t.bySender[sender] = st
	}
	t.last, t.lastSender = st, sender
	return st
}
