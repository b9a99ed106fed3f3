package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

func TestSSEEvents(t *testing.T) {
	body := ":\r\n\r\ndata: {\"type\":6}\x1e\r\n\r\ndata: a\r\ndata:b\r\n\r\n: comment\r\nevent: x\r\ndata: " +
		strings.Repeat("y", 10000) + "\r\n\r\n"
	tr := &sseTransport{br: bufio.NewReaderSize(strings.NewReader(body), 4096), body: io.NopCloser(nil), cancel: func() {}}
	tr.connCtx = context.Background()
	want := []string{"{\"type\":6}\x1e", "a\nb", strings.Repeat("y", 10000)}
	for _, w := range want {
		got, err := tr.recv(context.Background())
		if err != nil || string(got) != w {
			t.Fatalf("got %.40q, %v; want %.40q", got, err, w)
		}
	}
	if _, err := tr.recv(context.Background()); err != io.EOF {
		t.Fatalf("end of stream: %v", err)
	}
}

func FuzzSSEEvents(f *testing.F) {
	f.Add([]byte(":\r\n\r\ndata: {\"type\":6}\x1e\r\n\r\n"))
	f.Add([]byte("data: a\ndata: b\n\ndata:\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := &sseTransport{br: bufio.NewReaderSize(bytes.NewReader(b), 16), body: io.NopCloser(nil), cancel: func() {}}
		tr.connCtx = context.Background()
		for i := 0; i <= len(b); i++ {
			ev, err := tr.recv(context.Background())
			if err != nil {
				return
			}
			if len(ev) > len(b) {
				t.Fatalf("event of %d bytes from %d input bytes", len(ev), len(b))
			}
		}
		t.Fatal("more events than input bytes")
	})
}

func FuzzBaselineInvocationID(f *testing.F) {
	f.Add([]byte(`{"type":1,"invocationId":"12","target":"Echo","arguments":["ready"]}` + "\x1e"))
	f.Add([]byte(`{"type":1,"target":"Broadcast","arguments":["x"]}` + "\x1e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ok := invocationID(b)
		if !ok {
			return
		}
		if id == "" || len(id) > 64 || strings.ContainsAny(id, "\"\\") {
			t.Fatalf("bad id %q from %q", id, b)
		}
	})
}
