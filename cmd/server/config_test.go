package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{
			name: "defaults",
			want: config{URLs: []string{"http://localhost:5000"}, LogLevel: zerolog.InfoLevel},
		},
		{
			name: "env",
			env: map[string]string{
				"ASPNETCORE_URLS":               "http://127.0.0.1:0; http://[::1]:8080;",
				"Logging__LogLevel__Default":    "Debug",
				"Cors__AllowedOrigins":          "https://Example.com, http://localhost:3000/",
				"SignalR__EnableDetailedErrors": "true",
			},
			want: config{
				URLs:           []string{"http://127.0.0.1:0", "http://[::1]:8080"},
				LogLevel:       zerolog.DebugLevel,
				CORSOrigins:    []string{"https://example.com", "http://localhost:3000"},
				DetailedErrors: true,
			},
		},
		{
			name: "flags override env",
			args: []string{"--urls", "http://*:7000", "--log-level=Warning", "--cors-origins", "*", "--detailed-errors=false"},
			env: map[string]string{
				"ASPNETCORE_URLS":               "http://127.0.0.1:1",
				"Logging__LogLevel__Default":    "Trace",
				"Cors__AllowedOrigins":          "https://a.example",
				"SignalR__EnableDetailedErrors": "true",
			},
			want: config{
				URLs:        []string{"http://*:7000"},
				LogLevel:    zerolog.WarnLevel,
				CORSOrigins: []string{"*"},
			},
		},
		{
			name: "single dash flags and zerolog level names",
			args: []string{"-log-level", "none", "-detailed-errors"},
			want: config{URLs: []string{"http://localhost:5000"}, LogLevel: zerolog.Disabled, DetailedErrors: true},
		},
		{
			name: "empty flag value falls back to the default, not the env",
			args: []string{"--urls="},
			env:  map[string]string{"ASPNETCORE_URLS": "http://127.0.0.1:1"},
			want: config{URLs: []string{"http://localhost:5000"}, LogLevel: zerolog.InfoLevel},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, envFunc(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"https", []string{"--urls", "https://localhost:5001"}, nil, "https is not supported"},
		{"other scheme", []string{"--urls", "ftp://localhost:21"}, nil, "scheme must be http"},
		{"path base", []string{"--urls", "http://localhost:5000/app"}, nil, "path base"},
		{"bad port", []string{"--urls", "http://127.0.0.1:99999"}, nil, "bad port"},
		{"localhost dynamic port", []string{"--urls", "http://localhost:0"}, nil, "dynamic port"},
		{"only separators", []string{"--urls", ";;"}, nil, ""},
		{"log level", []string{"--log-level", "loud"}, nil, "unknown log level"},
		{"env log level", nil, map[string]string{"Logging__LogLevel__Default": "chatty"}, "unknown log level"},
		{"origin with path", []string{"--cors-origins", "https://a.example/page"}, nil, "invalid CORS origin"},
		{"origin without scheme", []string{"--cors-origins", "a.example"}, nil, "invalid CORS origin"},
		{"detailed errors env", nil, map[string]string{"SignalR__EnableDetailedErrors": "yes please"}, "not a boolean"},
		{"unknown flag", []string{"--port", "5000"}, nil, "flag provided but not defined"},
		{"positional argument", []string{"extra"}, nil, "unexpected argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig(tt.args, envFunc(tt.env), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, envFunc(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"/chathub", "-urls", "ASPNETCORE_URLS", "-log-level", "Logging__LogLevel__Default",
		"-cors-origins", "Cors__AllowedOrigins", "-detailed-errors", "SignalR__EnableDetailedErrors"} {
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
