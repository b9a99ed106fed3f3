package transports

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// poll is one outstanding Long Polling request.
type poll struct {
	cancel chan struct{} // closed by the next poll: answer 204
	done   chan struct{} // closed when the poll has answered
}

// serveLongPolling serves GET ?id=<token> without upgrade or event-stream:
// the first poll starts the handler and answers an empty 200 at once; later
// polls wait up to PollTimeout and take every buffered byte. A newer poll
// ends the older one with 204; an ended connection answers 204 once its
// buffer is drained, and is then disposed.
func (d *Dispatcher) serveLongPolling(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "Thu, 01 Jan 1970 00:00:00 GMT")
	c := d.getConnection(w, r)
	if c == nil || !d.claim(w, c, LongPolling) {
		return
	}

	p := &poll{cancel: make(chan struct{}), done: make(chan struct{})}
	defer close(p.done)
	c.mu.Lock()
	prev := c.lpPoll
	c.lpPoll = p
	c.activateLocked()
	c.mu.Unlock()
	defer c.pollEnded(p)
	if prev != nil {
		close(prev.cancel)
		<-prev.done
	}

	c.mu.Lock()
	if c.disposed {
		c.mu.Unlock()
		writeText(w, http.StatusNotFound, "")
		return
	}
	if !c.started {
		// First poll: the connection's request is a copy of this one that
		// outlives it (hub code reads its headers, query and user).
		c.started = true
		req := r.Clone(keepValues(d.ctx, r.Context()))
		req.Body = http.NoBody
		c.req = req
		c.mu.Unlock()
		if !d.startHandler(c) {
			writeText(w, http.StatusServiceUnavailable, msgShuttingDown)
			return
		}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	c.mu.Unlock()

	h.Set("Long-Running", "true")
	timer := time.NewTimer(d.opts.PollTimeout)
	defer timer.Stop()
	for {
		select {
		case <-p.cancel:
			writeText(w, http.StatusNoContent, "")
			return
		default:
		}
		c.mu.Lock()
		data := c.lpBuf
		c.lpBuf = nil
		ended := c.ended
		c.mu.Unlock()
		if len(data) > 0 {
			signal(c.lpSpace)
			c.writePoll(w, data)
			return
		}
		if ended {
			writeText(w, http.StatusNoContent, "")
			c.dispose()
			return
		}
		select {
		case <-c.lpNotify:
		case <-c.done:
		case <-p.cancel:
			writeText(w, http.StatusNoContent, "")
			return
		case <-timer.C:
			writeText(w, http.StatusOK, "")
			return
		case <-r.Context().Done():
			return // the client went away; the connection expires unless it polls again
		}
	}
}

func (c *connection) writePoll(w http.ResponseWriter, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(c.d.opts.TransportSendTimeout))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(data); err != nil {
		// The records are gone; the client cannot continue consistently.
		c.fail(fmt.Errorf("transports: long polling send: %w", err))
	}
}

// pollEnded makes the connection inactive (so it expires without a new
// poll) unless a newer poll took over.
func (c *connection) pollEnded(p *poll) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lpPoll != p || c.disposed {
		return
	}
	c.active = false
	c.inactiveFrom = time.Now()
	c.expiry.Reset(c.d.opts.DisconnectTimeout)
}

func (c *connection) sendLongPolling(ctx context.Context, p []byte) error {
	for {
		c.mu.Lock()
		if c.ended {
			c.mu.Unlock()
			return ErrConnectionClosed
		}
		// Whole sends only: a poll takes the whole buffer, so records are
		// never split. Past the limit, wait for a poll to drain it.
		if len(c.lpBuf) == 0 || len(c.lpBuf)+len(p) <= c.d.opts.LongPollingBufferSize {
			c.lpBuf = append(c.lpBuf, p...)
			c.mu.Unlock()
			signal(c.lpNotify)
			return nil
		}
		c.mu.Unlock()
		select {
		case <-c.lpSpace:
		case <-c.done:
			return ErrConnectionClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// requestValues ends with the dispatcher (the poll that started a Long
// Polling connection is long gone when hub code reads Request()) but keeps the
// request's values, such as the user attached by authentication middleware.
type requestValues struct {
	context.Context
	values context.Context
}

func keepValues(lifetime, values context.Context) context.Context {
	return requestValues{Context: lifetime, values: context.WithoutCancel(values)}
}

func (c requestValues) Value(key any) any {
	if v := c.values.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}
