package protocol

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Fuzz targets. Seeds come from the golden records in the repo-root
// testdata/protocol and from the committed corpora in testdata/fuzz/.
// Run one with e.g. `go test -run '^$' -fuzz '^FuzzJSONParse$' -fuzztime 30s ./signalr/protocol`.

func addGoldenSeeds(f *testing.F, proto string) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "protocol", proto, "*.bin"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// canonical drops distinctions the wire cannot carry back (empty vs absent
// headers and stream ids), so a parsed message can be compared with the
// parse of its re-encoding.
func canonical(m HubMessage) HubMessage {
	switch x := m.(type) {
	case *Invocation:
		c := *x
		if len(c.Headers) == 0 {
			c.Headers = nil
		}
		if len(c.StreamIDs) == 0 {
			c.StreamIDs = nil
		}
		return &c
	case *StreamInvocation:
		c := *x
		if len(c.Headers) == 0 {
			c.Headers = nil
		}
		if len(c.StreamIDs) == 0 {
			c.StreamIDs = nil
		}
		return &c
	case *StreamItem:
		c := *x
		if len(c.Headers) == 0 {
			c.Headers = nil
		}
		return &c
	case *Completion:
		c := *x
		if len(c.Headers) == 0 {
			c.Headers = nil
		}
		return &c
	case *CancelInvocation:
		c := *x
		if len(c.Headers) == 0 {
			c.Headers = nil
		}
		return &c
	}
	return m
}

// checkParse asserts the ParseMessage contract on arbitrary input and that
// every message parsed survives a write/parse round trip unchanged.
func checkParse(t *testing.T, p HubProtocol, data []byte) {
	msg, n, err := p.ParseMessage(data, 0)
	if n < 0 || n > len(data) {
		t.Fatalf("consumed %d of %d", n, len(data))
	}
	if err != nil || msg == nil {
		if n == 0 && msg != nil {
			t.Fatal("message without consuming input")
		}
		return
	}
	if n == 0 {
		t.Fatal("message without consuming input")
	}
	out, err := p.AppendMessage(nil, msg)
	if err != nil {
		t.Fatalf("re-encoding %#v: %v", msg, err)
	}
	again, n2, err := p.ParseMessage(out, 0)
	if err != nil || n2 != len(out) {
		t.Fatalf("re-parsing %q: n=%d err=%v", out, n2, err)
	}
	if !reflect.DeepEqual(canonical(msg), canonical(again)) {
		t.Fatalf("round trip changed the message:\n%#v\n%#v", msg, again)
	}
	// The size limit is exact: the record fits in n bytes and not in n-1.
	if _, _, err := p.ParseMessage(data, n); err == ErrMessageTooLarge {
		t.Fatalf("record of %d bytes rejected with limit %d", n, n)
	}
	if n > 1 {
		if _, _, err := p.ParseMessage(data, n-1); err != ErrMessageTooLarge {
			t.Fatalf("record of %d bytes accepted with limit %d: %v", n, n-1, err)
		}
	}
}

func FuzzJSONParse(f *testing.F) {
	addGoldenSeeds(f, "json")
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, JSON, data) })
}

func FuzzMessagePackParse(f *testing.F) {
	addGoldenSeeds(f, "msgpack")
	f.Fuzz(func(t *testing.T, data []byte) { checkParse(t, MessagePack, data) })
}

func FuzzHandshakeParse(f *testing.F) {
	for _, name := range []string{"handshake_request", "handshake_response", "handshake_error"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "protocol", "json", name+".bin"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		proto, version, n, err := ParseHandshakeRequest(data)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
		if err == nil && n > 0 {
			req := WriteHandshakeRequest(proto, version)
			p2, v2, n2, err := ParseHandshakeRequest(req)
			if err != nil || p2 != proto || v2 != version || n2 != len(req) {
				t.Fatalf("request round trip: %q %d %d %v", p2, v2, n2, err)
			}
		}
		errText, n, err := ParseHandshakeResponse(data)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
		if err == nil && n > 0 {
			resp := WriteHandshakeResponse(errText)
			e2, n2, err := ParseHandshakeResponse(resp)
			if err != nil || e2 != errText || n2 != len(resp) {
				t.Fatalf("response round trip: %q %d %v", e2, n2, err)
			}
		}
	})
}

// splitSeeds holds several records back to back for the split fuzzers.
func splitSeeds(f *testing.F, proto string, files ...string) {
	var all []byte
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "protocol", proto, name+".bin"))
		if err != nil {
			f.Fatal(err)
		}
		all = append(all, b...)
	}
	f.Add(all, []byte{1, 7, 3, 200, 0, 13})
	f.Add(all, []byte{})
}

// checkSplit feeds data to ParseMessage in chunks cut at the given sizes,
// keeping the unconsumed remainder as a transport reader does, and requires
// the same messages (and the same first error) as parsing it all at once.
func checkSplit(t *testing.T, p HubProtocol, data, cuts []byte) {
	type result struct {
		msg HubMessage
		err string
	}
	parseAll := func(chunks [][]byte) []result {
		var out []result
		var buf []byte
		for _, c := range chunks {
			buf = append(buf, c...)
			for {
				msg, n, err := p.ParseMessage(buf, 0)
				if err != nil {
					return append(out, result{err: err.Error()})
				}
				if n == 0 {
					break
				}
				out = append(out, result{msg: msg})
				buf = buf[n:]
			}
		}
		return out
	}
	whole := parseAll([][]byte{data})
	var chunks [][]byte
	rest := data
	for _, c := range cuts {
		k := int(c) % (len(rest) + 1)
		chunks = append(chunks, rest[:k])
		rest = rest[k:]
	}
	chunks = append(chunks, rest)
	split := parseAll(chunks)
	if !reflect.DeepEqual(whole, split) {
		t.Fatalf("split parsing differs:\nwhole %#v\nsplit %#v", whole, split)
	}
}

func FuzzJSONSplit(f *testing.F) {
	splitSeeds(f, "json", "ping", "invocation", "completion_void", "invocation_headers", "close_error")
	f.Fuzz(func(t *testing.T, data, cuts []byte) { checkSplit(t, JSON, data, cuts) })
}

func FuzzMessagePackSplit(f *testing.F) {
	splitSeeds(f, "msgpack", "ping", "invocation", "invocation_long", "completion_complex_object", "close_error")
	f.Fuzz(func(t *testing.T, data, cuts []byte) { checkSplit(t, MessagePack, data, cuts) })
}
