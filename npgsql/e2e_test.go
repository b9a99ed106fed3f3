package npgsql

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

type e2eHub struct{}

func (e2eHub) SendMessage(ctx *signalr.Context, user, message string) error {
	return ctx.Clients().All().Send(ctx, "ReceiveMessage", user, message)
}

func (e2eHub) AddToGroupOf(ctx *signalr.Context, connectionID, group string) error {
	return ctx.Groups().AddToGroup(ctx, connectionID, group)
}

func (e2eHub) SendToGroup(ctx *signalr.Context, group, message string) error {
	return ctx.Clients().Group(group).Send(ctx, "ReceiveGroupMessage", group, message)
}

// e2eServer is a real signalr.Server with a real Manager behind an httptest server.
func e2eServer(t *testing.T, dsn string) (*Manager, string) {
	t.Helper()
	m, err := New(context.Background(), fastOptions(dsn))
	if err != nil {
		t.Fatal(err)
	}
	s, err := signalr.NewServer(e2eHub{}, signalr.Options{HubName: "ChatHub", LifetimeManager: m,
		Protocols: []protocol.HubProtocol{protocol.JSON, protocol.MessagePack}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", s)
	mux.Handle("/chathub/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		hs.Close()
		m.Close()
	})
	return m, hs.URL + "/chathub"
}

type received struct{ a, b string }

func e2eClient(t *testing.T, url string, p protocol.HubProtocol) (*client.HubConnection, chan received, chan received) {
	t.Helper()
	c, err := client.New(url, client.Options{Protocol: p})
	if err != nil {
		t.Fatal(err)
	}
	all := make(chan received, 16)
	grp := make(chan received, 16)
	if err := c.On("ReceiveMessage", func(a, b string) { all <- received{a, b} }); err != nil {
		t.Fatal(err)
	}
	if err := c.On("ReceiveGroupMessage", func(a, b string) { grp <- received{a, b} }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
	})
	return c, all, grp
}

func expect(t *testing.T, ch chan received, want received) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no %v within 10s", want)
	}
}

// Real servers, real clients (JSON and MessagePack), one database.
func TestEndToEndTwoServers(t *testing.T) {
	dsn := pgtest.DSN(t)
	_, url1 := e2eServer(t, dsn)
	_, url2 := e2eServer(t, dsn)
	c1, all1, _ := e2eClient(t, url1, protocol.JSON)
	c2, all2, grp2 := e2eClient(t, url2, protocol.JSON)
	_, all3, grp3 := e2eClient(t, url2, protocol.MessagePack)
	ctx := context.Background()

	if _, err := c1.Invoke(ctx, "SendMessage", "ann", "hello"); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan received{all1, all2, all3} {
		expect(t, ch, received{"ann", "hello"})
	}
	// c1 (server 1) puts c2 (server 2) into a group: server 2 adds and acks.
	if _, err := c1.Invoke(ctx, "AddToGroupOf", c2.ConnectionID(), "room"); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Invoke(ctx, "SendToGroup", "room", "psst"); err != nil {
		t.Fatal(err)
	}
	expect(t, grp2, received{"room", "psst"})
	select {
	case r := <-grp3:
		t.Fatalf("c3 is not in the group but got %v", r)
	case <-time.After(200 * time.Millisecond):
	}
}
