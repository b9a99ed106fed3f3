package signalr

import (
	"context"
	"net/http"
	"sync"

	"github.com/gosignalr/gosignalr/transports"
)

// Context is the per-call hub context, the optional first parameter of hub
// methods and lifecycle hooks. It is a context.Context that is cancelled when
// the connection ends and, for a server stream, when the client cancels it.
type Context struct {
	context.Context
	conn *HubConnection
	h    *ConnectionHandler
}

// ConnectionID is the id of the calling connection.
func (c *Context) ConnectionID() string { return c.conn.id }

// UserIdentifier is the caller's user id ("" when anonymous).
func (c *Context) UserIdentifier() string { return c.conn.userID }

// User is the authenticated caller, nil when anonymous.
func (c *Context) User() *Principal { return c.conn.user }

// Items holds per-connection state; it lives as long as the connection.
func (c *Context) Items() *sync.Map { return &c.conn.items }

// Request is the HTTP request that started the connection (for Long Polling,
// its first poll): headers, query, cookies.
func (c *Context) Request() *http.Request { return c.conn.request }

// Transport is the transport serving the connection.
func (c *Context) Transport() transports.TransportType { return c.conn.conn.Transport() }

// Connection is the calling HubConnection.
func (c *Context) Connection() *HubConnection { return c.conn }

// Abort ends the connection; the client is told not to reconnect.
func (c *Context) Abort() { c.conn.Abort() }

// Clients addresses connections relative to the caller.
func (c *Context) Clients() CallerClients {
	return &callerClients{hubClients: hubClients{lm: c.h.lm}, self: c.conn.id}
}

// Groups adds connections to and removes them from groups.
func (c *Context) Groups() GroupManager { return groupManager{lm: c.h.lm} }
