package signalr

// HubConnection is one client connection after its handshake, as lifetime
// managers and hub code see it. (Fields and methods are filled in by the hub
// runtime: ID, UserIdentifier, Protocol, Write, Abort, Context.)
type HubConnection struct{}
