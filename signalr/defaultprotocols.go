package signalr

import "github.com/gosignalr/gosignalr/signalr/protocol"

// DefaultProtocols returns every hub protocol this module implements: JSON
// and MessagePack.
func DefaultProtocols() []protocol.HubProtocol {
	return []protocol.HubProtocol{protocol.JSON, protocol.MessagePack}
}
