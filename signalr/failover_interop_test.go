package signalr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/interop"
	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/gosignalr/gosignalr/signalr"
)

// failoverHub tells clients which server they are on.
type failoverHub struct{ name string }

func (h failoverHub) Server() string                            { return h.name }
func (failoverHub) GetConnectionID(ctx *signalr.Context) string { return ctx.ConnectionID() }

// balancer is a sticky load balancer in front of two servers: new
// connections (negotiate, or connect requests without an id) go to the
// first server that is not shutting down, which is how a balancer that
// polls readiness behaves; every request naming a connection goes to the
// server that negotiated it.
type balancer struct {
	servers []*signalr.Server

	mu     sync.Mutex
	owners map[string]*signalr.Server // connection token -> server
}

func (b *balancer) pick() *signalr.Server {
	for _, s := range b.servers {
		if !s.ShuttingDown() {
			return s
		}
	}
	return b.servers[len(b.servers)-1]
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := negotiate.QueryValue(r.URL.Query(), "id"); ok {
		b.mu.Lock()
		s := b.owners[id]
		b.mu.Unlock()
		if s == nil {
			http.Error(w, "unknown connection", http.StatusNotFound)
			return
		}
		s.ServeHTTP(w, r)
		return
	}
	s := b.pick()
	if !strings.HasSuffix(r.URL.Path, "/negotiate") {
		s.ServeHTTP(w, r)
		return
	}
	// Learn the connection token from the negotiate response.
	cw := &captureWriter{ResponseWriter: w}
	s.ServeHTTP(cw, r)
	var resp struct {
		ConnectionToken string `json:"connectionToken"`
		ConnectionID    string `json:"connectionId"`
	}
	if json.Unmarshal(cw.body.Bytes(), &resp) == nil {
		b.mu.Lock()
		for _, id := range []string{resp.ConnectionToken, resp.ConnectionID} {
			if id != "" {
				b.owners[id] = s
			}
		}
		b.mu.Unlock()
	}
}

type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *captureWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// TestShutdownMovesJSClientToAnotherServer: the official JavaScript client
// with withAutomaticReconnect, connected to server A behind a balancer,
// reconnects to server B when A shuts down (Close with allowReconnect, then
// 503 for new connections on A) and invokes there.
func TestShutdownMovesJSClientToAnotherServer(t *testing.T) {
	for _, transport := range []string{"WebSockets", "ServerSentEvents", "LongPolling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			newServer := func(name string) *signalr.Server {
				s, err := signalr.NewServer(failoverHub{name: name}, signalr.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			a, b := newServer("A"), newServer("B")
			lb := &balancer{servers: []*signalr.Server{a, b}, owners: map[string]*signalr.Server{}}
			shutdownErr := make(chan error, 1)
			mux := http.NewServeMux()
			mux.Handle("/hub", lb)
			mux.Handle("/hub/", lb)
			mux.HandleFunc("POST /control/shutdown", func(w http.ResponseWriter, r *http.Request) {
				ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
				defer cancel()
				err := a.Shutdown(ctx)
				shutdownErr <- err
				if err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			hs := httptest.NewServer(mux)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for _, s := range []*signalr.Server{a, b} {
					if err := s.Shutdown(ctx); err != nil {
						t.Errorf("cleanup shutdown: %v", err)
					}
				}
				hs.Close()
			})

			interop.RunScript(t, "scenarios/failover.cjs", map[string]string{
				"SIGNALR_URL":         hs.URL + "/hub",
				"SIGNALR_CONTROL_URL": hs.URL + "/control",
				"SIGNALR_TRANSPORT":   transport,
			})
			select {
			case err := <-shutdownErr:
				if err != nil {
					t.Errorf("A.Shutdown: %v", err)
				}
			default:
				t.Error("the script never shut A down")
			}
			if n := a.ConnectionCount(); n != 0 {
				t.Errorf("A still has %d connections", n)
			}
		})
	}
}
