package npgsql

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// names holds the SQL identifiers of one hub's backplane objects.
type names struct {
	schema  string // as configured, e.g. SignalR
	table   string // e.g. ChatHub_Messages
	channel string

	qTable   string // "SignalR"."ChatHub_Messages"
	trigger  string // ChatHub_Messages_insert_trigger (unquoted: folded by PostgreSQL)
	function string // notify_ChatHub_Messages_change (unquoted)
	sequence string // quoted "SignalR"."ChatHub_Messages_Id_seq"
}

func newNames(schema, slug, channel string) names {
	t := slug + "_Messages"
	return names{
		schema:   schema,
		table:    t,
		channel:  channel,
		qTable:   quoteIdent(schema) + "." + quoteIdent(t),
		trigger:  t + "_insert_trigger",
		function: "notify_" + t + "_change",
		sequence: quoteIdent(schema) + "." + quoteIdent(t+"_Id_seq"),
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// notifyExpr is the trigger's notification text, exactly as .NET builds it.
func (n names) notifyExpr(withPayload bool) string {
	if withPayload {
		return `json_build_object('Id', NEW."Id", 'Payload', encode(NEW."Payload", 'base64'), 'InsertedOn', NEW."InsertedOn")::text`
	}
	return `json_build_object('Id', NEW."Id", 'InsertedOn', NEW."InsertedOn")::text`
}

// ddl returns the setup statements. The first six are .NET's, in its order
// and with its identifiers (schema and table quoted; trigger and function
// unquoted, so PostgreSQL folds them to lower case; the function lands in the
// first schema of the search_path). In native mode the function body differs:
// rows up to MaxCompatPayload bytes are notified as in compat mode, larger
// ones by Id only. Then our additions, harmless to .NET: the Id sequence
// CYCLEs instead of failing at 2^31−1 (retention frees the low ids long
// before), and an index on "InsertedOn" keeps the retention sweep cheap.
func (n names) ddl(mode Mode) []string {
	var body string
	if mode == ModeNative {
		body = fmt.Sprintf(`BEGIN
    IF octet_length(NEW."Payload") <= %d THEN
        PERFORM pg_notify(%s, %s);
    ELSE
        PERFORM pg_notify(%s, %s);
    END IF;
    RETURN NEW;
END;`, MaxCompatPayload, quoteLiteral(n.channel), n.notifyExpr(true), quoteLiteral(n.channel), n.notifyExpr(false))
	} else {
		body = fmt.Sprintf(`BEGIN
    PERFORM pg_notify(%s, %s);
    RETURN NEW;
END;`, quoteLiteral(n.channel), n.notifyExpr(true))
	}
	return []string{
		`CREATE SCHEMA IF NOT EXISTS ` + quoteIdent(n.schema),
		`CREATE TABLE IF NOT EXISTS ` + n.qTable + ` (
    "Id" SERIAL PRIMARY KEY,
    "Payload" BYTEA NOT NULL,
    "InsertedOn" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`,
		`DROP TRIGGER IF EXISTS ` + n.trigger + ` ON ` + n.qTable,
		`DROP FUNCTION IF EXISTS ` + n.function + `()`,
		`CREATE OR REPLACE FUNCTION ` + n.function + `() RETURNS TRIGGER AS $$
` + body + `
$$ LANGUAGE plpgsql`,
		`CREATE TRIGGER ` + n.trigger + ` AFTER INSERT ON ` + n.qTable + ` FOR EACH ROW EXECUTE FUNCTION ` + n.function + `()`,
		`ALTER SEQUENCE ` + n.sequence + ` CYCLE`,
		`CREATE INDEX IF NOT EXISTS ` + quoteIdent(n.table+"_InsertedOn_idx") + ` ON ` + n.qTable + ` ("InsertedOn")`,
	}
}

// lockKey is the advisory lock that serializes our DDL across instances.
func (n names) lockKey() string { return "gosignalr.npgsql:" + n.schema + "." + n.table }

// ensureSchema runs the DDL in one transaction under a transaction-scoped
// advisory lock, so concurrent starts of several instances are safe: the
// second waits and then finds everything in place. (.NET takes no lock; its
// multi-statement command runs as one implicit transaction.)
func ensureSchema(ctx context.Context, pool *pgxpool.Pool, n names, mode Mode) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1)::bigint)`, n.lockKey()); err != nil {
			return fmt.Errorf("npgsql: advisory lock: %w", err)
		}
		for _, stmt := range n.ddl(mode) {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("npgsql: setup of %s: %w (statement: %s)", n.qTable, err, firstLine(stmt))
			}
		}
		return nil
	})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
