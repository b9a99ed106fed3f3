// Package client is a Go SignalR client that talks to ASP.NET Core SignalR
// servers and to this module's server.
//
// A HubConnection negotiates (following redirects), picks a transport in the
// server's order (WebSockets, Server-Sent Events, Long Polling) with a fresh
// negotiate per attempt, performs the hub handshake and then carries hub
// messages: Invoke and Send call hub methods, Stream reads server-to-client
// streams, channel arguments become upload streams, and On registers handlers
// for server-to-client calls (a handler that returns a value answers client
// result invocations). The connection keeps itself alive with pings, detects a
// silent server, reconnects automatically when a ReconnectPolicy is set, and
// can resume a dropped WebSocket without losing messages (stateful reconnect).
//
// Behaviour follows the official JavaScript client (@microsoft/signalr): the
// same invocation ids, error texts, retry delays and Close rules.
package client
