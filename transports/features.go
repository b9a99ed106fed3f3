package transports

// CloseReceiver is implemented by the Conns of this package. CloseReceived
// reports whether the client ended a WebSocket connection with a close frame
// (a graceful close); stateful reconnect keeps only connections that ended
// without one. It is false for other transports.
type CloseReceiver interface {
	CloseReceived() bool
}

var _ CloseReceiver = (*connection)(nil)
var _ Conn = (*connection)(nil)
