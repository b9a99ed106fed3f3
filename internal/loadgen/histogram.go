package loadgen

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets (16 per power of two,
// so about 6% resolution) with atomic counters: any goroutine may record
// without locks. The zero value is ready to use.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	sum    atomic.Int64
	max    atomic.Int64
}

const (
	histSubBits = 4
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - 1 // e >= histSubBits
	sub := (v >> (e - histSubBits)) & (histSub - 1)
	return (e-histSubBits+1)*histSub + int(sub)
}

// histUpper is the largest value that falls into bucket i.
func histUpper(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub + histSubBits - 1
	sub := uint64(i % histSub)
	lo := (histSub + sub) << (e - histSubBits)
	return lo + (1 << (e - histSubBits)) - 1
}

// Record adds one observation. Negative durations (clock skew between
// hosts) count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[histIndex(uint64(d))].Add(1)
	h.sum.Add(int64(d))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// HistSnapshot is a point-in-time copy of a Histogram.
type HistSnapshot struct {
	counts [histBuckets]uint64
	n      uint64
	sum    int64
	max    int64
}

// Snapshot copies the current counts.
func (h *Histogram) Snapshot() *HistSnapshot {
	s := &HistSnapshot{sum: h.sum.Load(), max: h.max.Load()}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.n += c
	}
	return s
}

// Sub returns the observations in s that are not in prev (an interval).
// The interval's maximum is not known, so it reports s's maximum.
func (s *HistSnapshot) Sub(prev *HistSnapshot) *HistSnapshot {
	d := &HistSnapshot{sum: s.sum - prev.sum, max: s.max}
	for i := range s.counts {
		c := s.counts[i] - prev.counts[i]
		d.counts[i] = c
		d.n += c
	}
	return d
}

// Count is the number of observations.
func (s *HistSnapshot) Count() uint64 { return s.n }

// Quantile returns the upper bound of the bucket holding quantile q (0..1);
// zero when empty.
func (s *HistSnapshot) Quantile(q float64) time.Duration {
	if s.n == 0 {
		return 0
	}
	rank := uint64(q*float64(s.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > s.n {
		rank = s.n
	}
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			u := time.Duration(histUpper(i))
			if s.max > 0 && u > time.Duration(s.max) {
				u = time.Duration(s.max)
			}
			return u
		}
	}
	return time.Duration(s.max)
}

// Mean is the average observation.
func (s *HistSnapshot) Mean() time.Duration {
	if s.n == 0 {
		return 0
	}
	return time.Duration(s.sum / int64(s.n))
}

// Max is the largest observation.
func (s *HistSnapshot) Max() time.Duration { return time.Duration(s.max) }
