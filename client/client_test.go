package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var allTransports = []transports.TransportType{transports.WebSockets, transports.ServerSentEvents, transports.LongPolling}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startClient starts a client against url and stops it when the test ends.
func startClient(t *testing.T, url string, opts Options) *HubConnection {
	t.Helper()
	c, err := New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(testCtx(t)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func TestFakeServerRPC(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			c := startClient(t, fs.url(), Options{Transports: tr})
			ctx := testCtx(t)
			if got := c.State(); got != Connected {
				t.Fatalf("state = %v", got)
			}
			if id := c.ConnectionID(); !strings.HasPrefix(id, "conn") {
				t.Fatalf("ConnectionID = %q", id)
			}
			if got, err := Invoke[string](ctx, c, "Transport"); err != nil || got != tr.String() {
				t.Fatalf("Transport = %q, %v", got, err)
			}
			if got, err := Invoke[int](ctx, c, "Add", 2, 3); err != nil || got != 5 {
				t.Fatalf("Add = %d, %v", got, err)
			}
			raw, err := c.Invoke(ctx, "Void")
			if err != nil || raw == nil || !raw.IsNull() {
				t.Fatalf("Void = %v, %v", raw, err)
			}
			_, err = c.Invoke(ctx, "Fail")
			var he *HubError
			if !errors.As(err, &he) || he.Message != "An unexpected error occurred invoking 'Fail' on the server. HubException: boom" {
				t.Fatalf("Fail error = %v", err)
			}
			// Concurrent invocations each get their own answer.
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := Invoke[int](ctx, c, "Add", i, 1000)
					if err != nil || got != i+1000 {
						t.Errorf("Add(%d) = %d, %v", i, got, err)
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestFakeServerHandlersAndClientResults(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			c, err := New(fs.url(), Options{Transports: tr})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 4)
			if err := c.On("message", func(s string, n int) { got <- s + "/" + string(rune('0'+n)) }); err != nil {
				t.Fatal(err)
			}
			if err := c.On("Square", func(n int) int { return n * n }); err != nil {
				t.Fatal(err)
			}
			if err := c.On("Refuse", func() (int, error) { return 0, errors.New("from callback") }); err != nil {
				t.Fatal(err)
			}
			if err := c.On("Twice", func() int { return 1 }); err != nil {
				t.Fatal(err)
			}
			if err := c.On("Twice", func() int { return 2 }); err != nil {
				t.Fatal(err)
			}
			if err := c.On("Bad", 42); err == nil {
				t.Fatal("On accepted a non-func")
			}
			ctx := testCtx(t)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Stop(ctx)
			if _, err := c.Invoke(ctx, "CallMe", "hi", 7); err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != "hi/7" {
				t.Fatalf("handler got %q", s)
			}
			cases := []struct {
				args []any
				want string
			}{
				{[]any{"Square", 9}, "81"},
				{[]any{"square", 4}, "16"}, // case-insensitive
				{[]any{"Refuse"}, "error: from callback"},
				{[]any{"Nobody"}, "error: " + textNoResult},
				{[]any{"Twice"}, "error: " + textMultipleResults},
				{[]any{"Message", "x", 1}, "error: " + textNoResult}, // void handler gives no result
			}
			for _, tc := range cases {
				raw, err := c.Invoke(ctx, "ClientResult", tc.args...)
				if err != nil {
					t.Fatal(err)
				}
				var v any
				if err := raw.Decode(&v); err != nil {
					t.Fatalf("%v: result %v: %v", tc.args, raw, err)
				}
				s := fmt.Sprint(v)
				if s != tc.want {
					t.Errorf("client result for %v = %q, want %q", tc.args, s, tc.want)
				}
			}
			<-got // the "Message" client result also ran the handler
			c.Off("message")
		})
	}
}

func TestFakeServerStreams(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			c, err := New(fs.url(), Options{Transports: tr})
			if err != nil {
				t.Fatal(err)
			}
			canceled := make(chan struct{}, 1)
			_ = c.On("StreamCanceled", func() { canceled <- struct{}{} })
			ctx := testCtx(t)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Stop(ctx)

			var items []int
			for v, err := range Stream[int](ctx, c, "Count", 5) {
				if err != nil {
					t.Fatal(err)
				}
				items = append(items, v)
			}
			if len(items) != 5 || items[4] != 4 {
				t.Fatalf("Count items = %v", items)
			}

			var last error
			n := 0
			for _, err := range c.Stream(ctx, "FailStream") {
				if err != nil {
					last = err
					break
				}
				n++
			}
			var he *HubError
			if n != 1 || !errors.As(last, &he) || he.Message != "An error occurred on the server while streaming results." {
				t.Fatalf("FailStream: %d items, err %v", n, last)
			}

			// Leaving the loop early sends CancelInvocation.
			for v, err := range Stream[string](ctx, c, "Infinite") {
				if err != nil || v != "tick" {
					t.Fatalf("Infinite: %q %v", v, err)
				}
				break
			}
			conn := fs.latest()
			select {
			case <-conn.cancels:
			case <-ctx.Done():
				t.Fatal("no CancelInvocation")
			}
			<-canceled

			// Cancelling ctx does too.
			sctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var gotErr error
			for _, err := range c.Stream(sctx, "Infinite") {
				if err != nil {
					gotErr = err
					break
				}
				cancel()
			}
			if !errors.Is(gotErr, context.Canceled) {
				t.Fatalf("cancelled stream err = %v", gotErr)
			}
			<-conn.cancels
			<-canceled

			// Upload streams.
			ch := make(chan string)
			go func() {
				for _, s := range []string{"a", "b", "c"} {
					ch <- s
				}
				close(ch)
			}()
			if got, err := Invoke[string](ctx, c, "Concat", ch); err != nil || got != "abc" {
				t.Fatalf("Concat = %q, %v", got, err)
			}
			ech := make(chan any, 2)
			ech <- "x"
			ech <- errors.New("Something bad")
			_, err = c.Invoke(ctx, "Concat", ech)
			if err == nil || err.Error() != "An unexpected error occurred invoking 'Concat' on the server. HubException: Something bad" {
				t.Fatalf("Concat with error = %v", err)
			}
		})
	}
}

func TestInvocationIDsStartAtZero(t *testing.T) {
	fs := newFakeServer(t)
	c := startClient(t, fs.url(), Options{Transports: transports.WebSockets})
	ctx := testCtx(t)
	ch := make(chan int)
	close(ch)
	if _, err := c.Invoke(ctx, "Concat", ch); err != nil { // stream id "0", invocation id "1"
		t.Fatal(err)
	}
	if got := c.newID(); got != "2" {
		t.Fatalf("next id = %q, want 2", got)
	}
}

func TestCloseMessage(t *testing.T) {
	tests := []struct {
		name      string
		errText   string
		allow     bool
		reconnect bool
		wantErr   string
	}{
		{"error without reconnect", "Connection closed with an error.", false, false, "Server returned an error on close: Connection closed with an error."},
		{"clean close", "", false, false, ""},
		{"allowReconnect reconnects", "", true, true, ""},
		{"error with allowReconnect", "Connection closed with an error.", true, true, "Server returned an error on close: Connection closed with an error."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			closed := make(chan error, 1)
			reconnecting := make(chan error, 1)
			reconnected := make(chan string, 1)
			c := startClient(t, fs.url(), Options{
				Reconnect:      DelaysReconnectPolicy{0},
				OnClose:        func(err error) { closed <- err },
				OnReconnecting: func(err error) { reconnecting <- err },
				OnReconnected:  func(id string) { reconnected <- id },
			})
			ctx := testCtx(t)
			old := c.ConnectionID()
			_, err := c.Invoke(ctx, "CloseMe", tc.errText, tc.allow)
			if !errors.Is(err, ErrConnectionClosed) {
				t.Fatalf("pending invoke err = %v", err)
			}
			if tc.reconnect {
				rerr := <-reconnecting
				if tc.wantErr != "" && rerr.Error() != tc.wantErr {
					t.Fatalf("reconnecting reason %q", rerr)
				}
				id := <-reconnected
				if id == old || id != c.ConnectionID() {
					t.Fatalf("reconnected id %q (old %q, now %q)", id, old, c.ConnectionID())
				}
				if got, err := Invoke[int](ctx, c, "Add", 1, 1); err != nil || got != 2 {
					t.Fatalf("after reconnect: %d %v", got, err)
				}
				return
			}
			err = <-closed
			if (err == nil && tc.wantErr != "") || (err != nil && err.Error() != tc.wantErr) {
				t.Fatalf("closed with %v, want %q", err, tc.wantErr)
			}
			if c.State() != Disconnected {
				t.Fatalf("state %v", c.State())
			}
		})
	}
}

func TestServerTimeout(t *testing.T) {
	fs := newFakeServer(t)
	closed := make(chan error, 1)
	// The fake server never pings, so the connection times out.
	startClient(t, fs.url(), Options{
		Transports:    transports.WebSockets,
		ServerTimeout: 100 * time.Millisecond,
		OnClose:       func(err error) { closed <- err },
	})
	err := <-closed
	if !errors.Is(err, ErrServerTimeout) || err.Error() != "Server timeout elapsed without receiving a message from the server." {
		t.Fatalf("closed with %v", err)
	}
}

func TestReconnectPolicyGivesUp(t *testing.T) {
	fs := newFakeServer(t)
	closed := make(chan error, 1)
	var mu sync.Mutex
	var reasons []error
	var retries []RetryContext
	policy := recordingPolicy{inner: DelaysReconnectPolicy{0, time.Millisecond, 2 * time.Millisecond}, mu: &mu, seen: &retries}
	startClient(t, fs.url(), Options{
		Transports:     transports.LongPolling,
		Reconnect:      policy,
		OnReconnecting: func(err error) { mu.Lock(); reasons = append(reasons, err); mu.Unlock() },
		OnReconnected:  func(string) { t.Error("reconnected while the server refuses") },
		OnClose:        func(err error) { closed <- err },
	})
	fs.refuse.Store(true)
	fs.latest().shutdown() // the poll gets 204: the server ended the connection
	err := <-closed
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("closed with %v, want the last attempt's 503", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 1 {
		t.Fatalf("reconnecting called %d times", len(reasons))
	}
	if len(retries) != 4 || retries[3].PreviousRetryCount != 3 || retries[1].RetryReason == nil {
		t.Fatalf("policy consulted %+v", retries)
	}
	if n := fs.negotiates.Load(); n != 4 {
		t.Fatalf("negotiates = %d, want 1 + 3 attempts", n)
	}
}

type recordingPolicy struct {
	inner ReconnectPolicy
	mu    *sync.Mutex
	seen  *[]RetryContext
}

func (p recordingPolicy) NextRetryDelay(rc RetryContext) (time.Duration, bool) {
	p.mu.Lock()
	*p.seen = append(*p.seen, rc)
	p.mu.Unlock()
	return p.inner.NextRetryDelay(rc)
}

func TestReconnectPolicies(t *testing.T) {
	d := DefaultReconnectPolicy()
	want := []time.Duration{0, 2 * time.Second, 10 * time.Second, 30 * time.Second}
	for i, w := range want {
		got, ok := d.NextRetryDelay(RetryContext{PreviousRetryCount: i})
		if !ok || got != w {
			t.Fatalf("default attempt %d = %v %v", i, got, ok)
		}
	}
	if _, ok := d.NextRetryDelay(RetryContext{PreviousRetryCount: 4}); ok {
		t.Fatal("default policy did not give up after 4 attempts")
	}
	b := BackoffReconnectPolicy{Initial: 100 * time.Millisecond, Max: time.Second}
	for i, w := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second, time.Second} {
		got, ok := b.NextRetryDelay(RetryContext{PreviousRetryCount: i})
		if !ok || got > w || got < w-w/5 {
			t.Fatalf("backoff attempt %d = %v, want %v minus at most 20%%", i, got, w)
		}
	}
	if got, ok := b.NextRetryDelay(RetryContext{PreviousRetryCount: 1000}); !ok || got > time.Second {
		t.Fatalf("backoff never gives up and stays capped: %v %v", got, ok)
	}
}

func TestStopFailsPendingAndIsIdempotent(t *testing.T) {
	for _, tr := range allTransports {
		t.Run(tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			closed := make(chan error, 1)
			c, err := New(fs.url(), Options{Transports: tr, Reconnect: DefaultReconnectPolicy(), OnClose: func(err error) { closed <- err }})
			if err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(ctx); err == nil {
				t.Fatal("second Start succeeded")
			}
			pending := make(chan error, 1)
			go func() {
				// Stream that never ends: fails when the connection stops.
				for _, err := range c.Stream(ctx, "Infinite") {
					if err != nil {
						pending <- err
						return
					}
				}
				pending <- nil
			}()
			time.Sleep(50 * time.Millisecond)
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-closed; err != nil {
				t.Fatalf("closed with %v after Stop", err)
			}
			if err := <-pending; !errors.Is(err, ErrConnectionClosed) {
				t.Fatalf("pending stream err = %v", err)
			}
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if c.State() != Disconnected || c.ConnectionID() != "" {
				t.Fatalf("state %v id %q", c.State(), c.ConnectionID())
			}
			if _, err := c.Invoke(ctx, "Void"); !errors.Is(err, ErrNotConnected) {
				t.Fatalf("invoke after stop: %v", err)
			}
			conn := fs.latest()
			select {
			case <-conn.closed: // the server saw Close / DELETE / close frame
			case <-ctx.Done():
				t.Fatal("server connection not closed by Stop")
			}
			// A stopped connection can start again.
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			<-closed
		})
	}
}

func TestTransportFallbackNegotiatesAgain(t *testing.T) {
	fs := newFakeServer(t)
	fs.failWS = true
	c := startClient(t, fs.url(), Options{})
	ctx := testCtx(t)
	if got, err := Invoke[string](ctx, c, "Transport"); err != nil || got != "ServerSentEvents" {
		t.Fatalf("transport %q %v", got, err)
	}
	if n := fs.negotiates.Load(); n != 2 {
		t.Fatalf("negotiates = %d, want 2", n)
	}
}

func TestNoUsableTransport(t *testing.T) {
	fs := newFakeServer(t)
	fs.failWS = true
	fs.transports = []string{"WebSockets", "ServerSentEvents"}
	c, err := New(fs.url(), Options{Protocol: protocol.MessagePack, Transports: transports.WebSockets | transports.ServerSentEvents})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(testCtx(t))
	want := "Unable to connect to the server with any of the available transports. WebSockets failed: WebSocket failed to connect."
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "ServerSentEvents failed: 'ServerSentEvents' does not support Binary.") {
		t.Fatalf("Start: %v", err)
	}
}

func TestNegotiateRedirectAndToken(t *testing.T) {
	fs := newFakeServer(t)
	hops := 0
	fs.negotiate = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("hop") == "" {
			hops++
			w.Write([]byte(`{"url":"` + fs.srv.URL + `/hub?hop=1","accessToken":"redirected"}`))
			return true
		}
		return false
	}
	c := startClient(t, fs.url(), Options{
		Transports:          transports.LongPolling,
		AccessTokenProvider: func(context.Context) (string, error) { return "original", nil },
		Headers:             http.Header{"X-Custom": {"v"}},
	})
	ctx := testCtx(t)
	if got, err := Invoke[string](ctx, c, "Header", "Authorization"); err != nil || got != "Bearer redirected" {
		t.Fatalf("Authorization = %q %v", got, err)
	}
	if got, err := Invoke[string](ctx, c, "Header", "X-Custom"); err != nil || got != "v" {
		t.Fatalf("X-Custom = %q %v", got, err)
	}
	if got, err := Invoke[string](ctx, c, "Header", "X-Requested-With"); err != nil || got != "XMLHttpRequest" {
		t.Fatalf("X-Requested-With = %q %v", got, err)
	}
	if got, err := Invoke[string](ctx, c, "Query"); err != nil || !strings.Contains(got, "hop=1") {
		t.Fatalf("negotiate query = %q %v", got, err)
	}
	if hops != 1 {
		t.Fatalf("hops %d", hops)
	}
}

func TestNegotiateErrors(t *testing.T) {
	tests := []struct {
		name string
		h    func(w http.ResponseWriter, r *http.Request)
		want string
	}{
		{"error body", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"error":"Nope."}`)) }, "Nope."},
		{"401", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }, "Failed to complete negotiation with the server: Unauthorized: Status code '401'"},
		{"400 body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			w.Write([]byte("Some response from server"))
		}, "Failed to complete negotiation with the server: Some response from server: Status code '400'"},
		{"404", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }, "Failed to complete negotiation with the server: Not Found: Status code '404' Either this is not a SignalR endpoint or there is a proxy blocking the connection."},
		{"redirect loop", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"url":"http://` + r.Host + `/hub"}`)) }, "Negotiate redirection limit exceeded."},
		{"classic", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ProtocolVersion":"1.5"}`)) }, negotiate.ErrClassicServer.Error()},
		{"unrequested stateful", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","useStatefulReconnect":true,"availableTransports":[]}`))
		}, "Client didn't negotiate Stateful Reconnect but the server did."},
		{"no transports", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[]}`))
		}, "None of the transports supported by the client are supported by the server."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			fs.negotiate = func(w http.ResponseWriter, r *http.Request) bool { tc.h(w, r); return true }
			c, err := New(fs.url(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Start(testCtx(t))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Start error = %v\nwant %q", err, tc.want)
			}
			if c.State() != Disconnected {
				t.Fatalf("state %v", c.State())
			}
		})
	}
}

func TestSkipNegotiation(t *testing.T) {
	if _, err := New("http://x/hub", Options{SkipNegotiation: true}); err == nil {
		t.Fatal("SkipNegotiation without WebSockets-only accepted")
	}
	fs := newFakeServer(t)
	c := startClient(t, fs.url(), Options{SkipNegotiation: true, Transports: transports.WebSockets})
	if n := fs.negotiates.Load(); n != 0 {
		t.Fatalf("negotiated %d times", n)
	}
	if id := c.ConnectionID(); id != "" {
		t.Fatalf("ConnectionID = %q, want empty", id)
	}
	if got, err := Invoke[string](testCtx(t), c, "Echo", "hi"); err != nil || got != "hi" {
		t.Fatalf("Echo = %q %v", got, err)
	}
}

func TestTokenRefreshedOnceAfter401(t *testing.T) {
	for _, tr := range []transports.TransportType{transports.ServerSentEvents, transports.LongPolling} {
		t.Run(tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			fs.token = "fresh"
			var mu sync.Mutex
			var calls int
			c := startClient(t, fs.url(), Options{
				Transports: tr,
				AccessTokenProvider: func(context.Context) (string, error) {
					mu.Lock()
					defer mu.Unlock()
					calls++
					if calls == 1 {
						return "stale", nil // negotiate does not check it; the transport gets 401
					}
					return "fresh", nil
				},
			})
			if got, err := Invoke[string](testCtx(t), c, "Echo", "ok"); err != nil || got != "ok" {
				t.Fatalf("Echo = %q %v", got, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != 2 {
				t.Fatalf("token provider called %d times, want 2 (negotiate, one refresh)", calls)
			}
		})
	}
}

func TestKeepAlivePings(t *testing.T) {
	for _, tc := range []struct {
		tr    transports.TransportType
		pings bool
	}{{transports.WebSockets, true}, {transports.ServerSentEvents, true}, {transports.LongPolling, false}} {
		t.Run(tc.tr.String(), func(t *testing.T) {
			fs := newFakeServer(t)
			closed := make(chan error, 1)
			c := startClient(t, fs.url(), Options{
				Transports:        tc.tr,
				KeepAliveInterval: 10 * time.Millisecond,
				ServerTimeout:     time.Hour,
				OnClose:           func(err error) { closed <- err },
			})
			conn := fs.latest()
			deadline := time.Now().Add(5 * time.Second)
			// The initial ping plus keep-alive pings while idle.
			for tc.pings && conn.pings.Load() < 3 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !tc.pings {
				time.Sleep(100 * time.Millisecond) // ten keep-alive intervals
			}
			if n := conn.pings.Load(); (n >= 3) != tc.pings {
				t.Fatalf("%d pings", n)
			}
			if c.State() != Connected {
				t.Fatalf("state %v", c.State())
			}
		})
	}
	// Long Polling also has no server timeout.
	fs := newFakeServer(t)
	c := startClient(t, fs.url(), Options{Transports: transports.LongPolling, ServerTimeout: 20 * time.Millisecond})
	time.Sleep(150 * time.Millisecond)
	if c.State() != Connected {
		t.Fatalf("state %v: Long Polling must not time out", c.State())
	}
}

func TestPolicyRefusingFirstAttemptJustCloses(t *testing.T) {
	fs := newFakeServer(t)
	closed := make(chan error, 1)
	c := startClient(t, fs.url(), Options{
		Transports:     transports.WebSockets,
		Reconnect:      DelaysReconnectPolicy{},
		OnReconnecting: func(err error) { t.Errorf("reconnecting: %v", err) },
		OnClose:        func(err error) { closed <- err },
	})
	_, _ = c.Invoke(testCtx(t), "Drop")
	if err := <-closed; err == nil || !strings.HasPrefix(err.Error(), "WebSocket closed with status code: 1006") {
		t.Fatalf("closed with %v", err)
	}
}

func TestPendingFailsWithConnectionError(t *testing.T) {
	fs := newFakeServer(t)
	c := startClient(t, fs.url(), Options{Transports: transports.WebSockets, ServerTimeout: 100 * time.Millisecond})
	// Infinite never completes; the silent fake server lets the client time out.
	var err error
	for _, e := range c.Stream(testCtx(t), "Infinite") {
		if e != nil {
			err = e
			break
		}
	}
	if !errors.Is(err, ErrConnectionClosed) || !errors.Is(err, ErrServerTimeout) || err.Error() != textServerTimeout {
		t.Fatalf("pending stream failed with %v", err)
	}
}
