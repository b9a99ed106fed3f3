package transports

import (
	"bytes"
	"fmt"
	"net/http"
	"time"
)

// serveSSE serves GET ?id=<token> with Accept: text/event-stream: the
// server-to-client half of a Server-Sent Events connection (the client sends
// with POST). The request lives as long as the connection.
func (d *Dispatcher) serveSSE(w http.ResponseWriter, r *http.Request) {
	c := d.getConnection(w, r)
	if c == nil || !d.claim(w, c, ServerSentEvents) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache,no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Encoding", "identity")
	h.Set("Long-Running", "true")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// EventSource fires onopen only once bytes arrive, and clients send the
	// handshake only after onopen: write a comment line at once.
	_ = rc.SetWriteDeadline(time.Now().Add(d.opts.TransportSendTimeout))
	if _, err := w.Write([]byte(":\r\n")); err != nil {
		c.dispose()
		return
	}
	if err := rc.Flush(); err != nil {
		c.dispose()
		return
	}

	c.sseMu.Lock()
	c.sseW, c.sseRC = w, rc
	c.sseMu.Unlock()
	c.mu.Lock()
	c.req = r
	c.activateLocked()
	c.mu.Unlock()
	if !d.startHandler(c) {
		c.dispose()
		return
	}

	select {
	case <-r.Context().Done():
		c.end(true)
	case <-c.done:
	}
	// After this no Send touches the ResponseWriter.
	c.sseMu.Lock()
	c.sseClosed = true
	c.sseMu.Unlock()
	// The write deadline of the last event may have passed long ago; the
	// server still writes the end of the response (the last chunk) after
	// we return, and it must neither fail (a truncated stream) nor block
	// for ever.
	_ = rc.SetWriteDeadline(time.Now().Add(d.opts.TransportSendTimeout))
	c.dispose()
}

func (c *connection) sendSSE(p []byte) error {
	c.sseMu.Lock()
	defer c.sseMu.Unlock()
	if c.sseClosed || c.sseW == nil {
		return ErrConnectionClosed
	}
	c.sseBuf = appendSSEEvent(c.sseBuf[:0], p)
	_ = c.sseRC.SetWriteDeadline(time.Now().Add(c.d.opts.TransportSendTimeout))
	_, err := c.sseW.Write(c.sseBuf)
	if err == nil {
		err = c.sseRC.Flush()
	}
	if err != nil {
		err = fmt.Errorf("transports: server-sent events send: %w", err)
		c.fail(err)
		return err
	}
	return nil
}

// appendSSEEvent formats p as one event the way ASP.NET Core does: without
// a line feed, "data: <p>\r\n" (nothing for an empty p) and "\r\n";
// otherwise one "data: <line>\r\n" per "\n"-separated line, a "\r" ending a
// line of two or more bytes trimmed (the last line is never trimmed), and a
// final "\r\n".
func appendSSEEvent(dst, p []byte) []byte {
	if bytes.IndexByte(p, '\n') < 0 {
		if len(p) > 0 {
			dst = append(dst, "data: "...)
			dst = append(dst, p...)
			dst = append(dst, '\r', '\n')
		}
		return append(dst, '\r', '\n')
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			dst = append(dst, "data: "...)
			dst = append(dst, p...)
			dst = append(dst, '\r', '\n')
			break
		}
		line := p[:i]
		if len(line) > 1 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		dst = append(dst, "data: "...)
		dst = append(dst, line...)
		dst = append(dst, '\r', '\n')
		p = p[i+1:]
	}
	return append(dst, '\r', '\n')
}
