package npgsql_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/interop"
	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// jsHub is the ChatServer hub (its methods and its UserConnected /
// UserDisconnected notices) plus the sends the chat contract lacks. One hub
// type on every server: all hubs on one NOTIFY channel hear each other (as in
// .NET), so a second hub would only add noise.
type jsHub struct{ *chat.ChatHub }

// SendAllExcept: every connection but the excluded ones receives
// ReceiveMessage("except", message).
func (jsHub) SendAllExcept(ctx *signalr.Context, excluded []string, message string) error {
	return ctx.Clients().AllExcept(excluded...).Send(ctx, "ReceiveMessage", "except", message)
}

// SendToUser: every connection of user receives ReceiveMessage("user", message).
func (jsHub) SendToUser(ctx *signalr.Context, user, message string) error {
	return ctx.Clients().User(user).Send(ctx, "ReceiveMessage", "user", message)
}

// SendToConnection: one connection, wherever it lives, receives
// ReceiveMessage("direct", message).
func (jsHub) SendToConnection(ctx *signalr.Context, connectionID, message string) error {
	return ctx.Clients().Client(connectionID).Send(ctx, "ReceiveMessage", "direct", message)
}

// AddToGroupOf adds any connection (possibly on another server) to a group;
// it returns once the owning server has acknowledged the change.
func (jsHub) AddToGroupOf(ctx *signalr.Context, connectionID, group string) error {
	return ctx.Groups().AddToGroup(ctx, connectionID, group)
}

// RemoveFromGroupOf is AddToGroupOf's reverse.
func (jsHub) RemoveFromGroupOf(ctx *signalr.Context, connectionID, group string) error {
	return ctx.Groups().RemoveFromGroup(ctx, connectionID, group)
}

// startJSNode serves jsHub at /chathub with its own backplane Manager on the
// shared database, and returns the hub URL.
func startJSNode(t *testing.T, dsn string) string {
	t.Helper()
	m, err := npgsql.New(context.Background(), npgsql.Options{
		ConnectionString:    dsn,
		BaseRetryDelay:      20 * time.Millisecond,
		MaxRetryDelay:       200 * time.Millisecond,
		HealthCheckInterval: time.Second,
		CommandTimeout:      10 * time.Second,
		AckTimeout:          time.Second, // the unknown-connection case waits this long
		RetentionAge:        -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signalr.NewServer(jsHub{&chat.ChatHub{}}, signalr.Options{
		HubName:         "ChatHub",
		LifetimeManager: m,
		Protocols:       []protocol.HubProtocol{protocol.JSON, protocol.MessagePack},
		UserIdentifier:  func(r *http.Request) string { return r.URL.Query().Get("user") },
	})
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	if ok, reason := m.Ready(); !ok {
		t.Fatalf("backplane not ready after NewServer: %s", reason)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", s)
	mux.Handle("/chathub/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
		m.Close()
	})
	return hs.URL + "/chathub"
}

// TestJSClientsThreeServers runs testdata/interop/scenarios/backplane.cjs:
// official @microsoft/signalr clients (JSON and MessagePack, WebSockets, SSE
// and Long Polling) spread over three servers that share one PostgreSQL
// database: broadcast exactly once and in order per sender, AllExcept,
// groups across servers, remote group changes with ack, users with
// connections on two servers, single connections elsewhere, and the
// ChatServer's notices.
func TestJSClientsThreeServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers and node")
	}
	dsn := pgtest.DSN(t)
	env := map[string]string{
		"SIGNALR_URL_A":      startJSNode(t, dsn),
		"SIGNALR_URL_B":      startJSNode(t, dsn),
		"SIGNALR_URL_C":      startJSNode(t, dsn),
		"SIGNALR_TIMEOUT_MS": "15000",
	}
	interop.RunScript(t, "scenarios/backplane.cjs", env)
}
