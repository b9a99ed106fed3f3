package chat_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/signalr"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// users maps the X-Test-User header to the principal that an authentication
// middleware would attach; unknown or missing headers stay anonymous.
var users = map[string]*signalr.Principal{
	"alice": {ID: "u-alice", Name: "Alice"},
	"bob":   {ID: "u-bob"}, // no display name: the user id is shown
}

func withTestAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := users[r.Header.Get("X-Test-User")]; p != nil {
			r = r.WithContext(signalr.WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// startChat serves a ChatHub at /chathub and returns the hub URL.
func startChat(t *testing.T) string {
	t.Helper()
	s, err := signalr.NewServer(&chat.ChatHub{}, signalr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", withTestAuth(s))
	mux.Handle("/chathub/", withTestAuth(s))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		ts.Close()
	})
	return ts.URL + "/chathub"
}

// call is one server-to-client call a chatClient received.
type call struct {
	method string
	args   []string
}

type chatClient struct {
	conn  *client.HubConnection
	calls chan call
}

var clientMethods = map[string]int{
	"UserConnected": 1, "UserDisconnected": 1, "ReceiveMessage": 2,
	"UserJoinedGroup": 2, "UserLeftGroup": 2, "ReceiveGroupMessage": 3,
}

// connect starts a client as user ("" for anonymous) recording every chat call.
func connect(t *testing.T, url, user string) *chatClient {
	t.Helper()
	opts := client.Options{}
	if user != "" {
		opts.Headers = http.Header{"X-Test-User": {user}}
	}
	conn, err := client.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &chatClient{conn: conn, calls: make(chan call, 100)}
	for method, n := range clientMethods {
		var fn any
		switch n {
		case 1:
			fn = func(a string) { c.calls <- call{method, []string{a}} }
		case 2:
			fn = func(a, b string) { c.calls <- call{method, []string{a, b}} }
		case 3:
			fn = func(a, b, d string) { c.calls <- call{method, []string{a, b, d}} }
		}
		if err := conn.On(method, fn); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Stop(context.Background()) })
	return c
}

// expect waits for the next call matching method, failing on a timeout;
// calls of other methods are skipped.
func (c *chatClient) expect(t *testing.T, method string, args ...string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-c.calls:
			if got.method != method {
				continue
			}
			if fmt.Sprint(got.args) != fmt.Sprint(args) {
				t.Fatalf("%s%v, want %s%v", method, got.args, method, args)
			}
			return
		case <-timeout:
			t.Fatalf("no %s%v", method, args)
		}
	}
}

func (c *chatClient) invoke(t *testing.T, method string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.conn.Invoke(ctx, method, args...); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
}

// drain returns every call received so far without waiting for more.
func (c *chatClient) drain() []call {
	var out []call
	for {
		select {
		case got := <-c.calls:
			out = append(out, got)
		default:
			return out
		}
	}
}

func TestChatHub(t *testing.T) {
	url := startChat(t)
	a := connect(t, url, "")
	aID := a.conn.ConnectionID()
	a.expect(t, "UserConnected", aID)
	b := connect(t, url, "")
	bID := b.conn.ConnectionID()
	a.expect(t, "UserConnected", bID)
	b.expect(t, "UserConnected", bID)

	a.invoke(t, "SendMessage", "alice", "hello")
	a.expect(t, "ReceiveMessage", "alice", "hello")
	b.expect(t, "ReceiveMessage", "alice", "hello")

	a.invoke(t, "JoinGroup", "room")
	a.expect(t, "UserJoinedGroup", aID, "room")
	b.invoke(t, "JoinGroup", "room")
	a.expect(t, "UserJoinedGroup", bID, "room")
	b.expect(t, "UserJoinedGroup", bID, "room")

	b.invoke(t, "SendMessageToGroup", "room", "bob", "hi room")
	a.expect(t, "ReceiveGroupMessage", "room", "bob", "hi room")
	b.expect(t, "ReceiveGroupMessage", "room", "bob", "hi room")

	a.invoke(t, "LeaveGroup", "room")
	b.expect(t, "UserLeftGroup", aID, "room")
	b.invoke(t, "SendMessageToGroup", "room", "bob", "a is gone")
	b.expect(t, "ReceiveGroupMessage", "room", "bob", "a is gone")
	// Fence: b's broadcast reaches a after anything b's earlier calls sent it.
	b.invoke(t, "SendMessage", "bob", "fence")
	a.expect(t, "ReceiveMessage", "bob", "fence")
	for _, c := range a.drain() {
		if c.method == "UserLeftGroup" || c.method == "ReceiveGroupMessage" {
			t.Errorf("a got %s%v after leaving the group", c.method, c.args)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.conn.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "UserDisconnected", bID)
}

func TestChatHubUserName(t *testing.T) {
	url := startChat(t)
	tests := []struct {
		user string
		want func(connectionID string) string
	}{
		{"alice", func(string) string { return "Alice" }},                     // the principal's name
		{"bob", func(string) string { return "u-bob" }},                       // no name: the user id
		{"", func(connectionID string) string { return connectionID }},        // anonymous
		{"mallory", func(connectionID string) string { return connectionID }}, // unknown to the auth middleware
	}
	for _, tt := range tests {
		name := tt.user
		if name == "" {
			name = "anonymous"
		}
		t.Run(name, func(t *testing.T) {
			c := connect(t, url, tt.user)
			group := "g-" + tt.user
			c.invoke(t, "JoinGroup", group)
			c.expect(t, "UserJoinedGroup", tt.want(c.conn.ConnectionID()), group)
		})
	}
}

// Example runs a ChatServer hub and one Go client that chats with itself.
func Example() {
	hub, err := signalr.NewServer(&chat.ChatHub{}, signalr.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/chathub", hub)
	mux.Handle("/chathub/", hub)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer hub.Shutdown(context.Background())

	ctx := context.Background()
	conn, err := client.New(ts.URL+"/chathub", client.Options{})
	if err != nil {
		panic(err)
	}
	received := make(chan string, 1)
	conn.On("ReceiveMessage", func(user, message string) { received <- user + ": " + message })
	if err := conn.Start(ctx); err != nil {
		panic(err)
	}
	defer conn.Stop(ctx)
	if err := conn.Send(ctx, "SendMessage", "alice", "hello"); err != nil {
		panic(err)
	}
	fmt.Println(<-received)
	// Output: alice: hello
}
