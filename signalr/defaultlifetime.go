package signalr

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// shardCount splits the connection, group and user maps so concurrent
// connects, group changes and sends rarely contend on one lock.
const shardCount = 32

type connShard struct {
	mu sync.RWMutex
	m  map[string]*HubConnection
}

type setShard struct {
	mu sync.RWMutex
	m  map[string]map[*HubConnection]struct{}
}

// DefaultHubLifetimeManager is the in-memory HubLifetimeManager for a single
// server. Its Local* methods are the local delivery engine that a backplane
// (package npgsql) wraps: a broadcast builds one SerializedMessage and writes
// it to each recipient's queue, with no goroutine per recipient.
type DefaultHubLifetimeManager struct {
	conns  [shardCount]connShard
	groups [shardCount]setShard
	users  [shardCount]setShard
	nextID atomic.Uint64
}

var _ HubLifetimeManager = (*DefaultHubLifetimeManager)(nil)

// NewDefaultHubLifetimeManager returns an empty in-memory lifetime manager.
func NewDefaultHubLifetimeManager() *DefaultHubLifetimeManager {
	m := &DefaultHubLifetimeManager{}
	for i := range shardCount {
		m.conns[i].m = make(map[string]*HubConnection)
		m.groups[i].m = make(map[string]map[*HubConnection]struct{})
		m.users[i].m = make(map[string]map[*HubConnection]struct{})
	}
	return m
}

func shardOf(s string) int {
	// FNV-1a: cheap and good enough to spread ids and names.
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// OnConnected registers c.
func (m *DefaultHubLifetimeManager) OnConnected(_ context.Context, c *HubConnection) error {
	s := &m.conns[shardOf(c.id)]
	s.mu.Lock()
	s.m[c.id] = c
	s.mu.Unlock()
	if c.userID != "" {
		addToSet(&m.users[shardOf(c.userID)], c.userID, c)
	}
	return nil
}

// OnDisconnected unregisters c and removes it from all its groups.
func (m *DefaultHubLifetimeManager) OnDisconnected(_ context.Context, c *HubConnection) error {
	s := &m.conns[shardOf(c.id)]
	s.mu.Lock()
	if s.m[c.id] == c {
		delete(s.m, c.id)
	}
	s.mu.Unlock()
	if c.userID != "" {
		removeFromSet(&m.users[shardOf(c.userID)], c.userID, c)
	}
	// Marking the connection removed under groupsMu makes a concurrent
	// AddToGroup either finish before (and be undone here) or see removed.
	c.groupsMu.Lock()
	c.removed = true
	groups := c.groups
	c.groups = nil
	c.groupsMu.Unlock()
	for g := range groups {
		removeFromSet(&m.groups[shardOf(g)], g, c)
	}
	return nil
}

func addToSet(s *setShard, key string, c *HubConnection) {
	s.mu.Lock()
	set := s.m[key]
	if set == nil {
		set = make(map[*HubConnection]struct{})
		s.m[key] = set
	}
	set[c] = struct{}{}
	s.mu.Unlock()
}

func removeFromSet(s *setShard, key string, c *HubConnection) {
	s.mu.Lock()
	if set := s.m[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.m, key)
		}
	}
	s.mu.Unlock()
}

// LocalConnection returns the connection with that id, nil if it is not on this server.
func (m *DefaultHubLifetimeManager) LocalConnection(connectionID string) *HubConnection {
	s := &m.conns[shardOf(connectionID)]
	s.mu.RLock()
	c := s.m[connectionID]
	s.mu.RUnlock()
	return c
}

// LocalConnectionCount returns the number of connections registered here.
func (m *DefaultHubLifetimeManager) LocalConnectionCount() int {
	n := 0
	for i := range m.conns {
		s := &m.conns[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// LocalAddToGroup adds a local connection to a group; false when the
// connection is not on this server.
func (m *DefaultHubLifetimeManager) LocalAddToGroup(connectionID, groupName string) bool {
	c := m.LocalConnection(connectionID)
	if c == nil {
		return false
	}
	c.groupsMu.Lock()
	defer c.groupsMu.Unlock()
	if c.removed {
		return false
	}
	if _, ok := c.groups[groupName]; ok {
		return true
	}
	if c.groups == nil {
		c.groups = make(map[string]struct{})
	}
	c.groups[groupName] = struct{}{}
	addToSet(&m.groups[shardOf(groupName)], groupName, c)
	return true
}

// LocalRemoveFromGroup removes a local connection from a group; false when
// the connection is not on this server.
func (m *DefaultHubLifetimeManager) LocalRemoveFromGroup(connectionID, groupName string) bool {
	c := m.LocalConnection(connectionID)
	if c == nil {
		return false
	}
	c.groupsMu.Lock()
	defer c.groupsMu.Unlock()
	if c.removed {
		return false
	}
	if _, ok := c.groups[groupName]; !ok {
		return true
	}
	delete(c.groups, groupName)
	removeFromSet(&m.groups[shardOf(groupName)], groupName, c)
	return true
}

// excluder answers "is this id excluded" for a short list without a map.
type excluder []string

func (e excluder) has(id string) bool {
	for _, x := range e {
		if x == id {
			return true
		}
	}
	return false
}

// fanout delivers one message to many connections. It keeps the encoding
// for the last protocol seen, so a broadcast takes the SerializedMessage lock
// once per protocol switch instead of once per recipient. Slow-consumer and
// closed-connection errors are the recipient's problem and are not reported
// to the sender; an encoding error is the sender's and is.
type fanout struct {
	sm       *SerializedMessage
	pname    string
	b        []byte
	encErr   error
	firstErr error
}

func (f *fanout) to(c *HubConnection) {
	if c.pname != f.pname || f.b == nil && f.encErr == nil {
		f.pname = c.pname
		f.b, f.encErr = f.sm.Bytes(c.proto)
		if f.encErr != nil {
			f.encErr = fmt.Errorf("signalr: encode message for %s: %w", c.pname, f.encErr)
		}
	}
	if f.encErr != nil {
		if f.firstErr == nil {
			f.firstErr = f.encErr
		}
		return
	}
	_ = c.enqueue(f.b, f.sm.typ)
}

func deliver(c *HubConnection, sm *SerializedMessage, firstErr *error) {
	f := fanout{sm: sm}
	f.to(c)
	if *firstErr == nil {
		*firstErr = f.firstErr
	}
}

func (m *DefaultHubLifetimeManager) sendAll(sm *SerializedMessage, excluded []string) error {
	f := fanout{sm: sm}
	ex := excluder(excluded)
	for i := range m.conns {
		s := &m.conns[i]
		s.mu.RLock()
		for id, c := range s.m {
			if len(ex) > 0 && ex.has(id) {
				continue
			}
			f.to(c)
		}
		s.mu.RUnlock()
	}
	return f.firstErr
}

func (m *DefaultHubLifetimeManager) sendConnections(sm *SerializedMessage, ids []string) error {
	f := fanout{sm: sm}
	for _, id := range ids {
		if c := m.LocalConnection(id); c != nil {
			f.to(c)
		}
	}
	return f.firstErr
}

// sendSets delivers to the members of the named sets (groups or users),
// once per connection even when it is in several of them.
func (m *DefaultHubLifetimeManager) sendSets(shards *[shardCount]setShard, sm *SerializedMessage, names []string, excluded []string) error {
	f := fanout{sm: sm}
	ex := excluder(excluded)
	var seen map[*HubConnection]struct{}
	if len(names) > 1 {
		seen = make(map[*HubConnection]struct{})
	}
	for _, name := range names {
		s := &shards[shardOf(name)]
		s.mu.RLock()
		for c := range s.m[name] {
			if len(ex) > 0 && ex.has(c.id) {
				continue
			}
			if seen != nil {
				if _, ok := seen[c]; ok {
					continue
				}
				seen[c] = struct{}{}
			}
			f.to(c)
		}
		s.mu.RUnlock()
	}
	return f.firstErr
}

// LocalSendAll writes sm to every local connection except the excluded ones.
func (m *DefaultHubLifetimeManager) LocalSendAll(sm *SerializedMessage, excludedConnectionIDs []string) {
	_ = m.sendAll(sm, excludedConnectionIDs)
}

// LocalSendConnections writes sm to the listed connections that are local.
func (m *DefaultHubLifetimeManager) LocalSendConnections(sm *SerializedMessage, connectionIDs []string) {
	_ = m.sendConnections(sm, connectionIDs)
}

// LocalSendGroups writes sm once to every local member of the groups, except the excluded connections.
func (m *DefaultHubLifetimeManager) LocalSendGroups(sm *SerializedMessage, groupNames []string, excludedConnectionIDs []string) {
	_ = m.sendSets(&m.groups, sm, groupNames, excludedConnectionIDs)
}

// LocalSendUsers writes sm to every local connection of the users.
func (m *DefaultHubLifetimeManager) LocalSendUsers(sm *SerializedMessage, userIDs []string) {
	_ = m.sendSets(&m.users, sm, userIDs, nil)
}

// SendAll implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendAll(_ context.Context, method string, args []any) error {
	return m.sendAll(NewInvocationMessage(method, args), nil)
}

// SendAllExcept implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendAllExcept(_ context.Context, method string, args []any, excludedConnectionIDs []string) error {
	return m.sendAll(NewInvocationMessage(method, args), excludedConnectionIDs)
}

// SendConnection implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendConnection(_ context.Context, connectionID, method string, args []any) error {
	c := m.LocalConnection(connectionID)
	if c == nil {
		return nil
	}
	var firstErr error
	deliver(c, NewInvocationMessage(method, args), &firstErr)
	return firstErr
}

// SendConnections implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendConnections(_ context.Context, connectionIDs []string, method string, args []any) error {
	return m.sendConnections(NewInvocationMessage(method, args), connectionIDs)
}

// SendGroup implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendGroup(_ context.Context, groupName, method string, args []any) error {
	return m.sendSets(&m.groups, NewInvocationMessage(method, args), []string{groupName}, nil)
}

// SendGroups implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendGroups(_ context.Context, groupNames []string, method string, args []any) error {
	return m.sendSets(&m.groups, NewInvocationMessage(method, args), groupNames, nil)
}

// SendGroupExcept implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendGroupExcept(_ context.Context, groupName, method string, args []any, excludedConnectionIDs []string) error {
	return m.sendSets(&m.groups, NewInvocationMessage(method, args), []string{groupName}, excludedConnectionIDs)
}

// SendUser implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendUser(_ context.Context, userID, method string, args []any) error {
	return m.sendSets(&m.users, NewInvocationMessage(method, args), []string{userID}, nil)
}

// SendUsers implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SendUsers(_ context.Context, userIDs []string, method string, args []any) error {
	return m.sendSets(&m.users, NewInvocationMessage(method, args), userIDs, nil)
}

// AddToGroup implements HubLifetimeManager. Unknown connections are ignored,
// as in .NET (the connection may live on another server).
func (m *DefaultHubLifetimeManager) AddToGroup(_ context.Context, connectionID, groupName string) error {
	m.LocalAddToGroup(connectionID, groupName)
	return nil
}

// RemoveFromGroup implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) RemoveFromGroup(_ context.Context, connectionID, groupName string) error {
	m.LocalRemoveFromGroup(connectionID, groupName)
	return nil
}

// ConnectionNotFoundError reports a client-result call to an unknown connection.
func ConnectionNotFoundError(connectionID string) error {
	return &exception{typ: "IOException", msg: fmt.Sprintf("Connection '%s' does not exist.", connectionID)}
}

// ConnectionDisconnectedError reports a connection that ended before it
// answered a client-result call.
func ConnectionDisconnectedError(connectionID string) error {
	return &exception{typ: "IOException", msg: fmt.Sprintf("Connection '%s' disconnected.", connectionID)}
}

// NextInvocationID returns the next server-originated invocation id: "s1", "s2", ...
func (m *DefaultHubLifetimeManager) NextInvocationID() string {
	return "s" + strconv.FormatUint(m.nextID.Add(1), 10)
}

// InvokeConnection implements HubLifetimeManager (client results).
func (m *DefaultHubLifetimeManager) InvokeConnection(ctx context.Context, connectionID, method string, args []any) (*protocol.Completion, error) {
	c := m.LocalConnection(connectionID)
	if c == nil {
		return nil, ConnectionNotFoundError(connectionID)
	}
	return c.invoke(ctx, m.NextInvocationID(), method, args)
}

// SetConnectionResult implements HubLifetimeManager.
func (m *DefaultHubLifetimeManager) SetConnectionResult(connectionID string, r *protocol.Completion) error {
	c := m.LocalConnection(connectionID)
	if c == nil {
		return ConnectionNotFoundError(connectionID)
	}
	if !c.completePending(r) {
		return fmt.Errorf("signalr: no pending client result '%s' for connection '%s'", r.InvocationID, connectionID)
	}
	return nil
}

// invoke sends an Invocation with id to the client and waits for its
// Completion, the connection's end, or ctx. Backplanes use it through
// HubConnection.Invoke for connections they host.
func (c *HubConnection) invoke(ctx context.Context, id, method string, args []any) (*protocol.Completion, error) {
	ch, ok := c.addPending(id)
	if !ok {
		return nil, ConnectionDisconnectedError(c.id)
	}
	defer c.removePending(id)
	if args == nil {
		args = []any{}
	}
	if err := c.Write(NewSerializedMessage(&protocol.Invocation{InvocationID: id, Target: method, Arguments: args})); err != nil {
		if errors.Is(err, ErrConnectionClosed) || errors.Is(err, ErrSlowConsumer) {
			return nil, ConnectionDisconnectedError(c.id)
		}
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.ctx.Done():
		// A result that raced the disconnect still counts.
		select {
		case r := <-ch:
			return r, nil
		default:
		}
		return nil, ConnectionDisconnectedError(c.id)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Invoke sends a server-to-client invocation with the given id and waits for
// the client's Completion. Lifetime managers that route client results (a
// backplane) call it on the server hosting the connection.
func (c *HubConnection) Invoke(ctx context.Context, invocationID, method string, args []any) (*protocol.Completion, error) {
	return c.invoke(ctx, invocationID, method, args)
}
