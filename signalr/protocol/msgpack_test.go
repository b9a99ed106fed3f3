package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// complexObject mirrors the functional-test hub's ComplexObject, whose .NET
// property names are PascalCase.
type complexObject struct {
	String    string
	IntArray  []int
	ByteArray []byte
	Guid      string
	DateTime  time.Time
}

var testComplexObject = complexObject{
	String:    "hello world",
	IntArray:  []int{1, 2, 3},
	ByteArray: []byte{1, 2, 3},
	Guid:      "00010203-0405-0607-0706-050403020100",
	DateTime:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
}

// mpGoldens pairs each golden frame with the message it holds. reencoded
// names the golden our writer produces for the message when it differs
// (frames written by the JS client, wider integer formats).
var mpGoldens = []struct {
	file      string
	msg       HubMessage
	reencoded string
}{
	{"ping", &Ping{}, ""},
	{"close", &Close{}, ""},
	{"close_error", &Close{Error: "Connection closed with an error.", AllowReconnect: true}, ""},
	{"close_allow_reconnect", &Close{AllowReconnect: true}, ""},
	{"close_js", &Close{}, "close"},
	{"invocation", &Invocation{InvocationID: "123", Target: "Target", Arguments: []any{1, "Foo", true}}, ""},
	{"invocation_nonblocking", &Invocation{Target: "Send", Arguments: []any{"hello"}}, ""},
	{"invocation_js5", &Invocation{Target: "Send", Arguments: []any{"hello"}}, "invocation_nonblocking"},
	{"invocation_streamids", &Invocation{InvocationID: "1", Target: "StreamingConcat", Arguments: []any{}, StreamIDs: []string{"0"}}, ""},
	{"invocation_headers", &Invocation{Target: "T", Arguments: []any{}, Headers: map[string]string{"c": "d", "a": "b"}}, ""},
	{"invocation_long", &Invocation{Target: "T", Arguments: []any{strings.Repeat("x", 130)}}, ""},
	{"stream_invocation", &StreamInvocation{InvocationID: "2", Target: "Stream", Arguments: []any{}}, ""},
	{"stream_item", &StreamItem{InvocationID: "2", Item: "a"}, ""},
	{"completion_void", &Completion{InvocationID: "1", HasResult: true}, ""},
	{"completion_void_js", &Completion{InvocationID: "1"}, "completion_void_js"},
	{"completion_result", &Completion{InvocationID: "1", HasResult: true, Result: 42}, ""},
	{"completion_error", &Completion{InvocationID: "1", Error: "Error: from callback"}, ""},
	{"completion_stream_end", &Completion{InvocationID: "7"}, ""},
	{"completion_complex_object", &Completion{InvocationID: "1", HasResult: true, Result: testComplexObject}, ""},
	{"cancel_invocation", &CancelInvocation{InvocationID: "2"}, ""},
	{"ack", &Ack{SequenceID: 1394}, ""},
	{"ack_wide", &Ack{SequenceID: 1394}, "ack"},
	{"sequence", &Sequence{SequenceID: 1}, ""},
}

func mpNormalize(t testing.TB, m HubMessage) HubMessage {
	t.Helper()
	return normalizeWith(t, m, func(v any) any {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var g any
		if err := msgpack.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		return g
	})
}

func TestMessagePackGoldenWrite(t *testing.T) {
	for _, tc := range mpGoldens {
		t.Run(tc.file, func(t *testing.T) {
			name := tc.file
			if tc.reencoded != "" {
				name = tc.reencoded
			}
			want := readGolden(t, "msgpack", name)
			got, err := MessagePack.AppendMessage(nil, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got  % x\nwant % x", got, want)
			}
		})
	}
}

func TestMessagePackGoldenParseRoundTrip(t *testing.T) {
	for _, tc := range mpGoldens {
		t.Run(tc.file, func(t *testing.T) {
			golden := readGolden(t, "msgpack", tc.file)
			msg, n, err := MessagePack.ParseMessage(golden, 0)
			if err != nil || n != len(golden) {
				t.Fatalf("parse: n=%d err=%v", n, err)
			}
			if got, want := mpNormalize(t, msg), mpNormalize(t, tc.msg); !reflect.DeepEqual(got, want) {
				t.Fatalf("parsed %#v\nwant   %#v", got, want)
			}
			want := golden
			if tc.reencoded != "" {
				want = readGolden(t, "msgpack", tc.reencoded)
			}
			again, err := MessagePack.AppendMessage(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, want) {
				t.Fatalf("round trip % x\nwant       % x", again, want)
			}
		})
	}
}

func TestMessagePackDecodeComplexObject(t *testing.T) {
	msg, _, err := MessagePack.ParseMessage(readGolden(t, "msgpack", "completion_complex_object"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got complexObject
	if err := msg.(*Completion).Result.(RawValue).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !got.DateTime.Equal(testComplexObject.DateTime) {
		t.Fatalf("time %v", got.DateTime)
	}
	got.DateTime = testComplexObject.DateTime
	if !reflect.DeepEqual(got, testComplexObject) {
		t.Fatalf("got %#v", got)
	}
}

func TestMessagePackParseBatchedAndPartial(t *testing.T) {
	var in []byte
	for _, f := range []string{"ping", "invocation_long", "completion_result", "close"} {
		in = append(in, readGolden(t, "msgpack", f)...)
	}
	full := len(in)
	in = append(in, 0x8c) // first byte of a two-byte length prefix
	var got []MessageType
	for {
		msg, n, err := MessagePack.ParseMessage(in, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, msg.MessageType())
		in = in[n:]
		full -= n
	}
	if !reflect.DeepEqual(got, []MessageType{TypePing, TypeInvocation, TypeCompletion, TypeClose}) || full != 0 || len(in) != 1 {
		t.Fatalf("got %v, remainder %x", got, in)
	}
}

func TestMessagePackParseUnknownTypeIsConsumed(t *testing.T) {
	in := []byte{0x03, 0x92, 0x63, 0xc0, 0x02, 0x91, 0x06}
	msg, n, err := MessagePack.ParseMessage(in, 0)
	if msg != nil || n != 4 || err != nil {
		t.Fatalf("msg=%v n=%d err=%v", msg, n, err)
	}
}

func TestMessagePackParseToleratesExtraElements(t *testing.T) {
	// Ping, StreamItem and Ack with trailing elements a newer peer might add.
	for _, h := range []string{"03 92 06 c0", "08 95 02 80 a1 31 2a c3 c3", "05 93 08 01 a1 78"} {
		b, _ := hex.DecodeString(strings.ReplaceAll(h, " ", ""))
		if msg, n, err := MessagePack.ParseMessage(b, 0); msg == nil || n != len(b) || err != nil {
			t.Errorf("%s: msg=%v n=%d err=%v", h, msg, n, err)
		}
	}
}

func TestMessagePackParseErrors(t *testing.T) {
	cases := []struct{ hex, want string }{
		{"c0", "Reading array header for message failed."},
		{"", "Reading array header for message failed."},
		{"91 a1", "Reading 'messageType' as Int32 failed."},
		{"91 ce ff ff ff ff", "Reading 'messageType' as Int32 failed."},
		{"94 01 90 c0", "Reading map length for 'headers' failed."},
		{"94 01 81 a0 a1 62", "Null or empty key in header."},
		{"94 01 81 a1 61 a0", "Null or empty value in header."},
		{"94 01 81 01 a1", "Reading 'headers[0].Key' as String failed."},
		{"95 01 80 01 a1", "Reading 'invocationId' as String failed."},
		{"95 01 80 c0 c0 90", "Null or empty target for Invocation message."},
		{"95 01 80 c0 a0 90", "Null or empty target for Invocation message."},
		{"95 01 80 c0 a1 54 c0", "Reading array length for 'arguments' failed."},
		{"95 01 80 c0 a1 54 9f", "Reading array length for 'arguments' failed."},
		{"95 01 80 c0 a1 54 91 c1", "Reading argument 1 failed."},
		{"96 01 80 c0 a1 54 90 91 a0", "Null or empty value in streamIds received."},
		{"96 01 80 c0 a1 54 90 91 01", "Reading 'streamIds' as String failed."},
		{"96 04 80 c0 a1 54 90 90", "Null or empty invocation ID for StreamInvocation message."},
		{"96 04 80 a1 31 a0 90 90", "Null or empty target for StreamInvocation message."},
		{"94 02 80 a0 01", "Null or empty invocation ID for StreamItem message."},
		{"94 02 80 a1 31", "Reading 'item' failed."},
		{"94 03 80 c0 02", "Null or empty invocation ID for Completion message."},
		{"94 03 80 a1 31 04", "Invalid invocation result kind."},
		{"94 03 80 a1 31 c0", "Reading 'resultKind' as Int32 failed."},
		{"95 03 80 a1 31 03", "Reading 'result' failed."},
		{"95 03 80 a1 31 01 01", "Reading 'error' as String failed."},
		{"93 05 80 c0", "Null or empty invocation ID for CancelInvocation message."},
		{"92 07 01", "Reading 'error' as String failed."},
		{"93 07 c0 01", "Reading 'allowReconnect' as Boolean failed."},
		{"91 08", "Reading 'sequenceId' as Int64 failed."},
		{"92 09 cf ff ff ff ff ff ff ff ff", "Reading 'sequenceId' as Int64 failed."},
		{"ff ff ff ff 08", "Messages over 2GB in size are not supported."},
		{"ff ff ff ff ff", "Messages over 2GB in size are not supported."},
		// hostile declared lengths: nothing is allocated from them
		{"91 dd ff ff ff ff", "Reading 'messageType' as Int32 failed."},
		{"95 01 80 c0 a1 54 dd ff ff ff ff", "Reading array length for 'arguments' failed."},
		{"94 02 80 a1 31 df ff ff ff ff", "Reading 'item' failed."},
		{"94 02 80 a1 31 c6 ff ff ff ff", "Reading 'item' failed."},
		{"94 02 80 a1 31 c9 ff", "Reading 'item' failed."},
		{"94 01 80 db", "Reading 'invocationId' as String failed."},
	}
	for _, tc := range cases {
		t.Run(tc.hex, func(t *testing.T) {
			b, err := hex.DecodeString(strings.ReplaceAll(tc.hex, " ", ""))
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == 0 || b[0] != 0xff { // a body: frame it
				b = finishLengthPrefix(append([]byte{0}, b...), 0, 1)
			}
			_, _, err = MessagePack.ParseMessage(b, 0)
			var ide *InvalidDataError
			if !errors.As(err, &ide) || ide.Message != tc.want {
				t.Fatalf("err %v\nwant %s", err, tc.want)
			}
		})
	}
}

func TestMessagePackParseDeepNesting(t *testing.T) {
	item := func(depth int) []byte {
		body := []byte{0x94, 0x02, 0x80, 0xa1, 0x31}
		body = append(body, bytes.Repeat([]byte{0x91}, depth)...)
		body = append(body, 0xc0)
		return finishLengthPrefix(append([]byte{0}, body...), 0, 1)
	}
	if _, _, err := MessagePack.ParseMessage(item(mpMaxDepth), 0); err != nil {
		t.Fatalf("depth %d: %v", mpMaxDepth, err)
	}
	if _, _, err := MessagePack.ParseMessage(item(mpMaxDepth+1), 0); err == nil {
		t.Fatalf("depth %d accepted", mpMaxDepth+1)
	}
}

func TestMessagePackParseMaxSize(t *testing.T) {
	long := readGolden(t, "msgpack", "invocation_long") // 142 bytes: 2-byte prefix + 140
	cases := []struct {
		in      []byte
		max     int
		wantN   int
		wantErr error
	}{
		{long, 142, 142, nil},
		{long, 141, 0, ErrMessageTooLarge},
		{long[:2], 141, 0, ErrMessageTooLarge}, // declared length alone is too large
		{long[:2], 142, 0, nil},                // body still to come
		{long[:1], 1, 0, ErrMessageTooLarge},
		{long, 0, 142, nil},
	}
	for i, tc := range cases {
		_, n, err := MessagePack.ParseMessage(tc.in, tc.max)
		if n != tc.wantN || !errors.Is(err, tc.wantErr) {
			t.Errorf("case %d: n=%d err=%v, want n=%d err=%v", i, n, err, tc.wantN, tc.wantErr)
		}
	}
}

func TestMessagePackLengthPrefix(t *testing.T) {
	for _, size := range []int{0, 1, 100, 127, 128, 5248, 16383, 16384, 1 << 21} {
		msg := &Invocation{Target: "T", Arguments: []any{strings.Repeat("x", size)}}
		b, err := MessagePack.AppendMessage([]byte("pre"), msg)
		if err != nil {
			t.Fatal(err)
		}
		got, n, err := MessagePack.ParseMessage(b[3:], 0)
		if err != nil || n != len(b)-3 {
			t.Fatalf("size %d: n=%d err=%v", size, n, err)
		}
		var s string
		if err := got.(*Invocation).Arguments[0].(RawValue).Decode(&s); err != nil || len(s) != size {
			t.Fatalf("size %d: got %d, %v", size, len(s), err)
		}
	}
	// The spec's example: 5248 encodes as 0x80 0x29.
	if got := finishLengthPrefix(append([]byte{0}, make([]byte, 5248)...), 0, 1); got[0] != 0x80 || got[1] != 0x29 {
		t.Fatalf("prefix % x", got[:2])
	}
}

func TestMessagePackParseCopiesRawValues(t *testing.T) {
	buf := readGolden(t, "msgpack", "invocation")
	msg, _, err := MessagePack.ParseMessage(buf, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 0xc1
	}
	var s string
	if err := msg.(*Invocation).Arguments[1].(RawValue).Decode(&s); err != nil || s != "Foo" {
		t.Fatalf("s=%q err=%v", s, err)
	}
}

func TestMessagePackRawValue(t *testing.T) {
	v := NewMessagePackRawValue([]byte{mpNil})
	if !v.IsNull() {
		t.Fatal("nil not null")
	}
	if NewMessagePackRawValue([]byte{0x00}).IsNull() {
		t.Fatal("0 is null")
	}
	var i int
	if err := NewMessagePackRawValue([]byte{0xa1, 0x78}).Decode(&i); err == nil {
		t.Fatal("decoding a string into an int succeeded")
	}
}

type tagged struct {
	Name  string `msgpack:"name"`
	Value int    `json:"value"` // json tags do not rename MessagePack keys, as in .NET
}

func TestMessagePackWriteValues(t *testing.T) {
	cases := []struct {
		arg  any
		want string
	}{
		{nil, "c0"},
		{-1, "ff"},
		{-33, "d0 df"},
		{200, "cc c8"},
		{int64(70000), "ce 00 01 11 70"},
		{uint8(5), "05"},
		{1.5, "cb 3f f8 00 00 00 00 00 00"},
		{[]byte{1}, "c4 01 01"},
		{tagged{Name: "n", Value: 1}, "82 a4 6e 61 6d 65 a1 6e a5 56 61 6c 75 65 01"},
		{map[string]string{"b": "2", "a": "1"}, "82 a1 61 a1 31 a1 62 a1 32"},
		{msgpack.RawMessage{0x2a}, "2a"},
		{NewJSONRawValue([]byte(`{"a":[1,2.5,"s",null,true]}`)), "81 a1 61 95 01 cb 40 04 00 00 00 00 00 00 a1 73 c0 c3"},
		{time.Unix(1, 5).UTC(), "d7 ff 00 00 00 14 00 00 00 01"},
	}
	for _, tc := range cases {
		got, err := appendMPValue(nil, tc.arg)
		if err != nil {
			t.Fatalf("%v: %v", tc.arg, err)
		}
		if want, _ := hex.DecodeString(strings.ReplaceAll(tc.want, " ", "")); !bytes.Equal(got, want) {
			t.Errorf("%#v: got % x, want %s", tc.arg, got, tc.want)
		}
	}
}

func TestCrossProtocolForwarding(t *testing.T) {
	// A value received from a MessagePack client, sent to a JSON client.
	mp, _, err := MessagePack.ParseMessage(readGolden(t, "msgpack", "completion_complex_object"), 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := JSON.AppendMessage(nil, &Invocation{Target: "T", Arguments: []any{mp.(*Completion).Result, []any{mp.(*Completion).Result}}})
	if err != nil {
		t.Fatal(err)
	}
	obj := `{"ByteArray":"AQID","DateTime":"2000-01-01T00:00:00Z","Guid":"00010203-0405-0607-0706-050403020100","IntArray":[1,2,3],"String":"hello world"}`
	if want := `{"type":1,"target":"T","arguments":[` + obj + `,[` + obj + `]]}` + "\x1e"; string(out) != want {
		// time zone of the decoded time.Time may differ: compare after parsing
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	// And a JSON client's value sent to a MessagePack client, nested too.
	js, _, err := JSON.ParseMessage([]byte(`{"type":1,"target":"T","arguments":[42]}`+"\x1e"), 0)
	if err != nil {
		t.Fatal(err)
	}
	arg := js.(*Invocation).Arguments[0]
	out, err = MessagePack.AppendMessage(nil, &Invocation{Target: "T", Arguments: []any{arg, []any{arg}}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x0b, 0x96, 0x01, 0x80, 0xc0, 0xa1, 0x54, 0x92, 0x2a, 0x91, 0x2a, 0x90}; !bytes.Equal(out, want) {
		t.Fatalf("got % x\nwant % x", out, want)
	}
}

func TestMessagePackWriteErrorLeavesDstUnchanged(t *testing.T) {
	out, err := MessagePack.AppendMessage([]byte("prefix"), &Invocation{Target: "M", Arguments: []any{make(chan int)}})
	if err == nil || string(out) != "prefix" {
		t.Fatalf("out=%q err=%v", out, err)
	}
	if _, err := MessagePack.AppendMessage(nil, nil); err == nil {
		t.Fatal("want error for nil message")
	}
}

func TestMessagePackProtocolIdentity(t *testing.T) {
	p := NewMessagePackProtocol()
	if p.Name() != "messagepack" || p.Version() != 2 || p.TransferFormat() != TransferFormatBinary {
		t.Fatalf("%s %d %v", p.Name(), p.Version(), p.TransferFormat())
	}
}
