package transports

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"
)

// collector is a handler that appends every received chunk to one buffer.
type collector struct {
	mu      sync.Mutex
	buf     []byte
	changed chan struct{}
}

func (k *collector) ServeConn(ctx context.Context, c Conn) {
	for {
		b, err := c.Receive(ctx)
		if err != nil {
			return
		}
		k.mu.Lock()
		k.buf = append(k.buf, b...)
		k.mu.Unlock()
		signal(k.changed)
	}
}

// take waits until n bytes arrived and returns them, resetting the buffer.
func (k *collector) take(t *testing.T, n int) []byte {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		k.mu.Lock()
		if len(k.buf) >= n {
			b := k.buf
			k.buf = nil
			k.mu.Unlock()
			return b
		}
		k.mu.Unlock()
		select {
		case <-k.changed:
		case <-deadline:
			t.Fatalf("only part of %d bytes arrived", n)
		}
	}
}

// FuzzPostSplits sends a stream of records (JSON hub records, split on the
// 0x1E separator of the input) cut at arbitrary points across POSTs, and
// checks that the handler receives exactly the same bytes, in order.
func FuzzPostSplits(f *testing.F) {
	f.Add([]byte("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"hi\"]}\x1e{\"type\":6}\x1e"), []byte{3, 10, 1})
	f.Add([]byte("{\"protocol\":\"json\",\"version\":1}\x1e"), []byte{0})
	f.Add([]byte("\x05\x94\x01\x80\xc0\xa1a\x02\x91\x06"), []byte{1, 1, 1, 1})

	k := &collector{changed: make(chan struct{}, 1)}
	s := newTestServer(f, k, Options{MaxRequestBodySize: 1 << 16})
	tok := s.token(f)
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/echo?id="+tok, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := s.Client().Do(req)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { resp.Body.Close() })
	if _, err := io.ReadFull(resp.Body, make([]byte, 3)); err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		if len(stream) > 1<<14 {
			return
		}
		// Make it a stream of whole records: every record ends with 0x1E.
		if len(stream) > 0 && stream[len(stream)-1] != 0x1e {
			stream = append(stream, 0x1e)
		}
		var parts [][]byte
		rest := stream
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(int(cuts[i])+1, len(rest))
			}
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		for _, p := range parts {
			r, err := s.doErr(context.Background(), http.MethodPost, "/echo?id="+tok, string(p), nil)
			if err != nil || r.status != http.StatusOK {
				t.Fatalf("POST: %v %d %q", err, r.status, r.body)
			}
		}
		if got := k.take(t, len(stream)); !bytes.Equal(got, stream) {
			t.Fatalf("received %q, sent %q", got, stream)
		}
	})
}
