package npgsql

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithServer(m)) }

// fakeEngine stands in for signalr.DefaultHubLifetimeManager: it knows
// which connection ids (with users) live on "its server", keeps groups, and
// records what each connection receives (the JSON text of the message, and
// whether a MessagePack encoding came along).
type fakeEngine struct {
	*signalr.DefaultHubLifetimeManager // interface methods not used by the backplane

	mu     sync.Mutex
	conns  map[string]string          // id → user
	groups map[string]map[string]bool // group → ids
	got    map[string][]string        // id → received JSON texts
	mpMiss int                        // deliveries without a messagepack entry
	direct int                        // sends that took the short path
	wake   chan struct{}
}

func newFakeEngine(conns map[string]string) *fakeEngine {
	return &fakeEngine{
		DefaultHubLifetimeManager: signalr.NewDefaultHubLifetimeManager(),
		conns:                     conns,
		groups:                    map[string]map[string]bool{},
		got:                       map[string][]string{},
		wake:                      make(chan struct{}, 1),
	}
}

func (e *fakeEngine) record(sm *signalr.SerializedMessage, ids []string) {
	b, err := sm.Bytes(protocol.JSON)
	text := ""
	if err != nil {
		text = "ERROR: " + err.Error()
	} else {
		text = string(bytes.TrimSuffix(b, []byte{0x1e}))
	}
	_, mpErr := sm.Bytes(protocol.MessagePack)
	e.mu.Lock()
	for _, id := range ids {
		e.got[id] = append(e.got[id], text)
	}
	if mpErr != nil {
		e.mpMiss++
	}
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *fakeEngine) LocalSendAll(sm *signalr.SerializedMessage, excluded []string) {
	e.mu.Lock()
	var ids []string
	for id := range e.conns {
		if !slices.Contains(excluded, id) {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	e.record(sm, ids)
}

func (e *fakeEngine) LocalSendConnections(sm *signalr.SerializedMessage, connectionIDs []string) {
	e.mu.Lock()
	var ids []string
	for _, id := range connectionIDs {
		if _, ok := e.conns[id]; ok {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	e.record(sm, ids)
}

func (e *fakeEngine) LocalSendGroups(sm *signalr.SerializedMessage, groupNames []string, excluded []string) {
	e.mu.Lock()
	set := map[string]bool{}
	for _, g := range groupNames {
		for id := range e.groups[g] {
			if !slices.Contains(excluded, id) {
				set[id] = true
			}
		}
	}
	e.mu.Unlock()
	e.record(sm, mapKeys(set))
}

func (e *fakeEngine) LocalSendUsers(sm *signalr.SerializedMessage, userIDs []string) {
	e.mu.Lock()
	var ids []string
	for id, u := range e.conns {
		if slices.Contains(userIDs, u) {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	e.record(sm, ids)
}

func (e *fakeEngine) LocalConnection(id string) *signalr.HubConnection {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.conns[id]; ok {
		return &signalr.HubConnection{} // only nil-ness matters to the backplane
	}
	return nil
}

func (e *fakeEngine) LocalAddToGroup(id, group string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.conns[id]; !ok {
		return false
	}
	if e.groups[group] == nil {
		e.groups[group] = map[string]bool{}
	}
	e.groups[group][id] = true
	return true
}

func (e *fakeEngine) LocalRemoveFromGroup(id, group string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.conns[id]; !ok {
		return false
	}
	delete(e.groups[group], id)
	return true
}

// SendConnection is the direct path for a local connection.
func (e *fakeEngine) SendConnection(_ context.Context, id, method string, args []any) error {
	e.mu.Lock()
	e.direct++
	e.mu.Unlock()
	e.record(signalr.NewInvocationMessage(method, args), []string{id})
	return nil
}

func (e *fakeEngine) SendConnections(_ context.Context, ids []string, method string, args []any) error {
	e.record(signalr.NewInvocationMessage(method, args), ids)
	return nil
}

func (e *fakeEngine) received(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got[id])
}

// waitFor waits until connection id has received n messages and returns them.
func (e *fakeEngine) waitFor(t testing.TB, id string, n int) []string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		if got := e.received(id); len(got) >= n {
			return got
		}
		select {
		case <-e.wake:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			got := e.received(id)
			t.Fatalf("connection %s received %d messages, want %d; last: %q", id, len(got), n, got[max(0, len(got)-3):])
		}
	}
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

var hubProtocols = []protocol.HubProtocol{protocol.JSON, protocol.MessagePack}

// fastOptions are short intervals for tests.
func fastOptions(dsn string) Options {
	return Options{
		ConnectionString:    dsn,
		BaseRetryDelay:      20 * time.Millisecond,
		MaxRetryDelay:       200 * time.Millisecond,
		HealthCheckInterval: 250 * time.Millisecond,
		CommandTimeout:      10 * time.Second,
		AckTimeout:          5 * time.Second,
		RetentionAge:        -1,
	}
}

func newManager(t testing.TB, opts Options, e *fakeEngine) *Manager {
	t.Helper()
	if e != nil {
		opts.Engine = e
	}
	m, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	if err := m.BindHub(signalr.HubInfo{Name: "ChatHub", Protocols: hubProtocols, Logger: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	if ok, reason := m.Ready(); !ok {
		t.Fatalf("not ready after BindHub: %s", reason)
	}
	return m
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func sendJSON(target string, args ...string) string {
	s := fmt.Sprintf(`{"type":1,"target":%q,"arguments":[`, target)
	for i, a := range args {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf("%q", a)
	}
	return s + "]}"
}

func fmtSscanf(s string, p, i *int) (int, error) {
	return fmt.Sscanf(s, `{"type":1,"target":"M","arguments":[%d,%d]}`, p, i)
}

type pgxPool = pgxpool.Pool

func newPgxPool(dsn string) (*pgxpool.Pool, error) { return pgxpool.New(context.Background(), dsn) }
