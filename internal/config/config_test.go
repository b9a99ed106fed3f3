package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// files builds a Dir from name → content pairs.
func files(name string, kv ...string) Dir {
	m := fstest.MapFS{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &fstest.MapFile{Data: []byte(kv[i+1])}
	}
	return Dir{Name: name, FS: m}
}

func TestLoadPrecedence(t *testing.T) {
	const key = "ConnectionStrings:DefaultConnection"
	base := `{"ConnectionStrings":{"DefaultConnection":"file"}}`
	dev := `{"ConnectionStrings":{"DefaultConnection":"devfile"}}`
	tests := []struct {
		name       string
		opts       Options
		key        string
		want       string
		wantSource string
	}{
		{"nothing", Options{}, key, "", ""},
		{"default", Options{Defaults: map[string]string{key: "def"}}, key, "def", "default"},
		{"file over default", Options{
			Defaults: map[string]string{key: "def"},
			Dirs:     []Dir{files("/app", "appsettings.json", base)},
		}, key, "file", "/app/appsettings.json"},
		{"environment file not read in Production", Options{
			Dirs: []Dir{files("/app", "appsettings.json", base, "appsettings.Development.json", dev)},
		}, key, "file", "/app/appsettings.json"},
		{"environment file over appsettings.json", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", base, "appsettings.Development.json", dev)},
			Environ: []string{"ASPNETCORE_ENVIRONMENT=Development"},
		}, key, "devfile", "/app/appsettings.Development.json"},
		{"DOTNET_ENVIRONMENT", Options{
			Dirs:    []Dir{files("/app", "appsettings.Staging.json", dev)},
			Environ: []string{"DOTNET_ENVIRONMENT=Staging"},
		}, key, "devfile", "/app/appsettings.Staging.json"},
		{"environment name is case-sensitive in the file name", Options{
			Dirs:    []Dir{files("/app", "appsettings.Development.json", dev)},
			Environ: []string{"ASPNETCORE_ENVIRONMENT=development"},
		}, key, "", ""},
		{"env var over files", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", base, "appsettings.Development.json", dev)},
			Environ: []string{"ASPNETCORE_ENVIRONMENT=Development", "ConnectionStrings__DefaultConnection=env"},
		}, key, "env", "environment variable ConnectionStrings__DefaultConnection"},
		{"env var names are case-insensitive keys", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", base)},
			Environ: []string{"CONNECTIONSTRINGS__DEFAULTCONNECTION=env"},
		}, "connectionstrings:defaultconnection", "env", "environment variable CONNECTIONSTRINGS__DEFAULTCONNECTION"},
		{"Azure connection string variable", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", base)},
			Environ: []string{"POSTGRESQLCONNSTR_DefaultConnection=azure"},
		}, key, "azure", "environment variable POSTGRESQLCONNSTR_DefaultConnection"},
		{"flag over env var", Options{
			Environ: []string{"ConnectionStrings__DefaultConnection=env"},
			Flags:   map[string]string{key: "flag"},
		}, key, "flag", "command line"},
		{"ASPNETCORE_URLS over default", Options{
			Defaults: map[string]string{"Urls": "http://localhost:5000"},
			Environ:  []string{"ASPNETCORE_URLS=http://+:5000"},
		}, "urls", "http://+:5000", "environment variable ASPNETCORE_URLS"},
		{"appsettings Urls over ASPNETCORE_URLS, as in ASP.NET Core", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", `{"Urls":"http://*:6000"}`)},
			Environ: []string{"ASPNETCORE_URLS=http://+:5000"},
		}, "Urls", "http://*:6000", "/app/appsettings.json"},
		{"unprefixed URLS over appsettings", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", `{"Urls":"http://*:6000"}`)},
			Environ: []string{"ASPNETCORE_URLS=http://+:5000", "URLS=http://+:7000"},
		}, "Urls", "http://+:7000", "environment variable URLS"},
		{"working directory over executable directory", Options{
			Dirs: []Dir{
				files("/opt/bin", "appsettings.json", `{"A":"bin","B":"bin"}`),
				files("/home/me", "appsettings.json", `{"A":"wd"}`),
			},
		}, "A", "wd", "/home/me/appsettings.json"},
		{"executable directory fills gaps", Options{
			Dirs: []Dir{
				files("/opt/bin", "appsettings.json", `{"A":"bin","B":"bin"}`),
				files("/home/me", "appsettings.json", `{"A":"wd"}`),
			},
		}, "B", "bin", "/opt/bin/appsettings.json"},
		{"environment file anywhere over appsettings.json anywhere", Options{
			Dirs: []Dir{
				files("/opt/bin", "appsettings.Production.json", `{"A":"bin-prod"}`),
				files("/home/me", "appsettings.json", `{"A":"wd"}`),
			},
		}, "A", "bin-prod", "/opt/bin/appsettings.Production.json"},
		{"FileName", Options{
			FileName: "chat",
			Dirs:     []Dir{files("/app", "appsettings.json", `{"A":"x"}`, "chat.json", `{"A":"y"}`)},
		}, "A", "y", "/app/chat.json"},
		{"null in a higher layer unsets", Options{
			Defaults: map[string]string{"A": "def"},
			Dirs:     []Dir{files("/app", "appsettings.json", `{"A":null}`)},
		}, "A", "", "/app/appsettings.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Get(tt.key); got != tt.want {
				t.Errorf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if got := v.Source(tt.key); got != tt.wantSource {
				t.Errorf("Source(%q) = %q, want %q", tt.key, got, tt.wantSource)
			}
		})
	}
}

func TestEnvironmentName(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		flags   map[string]string
		files   []string
		want    string
	}{
		{"default", nil, nil, nil, "Production"},
		{"DOTNET", []string{"DOTNET_ENVIRONMENT=Staging"}, nil, nil, "Staging"},
		{"ASPNETCORE over DOTNET", []string{"ASPNETCORE_ENVIRONMENT=Development", "DOTNET_ENVIRONMENT=Staging"}, nil, nil, "Development"},
		{"flag over both", []string{"ASPNETCORE_ENVIRONMENT=Development"}, map[string]string{"Environment": "Test"}, nil, "Test"},
		{"empty variable ignored", []string{"ASPNETCORE_ENVIRONMENT=", "DOTNET_ENVIRONMENT=Staging"}, nil, nil, "Staging"},
		// Like .NET: the environment selects the files, a file cannot select it.
		{"not from a settings file", nil, nil, []string{"appsettings.json", `{"Environment":"Development"}`}, "Production"},
		{"not from an unprefixed variable", []string{"ENVIRONMENT=Development"}, nil, nil, "Production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Load(Options{Environ: tt.environ, Flags: tt.flags, Dirs: []Dir{files("/app", tt.files...)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Environment(); got != tt.want {
				t.Errorf("Environment() = %q, want %q", got, tt.want)
			}
		})
	}
}

// The .NET ChatServer's appsettings.json, unchanged.
const dotnetAppSettings = "\ufeff" + `{
  "Logging": {
    "LogLevel": {
      "Default": "Information",
      "Microsoft.AspNetCore": "Warning",
      "Microsoft.AspNetCore.SignalR": "Debug", // trace the hub
    }
  },
  /* PostgreSQL backplane */
  "ConnectionStrings": {
    "DefaultConnection": "Host=localhost;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres"
  },
  "AllowedHosts": "*",
  "Cors": { "AllowedOrigins": [ "http://localhost:3000", "https://chat.example.com" ] },
  "SignalR": { "EnableDetailedErrors": false, "MaximumReceiveMessageSize": 32768, "KeepAliveInterval": "00:00:15" }
}`

func TestDotnetAppSettings(t *testing.T) {
	v, err := Load(Options{Dirs: []Dir{files("", "appsettings.json", dotnetAppSettings)}})
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"Logging:LogLevel:Default":              "Information",
		"logging:loglevel:MICROSOFT.ASPNETCORE": "Warning",
		"ConnectionStrings:DefaultConnection":   "Host=localhost;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres",
		"AllowedHosts":                          "*",
		"Cors:AllowedOrigins:0":                 "http://localhost:3000",
		"Cors:AllowedOrigins:1":                 "https://chat.example.com",
		"SignalR:EnableDetailedErrors":          "False",
		"SignalR:MaximumReceiveMessageSize":     "32768",
	} {
		if got := v.Get(key); got != want {
			t.Errorf("Get(%q) = %q, want %q", key, got, want)
		}
	}
	if got, want := v.ConnectionString("DefaultConnection"), v.Get("ConnectionStrings:DefaultConnection"); got != want {
		t.Errorf("ConnectionString = %q", got)
	}
	if got := strings.Join(v.Children("Logging:LogLevel"), ","); got != "Default,Microsoft.AspNetCore,Microsoft.AspNetCore.SignalR" {
		t.Errorf("Children(Logging:LogLevel) = %s", got)
	}
	if got := strings.Join(v.Children(""), ","); got != "AllowedHosts,ConnectionStrings,Cors,Logging,SignalR" {
		t.Errorf("Children() = %s", got)
	}
	if got := strings.Join(v.Children("cors:allowedorigins"), ","); got != "0,1" {
		t.Errorf("Children(cors:allowedorigins) = %s", got)
	}
	if got := strings.Join(v.Files(), ","); got != "appsettings.json" {
		t.Errorf("Files() = %s", got)
	}
	if d, err := v.Duration("SignalR:KeepAliveInterval", 0); err != nil || d != 15*time.Second {
		t.Errorf("Duration = %v, %v", d, err)
	}
	if n := len(v.Keys()); n != 10 {
		t.Errorf("%d keys: %v", n, v.Keys())
	}
}

type errFS struct{ err error }

func (e errFS) Open(string) (fs.File, error) { return nil, e.err }

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad JSON with position", Options{Dirs: []Dir{files("/app", "appsettings.json", "{\n  \"A\": 1,\n  \"B\": tru\n}")}},
			"config: /app/appsettings.json:3:8: unexpected 't'; want a value"},
		{"bad environment file", Options{
			Dirs:    []Dir{files("/app", "appsettings.json", `{}`, "appsettings.Development.json", `{"A":1,"a":2}`)},
			Environ: []string{"ASPNETCORE_ENVIRONMENT=Development"},
		}, `config: /app/appsettings.Development.json:1:8: duplicate key "a"`},
		{"unreadable file", Options{Dirs: []Dir{{Name: "/app", FS: errFS{fs.ErrPermission}}}},
			"config: read /app/appsettings.json: permission denied"},
		{"environment with a path", Options{Environ: []string{"ASPNETCORE_ENVIRONMENT=../etc/x"}},
			`config: environment name "../etc/x" is not a valid file name part`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
	_, err := Load(tests[0].opts)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Column != 8 {
		t.Errorf("errors.As SyntaxError: %+v", se)
	}
	_, err = Load(tests[2].opts)
	if !errors.Is(err, fs.ErrPermission) {
		t.Errorf("read error not wrapped: %v", err)
	}
}

func TestTypedValues(t *testing.T) {
	v, err := Load(Options{
		Dirs: []Dir{files("/app", "appsettings.json", `{"B":{"T":true,"F":"FALSE","X":"yes"},"I":{"N":" 42 ","X":"4.2","Big":"99999999999999999999"},
			"D":{"Span":"00:01:30","Days":"1.02:03:04.5","Go":"1m30s","Neg":"-00:00:05","Day":"2","X":"soon","BadH":"24:00:00"}}`)},
		Environ: []string{"B__Env=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	bools := []struct {
		key, want string
		def       bool
	}{
		{"B:T", "true", false}, {"B:F", "false", true}, {"B:Missing", "true", true}, {"B:Env", "true", false},
		{"B:X", `config: B:X = "yes" (from /app/appsettings.json) is not a boolean (true or false)`, false},
	}
	for _, tt := range bools {
		got, err := v.Bool(tt.key, tt.def)
		if s := result(got, err); s != tt.want {
			t.Errorf("Bool(%s) = %s, want %s", tt.key, s, tt.want)
		}
	}
	ints := []struct{ key, want string }{
		{"I:N", "42"}, {"I:Missing", "7"},
		{"I:X", `config: I:X = "4.2" (from /app/appsettings.json) is not an integer`},
		{"I:Big", `config: I:Big = "99999999999999999999" (from /app/appsettings.json) is not an integer`},
	}
	for _, tt := range ints {
		got, err := v.Int(tt.key, 7)
		if s := result(got, err); s != tt.want {
			t.Errorf("Int(%s) = %s, want %s", tt.key, s, tt.want)
		}
	}
	durs := []struct{ key, want string }{
		{"D:Span", "1m30s"}, {"D:Days", "26h3m4.5s"}, {"D:Go", "1m30s"}, {"D:Neg", "-5s"}, {"D:Day", "48h0m0s"}, {"D:Missing", "1s"},
		{"D:X", `config: D:X = "soon" (from /app/appsettings.json) is not a duration ("00:00:30" or "30s")`},
		{"D:BadH", `config: D:BadH = "24:00:00" (from /app/appsettings.json) is not a duration ("00:00:30" or "30s")`},
	}
	for _, tt := range durs {
		got, err := v.Duration(tt.key, time.Second)
		if s := result(got, err); s != tt.want {
			t.Errorf("Duration(%s) = %s, want %s", tt.key, s, tt.want)
		}
	}
	_, err = v.Int("I:X", 0)
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Key != "I:X" || ve.Source != "/app/appsettings.json" || ve.Err == nil {
		t.Errorf("ValueError %+v", ve)
	}
}

func result[T any](v T, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(v)
}

func TestFlagValues(t *testing.T) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("urls", "", "")
	fs.String("log-level", "", "")
	fs.String("unmapped", "", "")
	fs.Bool("detailed-errors", false, "")
	if err := fs.Parse([]string{"--log-level", "Debug", "--detailed-errors", "--unmapped", "x"}); err != nil {
		t.Fatal(err)
	}
	got := FlagValues(fs, map[string]string{
		"urls": "Urls", "log-level": "Logging:LogLevel:Default", "detailed-errors": "SignalR:EnableDetailedErrors",
	})
	want := map[string]string{"Logging:LogLevel:Default": "Debug", "SignalR:EnableDetailedErrors": "true"}
	if len(got) != len(want) {
		t.Fatalf("FlagValues = %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestDefaultDirs(t *testing.T) {
	dirs := DefaultDirs()
	if len(dirs) == 0 || len(dirs) > 2 {
		t.Fatalf("DefaultDirs = %v", dirs)
	}
	// The working directory comes last, so it wins.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got := dirs[len(dirs)-1].Name; got != wd {
		t.Errorf("last dir %q, want the working directory %q", got, wd)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 2 && !sameDir(dirs[0].Name, filepath.Dir(exe)) {
		t.Errorf("first dir %q, want the executable's %q", dirs[0].Name, filepath.Dir(exe))
	}
	for _, d := range dirs {
		if d.Name == "" || d.FS == nil {
			t.Errorf("incomplete Dir %+v", d)
		}
	}
}
