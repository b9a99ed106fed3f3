package signalr

import (
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// Defaults of Options, matching ASP.NET Core's HubOptions.
const (
	DefaultKeepAliveInterval         = 15 * time.Second
	DefaultClientTimeoutInterval     = 30 * time.Second
	DefaultHandshakeTimeout          = 15 * time.Second
	DefaultMaximumReceiveMessageSize = 32768
	DefaultStreamBufferCapacity      = 10
	DefaultMaximumStreams            = 100
	DefaultOutboundQueueSize         = 1024
	DefaultCloseTimeout              = 5 * time.Second
)

// Options configure a Server. The zero value of every field means its
// documented default.
type Options struct {
	// Logger receives the runtime's logs. The zero value is silent.
	Logger zerolog.Logger
	// HubName names the hub (for lifetime managers such as the PostgreSQL
	// backplane). Default: the Go type name of the hub value, e.g. "ChatHub".
	HubName string
	// Protocols are the hub protocols clients may pick at handshake.
	// Default: DefaultProtocols().
	Protocols []protocol.HubProtocol
	// Transports is the set of enabled transports. Default: all of them.
	// When set, it overrides TransportOptions.Transports.
	Transports transports.TransportType
	// TransportOptions configure negotiate and the transports (origin
	// patterns, poll and disconnect timeouts, body limits...). Its Logger is
	// replaced by Logger.
	TransportOptions transports.Options
	// LifetimeManager routes messages. Default: NewDefaultHubLifetimeManager().
	LifetimeManager HubLifetimeManager
	// KeepAliveInterval: a Ping is sent after this much outbound silence.
	// Default 15s; negative disables pings. Not used for Long Polling.
	KeepAliveInterval time.Duration
	// ClientTimeoutInterval: the connection is closed when the client sends
	// nothing for this long. Armed after the client's first Ping, like .NET.
	// Default 30s; negative disables. Not used for Long Polling.
	ClientTimeoutInterval time.Duration
	// HandshakeTimeout bounds the wait for the handshake. Default 15s.
	HandshakeTimeout time.Duration
	// MaximumReceiveMessageSize is the largest accepted incoming record in
	// bytes. Default 32768; negative means unlimited.
	MaximumReceiveMessageSize int64
	// EnableDetailedErrors appends "<Type>: <message>" of server errors to
	// the texts sent to clients (HubError texts are always sent).
	EnableDetailedErrors bool
	// MaximumParallelInvocationsPerClient: how many non-streaming
	// invocations of one client run at once. Default 1.
	MaximumParallelInvocationsPerClient int
	// StreamBufferCapacity is the item buffer of each upload stream. Default 10.
	StreamBufferCapacity int
	// MaximumStreamsPerConnection caps open server and upload streams per
	// connection. Default 100.
	MaximumStreamsPerConnection int
	// OutboundQueueSize is the number of messages that may wait for a
	// connection's writer. A client that lets more pile up is a slow
	// consumer and is disconnected, so a broadcast never waits for it.
	// Default 1024.
	OutboundQueueSize int
	// CloseTimeout bounds the final flush of queued messages and the Close
	// message when a connection ends. Default 5s.
	CloseTimeout time.Duration
	// AllowStatefulReconnects lets clients that ask for it (negotiate
	// useStatefulReconnect=true, handshake version 2, WebSockets) keep their
	// connection across a dropped socket: messages are numbered, buffered
	// until acknowledged and replayed after the reconnect. Default false.
	AllowStatefulReconnects bool
	// StatefulReconnectBufferSize bounds the unacknowledged bytes kept per
	// connection for replay; the writer waits for Acks beyond it.
	// Default 100000.
	StatefulReconnectBufferSize int
	// UserIdentifier maps a connection's HTTP request to the user id used by
	// Clients.User. Default: the ID of the Principal attached to the request
	// context with WithPrincipal, or "" (anonymous).
	UserIdentifier func(r *http.Request) string
	// AuthorizeMethod, when set, runs before every hub method invocation
	// (after its arguments were bound) with the method's Go name; false
	// refuses the call with "Failed to invoke 'X' because user is
	// unauthorized", like [Authorize] on a .NET hub method. A hub may
	// implement MethodAuthorizer instead (both must allow).
	AuthorizeMethod func(ctx *Context, method string) bool
	// Observer is told about connections, messages, invocations and bytes
	// (for metrics; a *metrics.Collector of internal/metrics fits). Nil, the
	// default, reports nothing.
	Observer Observer
}

func (o Options) withDefaults() Options {
	if o.Protocols == nil {
		o.Protocols = DefaultProtocols()
	}
	if o.LifetimeManager == nil {
		o.LifetimeManager = NewDefaultHubLifetimeManager()
	}
	if o.KeepAliveInterval == 0 {
		o.KeepAliveInterval = DefaultKeepAliveInterval
	}
	if o.ClientTimeoutInterval == 0 {
		o.ClientTimeoutInterval = DefaultClientTimeoutInterval
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if o.MaximumReceiveMessageSize == 0 {
		o.MaximumReceiveMessageSize = DefaultMaximumReceiveMessageSize
	}
	if o.MaximumParallelInvocationsPerClient <= 0 {
		o.MaximumParallelInvocationsPerClient = 1
	}
	if o.StreamBufferCapacity <= 0 {
		o.StreamBufferCapacity = DefaultStreamBufferCapacity
	}
	if o.MaximumStreamsPerConnection <= 0 {
		o.MaximumStreamsPerConnection = DefaultMaximumStreams
	}
	if o.OutboundQueueSize <= 0 {
		o.OutboundQueueSize = DefaultOutboundQueueSize
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.StatefulReconnectBufferSize <= 0 {
		o.StatefulReconnectBufferSize = DefaultStatefulReconnectBufferSize
	}
	if o.UserIdentifier == nil {
		o.UserIdentifier = defaultUserIdentifier
	}
	return o
}

func defaultUserIdentifier(r *http.Request) string {
	if r == nil {
		return ""
	}
	if p := PrincipalFromContext(r.Context()); p != nil {
		return p.ID
	}
	return ""
}
