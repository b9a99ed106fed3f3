package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// Environment variables, named like ASP.NET Core configuration keys ("__"
// separates sections) so a deployment of the .NET ChatServer carries over.
const (
	envURLs           = "ASPNETCORE_URLS"
	envLogLevel       = "Logging__LogLevel__Default"
	envCORSOrigins    = "Cors__AllowedOrigins"
	envDetailedErrors = "SignalR__EnableDetailedErrors"
	envConnection     = "ConnectionStrings__DefaultConnection"
)

const defaultURLs = "http://localhost:5000"

// config is the ChatServer's configuration after flags and environment.
type config struct {
	// URLs to listen on, as given (http only).
	URLs []string
	// LogLevel is the minimum level logged.
	LogLevel zerolog.Level
	// CORSOrigins lists the browser origins allowed to connect from other
	// sites; "*" allows any origin (reflected, never a literal "*").
	CORSOrigins []string
	// DetailedErrors sends server error details to clients.
	DetailedErrors bool
	// ConnectionString, when set, makes servers share clients through the
	// PostgreSQL backplane (Npgsql keyword form, postgres:// URL or libpq).
	ConnectionString string
}

// parseConfig reads the environment, then the flags, which override it.
// -h/--help prints the usage to out and returns flag.ErrHelp.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(out)
	urls := fs.String("urls", "", "semicolon-separated URLs to listen on, like ASP.NET Core (env "+envURLs+", default "+defaultURLs+")")
	logLevel := fs.String("log-level", "", "minimum log level: Trace, Debug, Information, Warning, Error, Critical or None (env "+envLogLevel+", default Information)")
	cors := fs.String("cors-origins", "", "comma-separated browser origins allowed cross-site, or * for any (env "+envCORSOrigins+", default none)")
	detailed := fs.Bool("detailed-errors", false, "send server error details to clients (env "+envDetailedErrors+", default false)")
	connString := fs.String("connection-string", "", "PostgreSQL backplane connection string, e.g. Host=db;Database=chat;Username=app;Password=... (env "+envConnection+", default none: single server)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: server [flags]\n\nRuns the SignalR ChatServer with its hub at /chathub. Flags override environment variables.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	// pick returns the flag value when the flag was given, else the env value.
	pick := func(name, flagValue, envName string) string {
		if set[name] {
			return flagValue
		}
		return getenv(envName)
	}

	var cfg config
	var err error
	if cfg.URLs, err = parseURLList(pick("urls", *urls, envURLs)); err != nil {
		return config{}, err
	}
	if cfg.LogLevel, err = parseLogLevel(pick("log-level", *logLevel, envLogLevel)); err != nil {
		return config{}, err
	}
	cfg.CORSOrigins, err = parseOrigins(pick("cors-origins", *cors, envCORSOrigins))
	if err != nil {
		return config{}, err
	}
	cfg.ConnectionString = strings.TrimSpace(pick("connection-string", *connString, envConnection))
	if set["detailed-errors"] {
		cfg.DetailedErrors = *detailed
	} else if v := strings.TrimSpace(getenv(envDetailedErrors)); v != "" {
		if cfg.DetailedErrors, err = strconv.ParseBool(v); err != nil {
			return config{}, fmt.Errorf("%s: %q is not a boolean", envDetailedErrors, v)
		}
	}
	return cfg, nil
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
