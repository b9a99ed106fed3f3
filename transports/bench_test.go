package transports

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// broadcaster is a handler that serves every connection with one writer
// goroutine fed by a bounded queue, the shape the hub runtime uses; the
// writer sends whatever is queued as one unit.
type broadcaster struct {
	mu     sync.Mutex
	queues []chan []byte
	joined chan struct{}
}

func (bc *broadcaster) ServeConn(ctx context.Context, c Conn) {
	q := make(chan []byte, 256)
	bc.mu.Lock()
	bc.queues = append(bc.queues, q)
	bc.mu.Unlock()
	bc.joined <- struct{}{}
	var batch []byte
	for {
		select {
		case p := <-q:
			batch = append(batch[:0], p...)
		drain:
			for len(batch) < 64<<10 {
				select {
				case p := <-q:
					batch = append(batch, p...)
				default:
					break drain
				}
			}
			if err := c.Send(ctx, batch); err != nil {
				return
			}
		case <-c.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

func (bc *broadcaster) publish(p []byte) {
	bc.mu.Lock()
	defer bc.mu.Unlock()
	for _, q := range bc.queues {
		q <- p
	}
}

var benchRecord = []byte("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"hello, world\"]}\x1e")

// BenchmarkFanOut measures delivery of one stream of small records to 100
// clients per transport; msgs/s counts records received by all clients.
// The publisher blocks on full queues, so the rate is what the transport
// delivers, not what it drops.
func BenchmarkFanOut(b *testing.B) {
	for _, tc := range []struct {
		name string
		t    TransportType
	}{
		{"LongPolling100", LongPolling},
		{"ServerSentEvents100", ServerSentEvents},
		{"WebSockets100", WebSockets},
	} {
		b.Run(tc.name, func(b *testing.B) { benchFanOut(b, tc.t, 100) })
	}
}

func benchFanOut(b *testing.B, t TransportType, clients int) {
	bc := &broadcaster{joined: make(chan struct{}, clients)}
	s := newTestServer(b, bc, Options{Transports: t, DisconnectTimeout: time.Minute})
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * clients, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	want := b.N
	var wg sync.WaitGroup
	for range clients {
		tok := s.token(b)
		switch t {
		case WebSockets:
			u := "ws" + strings.TrimPrefix(s.URL, "http") + "/echo?id=" + tok
			ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() {
				defer ws.CloseNow()
				for n := 0; n < want; {
					_, msg, err := ws.Read(ctx)
					if err != nil {
						b.Errorf("ws read: %v", err)
						return
					}
					n += bytes.Count(msg, []byte{0x1e})
				}
			})
		case ServerSentEvents:
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/echo?id="+tok, nil)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			wg.Go(func() {
				defer resp.Body.Close()
				br := bufio.NewReaderSize(resp.Body, 64<<10)
				for n := 0; n < want; {
					line, err := br.ReadSlice('\n')
					if err != nil && err != bufio.ErrBufferFull {
						b.Errorf("sse read: %v", err)
						return
					}
					n += bytes.Count(line, []byte{0x1e})
				}
			})
		case LongPolling:
			poll := func() ([]byte, error) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/echo?id="+tok, nil)
				resp, err := hc.Do(req)
				if err != nil {
					return nil, err
				}
				defer resp.Body.Close()
				return io.ReadAll(resp.Body)
			}
			if _, err := poll(); err != nil {
				b.Fatal(err)
			}
			wg.Go(func() {
				for n := 0; n < want; {
					body, err := poll()
					if err != nil {
						b.Errorf("poll: %v", err)
						return
					}
					n += bytes.Count(body, []byte{0x1e})
				}
			})
		}
	}
	for range clients {
		<-bc.joined
	}
	b.SetBytes(int64(len(benchRecord) * clients))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		bc.publish(benchRecord)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*clients)/elapsed.Seconds(), "msgs/s")
}
