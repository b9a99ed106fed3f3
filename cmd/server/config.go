package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/internal/config"
	"github.com/gosignalr/gosignalr/npgsql"
)

// Configuration keys, as the ASP.NET Core ChatServer names them where it has
// them, so its appsettings.json and environment carry over unchanged.
const (
	keyURLs             = "Urls"
	keyLogLevel         = "Logging:LogLevel:Default"
	keyCORSOrigins      = "Cors:AllowedOrigins"
	keyDetailedErrors   = "SignalR:EnableDetailedErrors"
	keyConnection       = "ConnectionStrings:DefaultConnection"
	keyBackplaneSchema  = "Backplane:SchemaName"
	keyBackplaneSlug    = "Backplane:TableSlug"
	keyBackplaneChannel = "Backplane:NotificationChannel"
	keyBackplaneMode    = "Backplane:Mode"
	keyShutdownTimeout  = "ShutdownTimeout"
	keyJSClientDir      = "WebUI:JSClientDir"
	keyJSClientURL      = "WebUI:JSClientUrl"
	keyJSClientSRI      = "WebUI:JSClientIntegrity"
	keyJWTKey           = "Authentication:Jwt:Key"
	keyEnvironment      = "environment"
)

// envDatabaseURL is the Heroku-style variable also accepted for the
// backplane; see resolveConnectionString for where it ranks.
const envDatabaseURL = "DATABASE_URL"

// Defaults of the ChatServer.
const (
	defaultURLs            = "http://localhost:5000"
	defaultShutdownTimeout = 30 * time.Second
	// The backplane settings of the original .NET ChatServer
	// (examples/ChatServer/Program.cs of AspNetCore.SignalR.Npgsql), so a Go
	// and a .NET ChatServer share a database without extra settings: table
	// "signalr"."chathub_Messages", channel chat_notifications.
	defaultBackplaneSchema  = "signalr"
	defaultBackplaneChannel = "chat_notifications"
	defaultBackplaneRetries = 5
	defaultBackplaneDelay   = 2 * time.Second
)

// settings is the ChatServer's configuration after all layers.
type settings struct {
	// URLs to listen on, as given (http only).
	URLs []string
	// LogLevel is the minimum level logged.
	LogLevel zerolog.Level
	// CORSOrigins lists the browser origins allowed to connect from other
	// sites; "*" allows any origin (reflected, never a literal "*").
	CORSOrigins []string
	// DetailedErrors sends server error details to clients.
	DetailedErrors bool
	// Postgres, when DSN is set, makes servers share clients through the
	// PostgreSQL backplane.
	Postgres config.Postgres
	// PostgresSource says where the connection string came from.
	PostgresSource string
	// Backplane names and mode (defaults of the .NET ChatServer).
	BackplaneSchema, BackplaneSlug, BackplaneChannel string
	BackplaneMode                                    npgsql.Mode
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration
	// The chat page's SignalR client (see internal/webui).
	JSClientDir, JSClientURL, JSClientIntegrity string
	// JWTKey, when set, is the HS256 secret of bearer tokens (anonymous
	// clients are still allowed).
	JWTKey string
	// Healthcheck: probe the running server's /health/ready and exit.
	Healthcheck bool

	// values are the merged layers, for the startup log of sources.
	values *config.Values
}

// flagKeys maps flags to configuration keys: a flag given on the command
// line is the highest layer.
var flagKeys = map[string]string{
	"urls":                 keyURLs,
	"log-level":            keyLogLevel,
	"cors-origins":         keyCORSOrigins,
	"detailed-errors":      keyDetailedErrors,
	"postgres":             keyConnection,
	"connection-string":    keyConnection,
	"backplane-schema":     keyBackplaneSchema,
	"backplane-table-slug": keyBackplaneSlug,
	"backplane-channel":    keyBackplaneChannel,
	"backplane-mode":       keyBackplaneMode,
	"shutdown-timeout":     keyShutdownTimeout,
	"js-client-dir":        keyJSClientDir,
	"js-client-url":        keyJSClientURL,
	"js-client-integrity":  keyJSClientSRI,
	"jwt-key":              keyJWTKey,
	"environment":          keyEnvironment,
}

// parseConfig parses the flags, then merges the layers (internal/config):
// flags > environment > appsettings.{Environment}.json > appsettings.json >
// ASPNETCORE_/DOTNET_-prefixed environment > defaults. dirs are searched
// for the settings files (--content-root replaces them).
// -h/--help prints the usage to out and returns flag.ErrHelp.
func parseConfig(args []string, environ []string, dirs []config.Dir, out io.Writer) (settings, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.String("urls", "", "semicolon-separated URLs to listen on, like ASP.NET Core (key Urls, env ASPNETCORE_URLS or Urls; default "+defaultURLs+")")
	fs.String("log-level", "", "minimum log level: Trace, Debug, Information, Warning, Error, Critical or None (key "+keyLogLevel+", env Logging__LogLevel__Default; default Information)")
	fs.String("cors-origins", "", "comma-separated browser origins allowed cross-site, or * for any (key "+keyCORSOrigins+": a string or a JSON array, env Cors__AllowedOrigins; default none)")
	fs.Bool("detailed-errors", false, "send server error details to clients (key "+keyDetailedErrors+", env SignalR__EnableDetailedErrors; default false)")
	fs.String("postgres", "", "PostgreSQL backplane connection string: Npgsql form (Host=db;Database=chat;Username=app;Password=...), postgres:// URL or libpq key=value (key "+keyConnection+", env ConnectionStrings__DefaultConnection or DATABASE_URL; default none: single server)")
	fs.String("connection-string", "", "alias of --postgres")
	fs.String("backplane-schema", "", "backplane schema (key "+keyBackplaneSchema+"; default "+defaultBackplaneSchema+", as the .NET ChatServer)")
	fs.String("backplane-table-slug", "", "backplane table slug: the table is <slug>_Messages (key "+keyBackplaneSlug+"; default the lower-cased hub name, chathub, as the .NET ChatServer)")
	fs.String("backplane-channel", "", "backplane NOTIFY channel (key "+keyBackplaneChannel+"; default "+defaultBackplaneChannel+", as the .NET ChatServer)")
	fs.String("backplane-mode", "", "backplane mode: compat (the .NET trigger; messages under 8000 bytes) or native (no size limit; gosignalr servers only) (key "+keyBackplaneMode+"; default compat)")
	fs.String("shutdown-timeout", "", "how long a graceful stop may take: a Go duration (30s) or a TimeSpan (00:00:30) (key "+keyShutdownTimeout+"; default 30s)")
	fs.String("js-client-dir", "", "serve the chat page's @microsoft/signalr client from this directory (signalr.min.js, the package, or an npm project) instead of the CDN (key "+keyJSClientDir+")")
	fs.String("js-client-url", "", "load the chat page's SignalR client from this URL (key "+keyJSClientURL+"; default the pinned jsDelivr URL)")
	fs.String("js-client-integrity", "", "subresource integrity (sha384-...) of --js-client-url (key "+keyJSClientSRI+")")
	fs.String("jwt-key", "", "HS256 secret of JWT bearer tokens; authenticated users chat under their name, anonymous clients are still allowed (key "+keyJWTKey+"; default none)")
	fs.String("environment", "", "environment name: reads appsettings.{name}.json (env ASPNETCORE_ENVIRONMENT or DOTNET_ENVIRONMENT; default Production)")
	contentRoot := fs.String("content-root", "", "directory of appsettings.json (default: the executable's directory, then the working directory)")
	healthcheck := fs.Bool("healthcheck", false, "probe the server configured by the same settings (GET /health/ready on 127.0.0.1) and exit 0 if ready, else 1")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: server [flags]\n\nRuns the SignalR ChatServer with its hub at /chathub. Settings come from, highest first: flags, environment variables,\nappsettings.{Environment}.json, appsettings.json, ASPNETCORE_/DOTNET_-prefixed environment variables, defaults.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return settings{}, err
	}
	if fs.NArg() > 0 {
		return settings{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]string{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = f.Value.String() })
	if a, okA := set["postgres"]; okA {
		if b, okB := set["connection-string"]; okB && a != b {
			return settings{}, errors.New("--postgres and --connection-string (its alias) give different values")
		}
	}
	if *contentRoot != "" {
		st, err := os.Stat(*contentRoot)
		if err != nil || !st.IsDir() {
			return settings{}, fmt.Errorf("--content-root %q is not a directory", *contentRoot)
		}
		dirs = []config.Dir{{Name: *contentRoot, FS: os.DirFS(*contentRoot)}}
	}
	v, err := config.Load(config.Options{
		Defaults: map[string]string{keyURLs: defaultURLs},
		Dirs:     dirs,
		Environ:  environ,
		Flags:    config.FlagValues(fs, flagKeys),
	})
	if err != nil {
		return settings{}, err
	}
	cfg, err := settingsFrom(v, environ)
	if err != nil {
		return settings{}, err
	}
	cfg.Healthcheck = *healthcheck
	return cfg, nil
}

// keyError names the key and the layer it came from in a value's error.
func keyError(v *config.Values, key string, err error) error {
	return fmt.Errorf("config: %s (from %s): %w", key, v.Source(key), err)
}

// settingsFrom reads the ChatServer's settings from the merged layers.
func settingsFrom(v *config.Values, environ []string) (settings, error) {
	cfg := settings{values: v}
	var err error
	if cfg.URLs, err = parseURLList(v.Get(keyURLs)); err != nil {
		return settings{}, keyError(v, keyURLs, err)
	}
	if cfg.LogLevel, err = parseLogLevel(v.Get(keyLogLevel)); err != nil {
		return settings{}, keyError(v, keyLogLevel, err)
	}
	if cfg.CORSOrigins, err = corsOrigins(v); err != nil {
		return settings{}, err
	}
	if cfg.DetailedErrors, err = v.Bool(keyDetailedErrors, false); err != nil {
		return settings{}, err
	}
	if cfg.ShutdownTimeout, err = v.Duration(keyShutdownTimeout, defaultShutdownTimeout); err != nil {
		return settings{}, err
	}
	if cfg.ShutdownTimeout <= 0 {
		return settings{}, keyError(v, keyShutdownTimeout, fmt.Errorf("%s is not a positive duration", cfg.ShutdownTimeout))
	}

	conn, source := resolveConnectionString(v, environ)
	if conn != "" {
		if cfg.Postgres, err = config.ParsePostgres(conn); err != nil {
			return settings{}, fmt.Errorf("config: %s (from %s): %w", keyConnection, source, err)
		}
		cfg.PostgresSource = source
	}
	cfg.BackplaneSchema = strings.TrimSpace(v.Get(keyBackplaneSchema))
	if cfg.BackplaneSchema == "" {
		cfg.BackplaneSchema = defaultBackplaneSchema
	}
	cfg.BackplaneSlug = strings.TrimSpace(v.Get(keyBackplaneSlug))
	if cfg.BackplaneSlug == "" {
		cfg.BackplaneSlug = strings.ToLower(chatHubName)
	}
	cfg.BackplaneChannel = strings.TrimSpace(v.Get(keyBackplaneChannel))
	if cfg.BackplaneChannel == "" {
		cfg.BackplaneChannel = defaultBackplaneChannel
	}
	switch m := strings.ToLower(strings.TrimSpace(v.Get(keyBackplaneMode))); m {
	case "", string(npgsql.ModeCompat):
		cfg.BackplaneMode = npgsql.ModeCompat
	case string(npgsql.ModeNative):
		cfg.BackplaneMode = npgsql.ModeNative
	default:
		return settings{}, keyError(v, keyBackplaneMode, fmt.Errorf("%q is not compat or native", v.Get(keyBackplaneMode)))
	}

	cfg.JSClientDir = strings.TrimSpace(v.Get(keyJSClientDir))
	cfg.JSClientURL = strings.TrimSpace(v.Get(keyJSClientURL))
	cfg.JSClientIntegrity = strings.TrimSpace(v.Get(keyJSClientSRI))
	cfg.JWTKey = v.Get(keyJWTKey)
	return cfg, nil
}

// resolveConnectionString picks the backplane's connection string:
// ConnectionStrings:DefaultConnection from the command line (--postgres)
// or an environment variable (ConnectionStrings__DefaultConnection,
// POSTGRESQLCONNSTR_DefaultConnection) first, then DATABASE_URL, then the
// settings files. An environment variable beats a file, as in ASP.NET Core;
// the explicit .NET name beats the generic one.
func resolveConnectionString(v *config.Values, environ []string) (value, source string) {
	value, ok := v.Lookup(keyConnection)
	value = strings.TrimSpace(value)
	source = v.Source(keyConnection)
	if ok && value != "" && (source == "command line" || isUnprefixedEnvSource(source)) {
		return value, source
	}
	for _, kv := range environ {
		if name, val, found := strings.Cut(kv, "="); found && name == envDatabaseURL && strings.TrimSpace(val) != "" {
			return strings.TrimSpace(val), "environment variable " + envDatabaseURL
		}
	}
	if !ok || value == "" {
		return "", ""
	}
	return value, source
}

// isUnprefixedEnvSource tells the environment layer above the files from
// the ASPNETCORE_/DOTNET_-prefixed one below them.
func isUnprefixedEnvSource(source string) bool {
	name, ok := strings.CutPrefix(source, "environment variable ")
	if !ok {
		return false
	}
	u := strings.ToUpper(name)
	return !strings.HasPrefix(u, "ASPNETCORE_") && !strings.HasPrefix(u, "DOTNET_")
}

// corsOrigins reads Cors:AllowedOrigins as a comma-separated string or, as
// an ASP.NET appsettings.json writes it, a JSON array.
func corsOrigins(v *config.Values) ([]string, error) {
	if s, ok := v.Lookup(keyCORSOrigins); ok {
		o, err := parseOrigins(s)
		if err != nil {
			return nil, keyError(v, keyCORSOrigins, err)
		}
		return o, nil
	}
	var out []string
	for _, child := range v.Children(keyCORSOrigins) {
		k := keyCORSOrigins + ":" + child
		o, err := parseOrigins(v.Get(k))
		if err != nil {
			return nil, keyError(v, k, err)
		}
		out = append(out, o...)
	}
	return out, nil
}

// logSources logs at debug where every setting came from, without the
// values of secrets.
func (cfg settings) logSources(log zerolog.Logger) {
	if cfg.values == nil || log.GetLevel() > zerolog.DebugLevel {
		return
	}
	log.Debug().Str("environment", cfg.values.Environment()).Strs("files", cfg.values.Files()).Msg("configuration layers")
	for _, k := range []string{keyURLs, keyLogLevel, keyCORSOrigins, keyDetailedErrors, keyShutdownTimeout,
		keyBackplaneSchema, keyBackplaneSlug, keyBackplaneChannel, keyBackplaneMode, keyJSClientDir, keyJSClientURL, keyJSClientSRI} {
		if src := cfg.values.Source(k); src != "" {
			log.Debug().Str("key", k).Str("value", cfg.values.Get(k)).Str("source", src).Msg("configuration")
		}
	}
	if cfg.PostgresSource != "" {
		log.Debug().Str("key", keyConnection).Str("source", cfg.PostgresSource).Msg("configuration (value not logged)")
	}
	if src := cfg.values.Source(keyJWTKey); src != "" {
		log.Debug().Str("key", keyJWTKey).Str("source", src).Msg("configuration (value not logged)")
	}
}

// parseURLList splits an ASP.NET-style URL list ("http://a:1;http://b:2").
func parseURLList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		s = defaultURLs
	}
	var out []string
	for _, u := range strings.Split(s, ";") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if _, err := parseListenURL(u); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no URL to listen on")
	}
	return out, nil
}

// listenURL is one parsed entry of --urls.
type listenURL struct {
	// host is "" for every address, "localhost" for both loopbacks, or an IP.
	host string
	// port may be 0 (any free port) except with localhost.
	port int
	// wildcard is how ASP.NET spells the any-address host in its output.
	wildcard string
}

// parseListenURL accepts http://host[:port][/] where host is an IP address,
// localhost, or one of ASP.NET's wildcards (*, +); any other host name binds
// every address, as ASP.NET does. https needs a TLS certificate, which this
// server does not manage: put a TLS-terminating proxy in front.
func parseListenURL(raw string) (listenURL, error) {
	// url.Parse rejects "*" and "+" as hosts; swap them for a parseable name.
	wildcard := ""
	for _, w := range []string{"*", "+"} {
		if strings.HasPrefix(raw, "http://"+w) {
			wildcard = w
			raw = "http://wildcard.invalid" + raw[len("http://"+w):]
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return listenURL{}, fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http":
	case "https":
		return listenURL{}, fmt.Errorf("invalid URL %q: https is not supported; terminate TLS in a reverse proxy and listen on http", raw)
	default:
		return listenURL{}, fmt.Errorf("invalid URL %q: the scheme must be http", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return listenURL{}, fmt.Errorf("invalid URL %q: a path base is not supported", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return listenURL{}, fmt.Errorf("invalid URL %q: only scheme, host and port are allowed", raw)
	}
	l := listenURL{port: 80}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return listenURL{}, fmt.Errorf("invalid URL %q: bad port %q", raw, p)
		}
		l.port = n
	}
	host := u.Hostname()
	switch {
	case wildcard != "":
		l.wildcard = "[::]"
	case strings.EqualFold(host, "localhost"):
		l.host = "localhost"
		if l.port == 0 {
			// ASP.NET refuses this too: the two loopback listeners could not share a dynamic port reliably.
			return listenURL{}, fmt.Errorf("invalid URL %q: dynamic port binding is not supported with localhost; use 127.0.0.1:0", raw)
		}
	case net.ParseIP(host) != nil:
		ip := net.ParseIP(host)
		if ip.IsUnspecified() {
			l.wildcard = host
			if ip.To4() == nil {
				l.wildcard = "[" + host + "]"
			}
		} else {
			l.host = host
		}
	default:
		l.wildcard = "[::]"
	}
	return l, nil
}

// parseLogLevel accepts ASP.NET level names and zerolog's.
func parseLogLevel(s string) (zerolog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "information", "info":
		return zerolog.InfoLevel, nil
	case "trace":
		return zerolog.TraceLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "warning", "warn":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	case "critical", "fatal":
		return zerolog.FatalLevel, nil
	case "none", "disabled", "off":
		return zerolog.Disabled, nil
	}
	return zerolog.NoLevel, fmt.Errorf("unknown log level %q (want Trace, Debug, Information, Warning, Error, Critical or None)", s)
}

// parseOrigins splits a comma- or semicolon-separated origin list and
// normalizes each entry to scheme://host[:port], lower case, as browsers
// send it in the Origin header.
func parseOrigins(s string) ([]string, error) {
	var out []string
	for _, o := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("invalid CORS origin %q: want scheme://host[:port] or *", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}
