// Package npgsql is a PostgreSQL backplane for gosignalr servers, wire
// compatible with the .NET AspNetCore.SignalR.Npgsql backplane: Go and .NET
// servers can share one table and one NOTIFY channel and serve each other's
// clients.
//
// # How it works
//
// Every backplane message (invocation, group command, ack) is one row
// INSERTed into "<SchemaName>"."<TableSlug>_Messages"; an AFTER INSERT
// trigger pg_notify()s the row's Id, base64 payload and time on
// NotificationChannel; every server LISTENs there and dispatches the message
// to its own connections. Table, trigger, function and channel are .NET's,
// identifier for identifier, and the payload (payload.go) is .NET's
// PostgresProtocol byte for byte, including one pre-framed encoding per hub
// protocol so that each server writes the bytes straight to its clients.
//
// Broadcasts are not delivered locally before publishing: this server's
// clients receive them through the round trip like everybody else's, so all
// servers see one stream in commit order and nothing is delivered twice. A
// send to a single local connection and group changes of local connections
// skip the database, as in .NET, but only while none of this server's rows
// is in flight; otherwise they go through the backplane as well, so that one
// publisher's messages and group changes take effect in publish order (.NET
// lets a direct send overtake an earlier broadcast). A group change for a
// connection elsewhere is published and waits for the owning server's ack.
//
// # Beyond the .NET library
//
//   - The listener never gives up (capped exponential backoff with jitter),
//     keeps TCP keep-alive on and checks its connection with a query when idle.
//   - After a reconnect it catches up from the table: rows committed while it
//     was away are delivered once, in id order; notifications for rows the
//     catch-up already delivered are dropped. Because ids are taken before
//     commit, the catch-up re-reads CatchUpMargin ids below what it had seen.
//   - Concurrent publishes are coalesced into one multi-row INSERT (one
//     transaction, one round trip; each row still fires its own NOTIFY).
//   - Compat mode refuses, before inserting, a message whose notification
//     would exceed PostgreSQL's 8000-byte limit (*TooLargeError); .NET lets
//     the trigger fail. Native mode (ModeNative) notifies large rows by id
//     and has no limit.
//   - Rows older than RetentionAge are deleted; the int4 Id sequence is set
//     to CYCLE and the catch-up compares ids modulo 2^31−1, so the backplane
//     keeps working past 2^31 messages.
//   - Ready and Status report the listener's health for readiness probes.
//
// # Limits
//
// The .NET payload names no hub: all hubs on one channel receive each
// other's messages (as in .NET); BindHub warns when two hubs of one process
// share a channel. Client results (InvokeConnection) work for connections of
// this server only; the wire format has no return channel. Catch-up cannot
// recover rows deleted by retention (an outage longer than RetentionAge).
// The listener needs a direct or session-pooled connection: LISTEN does not
// work through transaction-pooling PgBouncer.
package npgsql
