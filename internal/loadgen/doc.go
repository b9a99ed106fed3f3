// Package loadgen drives SignalR servers with many lean client connections
// and measures what comes back: throughput, latency, and, exactly, every
// lost, duplicated or reordered message (payloads carry sender and sequence
// numbers).
//
// It deliberately does not use the full Go client (package client): a load
// generator shares the machine with the server under test, so each
// connection here is one reader goroutine, a hand-rolled JSON record scanner
// for the hot path, and no per-message allocation beyond what the socket
// library needs. MessagePack goes through signalr/protocol's codec.
//
// Scenarios: connect, echo, broadcast, group, connection and storm (see
// Scenario). BaselineServer is a minimal WebSocket fan-out server with no hub
// runtime, to state the hub runtime's throughput as a fraction of the socket
// layer alone.
package loadgen
