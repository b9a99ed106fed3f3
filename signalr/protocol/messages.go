// Package protocol defines the SignalR hub messages, the handshake, and the
// JSON and MessagePack hub protocols. It does no I/O: codecs turn messages into
// bytes and bytes into messages, and the callers move the bytes.
package protocol

// MessageType is the numeric "type" of a hub message on the wire.
type MessageType int

// Hub message types, as numbered by the SignalR hub protocol.
const (
	TypeInvocation       MessageType = 1
	TypeStreamItem       MessageType = 2
	TypeCompletion       MessageType = 3
	TypeStreamInvocation MessageType = 4
	TypeCancelInvocation MessageType = 5
	TypePing             MessageType = 6
	TypeClose            MessageType = 7
	TypeAck              MessageType = 8
	TypeSequence         MessageType = 9
)

// HubMessage is any of the message structs below.
type HubMessage interface {
	MessageType() MessageType
}

// RawValue is a value received from a peer whose decoding is deferred until
// the receiver knows the target Go type (a hub method parameter, a client
// handler argument, an invocation result). Each codec supplies its own.
type RawValue interface {
	// Decode decodes the value into v, which must be a non-nil pointer.
	Decode(v any) error
	// IsNull reports whether the encoded value is null/nil.
	IsNull() bool
}

// Invocation (type 1) calls a method on the peer. An empty InvocationID means
// a non-blocking call that gets no Completion.
//
// Arguments hold Go values when sending and RawValue elements when received.
type Invocation struct {
	InvocationID string
	Target       string
	Arguments    []any
	StreamIDs    []string
	Headers      map[string]string
}

// StreamItem (type 2) carries one item of a stream. Item is a RawValue when received.
type StreamItem struct {
	InvocationID string
	Item         any
	Headers      map[string]string
}

// Completion (type 3) ends an invocation or a stream. Exactly one of Error
// (non-empty) and HasResult may be set; neither means a completion without
// result (end of a stream, or a JS void result).
// Result is a RawValue when received.
type Completion struct {
	InvocationID string
	Error        string
	HasResult    bool
	Result       any
	Headers      map[string]string
}

// StreamInvocation (type 4) starts a server-to-client stream.
type StreamInvocation struct {
	InvocationID string
	Target       string
	Arguments    []any
	StreamIDs    []string
	Headers      map[string]string
}

// CancelInvocation (type 5) cancels a server-to-client stream.
type CancelInvocation struct {
	InvocationID string
	Headers      map[string]string
}

// Ping (type 6) is the keep-alive message.
type Ping struct{}

// Close (type 7) announces the end of the connection.
type Close struct {
	Error          string
	AllowReconnect bool
}

// Ack (type 8) acknowledges trackable messages up to SequenceID (stateful reconnect).
type Ack struct {
	SequenceID int64
}

// Sequence (type 9) tells the peer the number of the next message it will receive after a reconnect.
type Sequence struct {
	SequenceID int64
}

func (*Invocation) MessageType() MessageType       { return TypeInvocation }
func (*StreamItem) MessageType() MessageType       { return TypeStreamItem }
func (*Completion) MessageType() MessageType       { return TypeCompletion }
func (*StreamInvocation) MessageType() MessageType { return TypeStreamInvocation }
func (*CancelInvocation) MessageType() MessageType { return TypeCancelInvocation }
func (*Ping) MessageType() MessageType             { return TypePing }
func (*Close) MessageType() MessageType            { return TypeClose }
func (*Ack) MessageType() MessageType              { return TypeAck }
func (*Sequence) MessageType() MessageType         { return TypeSequence }

// IsTrackable reports whether a message counts for stateful reconnect
// sequencing (types 1 to 5).
func IsTrackable(m HubMessage) bool {
	t := m.MessageType()
	return t >= TypeInvocation && t <= TypeCancelInvocation
}
