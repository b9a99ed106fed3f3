package signalr

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

func TestInvocationResults(t *testing.T) {
	tests := []struct {
		name     string
		detailed bool
		call     string
		want     string
	}{
		{"string result", false, `{"type":1,"invocationId":"1","target":"Echo","arguments":["hi"]}`,
			`{"type":3,"invocationId":"1","result":"hi"}`},
		{"int result", false, `{"type":1,"invocationId":"2","target":"Add","arguments":[2,3]}`,
			`{"type":3,"invocationId":"2","result":5}`},
		{"void gives result null", false, `{"type":1,"invocationId":"3","target":"Void","arguments":[]}`,
			`{"type":3,"invocationId":"3","result":null}`},
		{"object", false, `{"type":1,"invocationId":"4","target":"EchoObject","arguments":[{"Name":"n","Value":1}]}`,
			`{"type":3,"invocationId":"4","result":{"Name":"n","Value":1}}`},
		{"case-insensitive target", false, `{"type":1,"invocationId":"5","target":"eCHO","arguments":["x"]}`,
			`{"type":3,"invocationId":"5","result":"x"}`},
		{"raw value parameter", false, `{"type":1,"invocationId":"6","target":"Raw","arguments":[{"a":[1,2]}]}`,
			`{"type":3,"invocationId":"6","result":"{\"a\":[1,2]}"}`},
		{"unknown method", false, `{"type":1,"invocationId":"7","target":"Nope","arguments":[]}`,
			`{"type":3,"invocationId":"7","error":"Failed to invoke 'Nope' due to an error on the server. HubException: Method does not exist."}`},
		{"unknown method detailed", true, `{"type":1,"invocationId":"7","target":"nope","arguments":[]}`,
			`{"type":3,"invocationId":"7","error":"Failed to invoke 'nope' due to an error on the server. HubException: Method does not exist."}`},
		{"wrong count", false, `{"type":1,"invocationId":"8","target":"Add","arguments":[1]}`,
			`{"type":3,"invocationId":"8","error":"Failed to invoke 'Add' due to an error on the server."}`},
		{"wrong count detailed", true, `{"type":1,"invocationId":"8","target":"Add","arguments":[1]}`,
			`{"type":3,"invocationId":"8","error":"Failed to invoke 'Add' due to an error on the server. InvalidDataException: Invocation provides 1 argument(s) but target expects 2."}`},
		{"type mismatch", false, `{"type":1,"invocationId":"9","target":"Add","arguments":["a",1]}`,
			`{"type":3,"invocationId":"9","error":"Failed to invoke 'Add' due to an error on the server."}`},
		{"type mismatch detailed", true, `{"type":1,"invocationId":"9","target":"Add","arguments":["a",1]}`,
			`{"type":3,"invocationId":"9","error":"Failed to invoke 'Add' due to an error on the server. InvalidDataException: Error binding arguments. Make sure that the types of the provided values match the types of the hub method being invoked."}`},
		{"null for an int", true, `{"type":1,"invocationId":"9","target":"Add","arguments":[null,1]}`,
			`{"type":3,"invocationId":"9","error":"Failed to invoke 'Add' due to an error on the server. InvalidDataException: Error binding arguments. Make sure that the types of the provided values match the types of the hub method being invoked."}`},
		{"null for a string", false, `{"type":1,"invocationId":"9","target":"Echo","arguments":[null]}`,
			`{"type":3,"invocationId":"9","result":""}`},
		{"typed error", false, `{"type":1,"invocationId":"10","target":"ThrowException","arguments":["An error occurred."]}`,
			`{"type":3,"invocationId":"10","error":"An unexpected error occurred invoking 'ThrowException' on the server."}`},
		{"typed error detailed", true, `{"type":1,"invocationId":"10","target":"ThrowException","arguments":["An error occurred."]}`,
			`{"type":3,"invocationId":"10","error":"An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred."}`},
		{"plain error detailed", true, `{"type":1,"invocationId":"11","target":"PlainError","arguments":[]}`,
			`{"type":3,"invocationId":"11","error":"An unexpected error occurred invoking 'PlainError' on the server. Exception: plain failure"}`},
		{"hub error always shown", false, `{"type":1,"invocationId":"12","target":"WrappedHubError","arguments":[]}`,
			`{"type":3,"invocationId":"12","error":"An unexpected error occurred invoking 'WrappedHubError' on the server. HubException: bad 7"}`},
		{"panic", false, `{"type":1,"invocationId":"13","target":"Panic","arguments":[]}`,
			`{"type":3,"invocationId":"13","error":"An unexpected error occurred invoking 'Panic' on the server."}`},
		{"panic detailed", true, `{"type":1,"invocationId":"13","target":"Panic","arguments":[]}`,
			`{"type":3,"invocationId":"13","error":"An unexpected error occurred invoking 'Panic' on the server. Exception: oops"}`},
		{"invoke on streaming method", false, `{"type":1,"invocationId":"14","target":"Stream","arguments":[1]}`,
			`{"type":3,"invocationId":"14","error":"The client attempted to invoke the streaming 'Stream' method with a non-streaming invocation."}`},
		{"stream on non-streaming method", false, `{"type":4,"invocationId":"15","target":"Echo","arguments":["42"]}`,
			`{"type":3,"invocationId":"15","error":"The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation."}`},
		{"missing upload stream", false, `{"type":1,"invocationId":"16","target":"StreamingConcat","arguments":[]}`,
			`{"type":3,"invocationId":"16","error":"An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Client sent 0 stream(s), Hub method expects 1."}`},
		{"streaming method throws", true, `{"type":4,"invocationId":"17","target":"StreamThrow","arguments":[]}`,
			`{"type":3,"invocationId":"17","error":"An unexpected error occurred invoking 'StreamThrow' on the server. InvalidOperationException: An error occurred."}`},
		{"nil stream", false, `{"type":4,"invocationId":"18","target":"NilStream","arguments":[]}`,
			`{"type":3,"invocationId":"18","error":"The value returned by the streaming method 'NilStream' is not a ChannelReader<> or IAsyncEnumerable<>."}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, newTestHub(), Options{EnableDetailedErrors: tt.detailed})
			c := connect(t, h, "c1")
			c.send(tt.call)
			if got := c.nextRecord(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestVoidResultBytes(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	c := connect(t, h, "c1")
	c.send(`{"type":1,"invocationId":"1","target":"Void","arguments":[]}`)
	if got, want := string(c.frame()), `{"type":3,"invocationId":"1","result":null}`+"\x1e"; got != want {
		t.Fatalf("frame = %q, want %q", got, want)
	}
}

func TestNonBlockingGetsNoReply(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	c := connect(t, h, "c1")
	c.send(
		`{"type":1,"target":"Nope","arguments":[]}`,
		`{"type":1,"target":"Add","arguments":[1]}`,
		`{"type":1,"target":"ThrowException","arguments":["x"]}`,
		`{"type":1,"target":"Echo","arguments":["ignored"]}`,
		`{"type":1,"target":"Stream","arguments":[1]}`,
		`{"type":1,"invocationId":"1","target":"Echo","arguments":["only"]}`,
	)
	if got, want := c.nextRecord(), `{"type":3,"invocationId":"1","result":"only"}`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestHandshakeAndMessagesInOneChunk(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	c := serve(t, h, newMemConn("c1", 64))
	c.sendRaw(`{"protocol":"json","version":1}` + "\x1e" + `{"type":1,"invocationId":"1","target":"Echo","arguments":["a"]}` + "\x1e" + `{"type":1,"invocationId":"2","target":"Ec`)
	if got := string(c.frame()); got != "{}\x1e" {
		t.Fatalf("handshake = %q", got)
	}
	c.sendRaw(`ho","arguments":["b"]}` + "\x1e")
	for _, want := range []string{`{"type":3,"invocationId":"1","result":"a"}`, `{"type":3,"invocationId":"2","result":"b"}`} {
		if got := c.nextRecord(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

func TestContextFields(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	conn := newMemConn("conn-42", 64)
	conn.transport = transports.ServerSentEvents
	conn.req.Header.Set("X-Test", "v1")
	conn.req = conn.req.WithContext(WithPrincipal(conn.req.Context(), &Principal{ID: "user-7", Name: "Ann"}))
	c := serve(t, h, conn)
	c.send(`{"protocol":"json","version":1}`)
	c.frame()
	c.send(
		`{"type":1,"invocationId":"1","target":"ConnectionID","arguments":[]}`,
		`{"type":1,"invocationId":"2","target":"Header","arguments":["X-Test"]}`,
		`{"type":1,"invocationId":"3","target":"Transport","arguments":[]}`,
		`{"type":1,"invocationId":"4","target":"UserID","arguments":[]}`,
		`{"type":1,"target":"SetItem","arguments":["stored"]}`,
		`{"type":1,"invocationId":"5","target":"GetItem","arguments":[]}`,
	)
	for _, want := range []string{
		`{"type":3,"invocationId":"1","result":"conn-42"}`,
		`{"type":3,"invocationId":"2","result":"v1"}`,
		`{"type":3,"invocationId":"3","result":"ServerSentEvents"}`,
		`{"type":3,"invocationId":"4","result":"user-7"}`,
		`{"type":3,"invocationId":"5","result":"stored"}`,
	} {
		if got := c.nextRecord(); got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
}

func TestUserIdentifierOption(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{UserIdentifier: func(r *http.Request) string { return r.Header.Get("X-User") }})
	conn := newMemConn("c1", 64)
	conn.req.Header.Set("X-User", "bob")
	c := serve(t, h, conn)
	c.send(`{"protocol":"json","version":1}`)
	c.frame()
	c.send(`{"type":1,"invocationId":"1","target":"UserID","arguments":[]}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"1","result":"bob"}` {
		t.Fatal(got)
	}
}

func TestParallelInvocationLimit(t *testing.T) {
	for _, limit := range []int{1, 2} {
		t.Run(strings.Repeat("I", limit), func(t *testing.T) {
			hub := newTestHub()
			h := newHandler(t, hub, Options{MaximumParallelInvocationsPerClient: limit})
			c := connect(t, h, "c1")
			c.send(
				`{"type":1,"invocationId":"1","target":"Block","arguments":["a"]}`,
				`{"type":1,"invocationId":"2","target":"Block","arguments":["b"]}`,
				`{"type":1,"invocationId":"3","target":"Echo","arguments":["c"]}`,
			)
			<-hub.started
			if limit == 2 {
				<-hub.started // both run at once
			}
			// Nothing may have completed while the blocks hold every slot.
			select {
			case f := <-c.conn.out:
				t.Fatalf("unexpected frame while blocked: %q", f)
			default:
			}
			close(hub.release)
			seen := map[string]bool{}
			for range 3 {
				m := c.next().(*protocol.Completion)
				seen[m.InvocationID] = true
			}
			if len(seen) != 3 {
				t.Fatalf("completions: %v", seen)
			}
		})
	}
}
