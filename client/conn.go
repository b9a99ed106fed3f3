package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// State is the state of a HubConnection.
type State int

// Connection states, as in the JS client.
const (
	Disconnected State = iota
	Connecting
	Connected
	Reconnecting
	Disconnecting
)

func (s State) String() string {
	switch s {
	case Disconnected:
		return "Disconnected"
	case Connecting:
		return "Connecting"
	case Connected:
		return "Connected"
	case Reconnecting:
		return "Reconnecting"
	case Disconnecting:
		return "Disconnecting"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// HubConnection is a connection to one SignalR hub. It is safe for concurrent
// use. Create it with New, register handlers with On, then Start it.
type HubConnection struct {
	url   string
	opts  Options
	proto protocol.HubProtocol
	http  *http.Client
	log   zerolog.Logger

	nextID atomic.Uint64 // invocation and upload-stream ids, from "0" like JS

	hmu      sync.RWMutex
	handlers map[string][]*handler // by lower-case target

	mu          sync.Mutex
	state       State
	sess        *session
	stopping    bool
	startCancel context.CancelFunc
	startDone   chan struct{} // closed when Start returns
	retryCancel context.CancelFunc
	runDone     chan struct{} // closed when the connection has ended for good
}

// New returns a HubConnection for the hub at rawURL (http or https). It does
// not connect; call Start.
func New(rawURL string, opts Options) (*HubConnection, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("client: invalid URL %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: URL %q must be absolute http or https", rawURL)
	}
	o := opts.withDefaults()
	if o.SkipNegotiation && o.Transports != transports.WebSockets {
		return nil, errors.New("Negotiation can only be skipped when using the WebSocket transport directly.")
	}
	if o.Protocol == nil {
		o.Protocol = protocol.JSON
	}
	c := &HubConnection{
		url:      rawURL,
		opts:     o,
		proto:    o.Protocol,
		http:     o.HTTPClient,
		log:      o.Logger,
		handlers: make(map[string][]*handler),
	}
	if c.http == nil {
		c.http = newHTTPClient()
	}
	return c, nil
}

// State returns the current state.
func (c *HubConnection) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ConnectionID returns the server's id for the current connection; it is
// empty while not connected and with SkipNegotiation.
func (c *HubConnection) ConnectionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil || c.state != Connected {
		return ""
	}
	return c.sess.connectionID
}

// Start connects: negotiate, transport, handshake. It returns once the
// connection is usable or failed; a failed Start does not reconnect.
func (c *HubConnection) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.state != Disconnected {
		c.mu.Unlock()
		return errors.New("Cannot start a HubConnection that is not in the 'Disconnected' state.")
	}
	c.state = Connecting
	c.stopping = false
	sctx, cancel := context.WithCancel(ctx)
	c.startCancel = cancel
	c.startDone = make(chan struct{})
	c.mu.Unlock()

	s, err := c.connect(sctx)
	cancel()

	c.mu.Lock()
	c.startCancel = nil
	if err == nil && c.stopping {
		// Stop came while connecting. Tear down without holding the lock:
		// handlers may already be running and call back into c.
		c.mu.Unlock()
		s.end(nil)
		s.wait()
		c.mu.Lock()
		err = errors.New("The connection was stopped during negotiation.")
	}
	defer func() {
		close(c.startDone)
		c.mu.Unlock()
	}()
	if err != nil {
		c.state = Disconnected
		c.stopping = false
		return err
	}
	c.sess = s
	c.state = Connected
	c.runDone = make(chan struct{})
	go c.run(s)
	c.log.Debug().Str("connectionId", s.connectionID).Str("transport", s.t.kind().String()).Msg("connected")
	return nil
}

// Stop sends Close, closes the transport and waits until the connection has
// ended (or ctx ends). Pending invocations fail with ErrConnectionClosed.
func (c *HubConnection) Stop(ctx context.Context) error {
	c.mu.Lock()
	switch c.state {
	case Disconnected:
		c.mu.Unlock()
		return nil
	case Connecting:
		c.stopping = true
		if c.startCancel != nil { // nil while Start tears down after an earlier Stop
			c.startCancel()
		}
		done := c.startDone
		c.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	first := !c.stopping
	c.stopping = true
	c.state = Disconnecting
	s, retryCancel, done := c.sess, c.retryCancel, c.runDone
	c.mu.Unlock()
	if first {
		if retryCancel != nil {
			retryCancel()
		}
		if s != nil {
			s.gracefulStop(ctx)
		}
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run supervises the connection: it waits for each session to end, then
// reconnects or finishes.
func (c *HubConnection) run(s *session) {
	defer close(c.runDone)
	for {
		err := s.wait()
		s.pmu.Lock()
		closeMsg := s.closeMsg
		s.pmu.Unlock()

		c.mu.Lock()
		c.sess = nil
		if c.stopping || c.opts.Reconnect == nil || (closeMsg != nil && !closeMsg.AllowReconnect) {
			c.finish(err)
			return
		}
		// Like JS: the policy is asked before "reconnecting" is announced; a
		// policy that refuses the first attempt just closes the connection.
		retryErr := err
		if retryErr == nil {
			retryErr = errors.New("Attempting to reconnect due to a unknown error.")
		}
		c.mu.Unlock()
		began := time.Now()
		delay, ok := c.opts.Reconnect.NextRetryDelay(RetryContext{RetryReason: retryErr})
		c.mu.Lock()
		if !ok || c.stopping {
			c.finish(err)
			return
		}
		c.state = Reconnecting
		rctx, cancel := context.WithCancel(context.Background())
		c.retryCancel = cancel
		c.mu.Unlock()

		c.log.Debug().Err(retryErr).Msg("connection lost, reconnecting")
		if f := c.opts.OnReconnecting; f != nil {
			f(err)
		}
		next, rerr := c.reconnect(rctx, retryErr, began, delay)
		cancel()
		c.mu.Lock()
		c.retryCancel = nil
		if next == nil || c.stopping {
			if next != nil {
				c.mu.Unlock()
				next.end(nil)
				next.wait()
				c.mu.Lock()
				rerr = nil
			}
			if c.stopping {
				rerr = nil
			}
			c.finish(rerr)
			return
		}
		c.sess = next
		c.state = Connected
		c.mu.Unlock()
		c.log.Debug().Str("connectionId", next.connectionID).Msg("reconnected")
		if f := c.opts.OnReconnected; f != nil {
			f(next.connectionID)
		}
		s = next
	}
}

// finish ends the connection for good; c.mu is held and is released.
func (c *HubConnection) finish(err error) {
	if c.stopping {
		err = nil
	}
	c.state = Disconnected
	c.stopping = false
	c.mu.Unlock()
	c.log.Debug().Err(err).Msg("connection closed")
	if f := c.opts.OnClose; f != nil {
		f(err)
	}
}

// reconnect tries new connections as the policy allows, the first after
// delay. It returns nil and the last error when the policy gives up or ctx ends.
func (c *HubConnection) reconnect(ctx context.Context, reason error, began time.Time, delay time.Duration) (*session, error) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			var ok bool
			delay, ok = c.opts.Reconnect.NextRetryDelay(RetryContext{
				PreviousRetryCount: attempt,
				Elapsed:            time.Since(began),
				RetryReason:        reason,
			})
			if !ok {
				return nil, reason
			}
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, reason
			}
		}
		if ctx.Err() != nil {
			return nil, reason
		}
		s, err := c.connect(ctx)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, reason
		}
		c.log.Debug().Err(err).Int("attempt", attempt+1).Msg("reconnect attempt failed")
		reason = err
	}
}

// connect negotiates (following redirects), opens the first transport that
// works in the server's order (negotiating again before each new try) and
// performs the handshake.
func (c *HubConnection) connect(ctx context.Context) (*session, error) {
	h := &httpDoer{client: c.http, headers: c.opts.Headers, tokenProvider: c.opts.AccessTokenProvider}
	binary := c.proto.TransferFormat() == protocol.TransferFormatBinary
	if c.opts.SkipNegotiation {
		t := newTransport(transports.WebSockets, h, c.opts.MaximumReceiveMessageSize)
		if err := t.connect(ctx, c.url, binary); err != nil {
			return nil, err
		}
		return c.startSession(ctx, t, "", false)
	}
	base := c.url
	neg, base, err := c.negotiateFollow(ctx, h, base)
	if err != nil {
		return nil, err
	}
	var failures []string
	for _, at := range neg.AvailableTransports {
		tt := parseTransportName(at.Transport)
		switch {
		case tt == 0:
			continue // unknown to this client
		case !c.opts.Transports.Has(tt):
			failures = append(failures, fmt.Sprintf("%s failed: '%s' is disabled by the client.", tt, tt))
			continue
		case !hasFormat(at.TransferFormats, binary):
			failures = append(failures, fmt.Sprintf("%s failed: '%s' does not support %s.", tt, tt, c.proto.TransferFormat()))
			continue
		}
		if neg == nil || neg.ConnectionToken == "" {
			if neg, base, err = c.negotiateFollow(ctx, h, base); err != nil {
				return nil, err
			}
		}
		cu, err := connectURL(base, neg.ConnectionToken)
		if err != nil {
			return nil, err
		}
		t := newTransport(tt, h, c.opts.MaximumReceiveMessageSize)
		if err := t.connect(ctx, cu, binary); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.log.Debug().Err(err).Str("transport", tt.String()).Msg("transport failed, trying the next")
			failures = append(failures, fmt.Sprintf("%s failed: %v", tt, err))
			neg = &negotiateResponse{} // the server's connection is spoiled: negotiate again
			continue
		}
		stateful := c.opts.StatefulReconnect && neg.UseStatefulReconnect && tt == transports.WebSockets
		return c.startSession(ctx, t, neg.ConnectionID, stateful)
	}
	if len(failures) == 0 {
		return nil, errors.New("None of the transports supported by the client are supported by the server.")
	}
	return nil, fmt.Errorf("Unable to connect to the server with any of the available transports. %s", strings.Join(failures, " "))
}

func hasFormat(formats []string, binary bool) bool {
	want := "Text"
	if binary {
		want = "Binary"
	}
	for _, f := range formats {
		if f == want {
			return true
		}
	}
	return false
}

// negotiateFollow negotiates at base and follows redirects; it returns the
// final response and the URL that gave it.
func (c *HubConnection) negotiateFollow(ctx context.Context, h *httpDoer, base string) (*negotiateResponse, string, error) {
	for redirects := 0; redirects < maxNegotiateRedirects; redirects++ {
		r, err := doNegotiate(ctx, h, base, c.opts.StatefulReconnect)
		if err != nil {
			return nil, "", err
		}
		if r.URL == "" {
			return r, base, nil
		}
		base = r.URL
		if r.AccessToken != "" {
			h.setToken(r.AccessToken)
		}
	}
	return nil, "", ErrNegotiateRedirects
}

func (c *HubConnection) startSession(ctx context.Context, t transport, connectionID string, stateful bool) (*session, error) {
	s := newSession(c, t, connectionID, stateful)
	if err := s.start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// active returns the session of a Connected connection.
func (c *HubConnection) active() (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != Connected || c.sess == nil {
		return nil, ErrNotConnected
	}
	return c.sess, nil
}

func (c *HubConnection) newID() string {
	return strconv.FormatUint(c.nextID.Add(1)-1, 10)
}
