package signalr

import (
	"fmt"
	"strings"
	"testing"
)

func TestServerStreams(t *testing.T) {
	tests := []struct {
		name     string
		detailed bool
		call     string
		want     []string
	}{
		{"channel", false, `{"type":4,"invocationId":"1","target":"Stream","arguments":[3]}`, []string{
			`{"type":2,"invocationId":"1","item":0}`,
			`{"type":2,"invocationId":"1","item":1}`,
			`{"type":2,"invocationId":"1","item":2}`,
			`{"type":3,"invocationId":"1"}`,
		}},
		{"iter.Seq", false, `{"type":4,"invocationId":"2","target":"seqstream","arguments":[2]}`, []string{
			`{"type":2,"invocationId":"2","item":""}`,
			`{"type":2,"invocationId":"2","item":"x"}`,
			`{"type":3,"invocationId":"2"}`,
		}},
		{"empty", false, `{"type":4,"invocationId":"3","target":"Stream","arguments":[0]}`, []string{
			`{"type":3,"invocationId":"3"}`,
		}},
		{"error mid-stream", false, `{"type":4,"invocationId":"4","target":"FailingStream","arguments":[]}`, []string{
			`{"type":2,"invocationId":"4","item":1}`,
			`{"type":3,"invocationId":"4","error":"An error occurred on the server while streaming results."}`,
		}},
		{"error mid-stream detailed", true, `{"type":4,"invocationId":"5","target":"FailingStream","arguments":[]}`, []string{
			`{"type":2,"invocationId":"5","item":1}`,
			`{"type":3,"invocationId":"5","error":"An error occurred on the server while streaming results. InvalidOperationException: mid-stream"}`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, newTestHub(), Options{EnableDetailedErrors: tt.detailed})
			c := connect(t, h, "c1")
			c.send(tt.call)
			for _, want := range tt.want {
				if got := c.nextRecord(); got != want {
					t.Fatalf("got  %s\nwant %s", got, want)
				}
			}
		})
	}
}

func TestStreamCancelStillCompletes(t *testing.T) {
	hub := newTestHub()
	h := newHandler(t, hub, Options{})
	c := connect(t, h, "c1")
	c.send(`{"type":4,"invocationId":"7","target":"InfiniteStream","arguments":[]}`)
	// Reading continues while the stream runs.
	c.send(`{"type":1,"invocationId":"8","target":"Echo","arguments":["meanwhile"]}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"8","result":"meanwhile"}` {
		t.Fatal(got)
	}
	// A duplicate id of a running stream is refused.
	c.send(`{"type":4,"invocationId":"7","target":"InfiniteStream","arguments":[]}`)
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"7","error":"Invocation ID '7' is already in use."}` {
		t.Fatal(got)
	}
	c.send(`{"type":5,"invocationId":"7"}`)
	if s := <-hub.started; s != "canceled" {
		t.Fatal(s)
	}
	if got := c.nextRecord(); got != `{"type":3,"invocationId":"7"}` {
		t.Fatal(got)
	}
}

func TestUploadStreams(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{StreamBufferCapacity: 2})
	c := connect(t, h, "c1")
	c.send(`{"type":1,"invocationId":"1","target":"StreamingConcat","arguments":[],"streamIds":["0"]}`)
	var items []string
	for i := range 20 { // more than the buffer: back-pressure, not loss
		items = append(items, fmt.Sprintf(`{"type":2,"invocationId":"0","item":"%d"}`, i%10))
	}
	c.send(items...)
	c.send(`{"type":2,"invocationId":"unknown","item":"ignored"}`, `{"type":3,"invocationId":"0"}`)
	want := `{"type":3,"invocationId":"1","result":"` + strings.Repeat("0123456789", 2) + `"}`
	if got := c.nextRecord(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// The client ends the stream with an error: the call fails with it as a HubException.
	c.send(`{"type":1,"invocationId":"2","target":"StreamingConcat","arguments":[],"streamIds":["1"]}`,
		`{"type":2,"invocationId":"1","item":"a"}`,
		`{"type":3,"invocationId":"1","error":"Something bad"}`)
	want = `{"type":3,"invocationId":"2","error":"An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Something bad"}`
	if got := c.nextRecord(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestStreamLimitPerConnection(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{MaximumStreamsPerConnection: 1})
	c := connect(t, h, "c1")
	c.send(`{"type":4,"invocationId":"1","target":"InfiniteStream","arguments":[]}`,
		`{"type":4,"invocationId":"2","target":"InfiniteStream","arguments":[]}`)
	want := `{"type":3,"invocationId":"2","error":"An unexpected error occurred invoking 'InfiniteStream' on the server. HubException: Too many open streams."}`
	if got := c.nextRecord(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestStreamInvocationWithUpload(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	c := connect(t, h, "c1")
	c.send(`{"type":4,"invocationId":"1","target":"Upper","arguments":[],"streamIds":["u"]}`,
		`{"type":2,"invocationId":"u","item":"a"}`,
		`{"type":2,"invocationId":"u","item":"b"}`,
		`{"type":3,"invocationId":"u"}`)
	for _, want := range []string{
		`{"type":2,"invocationId":"1","item":"A"}`,
		`{"type":2,"invocationId":"1","item":"B"}`,
		`{"type":3,"invocationId":"1"}`,
	} {
		if got := c.nextRecord(); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
	}
}

func TestUploadItemBindFailure(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	c := connect(t, h, "c1")
	c.send(`{"type":1,"invocationId":"1","target":"StreamingConcat","arguments":[],"streamIds":["0"]}`,
		`{"type":2,"invocationId":"0","item":{"not":"a string"}}`,
		`{"type":2,"invocationId":"0","item":"ignored after the failure"}`)
	want := `{"type":3,"invocationId":"1","error":"An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Failed to bind Stream message."}`
	if got := c.nextRecord(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
