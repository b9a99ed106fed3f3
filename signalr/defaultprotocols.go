package signalr

import "github.com/gosignalr/gosignalr/signalr/protocol"

// DefaultProtocols returns every hub protocol this module implements, in
// the order a client's choice is looked up.
func DefaultProtocols() []protocol.HubProtocol {
	return []protocol.HubProtocol{protocol.JSON}
}
