package signalr_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

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
