package signalr

import (
	"context"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// HubLifetimeManager routes messages to connections and tracks groups. The
// in-memory DefaultHubLifetimeManager serves one process; the npgsql package
// provides one that spans servers through PostgreSQL. All methods are safe for
// concurrent use. Send methods return once the message is queued for local
// connections (and, for a backplane, published); they never wait for a slow
// client.
type HubLifetimeManager interface {
	// OnConnected registers a connection after its handshake.
	OnConnected(ctx context.Context, c *HubConnection) error
	// OnDisconnected unregisters it and removes it from all groups.
	OnDisconnected(ctx context.Context, c *HubConnection) error

	SendAll(ctx context.Context, method string, args []any) error
	SendAllExcept(ctx context.Context, method string, args []any, excludedConnectionIDs []string) error
	SendConnection(ctx context.Context, connectionID, method string, args []any) error
	SendConnections(ctx context.Context, connectionIDs []string, method string, args []any) error
	SendGroup(ctx context.Context, groupName, method string, args []any) error
	SendGroups(ctx context.Context, groupNames []string, method string, args []any) error
	SendGroupExcept(ctx context.Context, groupName, method string, args []any, excludedConnectionIDs []string) error
	SendUser(ctx context.Context, userID, method string, args []any) error
	SendUsers(ctx context.Context, userIDs []string, method string, args []any) error

	AddToGroup(ctx context.Context, connectionID, groupName string) error
	RemoveFromGroup(ctx context.Context, connectionID, groupName string) error

	// InvokeConnection sends an invocation that expects a result to one
	// connection and waits for its Completion (client results). The returned
	// Completion has either Error set or a RawValue Result.
	InvokeConnection(ctx context.Context, connectionID, method string, args []any) (*protocol.Completion, error)
	// SetConnectionResult hands a client's Completion for a server-originated
	// invocation to the waiting InvokeConnection call. It returns an error
	// when no invocation with that id is pending for the connection.
	SetConnectionResult(connectionID string, c *protocol.Completion) error
}
