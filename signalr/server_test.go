package signalr

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func startServer(t *testing.T, hub any, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := NewServer(hub, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/hub", s)
	mux.Handle("/hub/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
	})
	return s, hs
}

func negotiateToken(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Post(base+"/hub/negotiate?negotiateVersion=1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var n struct {
		ConnectionToken string `json:"connectionToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&n); err != nil || n.ConnectionToken == "" {
		t.Fatalf("negotiate: %v %+v", err, n)
	}
	return n.ConnectionToken
}

func TestServerWebSocketEndToEnd(t *testing.T) {
	s, hs := startServer(t, newTestHub(), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	token := negotiateToken(t, hs.URL)
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/hub?id="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	read := func() string {
		t.Helper()
		typ, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.MessageText {
			t.Fatalf("frame type %v", typ)
		}
		return string(b)
	}
	write := func(s string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"protocol":"json","version":1}` + "\x1e")
	if got := read(); got != "{}\x1e" {
		t.Fatalf("handshake %q", got)
	}
	write(`{"type":1,"invocationId":"1","target":"Echo","arguments":["over ws"]}` + "\x1e")
	if got := read(); got != `{"type":3,"invocationId":"1","result":"over ws"}`+"\x1e" {
		t.Fatalf("got %q", got)
	}
	if s.ConnectionCount() != 1 {
		t.Fatalf("ConnectionCount = %d", s.ConnectionCount())
	}
	if err := s.HubContext().Clients.All().Send(ctx, "FromOutside", 1); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != `{"type":1,"target":"FromOutside","arguments":[1]}`+"\x1e" {
		t.Fatalf("got %q", got)
	}
	go s.Shutdown(ctx)
	if got := read(); got != `{"type":7,"allowReconnect":true}`+"\x1e" {
		t.Fatalf("got %q", got)
	}
}

func TestServerLongPollingEndToEnd(t *testing.T) {
	_, hs := startServer(t, newTestHub(), Options{})
	token := negotiateToken(t, hs.URL)
	url := hs.URL + "/hub?id=" + token
	poll := func() string {
		t.Helper()
		resp, err := http.Get(url + "&_=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("poll status %d", resp.StatusCode)
		}
		return string(b)
	}
	send := func(s string) {
		t.Helper()
		resp, err := http.Post(url, "text/plain", strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("send status %d", resp.StatusCode)
		}
	}
	if got := poll(); got != "" {
		t.Fatalf("first poll %q", got)
	}
	send(`{"protocol":"json","version":1}` + "\x1e")
	if got := poll(); got != "{}\x1e" {
		t.Fatalf("handshake %q", got)
	}
	send(`{"type":1,"invocationId":"1","target":"Transport","arguments":[]}` + "\x1e")
	if got := poll(); got != `{"type":3,"invocationId":"1","result":"LongPolling"}`+"\x1e" {
		t.Fatalf("got %q", got)
	}
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE status %d", resp.StatusCode)
	}
}

func TestServerStatefulReconnectEndToEnd(t *testing.T) {
	old := statefulAckInterval
	statefulAckInterval = time.Hour // keep server Acks out of the expected frames
	t.Cleanup(func() { statefulAckInterval = old })

	s, hs := startServer(t, newTestHub(), Options{AllowStatefulReconnects: true, KeepAliveInterval: -1})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := http.Post(hs.URL+"/hub/negotiate?negotiateVersion=1&useStatefulReconnect=true", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	var n struct {
		ConnectionToken      string `json:"connectionToken"`
		UseStatefulReconnect bool   `json:"useStatefulReconnect"`
	}
	err = json.NewDecoder(resp.Body).Decode(&n)
	resp.Body.Close()
	if err != nil || !n.UseStatefulReconnect {
		t.Fatalf("negotiate: %v %+v", err, n)
	}
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/hub?id=" + n.ConnectionToken
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, wsURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	var pending []string
	read := func(ws *websocket.Conn) string {
		t.Helper()
		for len(pending) == 0 {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			recs := strings.SplitAfter(string(b), "\x1e")
			pending = recs[:len(recs)-1]
		}
		r := pending[0]
		pending = pending[1:]
		return strings.TrimSuffix(r, "\x1e")
	}
	write := func(ws *websocket.Conn, s string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(s+"\x1e")); err != nil {
			t.Fatal(err)
		}
	}

	ws := dial()
	write(ws, `{"protocol":"json","version":2}`)
	if got := read(ws); got != "{}" {
		t.Fatalf("handshake %q", got)
	}
	write(ws, `{"type":1,"invocationId":"1","target":"Echo","arguments":["before"]}`)
	if got := read(ws); got != `{"type":3,"invocationId":"1","result":"before"}` {
		t.Fatal(got)
	}
	_ = ws.CloseNow() // lost without a close frame
	// Sent while the client is away: buffered and replayed.
	deadline := time.Now().Add(waitLimit)
	for s.ConnectionCount() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := s.HubContext().Clients.All().Send(ctx, "WhileAway"); err != nil {
		t.Fatal(err)
	}

	ws = dial()
	defer ws.CloseNow()
	write(ws, `{"type":9,"sequenceId":2}`)
	for _, want := range []string{
		`{"type":9,"sequenceId":1}`,
		`{"type":3,"invocationId":"1","result":"before"}`,
		`{"type":1,"target":"WhileAway","arguments":[]}`,
	} {
		if got := read(ws); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
	write(ws, `{"type":1,"invocationId":"2","target":"ConnectionID","arguments":[]}`)
	if got := read(ws); !strings.HasPrefix(got, `{"type":3,"invocationId":"2","result":"`) {
		t.Fatal(got)
	}
}
