package transports_test

// Transport tests with the official JavaScript client (@microsoft/signalr,
// HubConnection level, under Node) against a real hub served by package
// signalr: transport fallback, Long Polling disposal (DELETE, vanished
// clients), the error texts the client shows, and chat across transports.
// Node runs testdata/jsdriver.cjs; the assertions stay here.

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/transports"
)

const (
	ws  = "WebSockets"
	sse = "ServerSentEvents"
	lp  = "LongPolling"
)

// chatWorks runs the chat hub contract on one connection: a broadcast, a
// group join and a group message all reach it.
func chatWorks(t *testing.T, js *jsClient, name string, c jsConn) {
	t.Helper()
	js.wait(name, "UserConnected", c.ConnectionID)
	js.invoke(nil, name, "SendMessage", "alice", "hello")
	js.wait(name, "ReceiveMessage", "alice", "hello")
	js.invoke(nil, name, "JoinGroup", "room")
	js.wait(name, "UserJoinedGroup", c.ConnectionID, "room")
	js.invoke(nil, name, "SendMessageToGroup", "room", "alice", "hi room")
	js.wait(name, "ReceiveGroupMessage", "room", "alice", "hi room")
}

func activeTransport(t *testing.T, js *jsClient, name string) string {
	t.Helper()
	var got string
	js.invoke(&got, name, "GetActiveTransportName")
	return got
}

// TestJSTransportFallback starts a default-configured client (no transport
// option: it tries what negotiate offers, in order) and checks the transport
// it ends up on, from both sides, and that chat works over it. When the
// WebSocket upgrade fails on the way, the client negotiates again: the first
// connection stays unused in the table until DisconnectTimeout removes it.
func TestJSTransportFallback(t *testing.T) {
	t.Parallel()
	const disconnectTimeout = 3 * time.Second // room for a loaded machine between a client's requests
	tests := []struct {
		name string
		spec serverSpec
		want string
		// blocked: the WebSocket attempt failed after a negotiate, which
		// left one unused connection behind.
		blocked bool
	}{
		{
			name: "no WebSockets",
			spec: serverSpec{newServer: true, sopts: signalr.Options{Transports: transports.ServerSentEvents | transports.LongPolling}},
			want: sse,
		},
		{
			name: "Long Polling only",
			spec: serverSpec{newServer: true, sopts: signalr.Options{Transports: transports.LongPolling}},
			want: lp,
		},
		{
			name:    "upgrade rejected by a proxy",
			spec:    serverSpec{topts: transports.Options{DisconnectTimeout: disconnectTimeout}, front: frontOptions{upgrade: "reject"}},
			want:    sse,
			blocked: true,
		},
		{
			name: "upgrade rejected by a proxy, no Server-Sent Events",
			spec: serverSpec{
				sopts: signalr.Options{Transports: transports.WebSockets | transports.LongPolling},
				topts: transports.Options{DisconnectTimeout: disconnectTimeout}, front: frontOptions{upgrade: "reject"},
			},
			want:    lp,
			blocked: true,
		},
		{
			// The server sees a plain GET with the token: the first poll of
			// a Long Polling connection, which starts the hub and answers
			// 200. The WebSocket client fails on the 200 and falls back;
			// the started connection, never polled again, expires.
			name:    "upgrade headers stripped by a proxy",
			spec:    serverSpec{topts: transports.Options{DisconnectTimeout: disconnectTimeout}, front: frontOptions{upgrade: "strip"}},
			want:    sse,
			blocked: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newHubServer(t, tt.spec)
			js := startJS(t)
			a := js.start("a", s.url, nil)
			if a.Transport != tt.want {
				t.Fatalf("client chose %s, want %s", a.Transport, tt.want)
			}
			if got := activeTransport(t, js, "a"); got != tt.want {
				t.Fatalf("GetActiveTransportName = %q, want %q", got, tt.want)
			}
			if e := waitEvent(t, s.hub, true, a.ConnectionID); e.transport != tt.want {
				t.Fatalf("OnConnected saw transport %s, want %s", e.transport, tt.want)
			}
			chatWorks(t, js, "a", a)

			negotiates, upgrades := len(s.front.records("negotiate")), s.front.records("websocket")
			if !tt.blocked {
				if negotiates != 1 || len(upgrades) != 0 {
					t.Fatalf("%d negotiates and %d WebSocket requests, want 1 and 0", negotiates, len(upgrades))
				}
			} else {
				if negotiates != 2 || len(upgrades) != 1 {
					t.Fatalf("%d negotiates and %d WebSocket requests, want 2 and 1", negotiates, len(upgrades))
				}
				unused := upgrades[0].token
				if tt.spec.front.upgrade == "strip" && upgrades[0].status != http.StatusOK {
					t.Fatalf("stripped upgrade answered %d, want 200 (a first poll)", upgrades[0].status)
				}
				for _, kind := range []string{"sse", "poll", "post"} {
					for _, r := range s.front.records(kind) {
						if r.token == unused {
							t.Fatalf("the client used the connection of its failed WebSocket attempt (%s)", kind)
						}
					}
				}
				waitUntil(t, "the unused connection to expire", func() bool { return s.d.Len() == 1 })
				if status, body := s.do(t, http.MethodDelete, "/hub?id="+unused); status != http.StatusNotFound || body != "No Connection with that ID" {
					t.Fatalf("DELETE of the expired connection: %d %q", status, body)
				}
				// The connection in use is unaffected.
				if got := activeTransport(t, js, "a"); got != tt.want {
					t.Fatalf("after the expiry: GetActiveTransportName = %q", got)
				}
				if n := s.count(); n != 1 {
					t.Fatalf("%d hub connections, want 1", n)
				}
			}

			if msg := js.stop("a"); msg != "" {
				t.Fatalf("stop: closed with %q", msg)
			}
			if e := waitEvent(t, s.hub, false, a.ConnectionID); e.err != nil {
				t.Fatalf("OnDisconnected: %v", e.err)
			}
			waitUntil(t, "no hub connections", func() bool { return s.count() == 0 })
			if s.d != nil {
				waitUntil(t, "an empty connection table", func() bool { return s.d.Len() == 0 })
			}
		})
	}
}

// TestJSLongPollingStop checks that stop() of a Long Polling client ends its
// poll and sends DELETE, and that the server disposes the connection at once
// (DisconnectTimeout is a minute: only the client's requests can remove it).
// The client sends its Close message and the DELETE concurrently; holding
// the Close message back makes the DELETE alone end a live hub connection.
func TestJSLongPollingStop(t *testing.T) {
	t.Parallel()
	for _, hold := range []bool{true, false} {
		name := "as sent"
		if hold {
			name = "DELETE before the Close message"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newHubServer(t, serverSpec{
				topts: transports.Options{DisconnectTimeout: time.Minute},
				front: frontOptions{holdClose: hold},
			})
			js := startJS(t)
			a := js.start("a", s.url, map[string]any{"transport": lp})
			b := js.start("b", s.url, map[string]any{"transport": ws}) // hears of a's end
			waitEvent(t, s.hub, true, a.ConnectionID)
			waitEvent(t, s.hub, true, b.ConnectionID)
			token := s.front.records("poll")[0].token
			waitUntil(t, "a's poll in flight", func() bool { return s.front.inFlight("poll") == 1 })
			if n := s.d.Len(); n != 2 {
				t.Fatalf("Len = %d, want 2", n)
			}

			if msg := js.stop("a"); msg != "" {
				t.Fatalf("stop: closed with %q", msg)
			}
			dels := s.front.records("delete")
			if len(dels) != 1 || dels[0].token != token {
				t.Fatalf("DELETE requests: %+v, want one for %s", dels, token)
			}
			switch d := dels[0]; {
			case d.status == http.StatusAccepted && d.body == "":
			case !hold && d.status == http.StatusNotFound:
				// The Close message ended the connection first.
			default:
				t.Fatalf("DELETE answered %d %q", d.status, d.body)
			}
			if e := waitEvent(t, s.hub, false, a.ConnectionID); e.err != nil || e.transport != lp {
				t.Fatalf("OnDisconnected over %s: %v", e.transport, e.err)
			}
			waitUntil(t, "a removed from the table", func() bool { return s.d.Len() == 1 && s.count() == 1 })
			waitUntil(t, "no poll in flight", func() bool { return s.front.inFlight("poll") == 0 })
			js.wait("b", "UserDisconnected", a.ConnectionID)
			if hold {
				// The Close message, let through after the DELETE, finds
				// no connection.
				waitUntil(t, "the held Close message answered", func() bool {
					for _, p := range s.front.records("post") {
						if p.closeMsg && p.status != 0 {
							return true
						}
					}
					return false
				})
				for _, p := range s.front.records("post") {
					if p.closeMsg && (p.status != http.StatusNotFound || p.body != "No Connection with that ID") {
						t.Fatalf("Close message after DELETE: %d %q", p.status, p.body)
					}
				}
			}
		})
	}
}

// TestJSLongPollingVanished kills the node process of a Long Polling client
// (and of a WebSocket and a Server-Sent Events client): no DELETE, no Close
// message. The server ends the streaming transports' connections when their
// sockets close and the Long Polling one after DisconnectTimeout (counted
// from its last poll), tells the others, and keeps serving a Long Polling
// client that idles through many poll timeouts.
func TestJSLongPollingVanished(t *testing.T) {
	t.Parallel()
	const disconnectTimeout, pollTimeout = 3 * time.Second, 300 * time.Millisecond
	s := newHubServer(t, serverSpec{topts: transports.Options{DisconnectTimeout: disconnectTimeout, PollTimeout: pollTimeout}})
	survivor, victim := startJS(t), startJS(t)
	a := survivor.start("a", s.url, map[string]any{"transport": lp})
	aToken := s.front.records("poll")[0].token
	v := victim.start("v", s.url, map[string]any{"transport": lp})
	streaming := []jsConn{
		victim.start("vw", s.url, map[string]any{"transport": ws}),
		victim.start("vs", s.url, map[string]any{"transport": sse}),
	}
	for _, c := range append([]jsConn{a, v}, streaming...) {
		waitEvent(t, s.hub, true, c.ConnectionID)
	}
	polls := func(token string) (all []reqRecord, inFlight int) {
		for _, r := range s.front.records("poll") {
			if r.token == token {
				all = append(all, r)
				if r.end.IsZero() {
					inFlight++
				}
			}
		}
		return all, inFlight
	}
	var vToken string
	for _, r := range s.front.records("poll") {
		if r.token != aToken {
			vToken = r.token
		}
	}
	waitUntil(t, "v's poll in flight", func() bool { _, n := polls(vToken); return n == 1 })
	connectedAt := time.Now()

	victim.kill()
	for _, c := range streaming {
		waitEvent(t, s.hub, false, c.ConnectionID)
		survivor.wait("a", "UserDisconnected", c.ConnectionID)
	}
	e := waitEvent(t, s.hub, false, v.ConnectionID)
	if e.err != nil {
		t.Fatalf("OnDisconnected of the vanished client: %v", e.err)
	}
	all, _ := polls(vToken)
	if last := all[len(all)-1].start; e.at.Sub(last) < disconnectTimeout {
		t.Fatalf("disposed %v after its last poll started, before DisconnectTimeout (%v)", e.at.Sub(last), disconnectTimeout)
	}
	waitUntil(t, "the vanished connection removed", func() bool { return s.d.Len() == 1 && s.count() == 1 })
	survivor.wait("a", "UserDisconnected", v.ConnectionID)

	// The survivor has been idle for longer than DisconnectTimeout, served
	// by a new poll every PollTimeout.
	if idle := time.Since(connectedAt); idle < disconnectTimeout {
		t.Fatalf("idle only %v", idle)
	}
	if got := activeTransport(t, survivor, "a"); got != lp {
		t.Fatalf("survivor: GetActiveTransportName = %q", got)
	}
	if all, _ := polls(aToken); len(all) < 3 {
		t.Fatalf("survivor polled %d times", len(all))
	}
	if msg := survivor.stop("a"); msg != "" {
		t.Fatalf("stop: closed with %q", msg)
	}
	waitUntil(t, "an empty table", func() bool { return s.d.Len() == 0 && s.count() == 0 })
}

// TestJSErrorTexts checks the texts the JS client shows for server answers
// (start errors, close errors, invoke errors). The 404s come from a load
// balancer without sticky sessions: it sends the client's later requests to
// a server that does not know the connection.
func TestJSErrorTexts(t *testing.T) {
	t.Parallel()
	const noConnection = "No Connection with that ID: Status code '404'"
	js := startJS(t)

	t.Run("long polling poll 404", func(t *testing.T) {
		const disconnectTimeout = 3 * time.Second // room for a loaded machine between a client's requests
		a := newHubServer(t, serverSpec{topts: transports.Options{PollTimeout: 300 * time.Millisecond, DisconnectTimeout: disconnectTimeout}})
		b := newHubServer(t, serverSpec{})
		c := js.start("lp404", a.url, map[string]any{"transport": lp})
		waitEvent(t, a.hub, true, c.ConnectionID)
		a.front.switchTo(b.front)
		if msg := js.closed("lp404"); msg != noConnection {
			t.Fatalf("close error %q, want %q", msg, noConnection)
		}
		polls := b.front.records("poll")
		if len(polls) == 0 || polls[0].status != http.StatusNotFound || polls[0].body != "No Connection with that ID" {
			t.Fatalf("polls on the other server: %+v", polls)
		}
		// The first server loses the connection after DisconnectTimeout.
		e := waitEvent(t, a.hub, false, c.ConnectionID)
		if e.err != nil {
			t.Fatalf("OnDisconnected: %v", e.err)
		}
		waitUntil(t, "an empty table", func() bool { return a.d.Len() == 0 })
	})

	t.Run("server-sent events send 404", func(t *testing.T) {
		a := newHubServer(t, serverSpec{})
		b := newHubServer(t, serverSpec{})
		c := js.start("sse404", a.url, map[string]any{"transport": sse})
		waitEvent(t, a.hub, true, c.ConnectionID)
		a.front.switchTo(b.front)
		if err := js.invokeErr("sse404", "GetActiveTransportName"); err == nil || err.Error() != noConnection {
			t.Fatalf("invoke: %v, want %q", err, noConnection)
		}
		js.stop("sse404")
		// Closing the event stream ends the connection on the first server.
		waitEvent(t, a.hub, false, c.ConnectionID)
		waitUntil(t, "an empty table", func() bool { return a.d.Len() == 0 })
	})

	tests := []struct {
		name   string
		spec   serverSpec
		params map[string]any
		setup  func(t *testing.T, s *hubServer)
		want   string
	}{
		{
			name: "too many pending connections",
			spec: serverSpec{topts: transports.Options{MaxPendingConnections: 1}},
			setup: func(t *testing.T, s *hubServer) {
				if status, body := s.negotiate(t); status != http.StatusOK {
					t.Fatalf("negotiate: %d %s", status, body)
				}
			},
			want: "Failed to complete negotiation with the server: Error: Too many pending connections; try again later.: Status code '503'",
		},
		{
			name:   "WebSockets required, server without WebSockets",
			spec:   serverSpec{newServer: true, sopts: signalr.Options{Transports: transports.ServerSentEvents | transports.LongPolling}},
			params: map[string]any{"transport": ws},
			want: "Unable to connect to the server with any of the available transports. " +
				"ServerSentEvents failed: Error: 'ServerSentEvents' is disabled by the client. " +
				"LongPolling failed: Error: 'LongPolling' is disabled by the client.",
		},
		{
			name:   "skipNegotiation, server without WebSockets",
			spec:   serverSpec{newServer: true, sopts: signalr.Options{Transports: transports.ServerSentEvents | transports.LongPolling}},
			params: map[string]any{"transport": ws, "skipNegotiation": true},
			want: "WebSocket failed to connect. The connection could not be found on the server, either the endpoint may not be a SignalR endpoint, " +
				"the connection ID is not present on the server, or there is a proxy blocking WebSockets. If you have multiple servers check that sticky sessions are enabled.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newHubServer(t, tt.spec)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			_, err := js.startErr(strings.ReplaceAll(tt.name, " ", "-"), s.url, tt.params)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("start: %v\nwant %q", err, tt.want)
			}
			if n := s.count(); n != 0 {
				t.Fatalf("%d hub connections", n)
			}
		})
	}
}

// TestJSChatAcrossTransports has clients on every transport (and both hub
// protocols where the transport carries binary) chat through one hub:
// broadcasts, groups and notifications reach each client whatever
// transport the sender and the other members use.
func TestJSChatAcrossTransports(t *testing.T) {
	t.Parallel()
	s := newHubServer(t, serverSpec{newServer: true})
	js := startJS(t)
	type client struct{ name, transport, protocol string }
	clients := []client{{"ws", ws, "json"}, {"sse", sse, "json"}, {"lp", lp, "json"}}
	for _, p := range signalr.DefaultProtocols() {
		if p.Name() == "messagepack" {
			clients = append(clients, client{"wsmp", ws, "messagepack"}, client{"lpmp", lp, "messagepack"})
		}
	}
	ids := map[string]string{}
	for _, c := range clients {
		got := js.start(c.name, s.url, map[string]any{"transport": c.transport, "protocol": c.protocol})
		if got.Transport != c.transport {
			t.Fatalf("%s: client chose %s", c.name, got.Transport)
		}
		if tr := activeTransport(t, js, c.name); tr != c.transport {
			t.Fatalf("%s: GetActiveTransportName = %q", c.name, tr)
		}
		ids[c.name] = got.ConnectionID
		js.wait(c.name, "UserConnected", got.ConnectionID)
	}
	first := clients[0].name
	for _, c := range clients {
		js.wait(first, "UserConnected", ids[c.name])
	}
	each := func(names []string, f func(name string)) {
		for _, n := range names {
			f(n)
		}
	}
	var all []string
	for _, c := range clients {
		all = append(all, c.name)
	}
	// A message sent by the last client (MessagePack over Long Polling when
	// available) reaches everyone.
	last := all[len(all)-1]
	js.invoke(nil, last, "SendMessage", last, "hello, everyone")
	each(all, func(n string) { js.wait(n, "ReceiveMessage", last, "hello, everyone") })

	members := []string{"sse", "lp"}
	if len(all) > 3 {
		members = append(members, "wsmp")
	}
	for i, m := range members {
		js.invoke(nil, m, "JoinGroup", "room")
		each(members[:i+1], func(n string) { js.wait(n, "UserJoinedGroup", ids[m], "room") })
	}
	js.invoke(nil, last, "SendMessageToGroup", "room", last, "to the room")
	each(members, func(n string) { js.wait(n, "ReceiveGroupMessage", "room", last, "to the room") })
	// Non-members get nothing: a later broadcast from the same sender is
	// the fence (one sender's messages arrive in order).
	js.invoke(nil, last, "SendMessage", last, "fence 1")
	for _, n := range all {
		if isMember(members, n) {
			continue
		}
		js.wait(n, "ReceiveMessage", last, "fence 1")
		if got := js.calls(n, "ReceiveGroupMessage"); len(got) != 0 {
			t.Fatalf("%s is not in the group but got %v", n, got)
		}
	}

	js.invoke(nil, "lp", "LeaveGroup", "room")
	each(members, func(n string) {
		if n != "lp" {
			js.wait(n, "UserLeftGroup", ids["lp"], "room")
		}
	})
	js.invoke(nil, "sse", "SendMessageToGroup", "room", "sse", "without lp")
	js.wait("sse", "ReceiveGroupMessage", "room", "sse", "without lp")
	js.invoke(nil, "sse", "SendMessage", "sse", "fence 2")
	js.wait("lp", "ReceiveMessage", "sse", "fence 2")
	want := [][]any{{"room", last, "to the room"}}
	if got := js.calls("lp", "ReceiveGroupMessage"); !reflect.DeepEqual(got, want) {
		t.Fatalf("lp after leaving got group messages %v, want %v", got, want)
	}
	if got := js.calls("lp", "UserLeftGroup"); len(got) != 0 {
		t.Fatalf("lp heard its own leave: %v", got)
	}

	// Disconnects are announced to everyone left, on every transport.
	for i, c := range clients {
		if msg := js.stop(c.name); msg != "" {
			t.Fatalf("%s: stop: closed with %q", c.name, msg)
		}
		each(all[i+1:], func(n string) { js.wait(n, "UserDisconnected", ids[c.name]) })
	}
	waitUntil(t, "no hub connections", func() bool { return s.count() == 0 })
}

func isMember(members []string, n string) bool {
	for _, m := range members {
		if m == n {
			return true
		}
	}
	return false
}

// TestJSStopDuringStart stops clients at every phase of their start
// (negotiate, transport connect, handshake) and checks that nothing they
// started stays behind: DisconnectTimeout is a minute, so only the clients'
// own requests (or their sockets closing) can have removed connections. The
// connections they negotiated but never used stay until DisconnectTimeout,
// as with ASP.NET Core.
func TestJSStopDuringStart(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{ws, sse, lp} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			s := newHubServer(t, serverSpec{topts: transports.Options{DisconnectTimeout: time.Minute}})
			js := startJS(t)
			outcomes := map[string]int{}
			for _, delay := range []int{0, 2, 5, 10, 20, 40, 70, 100, 150, 250} {
				var msg *string
				js.must(&msg, "startStop", map[string]any{"url": s.url, "transport": tr, "delayMs": delay})
				if msg == nil {
					outcomes["started"]++
				} else {
					outcomes[*msg]++
				}
			}
			t.Logf("start outcomes: %v", outcomes)
			var gone, left int
			waitUntil(t, "every started connection removed", func() bool {
				used := map[string]bool{}
				for _, kind := range []string{"websocket", "sse", "poll"} {
					for _, r := range s.front.records(kind) {
						used[r.token] = true
					}
				}
				// An empty POST leaves a connection as it is: 404 means gone.
				gone = 0
				for tok := range used {
					if status, _ := s.do(t, http.MethodPost, "/hub?id="+tok); status == http.StatusNotFound {
						gone++
					}
				}
				left = len(s.front.records("negotiate")) - len(used)
				return gone == len(used) && s.d.Len() == left && s.count() == 0
			})
			t.Logf("%d started connections removed, %d never used", gone, left)
		})
	}
}

// TestJSSendDuringLongInvocation: while a hub method runs (one invocation
// at a time per client), the client's further sends over Server-Sent Events
// and Long Polling still complete at once, as with ASP.NET Core: the
// server acknowledges a POST when it has buffered the body, and the hub
// processes it after the running invocation.
func TestJSSendDuringLongInvocation(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{sse, lp} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			s := newHubServer(t, serverSpec{})
			js := startJS(t)
			js.start("a", s.url, map[string]any{"transport": tr})
			js.must(nil, "invokeStart", map[string]any{"conn": "a", "key": "block", "method": "Block", "args": []any{}})
			waitUntil(t, "Block running", func() bool { return s.hub.blocked.Load() == 1 })
			for _, m := range []string{"during 1", "during 2", "during 3"} {
				js.must(nil, "send", map[string]any{"conn": "a", "method": "SendMessage", "args": []any{"a", m}})
			}
			if s.hub.blocked.Load() != 1 {
				t.Fatal("Block ended before the sends completed")
			}
			if got := js.calls("a", "ReceiveMessage"); len(got) != 0 {
				t.Fatalf("processed during Block: %v", got)
			}
			close(s.hub.release)
			var res string
			js.must(&res, "invokeResult", map[string]any{"conn": "a", "key": "block"})
			if res != "released" {
				t.Fatalf("Block = %q", res)
			}
			js.wait("a", "ReceiveMessage", "a", "during 3")
			want := [][]any{{"a", "during 1"}, {"a", "during 2"}, {"a", "during 3"}}
			if got := js.calls("a", "ReceiveMessage"); !reflect.DeepEqual(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}
}
