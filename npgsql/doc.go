// Package npgsql is a PostgreSQL backplane for gosignalr servers, wire
// compatible with the .NET AspNetCore.SignalR.Npgsql backplane: Go and .NET
// servers can share one table and one NOTIFY channel and serve each other's
// clients.
//
// Every backplane message (invocation, group command, ack) is one row INSERTed
// into "<SchemaName>"."<TableSlug>_Messages"; an AFTER INSERT trigger
// pg_notify()s the row's Id, base64 payload and time on NotificationChannel,
// and every server LISTENs there and dispatches the message to its own
// connections. The payload format (payload.go) is .NET's PostgresProtocol,
// byte for byte.
//
// Beyond the .NET library, the Manager never stops reconnecting its
// listener, catches up from the table after a reconnect so that nothing
// committed while it was away is lost or delivered twice, batches concurrent
// publishes into one multi-row INSERT, deletes old rows (RetentionAge), keeps
// working when the int4 Id sequence wraps, and, in native mode, carries
// messages larger than PostgreSQL's 8000-byte NOTIFY limit.
package npgsql
