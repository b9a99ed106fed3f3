package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readGolden(t testing.TB, proto, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "protocol", proto, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonGoldens pairs each golden record with the message a Go sender builds
// for it (Go values, not raw values).
var jsonGoldens = []struct {
	file string
	msg  HubMessage
}{
	{"invocation", &Invocation{InvocationID: "123", Target: "Target", Arguments: []any{1, "Foo", true}}},
	{"invocation_nonblocking", &Invocation{Target: "Send", Arguments: []any{"hello"}}},
	{"invocation_streamids", &Invocation{InvocationID: "1", Target: "StreamingConcat", Arguments: []any{}, StreamIDs: []string{"0"}}},
	{"invocation_headers", &Invocation{Target: "T", Arguments: []any{}, Headers: map[string]string{"c": "d", "a": "b"}}},
	{"stream_invocation", &StreamInvocation{InvocationID: "2", Target: "Stream", Arguments: []any{}}},
	{"stream_item", &StreamItem{InvocationID: "2", Item: "a"}},
	{"completion_void", &Completion{InvocationID: "1", HasResult: true}},
	{"completion_result", &Completion{InvocationID: "1", HasResult: true, Result: 42}},
	{"completion_error", &Completion{InvocationID: "1", Error: "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred."}},
	{"completion_stream_end", &Completion{InvocationID: "7"}},
	{"cancel_invocation", &CancelInvocation{InvocationID: "2"}},
	{"ping", &Ping{}},
	{"close", &Close{}},
	{"close_error", &Close{Error: "Connection closed with an error.", AllowReconnect: true}},
	{"close_allow_reconnect", &Close{AllowReconnect: true}},
	{"ack", &Ack{SequenceID: 1394}},
	{"sequence", &Sequence{SequenceID: 1}},
}

func TestJSONGoldenWrite(t *testing.T) {
	for _, tc := range jsonGoldens {
		t.Run(tc.file, func(t *testing.T) {
			want := readGolden(t, "json", tc.file)
			got, err := JSON.AppendMessage(nil, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestJSONGoldenParseRoundTrip(t *testing.T) {
	for _, tc := range jsonGoldens {
		t.Run(tc.file, func(t *testing.T) {
			golden := readGolden(t, "json", tc.file)
			msg, n, err := JSON.ParseMessage(golden, 0)
			if err != nil || n != len(golden) {
				t.Fatalf("parse: n=%d err=%v", n, err)
			}
			if got, want := normalize(t, msg), normalize(t, tc.msg); !reflect.DeepEqual(got, want) {
				t.Fatalf("parsed %#v\nwant   %#v", got, want)
			}
			// Raw values are copied back verbatim: the re-encoding is byte-identical.
			again, err := JSON.AppendMessage(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, golden) {
				t.Fatalf("round trip %q\nwant       %q", again, golden)
			}
		})
	}
}

// normalize replaces every payload value (Go value or RawValue) by its
// generic JSON decoding so parsed and constructed messages compare equal.
func normalize(t testing.TB, m HubMessage) HubMessage {
	t.Helper()
	return normalizeWith(t, m, func(v any) any {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var g any
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		return g
	})
}

// normalizeWith decodes RawValues generically and turns Go values into
// generic ones with generic.
func normalizeWith(t testing.TB, m HubMessage, generic func(any) any) HubMessage {
	t.Helper()
	val := func(v any) any {
		if rv, ok := v.(RawValue); ok {
			var g any
			if err := rv.Decode(&g); err != nil {
				t.Fatalf("decode %v: %v", v, err)
			}
			return g
		}
		return generic(v)
	}
	vals := func(a []any) []any {
		out := make([]any, len(a))
		for i, v := range a {
			out[i] = val(v)
		}
		return out
	}
	switch x := m.(type) {
	case *Invocation:
		c := *x
		c.Arguments = vals(x.Arguments)
		return &c
	case *StreamInvocation:
		c := *x
		c.Arguments = vals(x.Arguments)
		return &c
	case *StreamItem:
		c := *x
		c.Item = val(x.Item)
		return &c
	case *Completion:
		c := *x
		if x.HasResult {
			c.Result = val(x.Result)
		}
		return &c
	}
	return m
}

func TestJSONParseAcceptsFreeOrderAndUnknownProperties(t *testing.T) {
	cases := []struct {
		in   string
		want HubMessage
	}{
		{`{"arguments":[1,{"a":[2,3]}],"target":"T","type":1,"x":{"y":[null]}}`,
			&Invocation{Target: "T", Arguments: []any{1, map[string]any{"a": []any{2, 3}}}}},
		{` { "type" : 1 , "target" : "T" , "arguments" : [ ] } `, &Invocation{Target: "T", Arguments: []any{}}},
		{`{"type":3,"invocationId":"1","result":{"Name":"x","Value":1}}`,
			&Completion{InvocationID: "1", HasResult: true, Result: map[string]any{"Name": "x", "Value": 1}}},
		{`{"type":2,"invocationId":"1","item":null}`, &StreamItem{InvocationID: "1", Item: nil}},
		{`{"type":7,"error":"","allowReconnect":false}`, &Close{}},
		{`{"type":6,"headers":{"a":"b"}}`, &Ping{}},
		{`{"t\u0079pe":6}`, &Ping{}},
		{`{"type":1,"target":"caf\u00e9 \ud83d\ude00","arguments":[]}`, &Invocation{Target: "café 😀", Arguments: []any{}}},
		{`{"type":8,"sequenceId":9223372036854775807}`, &Ack{SequenceID: 9223372036854775807}},
		{`{"type":6} trailing bytes are ignored like .NET`, &Ping{}},
		{`{"type":4,"invocationId":"1","target":"T","arguments":[],"streamIds":[]}`,
			&StreamInvocation{InvocationID: "1", Target: "T", Arguments: []any{}, StreamIDs: []string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			msg, n, err := JSON.ParseMessage([]byte(tc.in+"\x1e"), 0)
			if err != nil || n != len(tc.in)+1 {
				t.Fatalf("n=%d err=%v", n, err)
			}
			if got, want := normalize(t, msg), normalize(t, tc.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestJSONParseUnknownTypeIsConsumed(t *testing.T) {
	in := []byte(`{"type":42,"whatever":[1]}` + "\x1e" + `{"type":6}` + "\x1e")
	msg, n, err := JSON.ParseMessage(in, 0)
	if msg != nil || err != nil || n != 27 {
		t.Fatalf("msg=%v n=%d err=%v", msg, n, err)
	}
	msg, _, err = JSON.ParseMessage(in[n:], 0)
	if _, ok := msg.(*Ping); !ok || err != nil {
		t.Fatalf("msg=%v err=%v", msg, err)
	}
}

func TestJSONParseErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"type":1,"arguments":[]}`, "Missing required property 'target'."},
		{`{"type":1,"target":"","arguments":[]}`, "Missing required property 'target'."},
		{`{"type":1,"target":"T"}`, "Missing required property 'arguments'."},
		{`{"type":4,"target":"T","arguments":[]}`, "Missing required property 'invocationId'."},
		{`{"type":4,"invocationId":"1","target":"T"}`, "Missing required property 'arguments'."},
		{`{"type":4,"invocationId":"1","arguments":[]}`, "Missing required property 'target'."},
		{`{"type":2,"item":1}`, "Missing required property 'invocationId'."},
		{`{"type":2,"invocationId":"1"}`, "Missing required property 'item'."},
		{`{"type":3,"result":1}`, "Missing required property 'invocationId'."},
		{`{"type":3,"invocationId":""}`, "Missing required property 'invocationId'."},
		{`{"type":5}`, "Missing required property 'invocationId'."},
		{`{"target":"T","arguments":[]}`, "Missing required property 'type'."},
		{`{}`, "Missing required property 'type'."},
		{`{"type":8}`, "Missing required property 'sequenceId'."},
		{`{"type":9,"sequenceId":null}`, "Missing required property 'sequenceId'."},
		{`{"type":3,"invocationId":"1","error":"e","result":1}`, "The 'error' and 'result' properties are mutually exclusive."},
		{`{"type":3,"invocationId":"1","result":null,"error":""}`, "The 'error' and 'result' properties are mutually exclusive."},
		{`{"Type":1}`, "Missing required property 'type'."},
		{`{"type":"1"}`, "Expected 'type' to be of type Number."},
		{`{"type":null}`, "Expected 'type' to be of type Number."},
		{`{"type":1,"invocationId":1,"target":"T","arguments":[]}`, "Expected 'invocationId' to be of type String."},
		{`{"type":1,"target":null,"arguments":[]}`, "Expected 'target' to be of type String."},
		{`{"type":3,"invocationId":"1","error":{}}`, "Expected 'error' to be of type String."},
		{`{"type":7,"allowReconnect":"true"}`, "Expected 'allowReconnect' to be true or false."},
		{`{"type":1,"target":"T","arguments":{}}`, "Expected 'arguments' to be of type Array."},
		{`{"type":1,"target":"T","arguments":[],"streamIds":"0"}`, "Expected 'streamIds' to be of type Array."},
		{`{"type":1,"target":"T","arguments":[],"streamIds":[null]}`, "Null value for 'streamIds' is not valid."},
		{`{"type":1,"target":"T","arguments":[],"headers":[]}`, "Expected 'headers' to be of type StartObject."},
		{`{"type":1,"target":"T","arguments":[],"headers":{"a":1}}`, "Expected header 'a' to be of type String."},
		{`{"type":8,"sequenceId":"1"}`, "Expected 'sequenceId' to be of type Number."},
		{`[1]`, "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
		{`"x"`, "Unexpected JSON Token Type 'String'. Expected a JSON Object."},
		{`42`, "Unexpected JSON Token Type 'Number'. Expected a JSON Object."},
		{``, "Error reading JSON."},
		{`   `, "Error reading JSON."},
		{`{"type":1`, "Error reading JSON."},
		{`{"type":1,}`, "Error reading JSON."},
		{`{"type":1.5}`, "Error reading JSON."},
		{`{"type":99999999999}`, "Error reading JSON."},
		{`{"type":01}`, "Error reading JSON."},
		{`{type:1}`, "Error reading JSON."},
		{`{"type":1,"target":"T","arguments":[1,]}`, "Error reading JSON."},
		{`{"type":1,"target":"T","arguments":[tru]}`, "Error reading JSON."},
		{`{"type":1,"target":"a` + "\x01" + `b","arguments":[]}`, "Error reading JSON."},
		{`{"type":1,"target":"\x","arguments":[]}`, "Error reading JSON."},
		{`{"type":1,"target":"` + "\xff" + `","arguments":[]}`, "Error reading JSON."},
		{`{"type":6,"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, "Error reading JSON."},
		{`{"type":6} /* comment */`, ""}, // trailing bytes after the object are ignored
		{`{"type":6,"x":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + `}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			_, n, err := JSON.ParseMessage([]byte(tc.in+"\x1e"), 0)
			if n != len(tc.in)+1 {
				t.Errorf("consumed %d, want %d", n, len(tc.in)+1)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var ide *InvalidDataError
			if !errors.As(err, &ide) {
				t.Fatalf("error %v (%T), want InvalidDataError", err, err)
			}
			if ide.Message != tc.want {
				t.Fatalf("error %q\nwant  %q", ide.Message, tc.want)
			}
		})
	}
}

func TestJSONParsePartialAndBatched(t *testing.T) {
	in := []byte("{\"type\":6}\x1e{\"type\":1,\"target\":\"A\",\"arguments\":[1]}\x1e{\"type\":7}\x1e{\"type\"")
	var got []MessageType
	for {
		msg, n, err := JSON.ParseMessage(in, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, msg.MessageType())
		in = in[n:]
	}
	if !reflect.DeepEqual(got, []MessageType{TypePing, TypeInvocation, TypeClose}) {
		t.Fatalf("got %v", got)
	}
	if string(in) != `{"type"` {
		t.Fatalf("remainder %q", in)
	}
}

func TestJSONParseMaxSize(t *testing.T) {
	rec := []byte("{\"type\":6}\x1e") // 11 bytes including the separator
	cases := []struct {
		in      []byte
		max     int
		wantN   int
		wantErr error
	}{
		{rec, 11, 11, nil},
		{rec, 10, 0, ErrMessageTooLarge},
		{rec[:10], 10, 0, ErrMessageTooLarge}, // incomplete and already too long
		{rec[:9], 10, 0, nil},                 // incomplete, may still fit
		{rec, 0, 11, nil},                     // no limit
	}
	for i, tc := range cases {
		_, n, err := JSON.ParseMessage(tc.in, tc.max)
		if n != tc.wantN || !errors.Is(err, tc.wantErr) {
			t.Errorf("case %d: n=%d err=%v, want n=%d err=%v", i, n, err, tc.wantN, tc.wantErr)
		}
	}
}

func TestJSONParseCopiesRawValues(t *testing.T) {
	buf := []byte(`{"type":1,"target":"T","arguments":["abc",{"k":1}]}` + "\x1e")
	msg, _, err := JSON.ParseMessage(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'X' // the caller reuses its buffer
	}
	inv := msg.(*Invocation)
	var s string
	if err := inv.Arguments[0].(RawValue).Decode(&s); err != nil || s != "abc" {
		t.Fatalf("s=%q err=%v", s, err)
	}
	if got := inv.Arguments[1].(*JSONRawValue).String(); got != `{"k":1}` {
		t.Fatalf("got %s", got)
	}
	if inv.Target != "T" {
		t.Fatalf("target %q", inv.Target)
	}
}

func TestJSONRawValueIsNull(t *testing.T) {
	msg, _, err := JSON.ParseMessage([]byte(`{"type":3,"invocationId":"1","result":null}`+"\x1e"), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := msg.(*Completion)
	if !c.HasResult || !c.Result.(RawValue).IsNull() {
		t.Fatalf("%#v", c)
	}
	if NewJSONRawValue([]byte(`0`)).IsNull() {
		t.Fatal("0 is not null")
	}
}

type chatMessage struct {
	Name  string    `json:"name"`
	Text  string    `json:"text"`
	When  time.Time `json:"when"`
	Bytes []byte    `json:"bytes"`
}

func TestJSONWriteValues(t *testing.T) {
	when := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		arg  any
		want string
	}{
		{nil, `null`},
		{"a\"b\\c\n\t\x01\x7f<>&'é€😀\u2028", `"a\"b\\c\n\t\u0001\u007F<>&'é€\uD83D\uDE00\u2028"`},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
		{"\u00a0\u0085\u200b\u3000\ue000\ufeff|é中", `"\u00A0\u0085\u200B\u3000\uE000\uFEFF|é中"`},
		{int64(-5), `-5`},
		{uint64(18446744073709551615), `18446744073709551615`},
		{3.0, `3`},
		{2.5, `2.5`},
		{1e21, `1e+21`},
		{false, `false`},
		{[]int{1, 2, 3}, `[1,2,3]`},
		{[]byte{1, 2, 3}, `"AQID"`},
		{chatMessage{Name: "n", Text: "<b>", When: when, Bytes: []byte{1, 2, 3}}, `{"name":"n","text":"<b>","when":"2000-01-01T00:00:00Z","bytes":"AQID"}`},
		{json.RawMessage(`{"raw":true}`), `{"raw":true}`},
		{NewJSONRawValue([]byte(`[1, 2]`)), `[1, 2]`},
		{map[string]int{"b": 2, "a": 1}, `{"a":1,"b":2}`},
	}
	for _, tc := range cases {
		got, err := JSON.AppendMessage(nil, &Invocation{Target: "M", Arguments: []any{tc.arg}})
		if err != nil {
			t.Fatalf("%v: %v", tc.arg, err)
		}
		want := `{"type":1,"target":"M","arguments":[` + tc.want + "]}\x1e"
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}

func TestJSONWriteErrorLeavesDstUnchanged(t *testing.T) {
	dst := []byte("prefix")
	out, err := JSON.AppendMessage(dst, &Invocation{Target: "M", Arguments: []any{make(chan int)}})
	if err == nil {
		t.Fatal("want error for a channel argument")
	}
	if string(out) != "prefix" {
		t.Fatalf("dst changed: %q", out)
	}
	if _, err := JSON.AppendMessage(nil, nil); err == nil {
		t.Fatal("want error for nil message")
	}
}

func TestJSONWriteAppends(t *testing.T) {
	b, _ := JSON.AppendMessage(nil, &Ping{})
	b, _ = JSON.AppendMessage(b, &Close{})
	if string(b) != "{\"type\":6}\x1e{\"type\":7}\x1e" {
		t.Fatalf("%q", b)
	}
}

func TestJSONProtocolIdentity(t *testing.T) {
	p := NewJSONProtocol()
	if p.Name() != "json" || p.Version() != 2 || p.TransferFormat() != TransferFormatText {
		t.Fatalf("%s %d %v", p.Name(), p.Version(), p.TransferFormat())
	}
}
