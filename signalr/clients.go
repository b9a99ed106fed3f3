package signalr

import (
	"context"
	"errors"
	"fmt"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// ClientProxy sends invocations to a set of connections.
type ClientProxy interface {
	// Send invokes method on every addressed client without waiting for a
	// result. It returns once the message is queued (or published).
	Send(ctx context.Context, method string, args ...any) error
}

// SingleClientProxy addresses exactly one connection.
type SingleClientProxy interface {
	ClientProxy
	// Invoke calls a client method and waits for its result (client
	// results). A client-side error comes back as a *HubError.
	Invoke(ctx context.Context, method string, args ...any) (protocol.RawValue, error)
}

// InvokeClient calls a client method and decodes its result into T.
func InvokeClient[T any](ctx context.Context, c SingleClientProxy, method string, args ...any) (T, error) {
	var v T
	raw, err := c.Invoke(ctx, method, args...)
	if err != nil {
		return v, err
	}
	if raw == nil || raw.IsNull() {
		return v, nil
	}
	if err := raw.Decode(&v); err != nil {
		return v, fmt.Errorf("signalr: decode result of client method %s: %w", method, err)
	}
	return v, nil
}

// HubClients addresses connections of a hub.
type HubClients interface {
	All() ClientProxy
	AllExcept(excludedConnectionIDs ...string) ClientProxy
	Client(connectionID string) SingleClientProxy
	Clients(connectionIDs ...string) ClientProxy
	Group(groupName string) ClientProxy
	Groups(groupNames ...string) ClientProxy
	GroupExcept(groupName string, excludedConnectionIDs ...string) ClientProxy
	User(userID string) ClientProxy
	Users(userIDs ...string) ClientProxy
}

// CallerClients adds the addresses relative to the calling connection.
type CallerClients interface {
	HubClients
	Caller() SingleClientProxy
	Others() ClientProxy
	OthersInGroup(groupName string) ClientProxy
}

// GroupManager adds connections to and removes them from groups.
type GroupManager interface {
	AddToGroup(ctx context.Context, connectionID, groupName string) error
	RemoveFromGroup(ctx context.Context, connectionID, groupName string) error
}

// HubContext reaches a hub's clients from outside hub methods (for example
// from an HTTP handler or a background job).
type HubContext struct {
	Clients HubClients
	Groups  GroupManager
}

// NewHubContext builds a HubContext over a lifetime manager.
func NewHubContext(lm HubLifetimeManager) *HubContext {
	return &HubContext{Clients: hubClients{lm: lm}, Groups: groupManager{lm: lm}}
}

type hubClients struct{ lm HubLifetimeManager }

func (h hubClients) All() ClientProxy { return proxyFunc(h.lm.SendAll) }
func (h hubClients) AllExcept(ids ...string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendAllExcept(ctx, m, a, ids) })
}
func (h hubClients) Client(id string) SingleClientProxy { return singleProxy{lm: h.lm, id: id} }
func (h hubClients) Clients(ids ...string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendConnections(ctx, ids, m, a) })
}
func (h hubClients) Group(g string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendGroup(ctx, g, m, a) })
}
func (h hubClients) Groups(gs ...string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendGroups(ctx, gs, m, a) })
}
func (h hubClients) GroupExcept(g string, ids ...string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendGroupExcept(ctx, g, m, a, ids) })
}
func (h hubClients) User(u string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendUser(ctx, u, m, a) })
}
func (h hubClients) Users(us ...string) ClientProxy {
	return proxyFunc(func(ctx context.Context, m string, a []any) error { return h.lm.SendUsers(ctx, us, m, a) })
}

type callerClients struct {
	hubClients
	self string
}

func (c *callerClients) Caller() SingleClientProxy { return singleProxy{lm: c.lm, id: c.self} }
func (c *callerClients) Others() ClientProxy       { return c.AllExcept(c.self) }
func (c *callerClients) OthersInGroup(g string) ClientProxy {
	return c.GroupExcept(g, c.self)
}

type proxyFunc func(ctx context.Context, method string, args []any) error

func (f proxyFunc) Send(ctx context.Context, method string, args ...any) error {
	return f(ctx, method, args)
}

type singleProxy struct {
	lm HubLifetimeManager
	id string
}

func (p singleProxy) Send(ctx context.Context, method string, args ...any) error {
	return p.lm.SendConnection(ctx, p.id, method, args)
}

func (p singleProxy) Invoke(ctx context.Context, method string, args ...any) (protocol.RawValue, error) {
	c, err := p.lm.InvokeConnection(ctx, p.id, method, args)
	if err != nil {
		return nil, err
	}
	if c.Error != "" {
		return nil, &HubError{Message: c.Error}
	}
	if !c.HasResult || c.Result == nil {
		return nil, nil
	}
	raw, ok := c.Result.(protocol.RawValue)
	if !ok {
		return nil, errors.New("signalr: client result is not a decodable value")
	}
	return raw, nil
}

type groupManager struct{ lm HubLifetimeManager }

func (g groupManager) AddToGroup(ctx context.Context, id, group string) error {
	return g.lm.AddToGroup(ctx, id, group)
}
func (g groupManager) RemoveFromGroup(ctx context.Context, id, group string) error {
	return g.lm.RemoveFromGroup(ctx, id, group)
}

// NewInvocationMessage builds a non-blocking Invocation (no id) ready to be
// written to many connections; it is encoded once per protocol.
func NewInvocationMessage(method string, args []any) *SerializedMessage {
	if args == nil {
		args = []any{}
	}
	return NewSerializedMessage(&protocol.Invocation{Target: method, Arguments: args})
}
