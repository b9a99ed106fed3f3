package transports

import (
	"time"

	"github.com/rs/zerolog"
)

// Options configures a Dispatcher. The zero value gives ASP.NET Core's
// defaults (noted per field).
type Options struct {
	// Transports is the set of enabled transports. Zero means AllTransports.
	Transports TransportType
	// Logger receives diagnostics. The zero value logs nothing.
	Logger zerolog.Logger

	// DisconnectTimeout is how long a connection may stay inactive: negotiated
	// but never started, or Long Polling between polls. Default 15 s.
	DisconnectTimeout time.Duration
	// PollTimeout is how long a Long Polling request waits for data before it
	// answers an empty 200. Default 90 s.
	PollTimeout time.Duration
	// MaxPendingConnections caps negotiated connections that no transport
	// request has started yet; negotiate answers 503 beyond it. Default
	// 10000; negative means no limit.
	MaxPendingConnections int
	// MaxRequestBodySize caps one POST body (Server-Sent Events and Long
	// Polling sends); larger bodies get 413. Default 1 MiB.
	MaxRequestBodySize int64
	// MaxWebSocketMessageSize caps one incoming WebSocket message; a larger
	// one closes the socket with 1009. Default: MaxRequestBodySize.
	MaxWebSocketMessageSize int64
	// InputBufferSize is how many bytes received from a client (POST
	// bodies, WebSocket messages) may wait for the handler before the
	// transport stops taking more: a POST is answered once its body is
	// buffered, and waits only while this much is unread. Default 64 KiB,
	// ASP.NET Core's TransportMaxBufferSize.
	InputBufferSize int
	// LongPollingBufferSize is how many unpolled bytes a Long Polling
	// connection holds before Send blocks (back-pressure). Default 64 KiB,
	// ASP.NET Core's pipe pause threshold.
	LongPollingBufferSize int

	// OriginPatterns authorizes cross-origin WebSocket requests; the request
	// host is always allowed. coder/websocket semantics: path.Match patterns
	// on the origin host, or on "scheme://host" when they contain "://".
	OriginPatterns []string
	// InsecureSkipVerify disables the WebSocket origin check altogether.
	InsecureSkipVerify bool
	// WebSocketCloseTimeout bounds the close handshake after the server
	// closes; the socket is dropped when it expires. Default 5 s.
	WebSocketCloseTimeout time.Duration
	// TransportSendTimeout bounds one write to a client (a WebSocket message,
	// an SSE event, a poll response); a stuck write ends the connection.
	// Default 10 s.
	TransportSendTimeout time.Duration

	// AllowStatefulReconnects lets negotiate answer useStatefulReconnect:true
	// to clients that ask for it. Default false.
	AllowStatefulReconnects bool
	// MinNegotiateVersion rejects older negotiate versions. Default 0.
	MinNegotiateVersion int
}

// Defaults.
const (
	DefaultDisconnectTimeout     = 15 * time.Second
	DefaultPollTimeout           = 90 * time.Second
	DefaultMaxPendingConnections = 10000
	DefaultMaxRequestBodySize    = 1 << 20
	DefaultInputBufferSize       = 64 << 10
	DefaultLongPollingBufferSize = 64 << 10
	DefaultWebSocketCloseTimeout = 5 * time.Second
	DefaultTransportSendTimeout  = 10 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Transports == 0 {
		o.Transports = AllTransports
	}
	if o.DisconnectTimeout <= 0 {
		o.DisconnectTimeout = DefaultDisconnectTimeout
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = DefaultPollTimeout
	}
	if o.MaxPendingConnections == 0 {
		o.MaxPendingConnections = DefaultMaxPendingConnections
	}
	if o.MaxRequestBodySize <= 0 {
		o.MaxRequestBodySize = DefaultMaxRequestBodySize
	}
	if o.MaxWebSocketMessageSize <= 0 {
		o.MaxWebSocketMessageSize = o.MaxRequestBodySize
	}
	if o.InputBufferSize <= 0 {
		o.InputBufferSize = DefaultInputBufferSize
	}
	if o.LongPollingBufferSize <= 0 {
		o.LongPollingBufferSize = DefaultLongPollingBufferSize
	}
	if o.WebSocketCloseTimeout <= 0 {
		o.WebSocketCloseTimeout = DefaultWebSocketCloseTimeout
	}
	if o.TransportSendTimeout <= 0 {
		o.TransportSendTimeout = DefaultTransportSendTimeout
	}
	return o
}
