package npgsql

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// freezeProxy forwards TCP to target. freeze stops moving bytes on every
// connection open at that moment without closing them: to the client the
// server looks alive but silent, as behind a dead NAT or a pulled cable.
type freezeProxy struct {
	l      net.Listener
	target string

	mu     sync.Mutex
	frozen []chan struct{} // closed: stop forwarding
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{l: l, target: target}
	p.wg.Add(1)
	go p.accept()
	return p
}

func (p *freezeProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		stop := make(chan struct{})
		p.mu.Lock()
		p.frozen = append(p.frozen, stop)
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, s, stop)
		go p.pipe(s, c, stop)
	}
}

func (p *freezeProxy) pipe(dst, src net.Conn, stop chan struct{}) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-stop:
			// Frozen: swallow everything until the connection is closed.
			for err == nil {
				_, err = src.Read(buf)
			}
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				dst.Close()
			}
			return
		}
	}
}

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.frozen {
		close(s)
	}
	p.frozen = nil
}

func (p *freezeProxy) close() {
	p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// A listener whose connection goes silent (half-open) notices it with its
// health query, reconnects and catches up on what it missed.
func TestHalfOpenListenerRecovers(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFreezeProxy(t, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	viaProxy := strings.Replace(dsn, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), proxy.l.Addr().String(), 1)

	opts := fastOptions(viaProxy)
	opts.HealthCheckInterval = 200 * time.Millisecond
	opts.CommandTimeout = 500 * time.Millisecond
	recv := newFakeEngine(map[string]string{"r1": ""})
	r := newManager(t, opts, recv)
	// Closed before the managers (cleanups run last-in first-out), so their
	// Close does not wait on frozen connections.
	t.Cleanup(proxy.close)
	pub := newManager(t, fastOptions(dsn), newFakeEngine(map[string]string{}))
	ctx := context.Background()

	const pubs, per = 1, 30
	for i := range per {
		if i == 10 {
			proxy.freeze()
		}
		if err := pub.SendAll(ctx, "M", []any{0, i}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkExactlyOnceInOrder(t, "r1", recv.waitFor(t, "r1", pubs*per), pubs, per)
	if s := r.Status(); s.Reconnects == 0 {
		t.Fatalf("listener never noticed the dead connection: %+v", s)
	}
}
