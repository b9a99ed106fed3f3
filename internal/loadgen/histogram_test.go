package loadgen

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose upper bound is >= the value and
	// within 1/16 of it.
	for _, v := range []uint64{0, 1, 15, 16, 17, 31, 32, 100, 1000, 123456, 1 << 40, 1<<63 - 1} {
		i := histIndex(v)
		up := histUpper(i)
		if up < v {
			t.Errorf("value %d: bucket %d upper %d below it", v, i, up)
		}
		if v >= 16 && float64(up-v) > float64(v)/16 {
			t.Errorf("value %d: bucket upper %d too coarse", v, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Errorf("value %d: previous bucket upper %d already covers it", v, histUpper(i-1))
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	h.Record(-time.Second) // clock skew counts as zero
	s := h.Snapshot()
	if s.Count() != 1001 {
		t.Fatalf("count %d", s.Count())
	}
	near := func(name string, got, want time.Duration) {
		t.Helper()
		if got < want || float64(got-want) > float64(want)/16+1 {
			t.Errorf("%s = %v, want about %v", name, got, want)
		}
	}
	near("p50", s.Quantile(0.5), 500*time.Microsecond)
	near("p99", s.Quantile(0.99), 990*time.Microsecond)
	if s.Max() != time.Millisecond || s.Quantile(1) != time.Millisecond {
		t.Errorf("max %v, q1 %v", s.Max(), s.Quantile(1))
	}
	if s.Quantile(0) != 0 {
		t.Errorf("q0 = %v", s.Quantile(0))
	}
	// An interval holds only what came after the earlier snapshot.
	h.Record(5 * time.Second)
	iv := h.Snapshot().Sub(s)
	if iv.Count() != 1 || iv.Quantile(0.5) < 5*time.Second || iv.Mean() != 5*time.Second {
		t.Errorf("interval: n=%d p50=%v mean=%v", iv.Count(), iv.Quantile(0.5), iv.Mean())
	}
	var empty Histogram
	if q := empty.Snapshot().Quantile(0.99); q != 0 {
		t.Errorf("empty p99 = %v", q)
	}
}

func TestSeqState(t *testing.T) {
	tests := []struct {
		name               string
		arrivals           []int64
		sent               int64
		lost, reorder, dup int64
		inOrderArrivals    int
	}{
		{"all in order", []int64{1, 2, 3, 4}, 4, 0, 0, 0, 4},
		{"tail lost", []int64{1, 2}, 4, 2, 0, 0, 2},
		{"nothing arrived", nil, 3, 3, 0, 0, 0},
		{"gap lost", []int64{1, 4, 5}, 5, 2, 0, 0, 3},
		{"swap", []int64{1, 3, 2, 4}, 4, 0, 1, 0, 3},
		{"duplicate", []int64{1, 2, 2, 3}, 3, 0, 0, 1, 3},
		{"late and missing", []int64{3, 1}, 4, 2, 1, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s seqState
			inOrder := 0
			for _, a := range tt.arrivals {
				if s.observe(a) {
					inOrder++
				}
			}
			if got := s.lost(tt.sent); got != tt.lost {
				t.Errorf("lost %d, want %d", got, tt.lost)
			}
			if s.reorder != tt.reorder || s.dup != tt.dup {
				t.Errorf("reorder %d dup %d, want %d %d", s.reorder, s.dup, tt.reorder, tt.dup)
			}
			if inOrder != tt.inOrderArrivals {
				t.Errorf("in-order arrivals %d, want %d", inOrder, tt.inOrderArrivals)
			}
		})
	}
	// A huge gap is bounded in memory and still counted exactly.
	var s seqState
	s.observe(1)
	s.observe(maxMissingTracked * 3)
	if got := s.lost(maxMissingTracked * 3); got != maxMissingTracked*3-2 {
		t.Errorf("huge gap: lost %d, want %d", got, maxMissingTracked*3-2)
	}
	if len(s.missing) > maxMissingTracked {
		t.Errorf("tracked %d missing numbers", len(s.missing))
	}
}
