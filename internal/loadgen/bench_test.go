package loadgen

import (
	"testing"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// The load client parses every delivery; these compare its lean scanner
// with the general codec it would otherwise use.
func benchmarkParse(b *testing.B, c wireCodec) {
	p := AppendPayload(nil, Payload{Sender: 3, Seq: 12345, SentNs: 1764230400123456789}, 64)
	rec, err := protocol.JSON.AppendMessage(nil, &protocol.Invocation{Target: "Receive", Arguments: []any{string(p)}})
	if err != nil {
		b.Fatal(err)
	}
	var r record
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Parse(rec, &r); err != nil {
			b.Fatal(err)
		}
		if _, err := ParsePayload(r.Arg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseLeanJSON(b *testing.B)     { benchmarkParse(b, jsonCodec{}) }
func BenchmarkParseProtocolJSON(b *testing.B) { benchmarkParse(b, &protocolCodec{p: protocol.JSON}) }
