package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// session is one transport connection after negotiate: its reader, writer and
// handler-dispatch goroutines, and the invocations waiting on it. Automatic
// reconnect replaces the session; stateful reconnect keeps it and swaps the
// WebSocket underneath.
type session struct {
	c            *HubConnection
	t            transport
	proto        protocol.HubProtocol
	log          zerolog.Logger
	connectionID string
	stateful     bool
	keepAlive    bool // false on Long Polling (inherent keep-alive)

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // reader, writer, dispatcher
	uploads sync.WaitGroup // upload-stream pumps, registered under pmu

	out           chan *outMsg
	handshakeDone chan error
	dispatch      *queue[*protocol.Invocation]
	serverTimer   *time.Timer

	endOnce  sync.Once
	endErr   error
	stopping atomic.Bool // a graceful Stop is under way: drops are not resumed

	pmu      sync.Mutex
	pending  map[string]*call
	ended    bool
	closeMsg *protocol.Close

	// Stateful reconnect state.
	buf       *messageBuffer
	received  atomic.Int64  // highest trackable message number processed
	ackReq    chan struct{} // reader -> writer: something to acknowledge
	resumeReq chan struct{} // reader -> writer: reconnect the WebSocket
	resumed   chan error    // writer -> reader: the outcome
}

// outMsg is one encoded message for the writer goroutine.
type outMsg struct {
	data      []byte
	trackable bool
	done      chan error // optional; receives the write outcome
}

// call is an invocation or stream waiting for its answer.
type call struct {
	result chan callResult     // invoke: one Completion
	items  *queue[streamEvent] // stream: items, then the end
	target string
}

type callResult struct {
	value protocol.RawValue
	err   error
}

type streamEvent struct {
	item protocol.RawValue
	end  bool
	err  error
}

func newSession(c *HubConnection, t transport, connectionID string, stateful bool) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		c:             c,
		t:             t,
		proto:         c.proto,
		log:           c.log,
		connectionID:  connectionID,
		stateful:      stateful,
		keepAlive:     t.kind() != transports.LongPolling,
		ctx:           ctx,
		cancel:        cancel,
		out:           make(chan *outMsg, outboundQueueSize),
		handshakeDone: make(chan error, 1),
		dispatch:      newQueue[*protocol.Invocation](),
		pending:       make(map[string]*call),
		ackReq:        make(chan struct{}, 1),
		resumeReq:     make(chan struct{}, 1),
		resumed:       make(chan error, 1),
	}
	if stateful {
		s.buf = newMessageBuffer(c.opts.StatefulReconnectBufferSize)
	}
	return s
}

// start runs the goroutines and performs the handshake.
func (s *session) start(ctx context.Context) error {
	if s.keepAlive {
		s.serverTimer = time.AfterFunc(s.c.opts.ServerTimeout, func() { s.end(ErrServerTimeout) })
	}
	s.wg.Add(3)
	go s.readLoop()
	go s.writeLoop()
	go s.dispatchLoop()

	version := 1
	if s.stateful {
		version = 2
	}
	hs := appendHandshakeRequest(nil, s.proto.Name(), version)
	if err := s.enqueue(ctx, &outMsg{data: hs}); err != nil {
		return s.failStart(err)
	}
	timer := time.NewTimer(s.c.opts.HandshakeTimeout)
	defer timer.Stop()
	select {
	case err := <-s.handshakeDone:
		if err != nil {
			return s.failStart(err)
		}
	case <-timer.C:
		return s.failStart(fmt.Errorf("handshake: no response from the server within %v", s.c.opts.HandshakeTimeout))
	case <-ctx.Done():
		return s.failStart(ctx.Err())
	case <-s.ctx.Done():
		return s.failStart(s.endErr)
	}
	if s.keepAlive {
		// Like JS 7+: a first Ping arms the server's client timeout at once.
		ping, _ := s.proto.AppendMessage(nil, &protocol.Ping{})
		_ = s.enqueue(ctx, &outMsg{data: ping})
	}
	return nil
}

func (s *session) failStart(err error) error {
	if err == nil {
		err = errors.New("the connection ended during the handshake")
	}
	s.end(err)
	s.wait()
	return err
}

// end stops the session with reason err (the first reason wins).
func (s *session) end(err error) {
	s.endOnce.Do(func() {
		s.endErr = err
		s.cancel()
		s.t.abort()
		if s.serverTimer != nil {
			s.serverTimer.Stop()
		}
	})
}

// wait waits for the session's goroutines, fails what is still pending and
// returns the reason the session ended.
func (s *session) wait() error {
	s.wg.Wait()
	s.pmu.Lock()
	s.ended = true
	pending := s.pending
	s.pending = map[string]*call{}
	s.pmu.Unlock()
	s.uploads.Wait()
	for _, cl := range pending {
		cl.fail(closedError(s.endErr))
	}
	return s.endErr
}

func (cl *call) fail(err error) {
	if cl.result != nil {
		select {
		case cl.result <- callResult{err: err}:
		default:
		}
		return
	}
	cl.items.push(streamEvent{end: true, err: err})
	cl.items.close()
}

func (s *session) register(id string, cl *call) error {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.ended || s.ctx.Err() != nil {
		return ErrConnectionClosed
	}
	s.pending[id] = cl
	return nil
}

func (s *session) unregister(id string) {
	s.pmu.Lock()
	delete(s.pending, id)
	s.pmu.Unlock()
}

func (s *session) take(id string, remove bool) *call {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	cl := s.pending[id]
	if remove {
		delete(s.pending, id)
	}
	return cl
}

// enqueue hands m to the writer; it blocks while the queue is full.
func (s *session) enqueue(ctx context.Context, m *outMsg) error {
	select {
	case s.out <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrConnectionClosed
	}
}

// sendMessage encodes msg, queues it and waits until it is written.
func (s *session) sendMessage(ctx context.Context, msg protocol.HubMessage) error {
	data, err := s.proto.AppendMessage(nil, msg)
	if err != nil {
		return fmt.Errorf("encode %T: %w", msg, err)
	}
	m := &outMsg{data: data, trackable: s.stateful && protocol.IsTrackable(msg), done: make(chan error, 1)}
	if err := s.enqueue(ctx, m); err != nil {
		return err
	}
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return ErrConnectionClosed
	}
}

// ---- writer ----

func (s *session) writeLoop() {
	defer s.wg.Done()
	var kaTimer *time.Timer
	var kaC <-chan time.Time
	if s.keepAlive {
		kaTimer = time.NewTimer(s.c.opts.KeepAliveInterval)
		defer kaTimer.Stop()
		kaC = kaTimer.C
	}
	var ackTimer *time.Timer
	var ackC <-chan time.Time
	defer func() {
		if ackTimer != nil {
			ackTimer.Stop()
		}
	}()
	var freed chan struct{}
	if s.buf != nil {
		freed = s.buf.freed
	}
	broken := false // stateful: the socket failed, buffer until resumed
	var batch []byte
	var dones []chan error

	write := func(p []byte) error {
		if broken {
			return errBroken
		}
		if err := s.t.send(s.ctx, p); err != nil {
			if s.canResume() {
				broken = true
				return errBroken
			}
			s.end(err)
			return err
		}
		if kaTimer != nil {
			kaTimer.Reset(s.c.opts.KeepAliveInterval)
		}
		return nil
	}

	for {
		in := s.out
		if s.buf != nil && s.buf.full() {
			in = nil // back-pressure until an Ack frees space
		}
		select {
		case <-s.ctx.Done():
			return
		case m := <-in:
			batch, dones = batch[:0], dones[:0]
			for {
				if m.trackable {
					s.buf.add(m.data)
				}
				batch = append(batch, m.data...)
				if m.done != nil {
					dones = append(dones, m.done)
				}
				if len(batch) >= maxBatchBytes || (s.buf != nil && s.buf.full()) {
					break
				}
				select {
				case m = <-s.out:
					continue
				default:
				}
				break
			}
			err := write(batch)
			if errors.Is(err, errBroken) {
				err = nil // buffered: the resume replays it
			}
			for _, d := range dones {
				d <- err
			}
			if err != nil {
				return
			}
		case <-kaC:
			ping, _ := s.proto.AppendMessage(nil, &protocol.Ping{})
			if err := write(ping); err != nil && !errors.Is(err, errBroken) {
				return
			}
			if broken {
				kaTimer.Reset(s.c.opts.KeepAliveInterval)
			}
		case <-s.ackReq:
			if ackC == nil {
				ackTimer = time.NewTimer(s.c.opts.ackInterval)
				ackC = ackTimer.C
			}
		case <-ackC:
			ackC = nil
			ack, _ := s.proto.AppendMessage(nil, &protocol.Ack{SequenceID: s.received.Load()})
			if err := write(ack); err != nil && !errors.Is(err, errBroken) {
				return
			}
		case <-freed:
		case <-s.resumeReq:
			err := s.resume()
			if err == nil {
				broken = false
				if kaTimer != nil {
					kaTimer.Reset(s.c.opts.KeepAliveInterval)
				}
			}
			s.resumed <- err
			if err != nil {
				return
			}
		}
	}
}

var errBroken = errors.New("transport broken; message buffered for replay")

// resume reconnects the WebSocket to the same URL and replays what the server
// has not acknowledged, after a Sequence message.
func (s *session) resume() error {
	ws, ok := s.t.(*wsTransport)
	if !ok {
		return errors.New("stateful reconnect needs WebSockets")
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.c.opts.HandshakeTimeout)
	defer cancel()
	if err := ws.redial(ctx); err != nil {
		return fmt.Errorf("stateful reconnect: %w", err)
	}
	seq, msgs := s.buf.replay()
	data, _ := s.proto.AppendMessage(nil, &protocol.Sequence{SequenceID: seq})
	for _, m := range msgs {
		data = append(data, m...)
	}
	if err := ws.send(ctx, data); err != nil {
		return fmt.Errorf("stateful reconnect: %w", err)
	}
	s.log.Debug().Int64("sequence", seq).Int("replayed", len(msgs)).Msg("stateful reconnect: resumed")
	return nil
}

// canResume reports whether a transport failure should be resumed in place.
func (s *session) canResume() bool {
	return s.stateful && !s.stopping.Load() && s.ctx.Err() == nil
}

// ---- reader ----

func (s *session) readLoop() {
	defer s.wg.Done()
	defer s.dispatch.close()
	handshaken := false
	waitSequence := false // after a resume: drop everything until the server's Sequence
	var nextSeq int64 = 1 // number of the next trackable message received
	var buf []byte
	maxSize := s.c.opts.MaximumReceiveMessageSize
	for {
		chunk, err := s.t.receive(s.ctx)
		if err != nil {
			if !handshaken {
				if errors.Is(err, io.EOF) {
					err = errors.New("the server closed the connection during the handshake")
				}
				s.handshakeDone <- err
				s.end(err)
				return
			}
			if s.canResume() && isUncleanClose(err) {
				s.log.Debug().Err(err).Msg("stateful reconnect: connection lost, resuming")
				s.resumeReq <- struct{}{}
				select {
				case rerr := <-s.resumed:
					if rerr == nil {
						buf, waitSequence = buf[:0], true
						continue
					}
					s.log.Debug().Err(rerr).Msg("stateful reconnect failed")
				case <-s.ctx.Done():
				}
			}
			if err == io.EOF || s.ctx.Err() != nil { // bare io.EOF: the transport ended cleanly; a wrapped one is a failure
				err = nil
			}
			s.end(err)
			return
		}
		if s.serverTimer != nil {
			s.serverTimer.Reset(s.c.opts.ServerTimeout)
		}
		buf = append(buf, chunk...)
		if !handshaken {
			n, herr := parseHandshakeResponse(buf)
			if herr == nil && n == 0 {
				if len(buf) > maxSize {
					herr = errors.New("handshake response exceeds the maximum message size")
				} else {
					continue
				}
			}
			s.handshakeDone <- herr
			if herr != nil {
				s.end(herr)
				return
			}
			handshaken = true
			buf = buf[:copy(buf, buf[n:])]
		}
		for len(buf) > 0 {
			msg, n, perr := s.proto.ParseMessage(buf, maxSize)
			if perr != nil {
				s.end(fmt.Errorf("receive: %w", perr))
				return
			}
			if n == 0 {
				break
			}
			buf = buf[n:]
			if msg == nil {
				continue // unknown message type: ignored for forward compatibility
			}
			if waitSequence {
				sq, ok := msg.(*protocol.Sequence)
				if !ok {
					continue
				}
				waitSequence = false
				if sq.SequenceID > nextSeq { // as JS: past the next number we expect
					s.end(ErrSequenceTooLarge)
					return
				}
				nextSeq = sq.SequenceID
				continue
			}
			if s.stateful && protocol.IsTrackable(msg) {
				seq := nextSeq
				nextSeq++
				if seq <= s.received.Load() {
					continue // a duplicate replayed by the server
				}
				s.received.Store(seq)
				select {
				case s.ackReq <- struct{}{}:
				default:
				}
			}
			if !s.handle(msg) {
				return
			}
		}
		if len(buf) == 0 {
			buf = buf[:0:0] // release a large buffer between messages
		} else {
			buf = append([]byte(nil), buf...)
		}
	}
}

// isUncleanClose reports a WebSocket that failed rather than closed normally
// (no close frame, or a code other than 1000): the case stateful reconnect
// resumes. A Close message or a Stop never gets here as a resumable error.
func isUncleanClose(err error) bool {
	var ce *wsClosedError
	return errors.As(err, &ce)
}

// handle processes one received message; false ends the read loop.
func (s *session) handle(msg protocol.HubMessage) bool {
	switch m := msg.(type) {
	case *protocol.Invocation:
		s.dispatch.push(m)
	case *protocol.StreamItem:
		cl := s.take(m.InvocationID, false)
		switch {
		case cl == nil:
			s.log.Debug().Str("invocationId", m.InvocationID).Msg("stream item for unknown invocation ignored")
		case cl.items != nil:
			raw, _ := m.Item.(protocol.RawValue)
			cl.items.push(streamEvent{item: raw})
		default:
			s.take(m.InvocationID, true)
			cl.result <- callResult{err: errors.New("Unexpected message type: 2")}
		}
	case *protocol.Completion:
		cl := s.take(m.InvocationID, true)
		if cl == nil {
			s.log.Debug().Str("invocationId", m.InvocationID).Msg("completion for unknown invocation ignored")
			return true
		}
		var err error
		if m.Error != "" {
			err = &HubError{Message: m.Error}
		}
		if cl.items != nil {
			cl.items.push(streamEvent{end: true, err: err})
			cl.items.close()
			return true
		}
		var raw protocol.RawValue
		if m.HasResult {
			raw, _ = m.Result.(protocol.RawValue)
		}
		cl.result <- callResult{value: raw, err: err}
	case *protocol.Ping:
	case *protocol.Close:
		s.pmu.Lock()
		s.closeMsg = m
		s.pmu.Unlock()
		var err error
		if m.Error != "" {
			err = &CloseError{Message: m.Error, AllowReconnect: m.AllowReconnect}
		}
		s.end(err)
		return false
	case *protocol.Ack:
		if s.buf != nil {
			s.buf.ack(m.SequenceID)
		}
	case *protocol.Sequence:
		// Only meaningful right after a resume (handled by the read loop).
	default:
		s.log.Debug().Int("type", int(msg.MessageType())).Msg("unexpected message ignored")
	}
	return true
}

// ---- handler dispatch ----

// dispatchLoop runs handlers for server invocations, one at a time, in order.
func (s *session) dispatchLoop() {
	defer s.wg.Done()
	for {
		inv, ok := s.dispatch.pop(context.Background())
		if !ok {
			return
		}
		s.c.invokeHandlers(s, inv)
	}
}

// gracefulStop sends Close, then stops the transport.
func (s *session) gracefulStop(ctx context.Context) {
	s.stopping.Store(true)
	closeMsg, _ := s.proto.AppendMessage(nil, &protocol.Close{})
	m := &outMsg{data: closeMsg, done: make(chan error, 1)}
	if s.enqueue(ctx, m) == nil {
		select {
		case <-m.done:
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
	}
	if s.ctx.Err() == nil {
		if err := s.t.stop(ctx); err != nil {
			s.log.Debug().Err(err).Msg("transport stop")
		}
	}
	s.end(nil)
}
