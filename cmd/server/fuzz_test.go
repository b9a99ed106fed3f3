package main

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// FuzzParseListenURL: any --urls entry is either refused with an error or
// gives a listen address with a valid port; it never panics.
func FuzzParseListenURL(f *testing.F) {
	for _, s := range []string{
		"http://localhost:5000", "http://127.0.0.1:0", "http://[::1]:8080", "http://*:80", "http://+:5000/",
		"http://0.0.0.0:1", "https://localhost:5001", "http://host.example", "http://[::]:5000", "http://*", "http://",
		"http://a:b@localhost:1", "http://localhost:99999", "ftp://x", "http://+", "http://*:-1", "http://[::1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		l, err := parseListenURL(raw)
		if err != nil {
			return
		}
		if l.port < 0 || l.port > 65535 {
			t.Fatalf("%q: port %d", raw, l.port)
		}
		if (l.host == "") == (l.wildcard == "") {
			t.Fatalf("%q: want exactly one of host %q and wildcard %q", raw, l.host, l.wildcard)
		}
		if l.host == "localhost" && l.port == 0 {
			t.Fatalf("%q: localhost with a dynamic port accepted", raw)
		}
	})
}

// FuzzParseOrigins: every accepted origin is normalized (parsing it again
// gives itself) and allowed by the CORS policy built from it, with a
// browser's casing of it too.
func FuzzParseOrigins(f *testing.F) {
	for _, s := range []string{
		"https://app.example", "http://localhost:3000, https://A.example/", "*", "a.example", "https://x/path",
		"http://[::1]:8080;https://b.example", "https://x?q=1", "", " , ;", "javascript:alert(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		origins, err := parseOrigins(s)
		if err != nil {
			return
		}
		p := newCORSPolicy(origins)
		for _, o := range origins {
			again, err := parseOrigins(o)
			if err != nil || len(again) != 1 || again[0] != o {
				t.Fatalf("%q: origin %q does not re-parse to itself: %v %v", s, o, again, err)
			}
			if o != "*" && (!p.allows(o) || !p.allows(strings.ToUpper(o))) {
				t.Fatalf("%q: policy refuses its own origin %q", s, o)
			}
		}
	})
}

// FuzzPGConnString: any connection string is refused or converted into one
// that pgx parses without panicking; the Npgsql password survives quoting.
func FuzzPGConnString(f *testing.F) {
	for _, s := range []string{
		"Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres",
		"Server=db;User Id=app;PWD='it''s';SSL Mode=VerifyFull;Maximum Pool Size=3",
		"postgres://u:p@h/db", "host=h user=u", "Host=db;Password=a b\\c'd", ";;", "=;=", "Host",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := pgConnString(s)
		if err != nil || out == "" || out == strings.TrimSpace(s) {
			return
		}
		pgx.ParseConfig(out) // must not panic; errors are fine (bad ports, ...)
		// The password the Npgsql form held (the last one wins, as in libpq)
		// comes back from pgx unchanged.
		pairs, err := splitNpgsql(s)
		if err != nil {
			t.Fatalf("%q converted but does not split: %v", s, err)
		}
		password := ""
		for _, kv := range pairs {
			if strings.EqualFold(kv[0], "password") || strings.EqualFold(kv[0], "pwd") {
				password = kv[1]
			}
		}
		if password == "" || strings.ContainsRune(password, 0) {
			return
		}
		if cfg, err := pgx.ParseConfig(out); err == nil && cfg.Password != password {
			t.Fatalf("%q -> %q: password %q, want %q", s, out, cfg.Password, password)
		}
	})
}
