package main

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

func TestPGConnString(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres",
			"host=postgres port=5432 dbname=signalr_demo user=postgres password=postgres"},
		{"server=db;User Id=app;PWD=it's;SSL Mode=VerifyFull;Application Name=chat server;Pooling=true;Maximum Pool Size=20",
			`host=db user=app password='it\'s' sslmode=verify-full application_name='chat server' pool_max_conns=20`},
		{"Host=db;SslMode=Require;Timeout=5;Search Path=signalr", "host=db sslmode=require connect_timeout=5 search_path=signalr"},
		{"postgres://app:pw@db:5432/chat?sslmode=disable", "postgres://app:pw@db:5432/chat?sslmode=disable"},
		{"host=db port=5432 user=app dbname=chat", "host=db port=5432 user=app dbname=chat"},
		{"Host=db", "host=db"},
		{`Host=db;Password='a;b=c';Username="x""y"`, `host=db password=a;b=c user=x"y`},
		{"Host=db;Password='it''s'", `host=db password='it\'s'`},
		{"  ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := pgConnString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}

	// What pgx makes of a converted string.
	s, err := pgConnString("Host=db.example;Port=6543;Database=chat;Username=app;Password='p w';Maximum Pool Size=7")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.ConnConfig
	if c.Host != "db.example" || c.Port != 6543 || c.Database != "chat" || c.User != "app" || c.Password != "p w" || cfg.MaxConns != 7 {
		t.Errorf("pgx parsed %+v (max conns %d)", c, cfg.MaxConns)
	}
}

func TestPGConnStringErrors(t *testing.T) {
	for _, in := range []string{
		"Host=db;Frobnicate=yes",
		"Host=db;SSL Mode=Sometimes",
		"Host=db;justaword",
		"Host=db;Password='open",
		"Host=db;Password='a'b",
	} {
		if got, err := pgConnString(in); err == nil {
			t.Errorf("pgConnString(%q) = %q, want an error", in, got)
		}
	}
}
