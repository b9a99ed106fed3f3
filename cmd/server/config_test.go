package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/internal/config"
	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/npgsql"
)

// environ turns a map into an os.Environ-style list, sorted so runs are
// deterministic.
func environ(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// dir is a settings directory holding the given files (name, JSON, ...).
func dir(name string, files ...string) config.Dir {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(files); i += 2 {
		fsys[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return config.Dir{Name: name, FS: fsys}
}

// defaults is what parseConfig gives with nothing configured.
func defaults() settings {
	return settings{
		URLs:             []string{"http://localhost:5000"},
		LogLevel:         zerolog.InfoLevel,
		BackplaneSchema:  "signalr",
		BackplaneSlug:    "chathub",
		BackplaneChannel: "chat_notifications",
		BackplaneMode:    npgsql.ModeCompat,
		ShutdownTimeout:  30 * time.Second,
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		dirs []config.Dir
		want func(*settings)
	}{
		{
			name: "defaults",
			want: func(*settings) {},
		},
		{
			name: "env",
			env: map[string]string{
				"ASPNETCORE_URLS":               "http://127.0.0.1:0; http://[::1]:8080;",
				"Logging__LogLevel__Default":    "Debug",
				"Cors__AllowedOrigins":          "https://Example.com, http://localhost:3000/",
				"SignalR__EnableDetailedErrors": "true",
				"ShutdownTimeout":               "00:00:05",
			},
			want: func(s *settings) {
				s.URLs = []string{"http://127.0.0.1:0", "http://[::1]:8080"}
				s.LogLevel = zerolog.DebugLevel
				s.CORSOrigins = []string{"https://example.com", "http://localhost:3000"}
				s.DetailedErrors = true
				s.ShutdownTimeout = 5 * time.Second
			},
		},
		{
			name: "flags override env",
			args: []string{"--urls", "http://*:7000", "--log-level=Warning", "--cors-origins", "*", "--detailed-errors=false", "--shutdown-timeout", "2s"},
			env: map[string]string{
				"ASPNETCORE_URLS":               "http://127.0.0.1:1",
				"Logging__LogLevel__Default":    "Trace",
				"Cors__AllowedOrigins":          "https://a.example",
				"SignalR__EnableDetailedErrors": "true",
				"ShutdownTimeout":               "1m",
			},
			want: func(s *settings) {
				s.URLs = []string{"http://*:7000"}
				s.LogLevel = zerolog.WarnLevel
				s.CORSOrigins = []string{"*"}
				s.ShutdownTimeout = 2 * time.Second
			},
		},
		{
			name: "single dash flags and zerolog level names",
			args: []string{"-log-level", "none", "-detailed-errors"},
			want: func(s *settings) { s.LogLevel = zerolog.Disabled; s.DetailedErrors = true },
		},
		{
			name: "empty flag value falls back to the default, not the env",
			args: []string{"--urls="},
			env:  map[string]string{"ASPNETCORE_URLS": "http://127.0.0.1:1"},
			want: func(*settings) {},
		},
		{
			name: "the .NET appsettings.json shape",
			dirs: []config.Dir{dir("/app", "appsettings.json", `{
				"Logging": { "LogLevel": { "Default": "Warning", "Microsoft.AspNetCore": "Warning" } },
				"AllowedHosts": "*",
				"Urls": "http://127.0.0.1:6000",
				"ConnectionStrings": { "DefaultConnection": "Host=localhost;Database=signalr_demo;Username=postgres;Password=postgres" },
				"Cors": { "AllowedOrigins": [ "https://a.example", "http://localhost:3000" ] }
			}`)},
			want: func(s *settings) {
				s.URLs = []string{"http://127.0.0.1:6000"}
				s.LogLevel = zerolog.WarnLevel
				s.CORSOrigins = []string{"https://a.example", "http://localhost:3000"}
				s.Postgres = config.Postgres{DSN: "dbname=signalr_demo host=localhost password=postgres user=postgres"}
				s.PostgresSource = "/app/appsettings.json"
			},
		},
		{
			name: "precedence: flag > env > appsettings.{Environment}.json > appsettings.json > ASPNETCORE_ env > default",
			args: []string{"--log-level", "Error"},
			env: map[string]string{
				"ASPNETCORE_ENVIRONMENT":     "Development",
				"ASPNETCORE_URLS":            "http://127.0.0.1:1", // below the files, as in .NET
				"Logging__LogLevel__Default": "Trace",              // below the flag
				"ShutdownTimeout":            "7s",                 // above the files
				"Backplane__Mode":            "native",
			},
			dirs: []config.Dir{
				dir("/exe", "appsettings.json", `{"Urls": "http://127.0.0.1:2", "Backplane": {"SchemaName": "exe"}}`),
				dir("/cwd",
					"appsettings.json", `{"Urls": "http://127.0.0.1:3", "ShutdownTimeout": "00:01:00", "Backplane": {"TableSlug": "base", "NotificationChannel": "base"}}`,
					"appsettings.Development.json", `{"Backplane": {"NotificationChannel": "dev"}}`,
					"appsettings.Production.json", `{"Backplane": {"NotificationChannel": "prod"}}`),
			},
			want: func(s *settings) {
				s.URLs = []string{"http://127.0.0.1:3"}
				s.LogLevel = zerolog.ErrorLevel
				s.ShutdownTimeout = 7 * time.Second
				s.BackplaneSchema = "exe"
				s.BackplaneSlug = "base"
				s.BackplaneChannel = "dev"
				s.BackplaneMode = npgsql.ModeNative
			},
		},
		{
			name: "ASPNETCORE_URLS applies without a file",
			env:  map[string]string{"ASPNETCORE_URLS": "http://127.0.0.1:1"},
			want: func(s *settings) { s.URLs = []string{"http://127.0.0.1:1"} },
		},
		{
			name: "--environment picks the file",
			args: []string{"--environment", "Staging"},
			env:  map[string]string{"ASPNETCORE_ENVIRONMENT": "Development"},
			dirs: []config.Dir{dir("/app",
				"appsettings.Development.json", `{"Urls": "http://127.0.0.1:1"}`,
				"appsettings.Staging.json", `{"Urls": "http://127.0.0.1:2"}`)},
			want: func(s *settings) { s.URLs = []string{"http://127.0.0.1:2"} },
		},
		{
			name: "CORS origins as a comma string override a file's array",
			env:  map[string]string{"Cors__AllowedOrigins": "https://b.example"},
			dirs: []config.Dir{dir("/app", "appsettings.json", `{"Cors": {"AllowedOrigins": ["https://a.example"]}}`)},
			want: func(s *settings) { s.CORSOrigins = []string{"https://b.example"} },
		},
		{
			name: "backplane flags",
			args: []string{"--backplane-schema", "chat", "--backplane-table-slug", "ChatHub", "--backplane-channel", "c1", "--backplane-mode", "Native"},
			want: func(s *settings) {
				s.BackplaneSchema, s.BackplaneSlug, s.BackplaneChannel, s.BackplaneMode = "chat", "ChatHub", "c1", npgsql.ModeNative
			},
		},
		{
			name: "web page and JWT settings",
			args: []string{"--js-client-url", "https://cdn.example/signalr.min.js", "--jwt-key", "secret"},
			env:  map[string]string{"WebUI__JSClientIntegrity": "sha384-x", "WebUI__JSClientDir": "/srv/js"},
			want: func(s *settings) {
				s.JSClientURL, s.JSClientIntegrity, s.JSClientDir, s.JWTKey = "https://cdn.example/signalr.min.js", "sha384-x", "/srv/js", "secret"
			},
		},
		{
			name: "healthcheck",
			args: []string{"--healthcheck"},
			want: func(s *settings) { s.Healthcheck = true },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, environ(tt.env), tt.dirs, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got.values = nil
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestConnectionStringPrecedence: --postgres (or its alias) > the
// ConnectionStrings__DefaultConnection variable > DATABASE_URL > the
// settings files > ASPNETCORE_-prefixed variables.
func TestConnectionStringPrecedence(t *testing.T) {
	const (
		flagCS = "postgres://flag@h/d"
		envCS  = "Host=env;Database=d"
		dbURL  = "postgres://dburl@h/d"
		fileCS = "host=file dbname=d"
	)
	file := []config.Dir{dir("/app", "appsettings.json", `{"ConnectionStrings": {"DefaultConnection": "`+fileCS+`"}}`)}
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		dirs   []config.Dir
		dsn    string
		source string
	}{
		{"none", nil, nil, nil, "", ""},
		{"flag", []string{"--postgres", flagCS}, map[string]string{"ConnectionStrings__DefaultConnection": envCS, "DATABASE_URL": dbURL}, file, flagCS, "command line"},
		{"alias", []string{"--connection-string", flagCS}, map[string]string{"DATABASE_URL": dbURL}, file, flagCS, "command line"},
		{"env", nil, map[string]string{"ConnectionStrings__DefaultConnection": envCS, "DATABASE_URL": dbURL}, file, "dbname=d host=env", "environment variable ConnectionStrings__DefaultConnection"},
		{"azure env", nil, map[string]string{"POSTGRESQLCONNSTR_DefaultConnection": envCS, "DATABASE_URL": dbURL}, nil, "dbname=d host=env", "environment variable POSTGRESQLCONNSTR_DefaultConnection"},
		{"DATABASE_URL beats a file", nil, map[string]string{"DATABASE_URL": dbURL}, file, dbURL, "environment variable DATABASE_URL"},
		{"DATABASE_URL beats ASPNETCORE_", nil, map[string]string{"DATABASE_URL": dbURL, "ASPNETCORE_ConnectionStrings__DefaultConnection": envCS}, nil, dbURL, "environment variable DATABASE_URL"},
		{"empty DATABASE_URL is unset", nil, map[string]string{"DATABASE_URL": ""}, file, fileCS, "/app/appsettings.json"},
		{"file", nil, nil, file, fileCS, "/app/appsettings.json"},
		{"both flags, same value", []string{"--postgres", flagCS, "--connection-string", flagCS}, nil, nil, flagCS, "command line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, environ(tt.env), tt.dirs, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if got.Postgres.DSN != tt.dsn || got.PostgresSource != tt.source {
				t.Errorf("got %q from %q, want %q from %q", got.Postgres.DSN, got.PostgresSource, tt.dsn, tt.source)
			}
		})
	}
}

func TestParseConfigPostgresFields(t *testing.T) {
	got, err := parseConfig([]string{"--postgres", "Host=db;Database=chat;Username=app;Password=pw;Maximum Pool Size=3;Command Timeout=9;Pooling=true"}, nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Postgres{DSN: "dbname=chat host=db password=pw user=app", MaxPoolSize: 3, CommandTimeout: 9 * time.Second, Ignored: []string{"Pooling"}}
	if !reflect.DeepEqual(got.Postgres, want) {
		t.Errorf("got %+v, want %+v", got.Postgres, want)
	}
	o := backplaneOptions(got, zerolog.Nop(), metrics.New(metrics.Options{NoRuntimeMetrics: true}))
	if o.ConnectionString != want.DSN || o.MaxPoolSize != 3 || o.CommandTimeout != 9*time.Second || o.SchemaName != "signalr" ||
		o.TableSlug != "chathub" || o.NotificationChannel != "chat_notifications" || o.Mode != npgsql.ModeCompat ||
		o.MaxRetryAttempts != 5 || o.BaseRetryDelay != 2*time.Second || o.Metrics.Published == nil {
		t.Errorf("backplane options %+v", o)
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		dirs    []config.Dir
		wantErr string
	}{
		{"https", []string{"--urls", "https://localhost:5001"}, nil, nil, "config: Urls (from command line): invalid URL \"https://localhost:5001\": https is not supported"},
		{"other scheme", []string{"--urls", "ftp://localhost:21"}, nil, nil, "scheme must be http"},
		{"path base", []string{"--urls", "http://localhost:5000/app"}, nil, nil, "path base"},
		{"bad port", []string{"--urls", "http://127.0.0.1:99999"}, nil, nil, "bad port"},
		{"localhost dynamic port", []string{"--urls", "http://localhost:0"}, nil, nil, "dynamic port"},
		{"only separators", []string{"--urls", ";;"}, nil, nil, "no URL to listen on"},
		{"log level", []string{"--log-level", "loud"}, nil, nil, "unknown log level"},
		{"env log level", nil, map[string]string{"Logging__LogLevel__Default": "chatty"}, nil,
			"config: Logging:LogLevel:Default (from environment variable Logging__LogLevel__Default): unknown log level \"chatty\""},
		{"file log level", nil, nil, []config.Dir{dir("/app", "appsettings.json", `{"Logging":{"LogLevel":{"Default":"Loud"}}}`)},
			"config: Logging:LogLevel:Default (from /app/appsettings.json): unknown log level"},
		{"origin with path", []string{"--cors-origins", "https://a.example/page"}, nil, nil, "invalid CORS origin"},
		{"origin without scheme", []string{"--cors-origins", "a.example"}, nil, nil, "invalid CORS origin"},
		{"origin in a file's array", nil, nil, []config.Dir{dir("/app", "appsettings.json", `{"Cors":{"AllowedOrigins":["https://ok.example","bad"]}}`)},
			"config: Cors:AllowedOrigins:1 (from /app/appsettings.json): invalid CORS origin \"bad\""},
		{"detailed errors env", nil, map[string]string{"SignalR__EnableDetailedErrors": "yes please"}, nil,
			`config: SignalR:EnableDetailedErrors = "yes please" (from environment variable SignalR__EnableDetailedErrors) is not a boolean`},
		{"shutdown timeout", []string{"--shutdown-timeout", "soon"}, nil, nil, "config: ShutdownTimeout = \"soon\" (from command line) is not a duration"},
		{"shutdown timeout zero", []string{"--shutdown-timeout", "0s"}, nil, nil, "not a positive duration"},
		{"backplane mode", []string{"--backplane-mode", "turbo"}, nil, nil, `config: Backplane:Mode (from command line): "turbo" is not compat or native`},
		{"connection string", nil, map[string]string{"ConnectionStrings__DefaultConnection": "Host=db;Colour=blue"}, nil,
			`config: ConnectionStrings:DefaultConnection (from environment variable ConnectionStrings__DefaultConnection): config: connection string keyword "Colour" is not supported`},
		{"DATABASE_URL", nil, map[string]string{"DATABASE_URL": "Host=db;Port=x"}, nil, "(from environment variable DATABASE_URL)"},
		{"malformed file", nil, nil, []config.Dir{dir("/app", "appsettings.json", `{"Urls": }`)}, "/app/appsettings.json"},
		{"different --postgres and --connection-string", []string{"--postgres", "host=a", "--connection-string", "host=b"}, nil, nil, "different values"},
		{"content root", []string{"--content-root", "/nonexistent/dir"}, nil, nil, "is not a directory"},
		{"unknown flag", []string{"--port", "5000"}, nil, nil, "flag provided but not defined"},
		{"positional argument", []string{"extra"}, nil, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, environ(tt.env), tt.dirs, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigContentRoot(t *testing.T) {
	d := t.TempDir()
	if err := os.WriteFile(filepath.Join(d, "appsettings.json"), []byte(`{"Urls": "http://127.0.0.1:4321"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := parseConfig([]string{"--content-root", d}, nil, []config.Dir{dir("/other", "appsettings.json", `{"Urls": "http://127.0.0.1:1"}`)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.URLs, []string{"http://127.0.0.1:4321"}) {
		t.Errorf("URLs %v", got.URLs)
	}
	if src := got.values.Source("Urls"); src != filepath.Join(d, "appsettings.json") {
		t.Errorf("source %q", src)
	}
}

func TestLogSources(t *testing.T) {
	cfg, err := parseConfig([]string{"--log-level", "Debug", "--postgres", "host=db password=secret"}, environ(map[string]string{"ASPNETCORE_URLS": "http://127.0.0.1:1"}), nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	cfg.logSources(zerolog.New(&buf).Level(cfg.LogLevel))
	out := buf.String()
	for _, want := range []string{
		`"key":"Urls","value":"http://127.0.0.1:1","source":"environment variable ASPNETCORE_URLS"`,
		`"key":"Logging:LogLevel:Default","value":"Debug","source":"command line"`,
		`"key":"ConnectionStrings:DefaultConnection","source":"command line"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret") {
		t.Errorf("log shows the connection string:\n%s", out)
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, nil, nil, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"/chathub", "-urls", "ASPNETCORE_URLS", "-log-level", "Logging__LogLevel__Default",
		"-cors-origins", "Cors__AllowedOrigins", "-detailed-errors", "SignalR__EnableDetailedErrors",
		"-postgres", "-connection-string", "DATABASE_URL", "ConnectionStrings__DefaultConnection", "-backplane-schema",
		"-backplane-table-slug", "-backplane-channel", "-backplane-mode", "-shutdown-timeout", "-js-client-dir",
		"-js-client-url", "-js-client-integrity", "-healthcheck", "-content-root", "-environment", "-jwt-key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
}

func TestParseListenURL(t *testing.T) {
	tests := []struct {
		in   string
		want listenURL
	}{
		{"http://localhost:5000", listenURL{host: "localhost", port: 5000}},
		{"http://LOCALHOST:5000/", listenURL{host: "localhost", port: 5000}},
		{"http://127.0.0.1:0", listenURL{host: "127.0.0.1", port: 0}},
		{"http://[::1]:8080", listenURL{host: "::1", port: 8080}},
		{"http://*:5000", listenURL{port: 5000, wildcard: "[::]"}},
		{"http://+:5000", listenURL{port: 5000, wildcard: "[::]"}},
		{"http://0.0.0.0:5000", listenURL{port: 5000, wildcard: "0.0.0.0"}},
		{"http://[::]:5000", listenURL{port: 5000, wildcard: "[::]"}},
		{"http://chat.example.com:5000", listenURL{port: 5000, wildcard: "[::]"}},
		{"http://127.0.0.1", listenURL{host: "127.0.0.1", port: 80}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseListenURL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestListenAll(t *testing.T) {
	ls, err := listenAll([]string{"http://127.0.0.1:0", "http://[::1]:0"}, zerolog.Nop())
	if err != nil {
		// An IPv6-less machine cannot bind ::1; IPv4 alone must still work.
		ls, err = listenAll([]string{"http://127.0.0.1:0"}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	if !strings.HasPrefix(ls[0].display, "http://127.0.0.1:") || strings.HasSuffix(ls[0].display, ":0") {
		t.Errorf("display %q should name the bound port", ls[0].display)
	}
	// A busy port fails the whole call and releases what was bound.
	busy := strings.TrimPrefix(ls[0].display, "http://")
	if _, err := listenAll([]string{"http://127.0.0.1:0", "http://" + busy}, zerolog.Nop()); err == nil {
		t.Error("binding a busy port succeeded")
	}
}

func TestNewLoggerJSONWhenNotATerminal(t *testing.T) {
	var buf strings.Builder
	log := newLogger(&buf, zerolog.InfoLevel)
	log.Debug().Msg("hidden")
	log.Info().Str("connectionId", "abc").Msg("shown")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got %q", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatalf("not JSON: %q: %v", lines[0], err)
	}
	if rec["level"] != "info" || rec["message"] != "shown" || rec["connectionId"] != "abc" || rec["time"] == nil {
		t.Errorf("record %v", rec)
	}
}
