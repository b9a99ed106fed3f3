package transports

import "context"

// CloseReceiver is implemented by the Conns of this package. CloseReceived
// reports whether the client ended a WebSocket connection with a close frame
// (a graceful close); stateful reconnect keeps only connections that ended
// without one. It is false for other transports.
type CloseReceiver interface {
	CloseReceived() bool
}

// StatefulReconnector is implemented by the Conns of this package; it is
// the transport half of stateful reconnect (reference §11), used by a hub
// runtime that buffers and replays its messages.
type StatefulReconnector interface {
	// StatefulReconnectAllowed reports whether negotiate answered
	// useStatefulReconnect:true for this connection.
	StatefulReconnectAllowed() bool
	// EnableStatefulReconnect turns the feature on; the hub calls it after
	// a version 2 handshake. It reports false (and does nothing) unless it
	// was negotiated and the transport is WebSockets. From then on:
	//   - a WebSocket lost without a close frame does not end the
	//     connection; it waits up to DisconnectTimeout for the client to
	//     connect again with the same token, then ends (Receive: io.EOF);
	//   - while no socket is attached, and when a write fails, Send drops
	//     its data and returns nil: the caller's buffer replays it;
	//   - when a new socket attaches, onReconnect runs in the request's
	//     goroutine (the client's bytes flow to Receive meanwhile); from
	//     then on Send drops its data (returns nil) until the hub has sent
	//     its Sequence message and the unacknowledged messages with
	//     ResumeSend, so nothing reaches the client ahead of the Sequence
	//     (the hub's replay includes what was dropped).
	// A close frame from the client still ends the connection.
	EnableStatefulReconnect(onReconnect func()) bool
	// ResumeSend writes p as the first message on a resumed socket and
	// releases ordinary sends.
	ResumeSend(ctx context.Context, p []byte) error
}

var _ CloseReceiver = (*connection)(nil)
var _ StatefulReconnector = (*connection)(nil)
var _ Conn = (*connection)(nil)
