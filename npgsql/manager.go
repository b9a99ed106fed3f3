package npgsql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// Manager is a signalr.HubLifetimeManager that spans servers through
// PostgreSQL. Pass it as signalr.Options.LifetimeManager; the server calls
// BindHub, which sets up the table and starts the listener.
//
// Local delivery: like .NET, broadcasts (all, groups, users) are not
// delivered locally before publishing; this server's own clients get them
// through the round trip, from the same listener as everybody else. Every
// server therefore sees one stream in commit order, and a message reaches
// each connection exactly once (no "deliver locally, then suppress the echo"
// race). A send to a single local connection and group changes of local
// connections take the short path without the database when no message of
// this server is in flight, and the round trip otherwise, so the messages of
// one publisher arrive in publish order.
type Manager struct {
	opts    Options
	engine  LocalEngine
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig
	log     zerolog.Logger

	mu        sync.Mutex
	bound     bool
	closed    bool
	hubName   string
	protocols []protocol.HubProtocol
	names     names
	pub       *publisher
	lis       *listener
	ret       *retention
	regKey    string

	schemaMu   sync.Mutex
	schemaDone atomic.Bool

	order *orderGuard

	ackSeq  atomic.Int32
	acksMu  sync.Mutex
	acks    map[int32]chan struct{}
	closing chan struct{}
}

var (
	_ signalr.HubLifetimeManager = (*Manager)(nil)
	_ signalr.HubBinder          = (*Manager)(nil)
)

// New validates opts, checks that the database is reachable and returns a
// Manager. Nothing is created in the database and no goroutine runs until
// BindHub.
func New(ctx context.Context, opts Options) (*Manager, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	poolCfg, err := pgxpool.ParseConfig(o.ConnectionString)
	if err != nil {
		return nil, fmt.Errorf("npgsql: parse ConnectionString: %w", err)
	}
	poolCfg.MaxConns = int32(o.MaxPoolSize)
	connCfg, err := pgx.ParseConfig(o.ConnectionString)
	if err != nil {
		return nil, fmt.Errorf("npgsql: parse ConnectionString: %w", err)
	}
	// TCP keep-alive on the listener: a half-open connection must not hide
	// a dead listener (npgsql issues #446, #1214, #1544).
	dialer := &net.Dialer{KeepAlive: o.TCPKeepAlive, Timeout: o.CommandTimeout}
	connCfg.DialFunc = dialer.DialContext
	poolCfg.ConnConfig.DialFunc = dialer.DialContext
	// Named so operators (and tests) can find the listener in pg_stat_activity.
	if connCfg.RuntimeParams["application_name"] == "" {
		connCfg.RuntimeParams["application_name"] = ListenerApplicationName
	}

	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("npgsql: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("npgsql: database unreachable: %w", err)
	}
	m := &Manager{
		opts:    o,
		engine:  o.Engine,
		pool:    pool,
		connCfg: connCfg,
		log:     o.Logger,
		acks:    make(map[int32]chan struct{}),
		closing: make(chan struct{}),
		order:   newOrderGuard(o.SeenWindow),
	}
	if m.engine == nil {
		m.engine = signalr.NewDefaultHubLifetimeManager()
	}
	return m, nil
}

// ListenerApplicationName is the application_name of the listener's
// connection unless the ConnectionString sets one.
const ListenerApplicationName = "gosignalr-npgsql-listener"

// ServerName returns the name that identifies this server in group commands and acks.
func (m *Manager) ServerName() string { return m.opts.ServerName }

// Engine returns the local delivery engine.
func (m *Manager) Engine() LocalEngine { return m.engine }

// hubs on one channel in this process, to warn about cross-hub delivery.
var (
	registryMu sync.Mutex
	registry   = map[string][]string{}
)

// BindHub implements signalr.HubBinder: it learns the hub's name and
// protocols, creates or updates the table and trigger, and starts the
// publisher, the listener and the retention sweep. It waits up to
// CommandTimeout for the listener's first LISTEN; if the database is not
// reachable by then it returns nil anyway and the listener keeps trying
// (Ready reports it).
func (m *Manager) BindHub(info signalr.HubInfo) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.bound {
		m.mu.Unlock()
		return fmt.Errorf("npgsql: manager already serves hub %s; use one Manager per hub", m.hubName)
	}
	if len(info.Protocols) == 0 {
		m.mu.Unlock()
		return errors.New("npgsql: hub has no protocols to serialize messages with")
	}
	slug := m.opts.TableSlug
	if slug == "" {
		slug = info.Name
		if err := checkSlug(slug); err != nil {
			m.mu.Unlock()
			return fmt.Errorf("%w; set Options.TableSlug", err)
		}
	}
	if reflect.ValueOf(m.opts.Logger).IsZero() {
		m.log = info.Logger
	}
	m.hubName = info.Name
	m.protocols = append([]protocol.HubProtocol(nil), info.Protocols...)
	m.names = newNames(m.opts.SchemaName, slug, m.opts.NotificationChannel)
	m.bound = true

	cfg := m.connCfg.Config
	m.regKey = fmt.Sprintf("%s:%d/%s#%s", cfg.Host, cfg.Port, cfg.Database, m.names.channel)
	registryMu.Lock()
	others := registry[m.regKey]
	registry[m.regKey] = append(others, info.Name)
	registryMu.Unlock()
	if len(others) > 0 {
		m.log.Warn().Str("hub", info.Name).Strs("other_hubs", others).Str("channel", m.names.channel).
			Msg("npgsql: several hubs share one notification channel; the .NET payload has no hub field, so every hub's " +
				"messages reach every hub's connections (as with .NET). Give each hub its own NotificationChannel unless .NET servers need the shared one")
	}
	if m.names.channel != strings.ToLower(m.names.channel) {
		m.log.Warn().Str("channel", m.names.channel).
			Msg("npgsql: NotificationChannel has upper-case letters: .NET servers LISTEN on the lower-cased name and receive nothing from this backplane")
	}

	ctx, cancel := context.WithTimeout(context.Background(), m.opts.CommandTimeout)
	defer cancel()
	if err := m.ensureSchema(ctx); err != nil {
		m.log.Warn().Err(err).Msg("npgsql: backplane setup failed; retrying in the background")
	}
	m.pub = newPublisher(m.pool, m.names, m.opts.MaxBatchSize, m.withTimeout, &m.opts.Metrics,
		func(err error) { m.log.Error().Err(err).Msg("npgsql: publish failed") })
	m.lis = newListener(m, m.connCfg)
	if m.opts.RetentionAge > 0 {
		m.ret = newRetention(m)
	}
	lis := m.lis
	m.mu.Unlock()

	select {
	case <-lis.listening:
	case <-m.closing:
	case <-ctx.Done():
		m.log.Warn().Msg("npgsql: backplane listener not connected yet; continuing, it keeps retrying")
	}
	return nil
}

func (m *Manager) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, m.opts.CommandTimeout)
}

// ensureSchema runs the DDL once per Manager (retried until it succeeds).
func (m *Manager) ensureSchema(ctx context.Context) error {
	if m.schemaDone.Load() {
		return nil
	}
	m.schemaMu.Lock()
	defer m.schemaMu.Unlock()
	if m.schemaDone.Load() {
		return nil
	}
	ctx, cancel := m.withTimeout(ctx)
	defer cancel()
	if err := ensureSchema(ctx, m.pool, m.names, m.opts.Mode); err != nil {
		return err
	}
	m.schemaDone.Store(true)
	return nil
}

// Close stops the listener, the publisher and the retention sweep, fails
// pending group acks and closes the connections. It does not close local
// client connections (the signalr server does).
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	close(m.closing)
	pub, lis, ret := m.pub, m.lis, m.ret
	m.mu.Unlock()
	if ret != nil {
		ret.close()
	}
	if lis != nil {
		lis.close()
	}
	if pub != nil {
		pub.close()
	}
	m.pool.Close()
	if m.regKey != "" {
		registryMu.Lock()
		hubs := registry[m.regKey]
		for i, h := range hubs {
			if h == m.hubName {
				registry[m.regKey] = append(hubs[:i:i], hubs[i+1:]...)
				break
			}
		}
		if len(registry[m.regKey]) == 0 {
			delete(registry, m.regKey)
		}
		registryMu.Unlock()
	}
}

// Status describes the backplane's health.
type Status struct {
	ServerName        string
	Bound             bool      // BindHub ran
	ListenerConnected bool      // the LISTEN connection is up
	CaughtUp          bool      // the catch-up after the last (re)connect finished
	LastNotification  time.Time // zero if none yet
	Reconnects        int64     // listener reconnects since start
	LastError         string    // the listener's last connection error
	// NotifyQueueUsage is pg_notification_queue_usage() (0…1) at the
	// listener's last health check; NOTIFY fails when it reaches 1.
	NotifyQueueUsage float64
}

// Status returns the current Status.
func (m *Manager) Status() Status {
	m.mu.Lock()
	lis, bound := m.lis, m.bound
	m.mu.Unlock()
	s := Status{ServerName: m.opts.ServerName, Bound: bound}
	if lis == nil {
		return s
	}
	s.ListenerConnected = lis.connected.Load()
	s.CaughtUp = lis.caughtUp.Load()
	if ns := lis.lastNotify.Load(); ns != 0 {
		s.LastNotification = time.Unix(0, ns)
	}
	s.Reconnects = lis.reconnects.Load()
	if e := lis.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	s.NotifyQueueUsage = math.Float64frombits(lis.queueUse.Load())
	return s
}

// Ready reports whether the backplane can deliver: bound to a hub, the
// listener connected and caught up. reason says what is missing.
func (m *Manager) Ready() (ok bool, reason string) {
	s := m.Status()
	switch {
	case !s.Bound:
		return false, "backplane not bound to a hub yet"
	case !s.ListenerConnected:
		if s.LastError != "" {
			return false, "backplane listener not connected: " + s.LastError
		}
		return false, "backplane listener not connected"
	case !s.CaughtUp:
		return false, "backplane listener catching up"
	}
	return true, ""
}

// --- publishing ---

func (m *Manager) publisher() (*publisher, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if !m.bound {
		return nil, errors.New("npgsql: manager is not bound to a hub (signalr.NewServer calls BindHub)")
	}
	return m.pub, nil
}

func (m *Manager) encodePayload(p *Payload) ([]byte, error) {
	b, err := AppendPayload(nil, p)
	if err != nil {
		return nil, err
	}
	if m.opts.Mode == ModeCompat {
		if n := maxNotifySize(len(b)); n >= MaxNotifyPayload {
			return nil, &TooLargeError{Size: len(b), NotifySize: n}
		}
	}
	return b, nil
}

func (m *Manager) publish(ctx context.Context, p *Payload) error {
	pub, err := m.publisher()
	if err != nil {
		return err
	}
	if !m.schemaDone.Load() && m.schemaMu.TryLock() {
		// The listener normally has set up the table already; if not, try
		// once here (as .NET does on publish), but never queue behind
		// another attempt: an INSERT into a missing table fails clearly.
		m.schemaMu.Unlock()
		if err := m.ensureSchema(ctx); err != nil {
			return err
		}
	}
	b, err := m.encodePayload(p)
	if err != nil {
		if f := m.opts.Metrics.PublishFailed; f != nil {
			f(err)
		}
		return err
	}
	m.order.begin()
	id, err := pub.publish(ctx, b)
	m.order.end(id, b, err)
	return err
}

// serialize encodes an invocation once per hub protocol, in protocol order.
func (m *Manager) serialize(method string, args []any) ([]Encoded, error) {
	if args == nil {
		args = []any{}
	}
	msg := &protocol.Invocation{Target: method, Arguments: args}
	out := make([]Encoded, 0, len(m.protocols))
	for _, p := range m.protocols {
		b, err := p.AppendMessage(nil, msg)
		if err != nil {
			return nil, fmt.Errorf("npgsql: serialize %s for protocol %s: %w", method, p.Name(), err)
		}
		out = append(out, Encoded{Protocol: p.Name(), Bytes: b})
	}
	return out, nil
}

func (m *Manager) publishInvocation(ctx context.Context, p *Payload, method string, args []any) error {
	if _, err := m.publisher(); err != nil {
		return err
	}
	msgs, err := m.serialize(method, args)
	if err != nil {
		return err
	}
	p.Messages = msgs
	return m.publish(ctx, p)
}

// --- signalr.HubLifetimeManager ---

// OnConnected implements signalr.HubLifetimeManager.
func (m *Manager) OnConnected(ctx context.Context, c *signalr.HubConnection) error {
	return m.engine.OnConnected(ctx, c)
}

// OnDisconnected implements signalr.HubLifetimeManager. Group membership is
// local state only, so nothing is published (as in .NET).
func (m *Manager) OnDisconnected(ctx context.Context, c *signalr.HubConnection) error {
	return m.engine.OnDisconnected(ctx, c)
}

// SendAll implements signalr.HubLifetimeManager.
func (m *Manager) SendAll(ctx context.Context, method string, args []any) error {
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationAll}, method, args)
}

// SendAllExcept implements signalr.HubLifetimeManager.
func (m *Manager) SendAllExcept(ctx context.Context, method string, args []any, excludedConnectionIDs []string) error {
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationAll, ExcludedIDs: excludedConnectionIDs}, method, args)
}

// SendConnection implements signalr.HubLifetimeManager: a local connection
// is written directly (unless an earlier message of this server is still in
// flight: see orderGuard), any other goes through the backplane.
func (m *Manager) SendConnection(ctx context.Context, connectionID, method string, args []any) error {
	if m.engine.LocalConnection(connectionID) != nil && m.order.idle() {
		return m.engine.SendConnection(ctx, connectionID, method, args)
	}
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationConnection, ConnectionID: connectionID}, method, args)
}

// SendConnections implements signalr.HubLifetimeManager: one row per
// non-local connection.
func (m *Manager) SendConnections(ctx context.Context, connectionIDs []string, method string, args []any) error {
	if _, err := m.publisher(); err != nil {
		return err
	}
	var local []string
	var msgs []Encoded
	idle := m.order.idle()
	for _, id := range connectionIDs {
		if idle && m.engine.LocalConnection(id) != nil {
			local = append(local, id)
			continue
		}
		if msgs == nil {
			var err error
			if msgs, err = m.serialize(method, args); err != nil {
				return err
			}
		}
		if err := m.publish(ctx, &Payload{Type: TypeInvocationConnection, ConnectionID: id, Messages: msgs}); err != nil {
			return err
		}
	}
	if len(local) > 0 {
		return m.engine.SendConnections(ctx, local, method, args)
	}
	return nil
}

// SendGroup implements signalr.HubLifetimeManager.
func (m *Manager) SendGroup(ctx context.Context, groupName, method string, args []any) error {
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationGroup, GroupName: groupName}, method, args)
}

// SendGroups implements signalr.HubLifetimeManager: one row per group (empty names skipped).
func (m *Manager) SendGroups(ctx context.Context, groupNames []string, method string, args []any) error {
	return m.fanOut(ctx, groupNames, method, args, func(name string, msgs []Encoded) *Payload {
		return &Payload{Type: TypeInvocationGroup, GroupName: name, Messages: msgs}
	})
}

// SendGroupExcept implements signalr.HubLifetimeManager.
func (m *Manager) SendGroupExcept(ctx context.Context, groupName, method string, args []any, excludedConnectionIDs []string) error {
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationGroup, GroupName: groupName, ExcludedIDs: excludedConnectionIDs}, method, args)
}

// SendUser implements signalr.HubLifetimeManager.
func (m *Manager) SendUser(ctx context.Context, userID, method string, args []any) error {
	return m.publishInvocation(ctx, &Payload{Type: TypeInvocationUser, UserID: userID}, method, args)
}

// SendUsers implements signalr.HubLifetimeManager: one row per user (empty ids skipped).
func (m *Manager) SendUsers(ctx context.Context, userIDs []string, method string, args []any) error {
	return m.fanOut(ctx, userIDs, method, args, func(id string, msgs []Encoded) *Payload {
		return &Payload{Type: TypeInvocationUser, UserID: id, Messages: msgs}
	})
}

func (m *Manager) fanOut(ctx context.Context, targets []string, method string, args []any, build func(string, []Encoded) *Payload) error {
	if _, err := m.publisher(); err != nil {
		return err
	}
	var msgs []Encoded
	for _, t := range targets {
		if t == "" {
			continue
		}
		if msgs == nil {
			var err error
			if msgs, err = m.serialize(method, args); err != nil {
				return err
			}
		}
		if err := m.publish(ctx, build(t, msgs)); err != nil {
			return err
		}
	}
	return nil
}

// AckTimeoutError reports a remote group change that no server acknowledged.
type AckTimeoutError struct {
	Action       GroupAction
	ConnectionID string
	GroupName    string
	Timeout      time.Duration
}

func (e *AckTimeoutError) Error() string {
	verb := "adding connection %q to group %q"
	if e.Action == GroupRemove {
		verb = "removing connection %q from group %q"
	}
	return fmt.Sprintf("npgsql: "+verb+": no server acknowledged within %v (the connection is on no server, or its server is not reachable through the backplane)",
		e.ConnectionID, e.GroupName, e.Timeout)
}

// AddToGroup implements signalr.HubLifetimeManager. A connection of this
// server is added directly; otherwise a Group command is published and the
// call waits for the owning server's ack (AckTimeout). While a message of
// this server is in flight, a local connection's change goes through the
// backplane too (this server acks it to itself), so that a group message
// sent before the change is not delivered after it, or vice versa.
func (m *Manager) AddToGroup(ctx context.Context, connectionID, groupName string) error {
	if m.order.idle() && m.engine.LocalAddToGroup(connectionID, groupName) {
		return nil
	}
	return m.remoteGroup(ctx, GroupAdd, connectionID, groupName)
}

// RemoveFromGroup implements signalr.HubLifetimeManager, like AddToGroup.
func (m *Manager) RemoveFromGroup(ctx context.Context, connectionID, groupName string) error {
	if m.order.idle() && m.engine.LocalRemoveFromGroup(connectionID, groupName) {
		return nil
	}
	return m.remoteGroup(ctx, GroupRemove, connectionID, groupName)
}

func (m *Manager) remoteGroup(ctx context.Context, action GroupAction, connectionID, groupName string) error {
	id := m.ackSeq.Add(1)
	ch := make(chan struct{})
	m.acksMu.Lock()
	m.acks[id] = ch
	m.acksMu.Unlock()
	defer func() {
		m.acksMu.Lock()
		delete(m.acks, id)
		m.acksMu.Unlock()
	}()
	err := m.publish(ctx, &Payload{Type: TypeGroup, ID: id, ServerName: m.opts.ServerName, Action: action, GroupName: groupName, ConnectionID: connectionID})
	if err != nil {
		return err
	}
	t := time.NewTimer(m.opts.AckTimeout)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return &AckTimeoutError{Action: action, ConnectionID: connectionID, GroupName: groupName, Timeout: m.opts.AckTimeout}
	case <-ctx.Done():
		return ctx.Err()
	case <-m.closing:
		return ErrClosed
	}
}

// RemoteClientResultError is returned by InvokeConnection for a connection
// that is not on this server.
type RemoteClientResultError struct{ ConnectionID string }

func (e *RemoteClientResultError) Error() string {
	return fmt.Sprintf("npgsql: connection %q is not on this server, and client results cannot cross the PostgreSQL backplane "+
		"(the AspNetCore.SignalR.Npgsql wire format has no return channel)", e.ConnectionID)
}

// InvokeConnection implements signalr.HubLifetimeManager. Client results
// work for connections of this server only.
func (m *Manager) InvokeConnection(ctx context.Context, connectionID, method string, args []any) (*protocol.Completion, error) {
	if m.engine.LocalConnection(connectionID) == nil {
		return nil, &RemoteClientResultError{ConnectionID: connectionID}
	}
	return m.engine.InvokeConnection(ctx, connectionID, method, args)
}

// SetConnectionResult implements signalr.HubLifetimeManager.
func (m *Manager) SetConnectionResult(connectionID string, c *protocol.Completion) error {
	return m.engine.SetConnectionResult(connectionID, c)
}

// --- receiving ---

// dispatch hands one backplane message to the local engine. It runs on the
// listener goroutine, strictly in notification order, and never blocks:
// writes to connections are queued, and acks are published asynchronously.
func (m *Manager) dispatch(b []byte) {
	p, err := ParsePayload(b)
	if err != nil {
		m.log.Warn().Err(err).Msg("npgsql: dropping malformed backplane message")
		return
	}
	if f := m.opts.Metrics.Received; f != nil {
		f()
	}
	switch p.Type {
	case TypeInvocationAll:
		m.engine.LocalSendAll(preserialized(p), p.ExcludedIDs)
	case TypeInvocationGroup:
		m.engine.LocalSendGroups(preserialized(p), []string{p.GroupName}, p.ExcludedIDs)
	case TypeInvocationConnection:
		m.engine.LocalSendConnections(preserialized(p), []string{p.ConnectionID})
	case TypeInvocationUser:
		m.engine.LocalSendUsers(preserialized(p), []string{p.UserID})
	case TypeGroup:
		var local bool
		switch p.Action {
		case GroupAdd:
			local = m.engine.LocalAddToGroup(p.ConnectionID, p.GroupName)
		case GroupRemove:
			local = m.engine.LocalRemoveFromGroup(p.ConnectionID, p.GroupName)
		default:
			m.log.Warn().Int("action", int(p.Action)).Msg("npgsql: unknown group action")
			return
		}
		if local {
			m.sendAck(p.ID, p.ServerName)
		}
	case TypeAck:
		if p.ServerName != m.opts.ServerName {
			return
		}
		m.acksMu.Lock()
		ch := m.acks[p.ID]
		delete(m.acks, p.ID)
		m.acksMu.Unlock()
		if ch != nil {
			close(ch)
		}
	}
}

func (m *Manager) sendAck(id int32, server string) {
	b, err := AppendPayload(nil, &Payload{Type: TypeAck, ID: id, ServerName: server})
	if err != nil {
		return
	}
	m.mu.Lock()
	pub := m.pub
	m.mu.Unlock()
	if pub != nil {
		pub.publishAsync(b)
	}
}

func preserialized(p *Payload) *signalr.SerializedMessage {
	byProto := make(map[string][]byte, len(p.Messages))
	for _, e := range p.Messages {
		byProto[e.Protocol] = e.Bytes
	}
	return signalr.NewPreserializedMessage(nil, byProto)
}
