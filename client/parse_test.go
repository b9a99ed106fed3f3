package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func readEvents(t testing.TB, input string, max int) ([]string, error) {
	r := newSSEReader(strings.NewReader(input), max)
	var out []string
	for {
		p, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		out = append(out, string(p))
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"server framing", ":\r\ndata: {\"type\":6}\x1e\r\n\r\n", []string{"{\"type\":6}\x1e"}},
		{"multi-line payload", "data: a\r\ndata: b\r\n\r\n", []string{"a\nb"}},
		{"LF only", "data: x\n\n", []string{"x"}},
		{"CR only", "data: x\r\r", []string{"x"}},
		{"no space after colon", "data:x\n\n", []string{"x"}},
		{"only one space stripped", "data:  x\n\n", []string{" x"}},
		{"other fields ignored", "event: e\nid: 1\nretry: 5\ndata: y\n\n", []string{"y"}},
		{"field without colon", "data\n\n", []string{""}},
		{"blank lines between events", "\n\ndata: 1\n\n\n\ndata: 2\n\n", []string{"1", "2"}},
		{"unfinished event dropped", "data: 1\n\ndata: 2", []string{"1"}},
		{"empty data line", "data:\ndata:\n\n", []string{"\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readEvents(t, tc.in, 1<<10)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			// Byte-at-a-time delivery gives the same events.
			r := newSSEReader(iotest.OneByteReader(strings.NewReader(tc.in)), 1<<10)
			for i, w := range tc.want {
				p, err := r.next()
				if err != nil || string(p) != w {
					t.Fatalf("one-byte reader event %d = %q %v", i, p, err)
				}
			}
		})
	}
}

func TestSSEReaderLimits(t *testing.T) {
	if _, err := readEvents(t, "data: "+strings.Repeat("x", 100)+"\n\n", 50); !errors.Is(err, errSSEEventTooLarge) {
		t.Fatalf("long line: %v", err)
	}
	if _, err := readEvents(t, strings.Repeat("data: xxxxxxxxxx\n", 20)+"\n", 50); !errors.Is(err, errSSEEventTooLarge) {
		t.Fatalf("many lines: %v", err)
	}
	if _, err := readEvents(t, ":"+strings.Repeat("c", 1000)+"\n", 50); !errors.Is(err, errSSEEventTooLarge) {
		t.Fatalf("long comment: %v", err)
	}
}

// FuzzSSEReader: any input ends in events or an error, never a panic or a
// hang, and events never exceed the limit.
func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{":\r\n", "data: a\r\n\r\n", "data: a\ndata: b\n\n", "data:x\r\rdata:y\n\n", "event:e\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newSSEReader(bytes.NewReader(in), 64)
		for range len(in) + 1 {
			p, err := r.next()
			if err != nil {
				return
			}
			if len(p) > 64 {
				t.Fatalf("event of %d bytes over the limit", len(p))
			}
		}
		if _, err := r.next(); err == nil {
			t.Fatal("more events than input bytes")
		}
	})
}

func TestHandshakeResponse(t *testing.T) {
	tests := []struct {
		in      string
		n       int
		wantErr string
	}{
		{"{}\x1e", 3, ""},
		{"{}\x1e{\"type\":6}\x1e", 3, ""},
		{"{", 0, ""},
		{"{\"error\":\"The protocol 'x' is not supported.\"}\x1e", 47, "Server returned handshake error: The protocol 'x' is not supported."},
		{"{\"type\":6}\x1e", 11, "Expected a handshake response from the server."},
		{"nonsense\x1e", 9, "invalid handshake response"},
		{"{\"minorVersion\":1}\x1e", 19, ""},
	}
	for _, tc := range tests {
		n, err := parseHandshakeResponse([]byte(tc.in))
		if n != tc.n {
			t.Errorf("%q: n = %d, want %d", tc.in, n, tc.n)
		}
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.wantErr)) {
			t.Errorf("%q: err = %v, want %q", tc.in, err, tc.wantErr)
		}
	}
	if got := string(appendHandshakeRequest(nil, "json", 1)); got != "{\"protocol\":\"json\",\"version\":1}\x1e" {
		t.Fatalf("request %q", got)
	}
}

func FuzzHandshakeResponse(f *testing.F) {
	for _, s := range []string{"{}\x1e", "{\"error\":\"x\"}\x1e", "{\"type\":1}\x1e", "{", "\x1e"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := parseHandshakeResponse(in)
		if n < 0 || n > len(in) {
			t.Fatalf("n = %d of %d", n, len(in))
		}
		if n == 0 && err != nil {
			t.Fatalf("error without consuming: %v", err)
		}
	})
}

func FuzzNegotiateResponse(f *testing.F) {
	for _, s := range []string{
		`{"negotiateVersion":1,"connectionId":"a","connectionToken":"b","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}`,
		`{"url":"http://x/y","accessToken":"t"}`,
		`{"error":"e"}`,
		`{"ProtocolVersion":"1.5"}`,
		`{"connectionId":"a","availableTransports":[]}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, stateful bool) {
		r, err := parseNegotiateResponse(in, stateful)
		if err == nil && r.URL == "" && r.ConnectionToken == "" && r.ConnectionID != "" {
			t.Fatalf("connection response without a token: %+v", r)
		}
	})
}

func TestURLs(t *testing.T) {
	tests := []struct {
		base     string
		stateful bool
		want     string
	}{
		{"http://h/hub", false, "http://h/hub/negotiate?negotiateVersion=1"},
		{"http://h/hub/", false, "http://h/hub/negotiate?negotiateVersion=1"},
		{"http://h/hub?a=1", true, "http://h/hub/negotiate?a=1&negotiateVersion=1&useStatefulReconnect=true"},
		{"http://h/hub?negotiateVersion=0", false, "http://h/hub/negotiate?negotiateVersion=0"},
	}
	for _, tc := range tests {
		got, err := negotiateURL(tc.base, tc.stateful)
		if err != nil || got != tc.want {
			t.Errorf("negotiateURL(%q) = %q %v, want %q", tc.base, got, err, tc.want)
		}
	}
	if got, _ := connectURL("http://h/hub?numRedirects=1", "t/k"); got != "http://h/hub?id=t%2Fk&numRedirects=1" {
		t.Errorf("connectURL = %q", got)
	}
	if got := wsURL("https://h/x"); got != "wss://h/x" {
		t.Errorf("wsURL = %q", got)
	}
	if got := wsURL("http://h/x"); got != "ws://h/x" {
		t.Errorf("wsURL = %q", got)
	}
}

func TestQueue(t *testing.T) {
	q := newQueue[int]()
	for i := range 100 {
		q.push(i)
	}
	q.close()
	if q.push(100) {
		t.Fatal("push after close")
	}
	for i := range 100 {
		v, ok := q.pop(t.Context())
		if !ok || v != i {
			t.Fatalf("pop %d = %d %v", i, v, ok)
		}
	}
	if _, ok := q.pop(t.Context()); ok {
		t.Fatal("pop from closed empty queue")
	}
}

func TestMessageBuffer(t *testing.T) {
	b := newMessageBuffer(10)
	if seq, msgs := b.replay(); seq != 1 || msgs != nil {
		t.Fatalf("empty replay %d %q", seq, msgs)
	}
	b.add([]byte("aaaa"))
	b.add([]byte("bbbb"))
	if b.full() {
		t.Fatal("full at 8 of 10")
	}
	b.add([]byte("cc"))
	if !b.full() {
		t.Fatal("not full at 10 of 10")
	}
	b.ack(1)
	if b.full() {
		t.Fatal("full after ack")
	}
	seq, msgs := b.replay()
	if seq != 2 || len(msgs) != 2 || string(msgs[0]) != "bbbb" {
		t.Fatalf("replay %d %q", seq, msgs)
	}
	b.ack(3)
	if seq, msgs := b.replay(); seq != 4 || msgs != nil {
		t.Fatalf("replay after full ack %d %q", seq, msgs)
	}
}
