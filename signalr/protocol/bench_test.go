package protocol

import "testing"

// Benchmarks of the hot paths: encoding an Invocation for a broadcast and
// parsing a client's Invocation. Run with
// `go test -run '^$' -bench . -benchmem ./signalr/protocol`.

type benchChat struct {
	User    string `json:"user"`
	Message string `json:"message"`
	Seq     int    `json:"seq"`
}

var benchInvocation = &Invocation{Target: "broadcastMessage", Arguments: []any{"alice", "Hello, everyone! How are you today?"}}
var benchInvocationStruct = &Invocation{Target: "broadcastMessage", Arguments: []any{benchChat{User: "alice", Message: "Hello, everyone! How are you today?", Seq: 42}}}

func benchWrite(b *testing.B, p HubProtocol, m HubMessage) {
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = p.AppendMessage(dst[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(dst)))
}

func benchParse(b *testing.B, p HubProtocol, m HubMessage) {
	rec, err := p.AppendMessage(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if msg, _, err := p.ParseMessage(rec, 32768); err != nil || msg == nil {
			b.Fatal(err)
		}
	}
}

var benchClientInvocation = &Invocation{InvocationID: "17", Target: "SendMessage", Arguments: []any{"alice", "Hello, everyone! How are you today?"}}

func BenchmarkJSONWriteInvocation(b *testing.B)       { benchWrite(b, JSON, benchInvocation) }
func BenchmarkJSONWriteInvocationStruct(b *testing.B) { benchWrite(b, JSON, benchInvocationStruct) }
func BenchmarkJSONParseInvocation(b *testing.B)       { benchParse(b, JSON, benchClientInvocation) }
func BenchmarkMessagePackWriteInvocation(b *testing.B) {
	benchWrite(b, MessagePack, benchInvocation)
}
func BenchmarkMessagePackWriteInvocationStruct(b *testing.B) {
	benchWrite(b, MessagePack, benchInvocationStruct)
}
func BenchmarkMessagePackParseInvocation(b *testing.B) {
	benchParse(b, MessagePack, benchClientInvocation)
}
func BenchmarkJSONWritePing(b *testing.B)        { benchWrite(b, JSON, &Ping{}) }
func BenchmarkMessagePackWritePing(b *testing.B) { benchWrite(b, MessagePack, &Ping{}) }

func BenchmarkJSONRawValueDecode(b *testing.B) {
	v := NewJSONRawValue([]byte(`"Hello, everyone! How are you today?"`))
	b.ReportAllocs()
	for b.Loop() {
		var s string
		if err := v.Decode(&s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMessagePackRawValueDecode(b *testing.B) {
	v := NewMessagePackRawValue(appendMPString(nil, "Hello, everyone! How are you today?"))
	b.ReportAllocs()
	for b.Loop() {
		var s string
		if err := v.Decode(&s); err != nil {
			b.Fatal(err)
		}
	}
}
