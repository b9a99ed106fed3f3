package signalr

import (
	"sync"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// SerializedMessage is a hub message together with its encodings, cached per
// hub protocol. A broadcast builds one SerializedMessage and hands it to every
// recipient, so the message is encoded once per protocol, never once per
// connection.
type SerializedMessage struct {
	msg protocol.HubMessage
	typ protocol.MessageType // for Observer: msg's type, Invocation when msg is nil

	mu    sync.Mutex
	bytes []protocolBytes // a handful of protocols at most: a slice beats a map
}

type protocolBytes struct {
	name string
	b    []byte
	err  error
}

// NewSerializedMessage wraps msg; encodings are made on first use.
func NewSerializedMessage(msg protocol.HubMessage) *SerializedMessage {
	return &SerializedMessage{msg: msg, typ: messageTypeOf(msg)}
}

// NewPreserializedMessage wraps encodings made elsewhere (for example by
// another server, received through a backplane), keyed by protocol name.
// msg may be nil; then only the given protocols can be served, and an
// Observer counts the message as an Invocation (what backplanes carry).
func NewPreserializedMessage(msg protocol.HubMessage, byProtocol map[string][]byte) *SerializedMessage {
	s := &SerializedMessage{msg: msg, typ: messageTypeOf(msg)}
	for name, b := range byProtocol {
		s.bytes = append(s.bytes, protocolBytes{name: name, b: b})
	}
	return s
}

// Message returns the wrapped message (nil for a preserialized message built without one).
func (s *SerializedMessage) Message() protocol.HubMessage { return s.msg }

// Bytes returns the framed encoding of the message for p, encoding it at most
// once per protocol. The returned slice must not be modified.
func (s *SerializedMessage) Bytes(p protocol.HubProtocol) ([]byte, error) {
	name := p.Name()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, pb := range s.bytes {
		if pb.name == name {
			return pb.b, pb.err
		}
	}
	if s.msg == nil {
		return nil, &missingProtocolError{name: name}
	}
	b, err := p.AppendMessage(nil, s.msg)
	s.bytes = append(s.bytes, protocolBytes{name: name, b: b, err: err})
	return b, err
}

type missingProtocolError struct{ name string }

func (e *missingProtocolError) Error() string {
	return "signalr: message has no encoding for protocol '" + e.name + "'"
}

// messageTypeOf is msg's type; a nil msg (bytes from a backplane) is taken
// for an Invocation, the only message backplanes broadcast.
func messageTypeOf(msg protocol.HubMessage) protocol.MessageType {
	if msg == nil {
		return protocol.TypeInvocation
	}
	return msg.MessageType()
}
