package npgsql

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/npgsql")

const goldenDir = "../testdata/npgsql"

const serverName = "web01_02db60e5fab243b890a847fa5c4dcb29"

// Framed hub messages for Invocation{Target:"Send", Arguments:["hi"]},
// written out by hand from the hub protocol spec.
var (
	jsonSendHi = []byte("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"hi\"]}\x1e")
	// VarInt length 14, then [1, {}, nil, "Send", ["hi"], []].
	msgpackSendHi = []byte{0x0e, 0x96, 0x01, 0x80, 0xc0, 0xa4, 'S', 'e', 'n', 'd', 0x91, 0xa2, 'h', 'i', 0x90}
	jsonOnly      = []Encoded{{"json", jsonSendHi}}
	jsonMsgpack   = []Encoded{{"json", jsonSendHi}, {"messagepack", msgpackSendHi}}
)

type vector struct {
	name string
	p    Payload
}

var vectors = []vector{
	{"ack", Payload{Type: TypeAck, ID: 1, ServerName: serverName}},
	{"ack_id_70000", Payload{Type: TypeAck, ID: 70000, ServerName: serverName}},
	{"group_add", Payload{Type: TypeGroup, ID: 300, ServerName: serverName, Action: GroupAdd, GroupName: "room1", ConnectionID: "conn-a"}},
	{"group_remove", Payload{Type: TypeGroup, ID: 2, ServerName: serverName, Action: GroupRemove, GroupName: "room1", ConnectionID: "conn-a"}},
	{"invocation_all_json", Payload{Type: TypeInvocationAll, Messages: jsonOnly}},
	{"invocation_all_json_messagepack", Payload{Type: TypeInvocationAll, Messages: jsonMsgpack}},
	{"invocation_all_except_json_messagepack", Payload{Type: TypeInvocationAll, ExcludedIDs: []string{"conn-a", "conn-b"}, Messages: jsonMsgpack}},
	{"invocation_group_json", Payload{Type: TypeInvocationGroup, GroupName: "room1", Messages: jsonOnly}},
	{"invocation_group_json_messagepack", Payload{Type: TypeInvocationGroup, GroupName: "room1", Messages: jsonMsgpack}},
	{"invocation_group_except_json_messagepack", Payload{Type: TypeInvocationGroup, GroupName: "room1", ExcludedIDs: []string{"conn-a"}, Messages: jsonMsgpack}},
	{"invocation_connection_json", Payload{Type: TypeInvocationConnection, ConnectionID: "conn-a", Messages: jsonOnly}},
	{"invocation_connection_json_messagepack", Payload{Type: TypeInvocationConnection, ConnectionID: "conn-a", Messages: jsonMsgpack}},
	{"invocation_user_json", Payload{Type: TypeInvocationUser, UserID: "alice", Messages: jsonOnly}},
	{"invocation_user_json_messagepack", Payload{Type: TypeInvocationUser, UserID: "alice", Messages: jsonMsgpack}},
}

func formatHex(b []byte, comment string) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# %s\n", comment)
	for i := 0; i < len(b); i += 16 {
		end := min(i+16, len(b))
		var parts []string
		for _, c := range b[i:end] {
			parts = append(parts, fmt.Sprintf("%02X", c))
		}
		buf.WriteString(strings.Join(parts, " "))
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func parseHex(t testing.TB, text []byte) []byte {
	var digits strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatalf("bad hex: %v", err)
	}
	return b
}

func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(goldenDir, name+".hex"))
	if err != nil {
		t.Fatalf("read golden %s: %v (run go test ./npgsql -run TestGolden -update)", name, err)
	}
	return parseHex(t, text)
}

func TestGoldenPayloads(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			got, err := AppendPayload(nil, &v.p)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(goldenDir, v.name+".hex")
			if *update {
				comment := fmt.Sprintf("%s payload (AspNetCore.SignalR.Npgsql PostgresProtocol), %d bytes", v.p.Type, len(got))
				if err := os.WriteFile(path, formatHex(got, comment), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want := readGolden(t, v.name)
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs from %s\n got % X\nwant % X", path, got, want)
			}
			back, err := ParsePayload(want)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(back), normalize(&v.p)) {
				t.Fatalf("decode(golden) = %+v, want %+v", back, v.p)
			}
		})
	}
}

func normalize(p *Payload) *Payload {
	c := *p
	if len(c.ExcludedIDs) == 0 {
		c.ExcludedIDs = nil
	}
	if len(c.Messages) == 0 {
		c.Messages = nil
	}
	for i, m := range c.Messages {
		if len(m.Bytes) == 0 {
			c.Messages = append([]Encoded(nil), c.Messages...)
			c.Messages[i].Bytes = nil
		}
	}
	return &c
}

// The worked example of the reference, independent of the golden files.
func TestWorkedExample(t *testing.T) {
	want := append([]byte{0xCC, 0x0B, 0x92, 0x90, 0x81, 0xA4, 0x6A, 0x73, 0x6F, 0x6E, 0xC4, 0x2E}, jsonSendHi...)
	got, err := AppendPayload(nil, &Payload{Type: TypeInvocationAll, Messages: jsonOnly})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % X\nwant % X", got, want)
	}
}

func TestAppendIntCompact(t *testing.T) {
	tests := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0xcc, 0x80}},
		{255, []byte{0xcc, 0xff}},
		{256, []byte{0xcd, 0x01, 0x00}},
		{65535, []byte{0xcd, 0xff, 0xff}},
		{65536, []byte{0xce, 0x00, 0x01, 0x00, 0x00}},
		{2147483647, []byte{0xce, 0x7f, 0xff, 0xff, 0xff}},
		{-1, []byte{0xff}},
		{-32, []byte{0xe0}},
		{-33, []byte{0xd0, 0xdf}},
		{-129, []byte{0xd1, 0xff, 0x7f}},
		{-2147483648, []byte{0xd2, 0x80, 0x00, 0x00, 0x00}},
	}
	for _, tt := range tests {
		if got := appendInt(nil, tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("appendInt(%d) = % X, want % X", tt.v, got, tt.want)
		}
		r := &reader{b: tt.want}
		if got, err := r.int("x"); err != nil || got != tt.v {
			t.Errorf("read(% X) = %d, %v; want %d", tt.want, got, err, tt.v)
		}
	}
}

func TestLongFieldsUseWiderHeaders(t *testing.T) {
	long := strings.Repeat("g", 300)
	big := bytes.Repeat([]byte{'x'}, 70000)
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprint("c", i)
	}
	p := &Payload{Type: TypeInvocationGroup, GroupName: long, ExcludedIDs: ids, Messages: []Encoded{{"json", big}}}
	b, err := AppendPayload(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	// tag, fixarray 3, str16 group name
	if !bytes.HasPrefix(b, []byte{0xcc, 0x0c, 0x93, 0xda, 0x01, 0x2c}) {
		t.Fatalf("prefix % X", b[:8])
	}
	if !bytes.Contains(b, []byte{0xdc, 0x00, 0x14}) || !bytes.Contains(b, []byte{0xc6, 0x00, 0x01, 0x11, 0x70}) {
		t.Fatal("array16 / bin32 headers missing")
	}
	back, err := ParsePayload(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatal("round trip differs")
	}
}

func TestParseTolerant(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Payload
	}{
		{"tag as fixint", []byte{0x01, 0x92, 0x05, 0xa1, 's'}, Payload{Type: TypeAck, ID: 5, ServerName: "s"}},
		{"id as int32", []byte{0xcc, 0x01, 0x92, 0xd2, 0, 0, 0, 5, 0xa1, 's'}, Payload{Type: TypeAck, ID: 5, ServerName: "s"}},
		{"id as uint64", []byte{0xcc, 0x01, 0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5, 0xa1, 's'}, Payload{Type: TypeAck, ID: 5, ServerName: "s"}},
		{"str8 server name", []byte{0xcc, 0x01, 0x92, 0x05, 0xd9, 0x01, 's'}, Payload{Type: TypeAck, ID: 5, ServerName: "s"}},
		{"extra trailing items", []byte{0xcc, 0x01, 0x94, 0x05, 0xa1, 's', 0x81, 0xa1, 'k', 0x91, 0xc3, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, Payload{Type: TypeAck, ID: 5, ServerName: "s"}},
		{"nil excluded ids and str message", []byte{0xcc, 0x0b, 0x92, 0xc0, 0x81, 0xa4, 'j', 's', 'o', 'n', 0xa2, 'h', 'i'}, Payload{Type: TypeInvocationAll, Messages: []Encoded{{"json", []byte("hi")}}}},
		{"group action uint8", []byte{0xcc, 0x02, 0x95, 0x01, 0xa1, 's', 0xcc, 0x02, 0xa1, 'g', 0xa1, 'c'}, Payload{Type: TypeGroup, ID: 1, ServerName: "s", Action: GroupRemove, GroupName: "g", ConnectionID: "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePayload(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(&tt.want)) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantSub string
	}{
		{"empty", nil, "end of payload"},
		{"unknown type", []byte{0xcc, 0x07, 0x90}, "unknown message type 7"},
		{"type not int", []byte{0xa1, 'x'}, "expected an integer"},
		{"short ack array", []byte{0xcc, 0x01, 0x91, 0x01}, "insufficient items in Ack array: got 1, need 2"},
		{"short group array", []byte{0xcc, 0x02, 0x94, 0x01, 0xa1, 's', 0x01, 0xa1, 'g'}, "insufficient items in Group array"},
		{"short invocation array", []byte{0xcc, 0x0c, 0x92, 0xa1, 'g', 0x90}, "insufficient items in InvocationGroup array"},
		{"not an array", []byte{0xcc, 0x01, 0x80}, "expected an array"},
		{"id too big", []byte{0xcc, 0x01, 0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0, 0xa1, 's'}, "does not fit in an int32"},
		{"map claims too many", []byte{0xcc, 0x0b, 0x92, 0x90, 0xdf, 0xff, 0xff, 0xff, 0xff}, "exceeds"},
		{"bin longer than input", []byte{0xcc, 0x0b, 0x92, 0x90, 0x81, 0xa1, 'j', 0xc6, 0x7f, 0, 0, 0}, "exceeds"},
		{"invalid code in trailing item", []byte{0xcc, 0x01, 0x93, 0x05, 0xa1, 's', 0xc1}, "invalid MessagePack code 0xc1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePayload(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.wantSub) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantSub)
			}
		})
	}
}

// Every strict prefix of a valid payload is an error, never a panic.
func TestParseTruncated(t *testing.T) {
	for _, v := range vectors {
		b, _ := AppendPayload(nil, &v.p)
		for i := range len(b) {
			if _, err := ParsePayload(b[:i]); err == nil {
				t.Fatalf("%s: prefix of %d/%d bytes parsed without error", v.name, i, len(b))
			} else if !errors.Is(err, ErrShortPayload) && i > 0 {
				t.Fatalf("%s: prefix %d: %v does not wrap ErrShortPayload", v.name, i, err)
			}
		}
	}
}

func TestParseDeepNestingIsAnError(t *testing.T) {
	b := []byte{0xcc, 0x01, 0x93, 0x05, 0xa1, 's'}
	for range 1000 {
		b = append(b, 0x91)
	}
	b = append(b, 0x01)
	if _, err := ParsePayload(b); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParsePayload(f *testing.F) {
	for _, v := range vectors {
		b, _ := AppendPayload(nil, &v.p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePayload(b)
		if err != nil {
			return
		}
		// A payload that parses re-encodes to something that parses the same.
		enc, err := AppendPayload(nil, p)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := ParsePayload(enc)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(normalize(again), normalize(p)) {
			t.Fatalf("re-parse differs: %+v vs %+v", again, p)
		}
	})
}

func BenchmarkAppendPayload(b *testing.B) {
	p := &Payload{Type: TypeInvocationAll, Messages: jsonMsgpack}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendPayload(buf[:0], p)
	}
}

func BenchmarkParsePayload(b *testing.B) {
	enc, _ := AppendPayload(nil, &Payload{Type: TypeInvocationAll, Messages: jsonMsgpack})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePayload(enc); err != nil {
			b.Fatal(err)
		}
	}
}
