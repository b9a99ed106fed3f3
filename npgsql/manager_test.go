package npgsql

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/signalr"
)

// cluster is three servers on one database.
type cluster struct {
	a, b, c    *Manager
	ea, eb, ec *fakeEngine
}

func newCluster(t *testing.T, opts Options) *cluster {
	t.Helper()
	cl := &cluster{
		ea: newFakeEngine(map[string]string{"a1": "alice"}),
		eb: newFakeEngine(map[string]string{"b1": "bob", "b2": "alice"}),
		ec: newFakeEngine(map[string]string{"c1": "carol"}),
	}
	cl.a = newManager(t, opts, cl.ea)
	cl.b = newManager(t, opts, cl.eb)
	cl.c = newManager(t, opts, cl.ec)
	return cl
}

func TestSendAcrossServers(t *testing.T) {
	cl := newCluster(t, fastOptions(pgtest.DSN(t)))
	ctx := context.Background()
	all := map[string]*fakeEngine{"a1": cl.ea, "b1": cl.eb, "b2": cl.eb, "c1": cl.ec}

	if err := cl.a.SendAll(ctx, "Send", []any{"hi"}); err != nil {
		t.Fatal(err)
	}
	for id, e := range all {
		if got := e.waitFor(t, id, 1); got[0] != sendJSON("Send", "hi") {
			t.Fatalf("%s got %q", id, got)
		}
	}
	if err := cl.c.SendAllExcept(ctx, "Send", []any{"x"}, []string{"b1", "a1"}); err != nil {
		t.Fatal(err)
	}
	cl.eb.waitFor(t, "b2", 2)
	cl.ec.waitFor(t, "c1", 2)

	// A single remote connection, then a local one (direct path).
	if err := cl.a.SendConnection(ctx, "c1", "Direct", []any{"to-c1"}); err != nil {
		t.Fatal(err)
	}
	if got := cl.ec.waitFor(t, "c1", 3); got[2] != sendJSON("Direct", "to-c1") {
		t.Fatalf("c1 got %q", got)
	}
	if err := cl.a.SendConnection(ctx, "a1", "Direct", []any{"to-a1"}); err != nil {
		t.Fatal(err)
	}
	if got := cl.ea.waitFor(t, "a1", 2); got[1] != sendJSON("Direct", "to-a1") {
		t.Fatalf("a1 got %q", got)
	}
	if err := cl.b.SendConnections(ctx, []string{"b1", "c1", "a1"}, "Many", nil); err != nil {
		t.Fatal(err)
	}
	cl.eb.waitFor(t, "b1", 2)
	cl.ec.waitFor(t, "c1", 4)
	cl.ea.waitFor(t, "a1", 3)

	// Users on two servers.
	if err := cl.c.SendUser(ctx, "alice", "ToAlice", []any{"u"}); err != nil {
		t.Fatal(err)
	}
	if got := cl.ea.waitFor(t, "a1", 4); got[3] != sendJSON("ToAlice", "u") {
		t.Fatalf("a1 got %q", got)
	}
	if got := cl.eb.waitFor(t, "b2", 3); got[2] != sendJSON("ToAlice", "u") {
		t.Fatalf("b2 got %q", got)
	}
	if err := cl.a.SendUsers(ctx, []string{"bob", "", "carol"}, "ToUsers", nil); err != nil {
		t.Fatal(err)
	}
	cl.eb.waitFor(t, "b1", 3)
	cl.ec.waitFor(t, "c1", 5)

	// Nobody got more than expected, and every delivery carried both protocols.
	time.Sleep(200 * time.Millisecond)
	want := map[string]int{"a1": 4, "b1": 3, "b2": 3, "c1": 5}
	for id, n := range want {
		if got := all[id].received(id); len(got) != n {
			t.Errorf("%s received %d messages, want %d: %q", id, len(got), n, got)
		}
	}
	for _, e := range []*fakeEngine{cl.ea, cl.eb, cl.ec} {
		if e.mpMiss != 0 {
			t.Errorf("%d deliveries had no messagepack encoding", e.mpMiss)
		}
	}
}

func TestGroupsAcrossServers(t *testing.T) {
	opts := fastOptions(pgtest.DSN(t))
	cl := newCluster(t, opts)
	ctx := context.Background()

	// Remote adds: the owning server adds and acks.
	if err := cl.a.AddToGroup(ctx, "b1", "room"); err != nil {
		t.Fatal(err)
	}
	if err := cl.a.AddToGroup(ctx, "c1", "room"); err != nil {
		t.Fatal(err)
	}
	if err := cl.a.AddToGroup(ctx, "a1", "room"); err != nil { // local
		t.Fatal(err)
	}
	if err := cl.b.SendGroup(ctx, "room", "G", []any{"1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		e  *fakeEngine
		id string
	}{{cl.ea, "a1"}, {cl.eb, "b1"}, {cl.ec, "c1"}} {
		if got := p.e.waitFor(t, p.id, 1); got[0] != sendJSON("G", "1") {
			t.Fatalf("%s got %q", p.id, got)
		}
	}
	if err := cl.c.SendGroupExcept(ctx, "room", "G", []any{"2"}, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	cl.eb.waitFor(t, "b1", 2)
	cl.ec.waitFor(t, "c1", 2)

	if err := cl.c.RemoveFromGroup(ctx, "b1", "room"); err != nil {
		t.Fatal(err)
	}
	if err := cl.a.SendGroups(ctx, []string{"room", "", "empty"}, "G", []any{"3"}); err != nil {
		t.Fatal(err)
	}
	cl.ea.waitFor(t, "a1", 2)
	cl.ec.waitFor(t, "c1", 3)
	time.Sleep(200 * time.Millisecond)
	if got := cl.eb.received("b1"); len(got) != 2 {
		t.Fatalf("b1 got %q after leaving the group", got)
	}
	if got := cl.ea.received("a1"); len(got) != 2 {
		t.Fatalf("a1 got %q (excluded once)", got)
	}
	if got := cl.eb.received("b2"); len(got) != 0 {
		t.Fatalf("b2 is in no group but got %q", got)
	}
}

func TestAckTimeout(t *testing.T) {
	opts := fastOptions(pgtest.DSN(t))
	opts.AckTimeout = 150 * time.Millisecond
	m := newManager(t, opts, newFakeEngine(map[string]string{}))
	err := m.AddToGroup(context.Background(), "ghost", "room")
	var ate *AckTimeoutError
	if !errors.As(err, &ate) {
		t.Fatalf("err = %v, want *AckTimeoutError", err)
	}
	for _, s := range []string{`"ghost"`, `"room"`, "150ms", "adding"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %s", err, s)
		}
	}
	err = m.RemoveFromGroup(context.Background(), "ghost", "room")
	if !errors.As(err, &ate) || !strings.Contains(err.Error(), "removing") {
		t.Fatalf("err = %v", err)
	}
	// A cancelled context ends the wait early.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := m.AddToGroup(ctx, "ghost", "room"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestRemoteClientResultsError(t *testing.T) {
	m := newManager(t, fastOptions(pgtest.DSN(t)), newFakeEngine(map[string]string{}))
	_, err := m.InvokeConnection(context.Background(), "elsewhere", "GetValue", nil)
	var rce *RemoteClientResultError
	if !errors.As(err, &rce) || !strings.Contains(err.Error(), `"elsewhere"`) || !strings.Contains(err.Error(), "client results") {
		t.Fatalf("err = %v", err)
	}
}

// A row written the way the .NET server writes it reaches local connections.
func TestDotNetRowReachesLocalConnection(t *testing.T) {
	dsn := pgtest.DSN(t)
	e := newFakeEngine(map[string]string{"c1": "u"})
	newManager(t, fastOptions(dsn), e)
	db := connect(t, dsn)
	payload := readGolden(t, "invocation_all_json_messagepack")
	if _, err := db.Exec(context.Background(), `INSERT INTO "SignalR"."ChatHub_Messages" ("Payload") VALUES ($1)`, payload); err != nil {
		t.Fatal(err)
	}
	if got := e.waitFor(t, "c1", 1); got[0] != sendJSON("Send", "hi") {
		t.Fatalf("got %q", got)
	}
	// A group command from a .NET server for our connection is acked to it.
	grp, _ := AppendPayload(nil, &Payload{Type: TypeGroup, ID: 77, ServerName: "dotnet_0123", Action: GroupAdd, GroupName: "g", ConnectionID: "c1"})
	if _, err := db.Exec(context.Background(), `INSERT INTO "SignalR"."ChatHub_Messages" ("Payload") VALUES ($1)`, grp); err != nil {
		t.Fatal(err)
	}
	want, _ := AppendPayload(nil, &Payload{Type: TypeAck, ID: 77, ServerName: "dotnet_0123"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM "SignalR"."ChatHub_Messages" WHERE "Payload" = $1`, want).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ack row for the .NET group command")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// What the Go publisher writes is the golden .NET encoding (this also checks
// the JSON and MessagePack hub protocols' framing against hand-written bytes).
func TestPublishedRowMatchesGolden(t *testing.T) {
	dsn := pgtest.DSN(t)
	m := newManager(t, fastOptions(dsn), newFakeEngine(map[string]string{}))
	if err := m.SendAll(context.Background(), "Send", []any{"hi"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SendGroup(context.Background(), "room1", "Send", []any{"hi"}); err != nil {
		t.Fatal(err)
	}
	db := connect(t, dsn)
	rows, err := db.Query(context.Background(), `SELECT "Payload" FROM "SignalR"."ChatHub_Messages" ORDER BY "Id"`)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		got = append(got, b)
	}
	if len(got) != 2 {
		t.Fatalf("%d rows", len(got))
	}
	for i, name := range []string{"invocation_all_json_messagepack", "invocation_group_json_messagepack"} {
		if want := readGolden(t, name); !bytes.Equal(got[i], want) {
			t.Errorf("row %d differs from %s\n got % X\nwant % X", i, name, got[i], want)
		}
	}
}

func TestCompatRejectsOversizedMessage(t *testing.T) {
	dsn := pgtest.DSN(t)
	var failures int
	var mu sync.Mutex
	opts := fastOptions(dsn)
	opts.Metrics.PublishFailed = func(error) { mu.Lock(); failures++; mu.Unlock() }
	m := newManager(t, opts, newFakeEngine(map[string]string{}))
	err := m.SendAll(context.Background(), "Send", []any{strings.Repeat("x", 3000)})
	var tle *TooLargeError
	if !errors.As(err, &tle) || !strings.Contains(err.Error(), "7999") {
		t.Fatalf("err = %v, want *TooLargeError naming the limit", err)
	}
	db := connect(t, dsn)
	var n int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM "SignalR"."ChatHub_Messages"`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows = %d, %v: nothing may be inserted", n, err)
	}
	if failures != 1 {
		t.Fatalf("PublishFailed called %d times", failures)
	}
	// The largest accepted payload passes the trigger, whatever the Id.
	if _, err := db.Exec(context.Background(), `SELECT setval('"SignalR"."ChatHub_Messages_Id_seq"', 1999999999)`); err != nil {
		t.Fatal(err)
	}
	p := &Payload{Type: TypeInvocationAll, Messages: []Encoded{{"json", nil}}}
	base, _ := AppendPayload(nil, p)
	// base has an empty bin8 (2-byte header); the filled one is bin16 (3 bytes).
	p.Messages[0].Bytes = bytes.Repeat([]byte{'x'}, MaxCompatPayload-len(base)-1)
	b, _ := AppendPayload(nil, p)
	if len(b) != MaxCompatPayload {
		t.Fatalf("built %d bytes, want %d", len(b), MaxCompatPayload)
	}
	if err := m.publish(context.Background(), p); err != nil {
		t.Fatalf("largest compat payload: %v", err)
	}
	p.Messages[0].Bytes = append(p.Messages[0].Bytes, 'x')
	if err := m.publish(context.Background(), p); !errors.As(err, &tle) {
		t.Fatalf("one byte more: %v", err)
	}
}

// NotifySize predicts PostgreSQL's json_build_object text length exactly.
func TestNotifySizeMatchesPostgres(t *testing.T) {
	db := connect(t, pgtest.DSN(t))
	for _, n := range []int{0, 1, 2, 3, 56, 57, 58, 113, 114, 115, 1000, 5786, 5787, 5788} {
		for _, ts := range []string{"2026-01-01 00:00:00", "2026-01-01 00:00:00.5", "2026-01-01 00:00:00.123456"} {
			var got int
			err := db.QueryRow(context.Background(),
				`SELECT octet_length(json_build_object('Id', 1234567890, 'Payload', encode($1::bytea, 'base64'), 'InsertedOn', $2::timestamp)::text)`,
				bytes.Repeat([]byte{0xab}, n), ts).Scan(&got)
			if err != nil {
				t.Fatal(err)
			}
			tsLen := len(strings.Replace(ts, " ", "T", 1))
			if want := NotifySize(n, 10, tsLen); got != want {
				t.Errorf("n=%d ts=%s: PostgreSQL %d, NotifySize %d", n, ts, got, want)
			}
			text := AppendNotification(nil, 1234567890, bytes.Repeat([]byte{0xab}, n), strings.Replace(ts, " ", "T", 1))
			if len(text) != got {
				t.Errorf("n=%d: AppendNotification length %d, PostgreSQL %d", n, len(text), got)
			}
		}
	}
}

func TestNativeModeCarriesLargeMessages(t *testing.T) {
	opts := fastOptions(pgtest.DSN(t))
	opts.Mode = ModeNative
	cl := newCluster(t, opts)
	big := strings.Repeat("y", 50000)
	if err := cl.a.SendAll(context.Background(), "Big", []any{big}); err != nil {
		t.Fatal(err)
	}
	if err := cl.a.SendAll(context.Background(), "Small", []any{"s"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		e  *fakeEngine
		id string
	}{{cl.ea, "a1"}, {cl.eb, "b1"}, {cl.ec, "c1"}} {
		got := p.e.waitFor(t, p.id, 2)
		if got[0] != sendJSON("Big", big) || got[1] != sendJSON("Small", "s") {
			t.Fatalf("%s got %d/%d bytes", p.id, len(got[0]), len(got[1]))
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no connection string", Options{}, "ConnectionString is required"},
		{"bad mode", Options{ConnectionString: "postgres://x", Mode: "fast"}, "unknown Mode"},
		{"bad slug", Options{ConnectionString: "postgres://x", TableSlug: "Chat-Hub"}, "letters, digits"},
		{"long channel", Options{ConnectionString: "postgres://x", NotificationChannel: strings.Repeat("c", 64)}, "63-byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
	o, err := Options{ConnectionString: "x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if o.SchemaName != "SignalR" || o.NotificationChannel != "signalr_notification_channel" || o.AckTimeout != 30*time.Second ||
		o.RetentionAge != time.Hour || o.Mode != ModeCompat || o.MaxRetryAttempts != 10 || o.BaseRetryDelay != time.Second {
		t.Fatalf("defaults: %+v", o)
	}
	host, _, _ := strings.Cut(o.ServerName, "_")
	if suffix := strings.TrimPrefix(o.ServerName, host+"_"); len(suffix) != 32 || strings.ToLower(suffix) != suffix {
		t.Fatalf("server name %q", o.ServerName)
	}
}

func TestNotBoundAndClosed(t *testing.T) {
	m, err := New(context.Background(), fastOptions(pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	if ok, reason := m.Ready(); ok || !strings.Contains(reason, "not bound") {
		t.Fatalf("Ready = %v, %q", ok, reason)
	}
	if err := m.SendAll(context.Background(), "x", nil); err == nil || !strings.Contains(err.Error(), "BindHub") {
		t.Fatalf("err = %v", err)
	}
	m.Close()
	if err := m.SendAll(context.Background(), "x", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	if err := m.BindHub(signalr.HubInfo{Name: "ChatHub", Protocols: hubProtocols}); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	m.Close() // idempotent
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func TestSeveralHubsOnOneChannelWarn(t *testing.T) {
	dsn := pgtest.DSN(t)
	var logs logBuf
	opts := fastOptions(dsn)
	opts.Logger = zerolog.New(&logs)
	m1 := newManager(t, opts, newFakeEngine(map[string]string{}))
	_ = m1
	m2, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.BindHub(signalr.HubInfo{Name: "OtherHub", Protocols: hubProtocols}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "several hubs share one notification channel") || !strings.Contains(logs.String(), "ChatHub") {
		t.Fatalf("no warning: %s", logs.String())
	}
	if err := m2.BindHub(signalr.HubInfo{Name: "OtherHub", Protocols: hubProtocols}); err == nil {
		t.Fatal("second BindHub accepted")
	}
}

func TestMetricsAndStatus(t *testing.T) {
	var mu sync.Mutex
	counts := map[string]int{}
	inc := func(k string, n int) { mu.Lock(); counts[k] += n; mu.Unlock() }
	opts := fastOptions(pgtest.DSN(t))
	opts.Metrics = Metrics{
		Published: func(n int) { inc("published", n) },
		Received:  func() { inc("received", 1) },
	}
	e := newFakeEngine(map[string]string{"x": ""})
	m := newManager(t, opts, e)
	for range 3 {
		if err := m.SendAll(context.Background(), "M", nil); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor(t, "x", 3)
	mu.Lock()
	defer mu.Unlock()
	if counts["published"] != 3 || counts["received"] != 3 {
		t.Fatalf("counts %v", counts)
	}
	s := m.Status()
	if !s.Bound || !s.ListenerConnected || !s.CaughtUp || s.LastNotification.IsZero() || s.ServerName != m.ServerName() {
		t.Fatalf("status %+v", s)
	}
}

func TestConcurrentPublishersKeepOrder(t *testing.T) {
	for _, batch := range []int{1, 0} {
		name := "coalesced"
		if batch == 1 {
			name = "single-row"
		}
		t.Run(name, func(t *testing.T) {
			opts := fastOptions(pgtest.DSN(t))
			opts.MaxBatchSize = batch
			cl := newCluster(t, opts)
			const pubs, per = 12, 20
			var wg sync.WaitGroup
			for p := range pubs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					m := []*Manager{cl.a, cl.b, cl.c}[p%3]
					for i := range per {
						if err := m.SendAll(context.Background(), "M", []any{p, i}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			for _, x := range []struct {
				e  *fakeEngine
				id string
			}{{cl.ea, "a1"}, {cl.eb, "b1"}, {cl.ec, "c1"}} {
				checkExactlyOnceInOrder(t, x.id, x.e.waitFor(t, x.id, pubs*per), pubs, per)
			}
		})
	}
}

// checkExactlyOnceInOrder checks messages {"target":"M","arguments":[p,i]}:
// each (p, i) exactly once, and i increasing per p.
func checkExactlyOnceInOrder(t *testing.T, id string, got []string, pubs, per int) {
	t.Helper()
	next := make([]int, pubs)
	for _, s := range got {
		var p, i int
		if _, err := fmtSscanf(s, &p, &i); err != nil {
			t.Fatalf("%s: unexpected message %q", id, s)
		}
		if i != next[p] {
			t.Fatalf("%s: publisher %d message %d arrived when %d was expected (duplicate or reordered)", id, p, i, next[p])
		}
		next[p]++
	}
	if len(got) != pubs*per || slices.ContainsFunc(next, func(n int) bool { return n != per }) {
		t.Fatalf("%s: got %d messages, per publisher %v", id, len(got), next)
	}
}
