package client

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// Options configure a HubConnection. The zero value is a JSON connection that
// negotiates, may use every transport, never reconnects automatically and
// logs nothing.
type Options struct {
	// Transports is the set the client may use (default: all). The server's
	// order decides which is tried first.
	Transports transports.TransportType
	// SkipNegotiation connects straight to a WebSocket without negotiate.
	// Transports must then be exactly WebSockets.
	SkipNegotiation bool
	// AccessTokenProvider supplies the bearer token sent as
	// "Authorization: Bearer <token>". It is called for every negotiate and
	// again when a request gets 401; the token is cached in between.
	AccessTokenProvider func(ctx context.Context) (string, error)
	// Headers are added to every HTTP request and the WebSocket upgrade; they
	// override the built-in ones.
	Headers http.Header
	// HTTPClient sends every request (default: a client with its own cookie
	// jar, so cookies set by negotiate reach later requests, as with Node).
	// Leave its Timeout zero: SSE streams and polls are long-lived; requests
	// are bounded by contexts (100s per request, as the JS client).
	HTTPClient *http.Client
	// Protocol is the hub protocol (default JSON).
	Protocol protocol.HubProtocol

	// KeepAliveInterval is the send silence after which a Ping goes out (default 15s).
	KeepAliveInterval time.Duration
	// ServerTimeout ends the connection when nothing arrived for this long
	// (default 30s). Not applied on Long Polling.
	ServerTimeout time.Duration
	// HandshakeTimeout bounds the wait for the handshake response (default 15s).
	HandshakeTimeout time.Duration
	// MaximumReceiveMessageSize limits one received hub message (default 4 MiB;
	// the official clients have no limit). A WebSocket frame, SSE event or
	// poll response may batch messages up to 4 times this size.
	MaximumReceiveMessageSize int

	// Reconnect enables automatic reconnect after a lost connection (nil: off).
	// See DefaultReconnectPolicy and BackoffReconnectPolicy.
	Reconnect ReconnectPolicy
	// StatefulReconnect asks the server to let a dropped WebSocket resume
	// without losing messages.
	StatefulReconnect bool
	// StatefulReconnectBufferSize caps the bytes of sent but unacknowledged
	// messages; sending waits while the buffer is full (default 100000).
	StatefulReconnectBufferSize int

	// OnReconnecting is called when automatic reconnect starts, with the
	// reason (nil when the server ended the connection without one). It is
	// not called when the policy refuses even the first attempt.
	OnReconnecting func(err error)
	// OnReconnected is called with the new connection id after a reconnect.
	OnReconnected func(connectionID string)
	// OnClose is called once the connection has ended for good; err is nil
	// after Stop. It is not called when Start fails.
	OnClose func(err error)
	// The callbacks above run on the connection's own goroutine, in order;
	// they must return promptly and may not wait for Stop to finish.

	// Logger receives diagnostics (default: silent).
	Logger zerolog.Logger

	// ackInterval is how long the receiver waits before acknowledging (1s);
	// tests shorten it.
	ackInterval time.Duration
}

const (
	defaultKeepAlive         = 15 * time.Second
	defaultServerTimeout     = 30 * time.Second
	defaultHandshakeTimeout  = 15 * time.Second
	defaultMaxReceive        = 4 << 20
	defaultStatefulBuffer    = 100000
	defaultAckInterval       = time.Second
	httpRequestTimeout       = 100 * time.Second // JS HttpClient default timeout
	longPollRequestTimeout   = 100 * time.Second // JS fixed poll timeout
	maxNegotiateRedirects    = 100
	outboundQueueSize        = 64
	maxBatchBytes            = 64 << 10
	webSocketCloseTimeoutCap = 5 * time.Second
)

func (o *Options) withDefaults() Options {
	r := *o
	if r.Transports == 0 {
		r.Transports = transports.AllTransports
	}
	if r.KeepAliveInterval <= 0 {
		r.KeepAliveInterval = defaultKeepAlive
	}
	if r.ServerTimeout <= 0 {
		r.ServerTimeout = defaultServerTimeout
	}
	if r.HandshakeTimeout <= 0 {
		r.HandshakeTimeout = defaultHandshakeTimeout
	}
	if r.MaximumReceiveMessageSize <= 0 {
		r.MaximumReceiveMessageSize = defaultMaxReceive
	}
	if r.StatefulReconnectBufferSize <= 0 {
		r.StatefulReconnectBufferSize = defaultStatefulBuffer
	}
	if r.ackInterval <= 0 {
		r.ackInterval = defaultAckInterval
	}
	return r
}

// RetryContext describes the reconnect attempt a ReconnectPolicy is asked about.
type RetryContext struct {
	// PreviousRetryCount is the number of failed attempts so far (0 before the first).
	PreviousRetryCount int
	// Elapsed is the time since reconnecting started.
	Elapsed time.Duration
	// RetryReason is the error that ended the connection or the last attempt.
	RetryReason error
}

// ReconnectPolicy decides the delay before each reconnect attempt.
type ReconnectPolicy interface {
	// NextRetryDelay returns the delay before the next attempt, or false to give up.
	NextRetryDelay(rc RetryContext) (time.Duration, bool)
}

// DelaysReconnectPolicy retries after each delay in turn, then gives up.
type DelaysReconnectPolicy []time.Duration

// NextRetryDelay implements ReconnectPolicy.
func (p DelaysReconnectPolicy) NextRetryDelay(rc RetryContext) (time.Duration, bool) {
	if rc.PreviousRetryCount >= len(p) {
		return 0, false
	}
	return p[rc.PreviousRetryCount], true
}

// DefaultReconnectPolicy returns the JS client's default: attempts after 0, 2,
// 10 and 30 seconds, then give up.
func DefaultReconnectPolicy() ReconnectPolicy {
	return DelaysReconnectPolicy{0, 2 * time.Second, 10 * time.Second, 30 * time.Second}
}

// BackoffReconnectPolicy retries forever: the first attempt at once, then after
// Initial, doubling up to Max, with up to 20% random jitter so many clients do
// not reconnect in lockstep. Zero values mean Initial 1s and Max 30s.
type BackoffReconnectPolicy struct {
	Initial time.Duration
	Max     time.Duration
}

// NextRetryDelay implements ReconnectPolicy.
func (p BackoffReconnectPolicy) NextRetryDelay(rc RetryContext) (time.Duration, bool) {
	if rc.PreviousRetryCount == 0 {
		return 0, true
	}
	initial, maxDelay := p.Initial, p.Max
	if initial <= 0 {
		initial = time.Second
	}
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	d := initial
	for i := 1; i < rc.PreviousRetryCount && d < maxDelay; i++ {
		d *= 2
	}
	if d > maxDelay {
		d = maxDelay
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - jitter, true
}
