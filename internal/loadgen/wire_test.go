package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

func TestJSONCodecParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want record
		err  bool
	}{
		{"invocation", `{"type":1,"target":"Receive","arguments":["lg1|0|1|5|"]}`,
			record{Type: 1, Target: []byte("Receive"), Arg: []byte("lg1|0|1|5|")}, false},
		{"last string argument", `{"type":1,"target":"ReceiveMessage","arguments":["user",{"a":[1,2]},"msg"]}`,
			record{Type: 1, Target: []byte("ReceiveMessage"), Arg: []byte("msg")}, false},
		{"last argument not a string", `{"type":1,"target":"X","arguments":["a",5]}`,
			record{Type: 1, Target: []byte("X")}, false},
		{"arguments before target, spaces", ` { "arguments" : [ "p" ] , "target" : "T" , "type" : 1 } `,
			record{Type: 1, Target: []byte("T"), Arg: []byte("p")}, false},
		{"escaped string", `{"type":1,"target":"T","arguments":["a\"b\\c\u00e9\n"]}`,
			record{Type: 1, Target: []byte("T"), Arg: []byte("a\"b\\cé\n")}, false},
		{"completion with result", `{"type":3,"invocationId":"7","result":"hi"}`,
			record{Type: 3, InvocationID: []byte("7"), HasResult: true, Result: []byte("hi")}, false},
		{"completion null result", `{"type":3,"invocationId":"7","result":null}`,
			record{Type: 3, InvocationID: []byte("7"), HasResult: true}, false},
		{"completion object result", `{"type":3,"invocationId":"7","result":{"x":[true,false,null,-1.5e3]}}`,
			record{Type: 3, InvocationID: []byte("7"), HasResult: true}, false},
		{"completion error", `{"type":3,"invocationId":"8","error":"boom"}`,
			record{Type: 3, InvocationID: []byte("8"), Error: []byte("boom")}, false},
		{"headers and unknown fields skipped", `{"type":1,"headers":{"a":"b"},"x":[[],{}],"target":"T","arguments":[]}`,
			record{Type: 1, Target: []byte("T")}, false},
		{"ping", `{"type":6}`, record{Type: 6}, false},
		{"close with error", `{"type":7,"error":"Connection closed with an error.","allowReconnect":true}`,
			record{Type: 7, Error: []byte("Connection closed with an error.")}, false},
		{"unknown type", `{"type":42,"foo":1}`, record{Type: 42}, false},
		{"missing type", `{"target":"x"}`, record{}, true},
		{"empty object", `{}`, record{}, true},
		{"not an object", `[1]`, record{}, true},
		{"trailing garbage", `{"type":6} x`, record{}, true},
		{"unterminated string", `{"type":1,"target":"x`, record{}, true},
		{"bad number", `{"type":1e}`, record{}, true},
		{"control char in string", "{\"type\":1,\"target\":\"a\x01\"}", record{}, true},
		{"bad literal", `{"type":6,"x":nul}`, record{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec record
			n, err := jsonCodec{}.Parse([]byte(tt.in+"\x1e{\"type\":6}\x1e"), &rec)
			if tt.err {
				if err == nil {
					t.Fatalf("want error, got %+v", rec)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.in)+1 {
				t.Errorf("consumed %d, want %d", n, len(tt.in)+1)
			}
			if !recordsEqual(rec, tt.want) {
				t.Errorf("got %+v\nwant %+v", rec, tt.want)
			}
		})
	}
}

func recordsEqual(a, b record) bool {
	return a.Type == b.Type && bytes.Equal(a.InvocationID, b.InvocationID) && bytes.Equal(a.Target, b.Target) &&
		bytes.Equal(a.Arg, b.Arg) && a.HasResult == b.HasResult && bytes.Equal(a.Result, b.Result) && bytes.Equal(a.Error, b.Error) &&
		(a.Arg == nil) == (b.Arg == nil) && (a.Result == nil) == (b.Result == nil)
}

func TestJSONCodecIncomplete(t *testing.T) {
	var rec record
	n, err := jsonCodec{}.Parse([]byte(`{"type":6}`), &rec)
	if n != 0 || err != nil {
		t.Fatalf("incomplete record: n=%d err=%v", n, err)
	}
	big := bytes.Repeat([]byte("x"), maxRecordSize+1)
	if _, err := (jsonCodec{}).Parse(big, &rec); err == nil {
		t.Fatal("no error for an oversized incomplete record")
	}
}

// TestJSONCodecMatchesProtocol checks the lean codec against the project's
// JSON hub protocol in both directions.
func TestJSONCodecMatchesProtocol(t *testing.T) {
	p := protocol.JSON
	msgs := []protocol.HubMessage{
		&protocol.Invocation{Target: "Receive", Arguments: []any{"lg1|3|9|12|xx"}},
		&protocol.Invocation{InvocationID: "s1", Target: "Result", Arguments: []any{1, "a\u2028\"b"}},
		&protocol.Completion{InvocationID: "4", HasResult: true, Result: "lg1|0|1|2|"},
		&protocol.Completion{InvocationID: "5", HasResult: true, Result: nil},
		&protocol.Completion{InvocationID: "6", Error: "An unexpected error occurred invoking 'X' on the server."},
		&protocol.Ping{},
		&protocol.Close{Error: "bye", AllowReconnect: true},
	}
	for _, m := range msgs {
		b, err := p.AppendMessage(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		var lean, viaProto record
		if _, err := (jsonCodec{}).Parse(b, &lean); err != nil {
			t.Fatalf("%s: lean parse: %v", b, err)
		}
		if _, err := (&protocolCodec{p: p}).Parse(b, &viaProto); err != nil {
			t.Fatalf("%s: protocol parse: %v", b, err)
		}
		// The adapter does not see non-string arguments as nil the same way
		// for numbers; compare the fields both define.
		if lean.Type != viaProto.Type || !bytes.Equal(lean.Arg, viaProto.Arg) || !bytes.Equal(lean.Result, viaProto.Result) ||
			!bytes.Equal(lean.Error, viaProto.Error) || !bytes.Equal(lean.InvocationID, viaProto.InvocationID) {
			t.Errorf("%s:\nlean  %+v\nproto %+v", b, lean, viaProto)
		}
	}
	// Records the lean codec writes parse with the protocol codec.
	for _, id := range []string{"", "12"} {
		b, err := jsonCodec{}.AppendInvocation(nil, id, "SendToGroup", []byte("g\"1"), []byte("lg1|1|2|3|\x01"))
		if err != nil {
			t.Fatal(err)
		}
		m, n, err := p.ParseMessage(b, 0)
		if err != nil || n != len(b) {
			t.Fatalf("%q: n=%d err=%v", b, n, err)
		}
		inv := m.(*protocol.Invocation)
		if inv.InvocationID != id || inv.Target != "SendToGroup" || len(inv.Arguments) != 2 {
			t.Fatalf("%q parsed as %+v", b, inv)
		}
		var s string
		if err := inv.Arguments[0].(protocol.RawValue).Decode(&s); err != nil || s != "g\"1" {
			t.Errorf("arg 0 = %q, %v", s, err)
		}
		if err := inv.Arguments[1].(protocol.RawValue).Decode(&s); err != nil || s != "lg1|1|2|3|\x01" {
			t.Errorf("arg 1 = %q, %v", s, err)
		}
	}
	if got := string(jsonCodec{}.AppendPing(nil)); got != "{\"type\":6}\x1e" {
		t.Errorf("ping %q", got)
	}
	if got := string(jsonCodec{}.AppendClose(nil)); got != "{\"type\":7}\x1e" {
		t.Errorf("close %q", got)
	}
}

func FuzzJSONCodecParse(f *testing.F) {
	for _, s := range []string{
		`{"type":1,"target":"Receive","arguments":["lg1|0|1|5|"]}`,
		`{"type":3,"invocationId":"7","result":{"x":[true,false,null,-1.5e3]}}`,
		`{"type":7,"error":"x","allowReconnect":true}`,
		`{"type":1,"target":"T","arguments":["a\"b\\c\u00e9\n"]}`,
		`{"type":6}`, `{`, `[`, `"`, `{"type":1,"arguments":[[[[[[[[]]]]]]]]}`,
	} {
		f.Add([]byte(s + "\x1e"))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec record
		for len(b) > 0 {
			n, err := jsonCodec{}.Parse(b, &rec)
			if err != nil || n == 0 {
				return
			}
			if n > len(b) {
				t.Fatalf("consumed %d of %d", n, len(b))
			}
			// Whatever the scanner accepts is valid JSON.
			if !json.Valid(b[:n-1]) {
				t.Fatalf("accepted invalid JSON %q", b[:n-1])
			}
			b = b[n:]
		}
	})
}

func TestPayloadRoundTrip(t *testing.T) {
	for _, p := range []Payload{{0, 1, 0}, {7, 123456789, 1764230400123456789}, {1 << 30, 1 << 62, 1<<63 - 1}} {
		for _, size := range []int{0, 10, 64, 1000} {
			b := AppendPayload(nil, p, size)
			if len(b) < size {
				t.Errorf("size %d: got %d bytes", size, len(b))
			}
			got, err := ParsePayload(b)
			if err != nil || got != p {
				t.Errorf("%q: got %+v, %v; want %+v", b, got, err, p)
			}
		}
	}
	for _, bad := range []string{"", "lg1|", "lg1|1|2|", "lg1|1|2|3", "lg1|a|2|3|", "lg1|1|2|3|y", "lg2|1|2|3|",
		"lg1|1|2|99999999999999999999|", "lg1|-1|2|3|", "hello", "lg1|||3|"} {
		if _, err := ParsePayload([]byte(bad)); !errors.Is(err, errNotPayload) {
			t.Errorf("%q: err %v", bad, err)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte("lg1|1|2|3|xxxx"))
	f.Add([]byte("lg1|99999999999|2|3|"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		// Whatever parses must re-encode to something that parses the same.
		q, err := ParsePayload(AppendPayload(nil, p, len(b)))
		if err != nil || q != p {
			t.Fatalf("%q: %+v re-parsed as %+v, %v", b, p, q, err)
		}
	})
}
