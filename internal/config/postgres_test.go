package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestParsePostgres(t *testing.T) {
	tests := []struct {
		name, in string
		dsn      string
		maxPool  int
		cmdTO    time.Duration
		ignored  string
		// what pgx makes of the DSN
		host, db, user, password string
		port                     uint16
		params                   map[string]string
	}{
		{name: "compose file", in: "Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres",
			dsn:  "dbname=signalr_demo host=postgres password=postgres port=5432 user=postgres",
			host: "postgres", port: 5432, db: "signalr_demo", user: "postgres", password: "postgres"},
		{name: "synonyms, case, blanks, trailing ;", in: " server = db ; DB=chat; User ID=me ; PWD=pw;",
			dsn:  "dbname=chat host=db password=pw user=me",
			host: "db", port: 5432, db: "chat", user: "me", password: "pw"},
		{name: "quoted values", in: `Host=h;Password='p;a''ss w';Application Name="my ""app"""`,
			dsn:  `application_name='my "app"' host=h password='p;a\'ss w'`,
			host: "h", port: 5432, password: "p;a'ss w", params: map[string]string{"application_name": `my "app"`}},
		{name: "quote inside an unquoted value (from cmd/server's former parser)", in: "server=db;User Id=app;PWD=it's;Application Name=chat server",
			dsn:  `application_name='chat server' host=db password='it\'s' user=app`,
			host: "db", port: 5432, user: "app", password: "it's", params: map[string]string{"application_name": "chat server"}},
		{name: "== in key is not a keyword here", in: "Host=h;Pass==word=x", dsn: ""},
		{name: "SSL and timeouts", in: "Host=h;SSL Mode=Disable;Timeout=7;Command Timeout=30;Maximum Pool Size=20;Pooling=true;Keepalive=10",
			dsn: "connect_timeout=7 host=h sslmode=disable", maxPool: 20, cmdTO: 30 * time.Second, ignored: "Pooling,Keepalive",
			host: "h", port: 5432},
		{name: "search path", in: "Host=h;Search Path=chat,public",
			dsn: "host=h options='-c search_path=chat,public'", host: "h", port: 5432, params: map[string]string{"search_path": "chat,public"}},
		{name: "several hosts", in: "Host=a:5433,b;Port=5434;Database=d",
			dsn: "dbname=d host=a,b port=5433,5434", host: "a", port: 5433, db: "d"},
		{name: "IPv6", in: "Host=[::1]:6000;Username=u",
			dsn: "host=::1 port=6000 user=u", host: "::1", port: 6000, user: "u"},
		{name: "target session attributes", in: "Host=h;Target Session Attributes=PreferStandby",
			dsn: "host=h target_session_attrs=prefer-standby", host: "h", port: 5432},
		{name: "later duplicate wins", in: "Host=a;host=b", dsn: "host=b", host: "b", port: 5432},
		{name: "URL unchanged", in: "postgres://u:p@h:5/d?sslmode=disable", dsn: "postgres://u:p@h:5/d?sslmode=disable",
			host: "h", port: 5, db: "d", user: "u", password: "p"},
		{name: "libpq unchanged", in: "host=h port=6 dbname=d", dsn: "host=h port=6 dbname=d", host: "h", port: 6, db: "d"},
	}
	// pgx fills unset fields from these.
	for _, v := range []string{"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSERVICE", "PGAPPNAME", "PGOPTIONS"} {
		t.Setenv(v, "")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePostgres(tt.in)
			if tt.dsn == "" {
				if err == nil {
					t.Fatalf("accepted: %+v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.DSN != tt.dsn {
				t.Errorf("DSN %q\nwant %q", p.DSN, tt.dsn)
			}
			if p.MaxPoolSize != tt.maxPool || p.CommandTimeout != tt.cmdTO || strings.Join(p.Ignored, ",") != tt.ignored {
				t.Errorf("got %+v", p)
			}
			c, err := pgconn.ParseConfig(p.DSN)
			if err != nil {
				t.Fatalf("pgx rejects %q: %v", p.DSN, err)
			}
			user := tt.user
			if user == "" {
				user = c.User // pgx's default: the OS user, as libpq
			}
			got := fmt.Sprintf("%s %d %s %s %s", c.Host, c.Port, c.Database, c.User, c.Password)
			want := fmt.Sprintf("%s %d %s %s %s", tt.host, tt.port, tt.db, user, tt.password)
			if got != want {
				t.Errorf("pgx: %s, want %s", got, want)
			}
			for k, v := range tt.params {
				rp := c.RuntimeParams[k]
				if k == "search_path" {
					rp = strings.TrimPrefix(c.RuntimeParams["options"], "-c search_path=")
				}
				if rp != v {
					t.Errorf("pgx param %s = %q, want %q", k, rp, v)
				}
			}
		})
	}
}

func TestParsePostgresErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "config: empty PostgreSQL connection string"},
		{"Host=h;Colour=blue", `config: connection string keyword "Colour" is not supported`},
		{"Host=h;SSL Mode=Sometimes", `config: connection string: SSL Mode "Sometimes" is not one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull`},
		{"Host=h;Target Session Attributes=PreferPrimary", `config: connection string: Target Session Attributes "PreferPrimary" is not one of Any, Primary, Standby, PreferStandby, ReadWrite, ReadOnly`},
		{"Host=h;Port=99999", `config: connection string: bad port "99999"`},
		{"Host=h;Port=x", `config: connection string: bad port "x"`},
		{"Host=h;Timeout=soon", `config: connection string: Timeout "soon" is not a number of seconds`},
		{"Host=h;Maximum Pool Size=0", `config: connection string: Maximum Pool Size "0" is not a positive number`},
		{"Host=h;Password='open", `config: connection string: unterminated quote in the value of "Password"`},
		{"Host=h;Password='a'b", `config: connection string: unexpected 'b' after the quoted value of "Password"`},
		{"Host=h;Database", `config: connection string: "Database" has no '='`},
		{"Host=h;Database;Port=1", `config: connection string: "Database" has no '='`},
		{"=x;Host=h", "config: connection string: a value without a keyword at offset 1"},
		{"Host=[::1;Port=1", `config: connection string: bad host "[::1"`},
		{"Host=a,,b;", `config: connection string: empty host in "a,,b"`},
	}
	for _, tt := range tests {
		_, err := ParsePostgres(tt.in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParsePostgres(%q) = %v\nwant %s", tt.in, err, tt.want)
		}
	}
}

// FuzzParsePostgres: no panic; whatever is accepted in Npgsql form gives a
// DSN pgx can parse.
func FuzzParsePostgres(f *testing.F) {
	for _, s := range []string{
		"Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres",
		`Host=h;Password='p;a''ss w';Application Name="x"`, "Host=[::1]:6000,b:7;Search Path=a b",
		"postgres://u@h/d", "host=h dbname=d", "Pass==word=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePostgres(s)
		if err != nil {
			return
		}
		if p.DSN == strings.TrimSpace(s) {
			return // passed through: pgx judges it
		}
		if _, err := pgconn.ParseConfig(p.DSN); err != nil {
			t.Fatalf("%q -> %q: pgx: %v", s, p.DSN, err)
		}
	})
}
