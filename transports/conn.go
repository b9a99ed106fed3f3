// Package transports implements the SignalR HTTP connection layer: the
// negotiate endpoint wiring, WebSockets, Server-Sent Events and Long Polling.
// It moves bytes between HTTP and a connection Handler (the hub runtime, or a
// raw handler such as an echo endpoint) and knows nothing of hub messages.
package transports

import (
	"context"
	"errors"
	"net/http"
)

// TransportType identifies a transport. Values match .NET's HttpTransportType flags.
type TransportType int

// Transports.
const (
	WebSockets       TransportType = 1
	ServerSentEvents TransportType = 2
	LongPolling      TransportType = 4
)

// AllTransports enables every transport.
const AllTransports = WebSockets | ServerSentEvents | LongPolling

// String returns the name used on the wire ("WebSockets", "ServerSentEvents", "LongPolling").
func (t TransportType) String() string {
	switch t {
	case WebSockets:
		return "WebSockets"
	case ServerSentEvents:
		return "ServerSentEvents"
	case LongPolling:
		return "LongPolling"
	}
	return "None"
}

// Has reports whether the set t contains transport x.
func (t TransportType) Has(x TransportType) bool { return t&x != 0 }

// ErrConnectionClosed is returned by Conn methods after the connection ended.
var ErrConnectionClosed = errors.New("transports: connection closed")

// Conn is one logical SignalR connection as a connection handler sees it:
// a byte stream in each direction. It outlives a single HTTP request for Long
// Polling and for stateful reconnect.
type Conn interface {
	// ID is the public connection id (Context.ConnectionId in .NET); empty
	// strings never occur, skipNegotiation connections get a generated id.
	ID() string
	// Transport is the transport serving the connection.
	Transport() TransportType
	// Request is the HTTP request that started the connection (the first
	// poll for Long Polling, with its body already consumed). Hub code reads
	// headers, query, cookies and the user from it.
	Request() *http.Request
	// Receive blocks for the next chunk of bytes from the client. Chunks have
	// no relation to message boundaries. It returns io.EOF once the client side
	// has ended (WebSocket close, SSE request gone, Long Polling DELETE or
	// timeout) and ctx.Err() when ctx ends first.
	Receive(ctx context.Context) ([]byte, error)
	// Send delivers p, which holds one or more whole records, as one unit: one
	// WebSocket message, one SSE event, or part of the next poll response. It
	// may block for back-pressure; it is called from one goroutine at a time.
	Send(ctx context.Context, p []byte) error
	// SetTransferFormat selects text or binary frames for everything sent
	// after it (the handshake response included). It fails when the transport
	// cannot carry the format (binary over SSE).
	SetTransferFormat(binary bool) error
	// InherentKeepAlive is true for Long Polling: no pings, no client timeout.
	InherentKeepAlive() bool
	// Close ends the connection from the server side. A nil err is a normal
	// close (WebSocket 1000); a non-nil err is an error close (1011).
	Close(err error)
	// Done is closed once the connection has ended, whichever side ended it.
	Done() <-chan struct{}
}

// Handler serves one connection. The transport layer calls ServeConn once
// per connection, in a goroutine it owns; when ServeConn returns, the
// connection is closed and removed.
type Handler interface {
	ServeConn(ctx context.Context, c Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c Conn)

// ServeConn calls f(ctx, c).
func (f HandlerFunc) ServeConn(ctx context.Context, c Conn) { f(ctx, c) }
