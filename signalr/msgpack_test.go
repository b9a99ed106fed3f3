package signalr

import (
	"testing"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

func TestMessagePackConnection(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	conn := newMemConn("mp", 64)
	c := serve(t, h, conn)
	c.sendRaw(`{"protocol":"messagepack","version":1}` + "\x1e")
	if got := string(c.frame()); got != "{}\x1e" {
		t.Fatalf("handshake %q", got)
	}
	conn.mu.Lock()
	binary := conn.binary
	conn.mu.Unlock()
	if !binary {
		t.Fatal("transfer format not set to binary")
	}
	mp := protocol.MessagePack
	in, err := mp.AppendMessage(nil, &protocol.Invocation{InvocationID: "1", Target: "add", Arguments: []any{40, 2}})
	if err != nil {
		t.Fatal(err)
	}
	in, _ = mp.AppendMessage(in, &protocol.Invocation{InvocationID: "2", Target: "Void", Arguments: []any{}})
	c.sendRaw(string(in))

	var buf []byte
	var got []*protocol.Completion
	for len(got) < 2 {
		buf = append(buf, c.frame()...)
		for {
			m, n, err := mp.ParseMessage(buf, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			buf = buf[n:]
			got = append(got, m.(*protocol.Completion))
		}
	}
	var sum int
	if err := got[0].Result.(protocol.RawValue).Decode(&sum); err != nil || sum != 42 || got[0].InvocationID != "1" {
		t.Fatalf("completion %+v sum=%d err=%v", got[0], sum, err)
	}
	// .NET sends a void result as result kind 3 with nil, like JSON's "result":null.
	if !got[1].HasResult || !got[1].Result.(protocol.RawValue).IsNull() {
		t.Fatalf("void completion %+v", got[1])
	}
}
