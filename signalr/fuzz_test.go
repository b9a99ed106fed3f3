package signalr

import (
	"bytes"
	"runtime/pprof"
	"testing"
	"time"
)

// FuzzServeConn feeds arbitrary client bytes, split into two chunks, to a
// connection: whatever arrives, the runtime must answer or close, never
// panic or hang. The seed corpus lives in testdata/fuzz/FuzzServeConn.
func FuzzServeConn(f *testing.F) {
	hs := `{"protocol":"json","version":1}` + "\x1e"
	for _, s := range []string{
		hs + `{"type":1,"invocationId":"1","target":"Echo","arguments":["x"]}` + "\x1e",
		hs + `{"type":4,"invocationId":"2","target":"Stream","arguments":[2]}` + "\x1e" + `{"type":5,"invocationId":"2"}` + "\x1e",
		hs + `{"type":1,"invocationId":"3","target":"StreamingConcat","arguments":[],"streamIds":["0"]}` + "\x1e" +
			`{"type":2,"invocationId":"0","item":"a"}` + "\x1e" + `{"type":3,"invocationId":"0"}` + "\x1e",
		hs + `{"type":3,"invocationId":"s1","result":1}` + "\x1e" + `{"type":6}` + "\x1e" + `{"type":7}` + "\x1e",
		hs + `{"type":1,"invocationId":"4","target":"Add","arguments":["a",{}]}` + "\x1e",
		`{"protocol":"json","version":9}` + "\x1e",
		`{"protocol":1}` + "\x1e",
		"\x1e\x1e",
	} {
		f.Add([]byte(s), uint8(len(s)/2))
	}
	h := newHandler(f, newTestHub(), Options{
		MaximumReceiveMessageSize: 512,
		CloseTimeout:              50 * time.Millisecond,
		HandshakeTimeout:          50 * time.Millisecond,
		KeepAliveInterval:         -1,
	})
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		conn := newMemConn("fuzz", 1<<12)
		c := &testClient{t: t, conn: conn, served: make(chan struct{})}
		go func() {
			defer close(c.served)
			h.ServeConn(t.Context(), conn)
			conn.Close(nil)
		}()
		cut := int(split)
		if cut > len(data) {
			cut = len(data)
		}
		conn.in <- data[:cut]
		conn.in <- data[cut:]
		// Blocking hub methods (Block) would wait for release: end the
		// client side and let the connection context stop them.
		conn.clientClose()
		select {
		case <-c.served:
		case <-time.After(waitLimit):
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("ServeConn hung on %q\n%s", data, buf.Bytes())
		}
	})
}
