package signalr_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/gosignalr/gosignalr/signalr"
)

// ChatHub is a minimal hub: one shared value, safe for concurrent use.
type ChatHub struct{}

// SendMessage is called by clients as connection.invoke("SendMessage", user, message).
func (ChatHub) SendMessage(ctx *signalr.Context, user, message string) error {
	return ctx.Clients().All().Send(ctx, "ReceiveMessage", user, message)
}

// Serve a hub with net/http, then talk to it as a raw WebSocket client
// would (real clients use @microsoft/signalr or package client).
func Example() {
	srv, err := signalr.NewServer(ChatHub{}, signalr.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", srv)
	mux.Handle("/chathub/", srv)
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/chathub", nil) // skipNegotiation
	if err != nil {
		panic(err)
	}
	defer ws.CloseNow()
	// One WebSocket message may carry several records, each ending in 0x1E.
	var records []string
	read := func() string {
		for len(records) == 0 {
			_, b, err := ws.Read(ctx)
			if err != nil {
				panic(err)
			}
			records = strings.SplitAfter(string(b), "\x1e")
			records = records[:len(records)-1] // the empty tail after the last separator
		}
		r := records[0]
		records = records[1:]
		return strings.TrimSuffix(r, "\x1e")
	}
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e"))
	fmt.Println(read())
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":1,"invocationId":"1","target":"sendmessage","arguments":["ann","hi"]}`+"\x1e"))
	fmt.Println(read())
	fmt.Println(read())
	// Output:
	// {}
	// {"type":1,"target":"ReceiveMessage","arguments":["ann","hi"]}
	// {"type":3,"invocationId":"1","result":null}
}

// Reach the hub's clients from an ordinary HTTP handler.
func ExampleServer_HubContext() {
	srv, err := signalr.NewServer(ChatHub{}, signalr.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())
	hub := srv.HubContext()

	mux := http.NewServeMux()
	mux.Handle("/chathub", srv)
	mux.Handle("/chathub/", srv)
	mux.HandleFunc("POST /announce", func(w http.ResponseWriter, r *http.Request) {
		if err := hub.Clients.All().Send(r.Context(), "ReceiveMessage", "server", r.FormValue("text")); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()

	resp, err := http.PostForm(hs.URL+"/announce", url.Values{"text": {"maintenance at noon"}})
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 204
}

// countingObserver is a minimal Observer; a real server passes the
// Prometheus collector of its metrics package instead.
type countingObserver struct {
	mu     sync.Mutex
	opened int
	calls  []string
}

func (o *countingObserver) ConnectionOpened(transport, protocol string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opened++
}
func (o *countingObserver) ConnectionClosed(transport, protocol string) {}
func (o *countingObserver) MessageReceived(msgType string)              {}
func (o *countingObserver) MessageSent(msgType string, n int)           {}
func (o *countingObserver) InvocationCompleted(method string, d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, fmt.Sprintf("%s failed=%t", method, err != nil))
}
func (o *countingObserver) BytesIn(n int)           {}
func (o *countingObserver) BytesOut(n int)          {}
func (o *countingObserver) SlowConsumerDisconnect() {}

// Count connections and hub method calls with an Observer.
func ExampleOptions_observer() {
	obs := &countingObserver{}
	srv, err := signalr.NewServer(ChatHub{}, signalr.Options{Observer: obs})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/chathub", nil)
	if err != nil {
		panic(err)
	}
	defer ws.CloseNow()
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"protocol":"json","version":1}`+"\x1e"))
	_, _, _ = ws.Read(ctx) // handshake response
	_ = ws.Write(ctx, websocket.MessageText, []byte(`{"type":1,"invocationId":"1","target":"SendMessage","arguments":["ann","hi"]}`+"\x1e"))
	for completion := false; !completion; {
		_, b, err := ws.Read(ctx)
		if err != nil {
			panic(err)
		}
		completion = strings.Contains(string(b), `"type":3`)
	}
	obs.mu.Lock()
	fmt.Println("connections opened:", obs.opened)
	fmt.Println(obs.calls)
	obs.mu.Unlock()
	// Output:
	// connections opened: 1
	// [SendMessage failed=false]
}
