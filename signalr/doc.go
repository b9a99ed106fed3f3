// Package signalr is the SignalR hub runtime: it serves a hub (a Go value
// whose exported methods clients call) over the transports of package
// transports, speaking the hub protocols of package protocol, so that the
// official ASP.NET Core SignalR clients cannot tell it from ASP.NET Core.
//
// A Server is an http.Handler for one hub path. Hub methods are found by
// reflection and matched case-insensitively; an optional first parameter
// *Context gives the caller's connection, Clients and Groups. Results are
// sent as Completions; errors follow ASP.NET Core's texts, with a *HubError's
// message always shown to the client and other errors' details only with
// Options.EnableDetailedErrors (an error's TypeName() method names the .NET
// exception type shown).
//
// Each connection has one reader goroutine, one writer goroutine fed by a
// bounded queue (a client that lets it fill up is disconnected as a slow
// consumer, so a broadcast never waits), and one goroutine per running
// invocation or stream. A HubLifetimeManager routes messages to connections;
// DefaultHubLifetimeManager does so in memory, and package npgsql spans
// servers through PostgreSQL.
//
// Options.Observer reports connections, messages, invocations and bytes for
// metrics. Server.Shutdown tells every client to reconnect (Close with
// allowReconnect), answers new connections with 503 while the existing ones
// end, so clients with automatic reconnect move to another server behind a
// load balancer; Server.ShuttingDown is for readiness checks.
package signalr
