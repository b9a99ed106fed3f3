package npgsql

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// dotnetDDL is the command the .NET backplane runs at every start, for hub
// ChatHub with default options (one multi-statement simple-protocol command).
const dotnetDDL = `
CREATE SCHEMA IF NOT EXISTS "SignalR";
CREATE TABLE IF NOT EXISTS "SignalR"."ChatHub_Messages" (
    "Id" SERIAL PRIMARY KEY,
    "Payload" BYTEA NOT NULL,
    "InsertedOn" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
DROP TRIGGER IF EXISTS ChatHub_Messages_insert_trigger ON "SignalR"."ChatHub_Messages";
DROP FUNCTION IF EXISTS notify_ChatHub_Messages_change();
CREATE OR REPLACE FUNCTION notify_ChatHub_Messages_change()
RETURNS TRIGGER AS $$
BEGIN
    PERFORM pg_notify('signalr_notification_channel', json_build_object(
        'Id', NEW."Id",
        'Payload', encode(NEW."Payload", 'base64'),
        'InsertedOn', NEW."InsertedOn"
    )::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ChatHub_Messages_insert_trigger
AFTER INSERT ON "SignalR"."ChatHub_Messages"
FOR EACH ROW
EXECUTE FUNCTION notify_ChatHub_Messages_change();
`

func TestSchemaMatchesDotNet(t *testing.T) {
	dsn := pgtest.DSN(t)
	newManager(t, fastOptions(dsn), newFakeEngine(map[string]string{}))
	db := connect(t, dsn)
	ctx := context.Background()

	rows, err := db.Query(ctx, `SELECT column_name, data_type, is_nullable, coalesce(column_default, '')
		FROM information_schema.columns WHERE table_schema = 'SignalR' AND table_name = 'ChatHub_Messages' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	var cols [][4]string
	for rows.Next() {
		var c [4]string
		if err := rows.Scan(&c[0], &c[1], &c[2], &c[3]); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	want := [][4]string{
		{"Id", "integer", "NO", `nextval('"SignalR"."ChatHub_Messages_Id_seq"'::regclass)`},
		{"Payload", "bytea", "NO", ""},
		{"InsertedOn", "timestamp without time zone", "NO", "CURRENT_TIMESTAMP"},
	}
	if len(cols) != len(want) {
		t.Fatalf("columns %v", cols)
	}
	for i := range want {
		if cols[i] != want[i] {
			t.Errorf("column %d = %v, want %v", i, cols[i], want[i])
		}
	}
	var trigger, fn, fnSchema string
	err = db.QueryRow(ctx, `SELECT t.tgname, p.proname, n.nspname FROM pg_trigger t
		JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE t.tgrelid = '"SignalR"."ChatHub_Messages"'::regclass AND NOT t.tgisinternal`).Scan(&trigger, &fn, &fnSchema)
	if err != nil {
		t.Fatal(err)
	}
	if trigger != "chathub_messages_insert_trigger" || fn != "notify_chathub_messages_change" || fnSchema != "public" {
		t.Fatalf("trigger %s, function %s.%s", trigger, fnSchema, fn)
	}
}

func TestSchemaIdempotentAndConcurrent(t *testing.T) {
	dsn := pgtest.DSN(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	n := newNames("SignalR", "ChatHub", "signalr_notification_channel")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				errs <- ensureSchema(context.Background(), pool, n, ModeCompat)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent setup: %v", err)
		}
	}
}

// A .NET server starting after us reinstalls its trigger: we keep receiving.
// We starting after .NET: a .NET-style listener (LISTEN unquoted) receives
// our rows.
func TestSetupInteroperatesWithDotNetDDL(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	db := connect(t, dsn)
	if _, err := db.PgConn().Exec(ctx, dotnetDDL).ReadAll(); err != nil {
		t.Fatalf(".NET DDL on an empty database: %v", err)
	}
	e := newFakeEngine(map[string]string{"c1": ""})
	m := newManager(t, fastOptions(dsn), e)

	// .NET-style listener.
	dotnet := connect(t, dsn)
	if _, err := dotnet.Exec(ctx, "LISTEN signalr_notification_channel"); err != nil {
		t.Fatal(err)
	}
	if err := m.SendAll(ctx, "Send", []any{"hi"}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "c1", 1)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := dotnet.WaitForNotification(wctx)
	if err != nil {
		t.Fatal(err)
	}
	note, err := ParseNotification(n.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := readGolden(t, "invocation_all_json_messagepack"); !bytes.Equal(note.Payload, want) {
		t.Fatalf(".NET listener got % X", note.Payload)
	}

	// .NET restarts and reruns its DDL while we are running.
	if _, err := db.PgConn().Exec(ctx, dotnetDDL).ReadAll(); err != nil {
		t.Fatalf(".NET DDL after ours: %v", err)
	}
	if err := m.SendAll(ctx, "Send", []any{"again"}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitFor(t, "c1", 2); got[1] != sendJSON("Send", "again") {
		t.Fatalf("got %q", got)
	}
	// Our setup is idempotent over theirs.
	if err := ensureSchema(ctx, m.pool, m.names, ModeCompat); err != nil {
		t.Fatal(err)
	}
	var cycles bool
	if err := db.QueryRow(ctx, `SELECT seqcycle FROM pg_sequence WHERE seqrelid = '"SignalR"."ChatHub_Messages_Id_seq"'::regclass`).Scan(&cycles); err != nil || !cycles {
		t.Fatalf("sequence cycles = %v, %v", cycles, err)
	}
}
