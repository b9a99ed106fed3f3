package signalr

import (
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// Observer is told about connections, messages, invocations and bytes as
// the runtime serves them, for metrics. Set it in Options.Observer; a nil
// Observer costs one nil check per event. It has the method set of
// internal/metrics.HubObserver, so a *metrics.Collector fits as is.
//
// Calls come concurrently from every connection's goroutines, several on
// hot paths (the read loop, the writer): implementations must be safe for
// concurrent use, cheap, and must not block or call back into the runtime.
type Observer interface {
	// ConnectionOpened: a connection completed its handshake (the response
	// was sent). transport is transports.TransportType's String()
	// ("WebSockets", "ServerSentEvents", "LongPolling"), protocol the hub
	// protocol's name ("json", "messagepack").
	ConnectionOpened(transport, protocol string)
	// ConnectionClosed: a connection reported by ConnectionOpened ended
	// (same labels). Connections that failed their handshake are in neither.
	ConnectionClosed(transport, protocol string)
	// MessageReceived: the client sent one hub message of this type
	// ("Invocation", "StreamItem", "Completion", "StreamInvocation",
	// "CancelInvocation", "Ping", "Close", "Ack", "Sequence").
	MessageReceived(msgType string)
	// MessageSent: n hub messages of this type went to one connection's
	// transport in one batch. Each recipient of a broadcast reports its
	// own, so the totals count deliveries. Keep-alive Pings, the final
	// Close, stateful Acks and Sequences, and replayed messages count too.
	MessageSent(msgType string, n int)
	// InvocationCompleted: a hub method invocation (or server stream)
	// finished, d after its message was dispatched (a wait for a free
	// invocation slot included); err is why it failed, nil on success.
	// method is the hub method's Go name; invocations of unknown methods
	// are not reported (their names come from the client). Invocations
	// refused before the call (arguments that do not bind, authorization,
	// stream mismatches and limits) are reported as failures.
	InvocationCompleted(method string, d time.Duration, err error)
	// BytesIn: a chunk of n payload bytes arrived from the transport
	// (handshake included).
	BytesIn(n int)
	// BytesOut: n payload bytes were sent to the transport (handshake
	// response included).
	BytesOut(n int)
	// SlowConsumerDisconnect: a connection is being closed because its
	// outbound queue was full.
	SlowConsumerDisconnect()
}

// msgTypeNames names the hub message types for Observer, indexed by
// protocol.MessageType; index 0 is for types outside the known range.
var msgTypeNames = [...]string{
	0:                             "Unknown",
	protocol.TypeInvocation:       "Invocation",
	protocol.TypeStreamItem:       "StreamItem",
	protocol.TypeCompletion:       "Completion",
	protocol.TypeStreamInvocation: "StreamInvocation",
	protocol.TypeCancelInvocation: "CancelInvocation",
	protocol.TypePing:             "Ping",
	protocol.TypeClose:            "Close",
	protocol.TypeAck:              "Ack",
	protocol.TypeSequence:         "Sequence",
}

// msgTypeName is the Observer label of t.
func msgTypeName(t protocol.MessageType) string {
	if t <= 0 || int(t) >= len(msgTypeNames) {
		return msgTypeNames[0]
	}
	return msgTypeNames[t]
}

// typeCounts counts one batch's messages per type without allocating (it
// lives on the writer's stack).
type typeCounts [len(msgTypeNames)]int

func (tc *typeCounts) add(t protocol.MessageType) {
	if t <= 0 || int(t) >= len(tc) {
		t = 0
	}
	tc[t]++
}

// report hands the counts to o and clears them.
func (tc *typeCounts) report(o Observer) {
	for t, n := range tc {
		if n > 0 {
			o.MessageSent(msgTypeNames[t], n)
			tc[t] = 0
		}
	}
}
