package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/signalr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type whoHub struct{}

// Who reports what the runtime made of the Principal.
func (whoHub) Who(ctx *signalr.Context) string {
	name := ""
	if u := ctx.User(); u != nil {
		name = u.Name
	}
	return ctx.UserIdentifier() + "|" + name
}

// ToUser sends through Clients.User, which is keyed by Principal.ID.
func (whoHub) ToUser(ctx *signalr.Context, user, msg string) error {
	return ctx.Clients().User(user).Send(ctx, "Got", msg)
}

// The Principal a JWT gives reaches the hub runtime: Context.User,
// Context.UserIdentifier and Clients.User all see it.
func TestMiddlewareWithHubRuntime(t *testing.T) {
	v, err := NewJWTValidator(JWTOptions{Key: hmacSecret})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signalr.NewServer(whoHub{}, signalr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(Middleware(v.Authenticator(), Options{})(s))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		ts.Close()
		s.Close()
	}()
	token := sign(t, jwt.SigningMethodHS256, hmacSecret, jwt.MapClaims{
		"sub": "alice", "name": "Alice", "exp": time.Now().Add(time.Minute).Unix(),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http")
	// Without a token the upgrade is refused before any WebSocket exists.
	if _, res, err := websocket.Dial(ctx, wsURL, nil); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous dial: err %v, response %v", err, res)
	}
	// skipNegotiation-style WebSocket with the token in the query.
	c, _, err := websocket.Dial(ctx, wsURL+"?access_token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	roundTrip := func(send, want string) {
		t.Helper()
		if send != "" {
			if err := c.Write(ctx, websocket.MessageText, []byte(send)); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `"type":6`) {
				continue // ping
			}
			if string(b) != want {
				t.Fatalf("got %q, want %q", b, want)
			}
			return
		}
	}
	roundTrip(`{"protocol":"json","version":1}`+"\x1e", "{}\x1e")
	roundTrip(`{"type":1,"invocationId":"1","target":"Who","arguments":[]}`+"\x1e",
		`{"type":3,"invocationId":"1","result":"alice|Alice"}`+"\x1e")
	roundTrip(`{"type":1,"target":"ToUser","arguments":["alice","hi"]}`+"\x1e",
		`{"type":1,"target":"Got","arguments":["hi"]}`+"\x1e")
	_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":7}`+"\x1e"))
}
