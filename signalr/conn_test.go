package signalr

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// binaryProto stands in for MessagePack: a protocol needing binary frames.
type binaryProto struct{ protocol.HubProtocol }

func (binaryProto) Name() string                            { return "messagepack" }
func (binaryProto) TransferFormat() protocol.TransferFormat { return protocol.TransferFormatBinary }

func TestHandshakeErrors(t *testing.T) {
	long := `{"protocol":"json","version":1,"pad":"` + strings.Repeat("x", 200) + `"}` + "\x1e"
	tests := []struct {
		name     string
		detailed bool
		noBinary bool
		in       string
		want     string
	}{
		{"unknown protocol", false, false, `{"protocol":"xml","version":1}` + "\x1e",
			`{"error":"The protocol 'xml' is not supported."}`},
		{"version too high", false, false, `{"protocol":"json","version":3}` + "\x1e",
			`{"error":"The server does not support version 3 of the 'json' protocol."}`},
		{"binary on text transport", false, true, `{"protocol":"messagepack","version":1}` + "\x1e",
			`{"error":"Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format."}`},
		{"malformed", false, false, `{"version":1}` + "\x1e",
			`{"error":"An unexpected error occurred during connection handshake."}`},
		{"malformed detailed", true, false, `{"version":1}` + "\x1e",
			`{"error":"An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'protocol'. Message content: {\"version\":1}"}`},
		{"larger than max message size", false, false, long,
			`{"error":"Handshake was canceled."}`},
		{"larger than max without separator", false, false, strings.Repeat(" ", 129),
			`{"error":"Handshake was canceled."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, newTestHub(), Options{
				EnableDetailedErrors:      tt.detailed,
				MaximumReceiveMessageSize: 128,
				Protocols:                 []protocol.HubProtocol{protocol.JSON, binaryProto{protocol.JSON}},
			})
			conn := newMemConn("c1", 64)
			conn.noBinary = tt.noBinary
			c := serve(t, h, conn)
			c.sendRaw(tt.in)
			if got := string(c.frame()); got != tt.want+"\x1e" {
				t.Fatalf("got  %q\nwant %q", got, tt.want+"\x1e")
			}
			c.waitServed()
			if h.ConnectionCount() != 0 {
				t.Fatalf("ConnectionCount = %d", h.ConnectionCount())
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{HandshakeTimeout: 20 * time.Millisecond})
	c := serve(t, h, newMemConn("c1", 64))
	c.sendRaw(`{"protocol":"json",`)
	if got := string(c.frame()); got != `{"error":"Handshake was canceled."}`+"\x1e" {
		t.Fatalf("got %q", got)
	}
	c.waitServed()
}

func TestHandshakeEOFSendsNothing(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	conn := newMemConn("c1", 64)
	c := serve(t, h, conn)
	conn.clientClose()
	c.waitServed()
	if len(conn.out) != 0 {
		t.Fatalf("unexpected output %q", <-conn.out)
	}
}

func TestCloseRules(t *testing.T) {
	tests := []struct {
		name     string
		detailed bool
		act      func(c *testClient, h *ConnectionHandler)
		want     string
		wantErr  string // OnDisconnected error, "" for nil
	}{
		{"client close is graceful", false, func(c *testClient, _ *ConnectionHandler) { c.send(`{"type":7}`) },
			`{"type":7}`, ""},
		{"hub abort forbids reconnect", false, func(c *testClient, _ *ConnectionHandler) {
			c.send(`{"type":1,"target":"Abort","arguments":[]}`)
		}, `{"type":7}`, ""},
		{"transport end allows reconnect", false, func(c *testClient, _ *ConnectionHandler) { c.conn.clientClose() },
			`{"type":7,"allowReconnect":true}`, ""},
		{"partial record at end", true, func(c *testClient, _ *ConnectionHandler) {
			c.sendRaw(`{"type":1,`)
			c.conn.clientClose()
		}, `{"type":7,"error":"Connection closed with an error. InvalidDataException: Connection terminated while reading a message.","allowReconnect":true}`,
			"Connection terminated while reading a message."},
		{"protocol error", false, func(c *testClient, _ *ConnectionHandler) { c.send(`{"type":1}`) },
			`{"type":7,"error":"Connection closed with an error.","allowReconnect":true}`, "Missing required property"},
		{"protocol error detailed", true, func(c *testClient, _ *ConnectionHandler) { c.send(`{"type":1,"invocationId":"1","arguments":[]}`) },
			`{"type":7,"error":"Connection closed with an error. InvalidDataException: Missing required property 'target'.","allowReconnect":true}`, "Missing required property 'target'."},
		{"too large", true, func(c *testClient, _ *ConnectionHandler) {
			c.sendRaw(`{"type":1,"target":"Echo","arguments":["` + strings.Repeat("a", 200))
		}, `{"type":7,"error":"Connection closed with an error. InvalidDataException: The maximum message size of 128B was exceeded. The message size can be configured in AddHubOptions.","allowReconnect":true}`,
			"maximum message size"},
		{"shutdown", false, func(c *testClient, h *ConnectionHandler) {
			go h.Shutdown(context.Background())
		}, `{"type":7,"allowReconnect":true}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newTestHub()
			h := newHandler(t, hub, Options{EnableDetailedErrors: tt.detailed, MaximumReceiveMessageSize: 128})
			c := connect(t, h, "c1")
			tt.act(c, h)
			if got := c.nextRecord(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			c.waitServed()
			err := <-hub.disconnected
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("OnDisconnected err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestOnConnectedFailureClosesWithoutReconnect(t *testing.T) {
	for _, detailed := range []bool{false, true} {
		hub := newTestHub()
		hub.failConnect = invalidOp{"not today"}
		h := newHandler(t, hub, Options{EnableDetailedErrors: detailed})
		c := connect(t, h, "c1")
		want := `{"type":7,"error":"Connection closed with an error."}`
		if detailed {
			want = `{"type":7,"error":"Connection closed with an error. InvalidOperationException: not today"}`
		}
		if got := c.nextRecord(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
		c.waitServed()
		select {
		case <-hub.disconnected:
			t.Fatal("OnDisconnected ran after a failed OnConnected")
		default:
		}
		if n := h.lm.(*DefaultHubLifetimeManager).LocalConnectionCount(); n != 0 {
			t.Fatalf("lifetime manager still holds %d connections", n)
		}
	}
}

func TestLifecycleHooksAndCount(t *testing.T) {
	hub := newTestHub()
	h := newHandler(t, hub, Options{})
	c := connect(t, h, "c1")
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}`)
	c.next()
	if hub.connected.Load() != 1 || h.ConnectionCount() != 1 {
		t.Fatalf("connected=%d count=%d", hub.connected.Load(), h.ConnectionCount())
	}
	c.send(`{"type":7}`)
	c.next()
	c.waitServed()
	if err := <-hub.disconnected; err != nil {
		t.Fatalf("OnDisconnected err = %v", err)
	}
	if h.ConnectionCount() != 0 {
		t.Fatalf("count = %d", h.ConnectionCount())
	}
}

func TestKeepAlivePing(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{KeepAliveInterval: 20 * time.Millisecond})
	c := connect(t, h, "c1")
	for range 3 {
		if _, ok := c.nextMsg(true).(*protocol.Ping); !ok {
			t.Fatal("expected Ping")
		}
	}
	if got := string(encodeJSON(t, &protocol.Ping{})); got != `{"type":6}`+"\x1e" {
		t.Fatalf("ping bytes %q", got)
	}
}

func TestNoKeepAliveForLongPolling(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{KeepAliveInterval: time.Millisecond, ClientTimeoutInterval: time.Millisecond})
	conn := newMemConn("c1", 64)
	conn.transport = transports.LongPolling
	c := serve(t, h, conn)
	c.send(`{"protocol":"json","version":1}`)
	c.frame()
	c.send(`{"type":6}`)
	time.Sleep(30 * time.Millisecond) // many intervals: no ping, no timeout
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["still here"]}`)
	if got := c.nextMsg(true); got.(*protocol.Completion).InvocationID != "1" {
		t.Fatalf("got %#v", got)
	}
}

func TestClientTimeoutArmedByFirstPing(t *testing.T) {
	hub := newTestHub()
	h := newHandler(t, hub, Options{ClientTimeoutInterval: 30 * time.Millisecond, EnableDetailedErrors: true})
	c := connect(t, h, "c1")
	time.Sleep(90 * time.Millisecond) // silent for 3 intervals, but no Ping yet: not armed
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["alive"]}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"1","result":"alive"}` {
		t.Fatal(got)
	}
	c.send(`{"type":6}`)
	want := `{"type":7,"error":"Connection closed with an error. OperationCanceledException: Client hasn't sent a message/ping within the configured ClientTimeoutInterval.","allowReconnect":true}`
	if got := c.nextRecord(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	c.waitServed()
}

func TestClientTimeoutResetByMessages(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{ClientTimeoutInterval: 250 * time.Millisecond})
	c := connect(t, h, "c1")
	c.send(`{"type":6}`)
	for range 20 { // 20 x 20ms = 400ms > timeout, but never near 250ms of silence
		time.Sleep(20 * time.Millisecond)
		c.send(`{"type":6}`)
	}
	c.send(`{"type":1,"invocationId":"1","target":"Echo","arguments":["ok"]}`)
	if m, ok := c.next().(*protocol.Completion); !ok || m.InvocationID != "1" {
		t.Fatalf("got %#v", m)
	}
}

func encodeJSON(t *testing.T, m protocol.HubMessage) []byte {
	b, err := protocol.JSON.AppendMessage(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A client that has the handshake response is registered: an HTTP request
// naming its connection id can reach it at once.
func TestRegisteredBeforeHandshakeResponse(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	for i := range 20 {
		id := "c" + string(rune('a'+i))
		connect(t, h, id)
		if h.lm.(*DefaultHubLifetimeManager).LocalConnection(id) == nil {
			t.Fatalf("%s not registered after its handshake response", id)
		}
		if h.ConnectionCount() != i+1 {
			t.Fatalf("ConnectionCount = %d", h.ConnectionCount())
		}
	}
}

func TestShutdownEndsBusyConnectionsAndRefusesNewOnes(t *testing.T) {
	hub := newTestHub()
	h := newHandler(t, hub, Options{})
	c := connect(t, h, "busy")
	c.send(`{"type":1,"invocationId":"1","target":"Block","arguments":["x"]}`)
	<-hub.started
	if err := h.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The blocked method saw its Context end; the Close allows reconnecting.
	var sawClose bool
	for !sawClose {
		switch m := c.next().(type) {
		case *protocol.Close:
			if !m.AllowReconnect || m.Error != "" {
				t.Fatalf("close %+v", m)
			}
			sawClose = true
		case *protocol.Completion:
		}
	}
	c.waitServed()
	late := serve(t, h, newMemConn("late", 4))
	late.waitServed() // returns without reading a handshake
	if h.ConnectionCount() != 0 {
		t.Fatalf("ConnectionCount = %d", h.ConnectionCount())
	}
}
