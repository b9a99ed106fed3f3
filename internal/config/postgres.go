package config

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
	"unicode"
)

// Postgres is a PostgreSQL connection setting translated for pgx.
type Postgres struct {
	// DSN is what pgx.ParseConfig and pgxpool.ParseConfig accept: a URL or
	// libpq key=value pairs.
	DSN string
	// MaxPoolSize is Npgsql's "Maximum Pool Size", 0 if not given; the
	// backplane's npgsql.Options.MaxPoolSize.
	MaxPoolSize int
	// CommandTimeout is Npgsql's "Command Timeout", 0 if not given; the
	// backplane's npgsql.Options.CommandTimeout.
	CommandTimeout time.Duration
	// Ignored lists the Npgsql keywords given that have no pgx equivalent
	// (Pooling, Minimum Pool Size, Keepalive, ...): log them.
	Ignored []string
}

// npgsqlKeys maps Npgsql's keywords and synonyms, lower case without blanks,
// to libpq keywords. "" marks a keyword handled specially or ignored.
var npgsqlKeys = map[string]string{
	"host": "host", "server": "host",
	"port":     "port",
	"database": "dbname", "db": "dbname",
	"username": "user", "user": "user", "userid": "user", "uid": "user",
	"password": "password", "psw": "password", "pwd": "password",
	"passfile":       "passfile",
	"sslmode":        "sslmode",
	"sslcertificate": "sslcert", "sslkey": "sslkey", "rootcertificate": "sslrootcert", "sslpassword": "sslpassword",
	"timeout":                 "connect_timeout",
	"applicationname":         "application_name",
	"searchpath":              "search_path",
	"clientencoding":          "client_encoding",
	"options":                 "options",
	"targetsessionattributes": "target_session_attrs",
	"timezone":                "timezone",
	// Mapped to Postgres fields.
	"maximumpoolsize": "", "maxpoolsize": "", "commandtimeout": "",
	// Understood by Npgsql, no pgx equivalent.
	"pooling": "", "minimumpoolsize": "", "minpoolsize": "", "connectionidlelifetime": "",
	"connectionpruninginterval": "", "connectionlifetime": "", "keepalive": "", "tcpkeepalive": "",
	"tcpkeepalivetime": "", "tcpkeepaliveinterval": "", "includeerrordetail": "", "logparameters": "",
	"enlist": "", "maxautoprepare": "", "autoprepareminusages": "", "trustservercertificate": "",
	"noresetonclose": "", "internalcommandtimeout": "", "cancellationtimeout": "", "readbuffersize": "",
	"writebuffersize": "", "multiplexing": "", "serversidecursors": "",
}

// libpqKeys are keywords that mark a string as libpq key=value form.
var libpqKeys = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "password": true,
	"passfile": true, "sslmode": true, "connect_timeout": true, "application_name": true,
	"sslcert": true, "sslkey": true, "sslrootcert": true, "options": true, "target_session_attrs": true,
	"service": true, "servicefile": true,
}

var sslModes = map[string]string{
	"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
	"verifyca": "verify-ca", "verify-ca": "verify-ca", "verifyfull": "verify-full", "verify-full": "verify-full",
}

var sessionAttrs = map[string]string{
	"any": "any", "primary": "primary", "standby": "standby", "preferstandby": "prefer-standby",
	"readwrite": "read-write", "readonly": "read-only",
}

// ParsePostgres accepts a connection string as a .NET deployment writes it
// for Npgsql ("Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres")
// and translates it for pgx. A postgres:// URL or a libpq "host=... dbname=..."
// string is passed through unchanged. An unknown Npgsql keyword is an error,
// as in Npgsql.
func ParsePostgres(s string) (Postgres, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Postgres{}, fmt.Errorf("config: empty PostgreSQL connection string")
	}
	if strings.IndexByte(t, 0) >= 0 {
		return Postgres{}, fmt.Errorf("config: PostgreSQL connection string contains a NUL byte")
	}
	lower := strings.ToLower(t)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return Postgres{DSN: t}, nil
	}
	if !strings.Contains(t, ";") {
		if k, _, ok := strings.Cut(t, "="); ok && libpqKeys[strings.TrimSpace(k)] {
			return Postgres{DSN: t}, nil
		}
	}
	pairs, err := splitConnString(t)
	if err != nil {
		return Postgres{}, err
	}
	var p Postgres
	params := map[string]string{}
	host, port := "", ""
	for _, kv := range pairs {
		norm := strings.ToLower(strings.NewReplacer(" ", "", "_", "").Replace(kv[0]))
		target, known := npgsqlKeys[norm]
		if !known {
			return Postgres{}, fmt.Errorf("config: connection string keyword %q is not supported", kv[0])
		}
		v := kv[1]
		switch norm {
		case "host", "server":
			host = v
			continue
		case "port":
			port = v
			continue
		case "sslmode":
			m, ok := sslModes[strings.ToLower(v)]
			if !ok {
				return Postgres{}, fmt.Errorf("config: connection string: SSL Mode %q is not one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull", v)
			}
			v = m
		case "targetsessionattributes":
			// pgx knows all of Npgsql's values but PreferPrimary.
			m, ok := sessionAttrs[strings.ReplaceAll(strings.ToLower(v), "-", "")]
			if !ok {
				return Postgres{}, fmt.Errorf("config: connection string: Target Session Attributes %q is not one of Any, Primary, Standby, PreferStandby, ReadWrite, ReadOnly", v)
			}
			v = m
		case "timeout":
			if _, ok := number(v); !ok {
				return Postgres{}, fmt.Errorf("config: connection string: Timeout %q is not a number of seconds", v)
			}
		case "maximumpoolsize", "maxpoolsize":
			n, ok := number(v)
			if !ok || n < 1 {
				return Postgres{}, fmt.Errorf("config: connection string: Maximum Pool Size %q is not a positive number", v)
			}
			p.MaxPoolSize = n
			continue
		case "commandtimeout":
			n, ok := number(v)
			if !ok {
				return Postgres{}, fmt.Errorf("config: connection string: Command Timeout %q is not a number of seconds", v)
			}
			p.CommandTimeout = time.Duration(n) * time.Second
			continue
		case "searchpath":
			// libpq has no search_path keyword; it is a run-time parameter.
			params["options"] = strings.TrimSpace(params["options"] + " -c search_path=" + escapeOption(v))
			continue
		case "options":
			params["options"] = strings.TrimSpace(v + " " + params["options"])
			continue
		}
		if target == "" {
			p.Ignored = append(p.Ignored, kv[0])
			continue
		}
		params[target] = v
	}
	if host != "" {
		hosts, ports, err := splitHosts(host, port)
		if err != nil {
			return Postgres{}, err
		}
		params["host"] = hosts
		if ports != "" {
			params["port"] = ports
		}
	} else if port != "" {
		params["port"] = port
	}
	if ps, ok := params["port"]; ok {
		for _, one := range strings.Split(ps, ",") {
			if n, ok := number(one); !ok || n < 1 || n > 65535 {
				return Postgres{}, fmt.Errorf("config: connection string: bad port %q", one)
			}
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + quoteLibpq(params[k]))
	}
	p.DSN = b.String()
	return p, nil
}

// splitConnString splits "k=v;k='v;w';..." by the rules of .NET's
// DbConnectionStringBuilder: blanks around keys and values trimmed, values
// optionally in single or double quotes (a doubled quote inside stands for
// one), "==" in a key for a literal '='. A later duplicate key wins.
func splitConnString(s string) ([][2]string, error) {
	var out [][2]string
	idx := map[string]int{}
	i := 0
	for i < len(s) {
		// Key, up to a single '='.
		var key strings.Builder
		for {
			if i >= len(s) {
				if strings.TrimSpace(key.String()) == "" {
					return out, nil
				}
				return nil, fmt.Errorf("config: connection string: %q has no '='", strings.TrimSpace(key.String()))
			}
			c := s[i]
			if c == '=' {
				if i+1 < len(s) && s[i+1] == '=' {
					key.WriteByte('=')
					i += 2
					continue
				}
				i++
				break
			}
			if c == ';' {
				if k := strings.TrimSpace(key.String()); k != "" {
					return nil, fmt.Errorf("config: connection string: %q has no '='", k)
				}
				key.Reset()
				i++
				continue
			}
			key.WriteByte(c)
			i++
		}
		k := strings.TrimSpace(key.String())
		if k == "" {
			return nil, fmt.Errorf("config: connection string: a value without a keyword at offset %d", i)
		}
		// Value.
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var v string
		if i < len(s) && (s[i] == '"' || s[i] == '\'') {
			q := s[i]
			i++
			var b strings.Builder
			closed := false
			for i < len(s) {
				if s[i] == q {
					if i+1 < len(s) && s[i+1] == q {
						b.WriteByte(q)
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("config: connection string: unterminated quote in the value of %q", k)
			}
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ';' {
				return nil, fmt.Errorf("config: connection string: unexpected %q after the quoted value of %q", s[i], k)
			}
			v = b.String()
		} else {
			j := strings.IndexByte(s[i:], ';')
			if j < 0 {
				j = len(s) - i
			}
			v = strings.TrimSpace(s[i : i+j])
			i += j
		}
		if i < len(s) && s[i] == ';' {
			i++
		}
		lk := strings.ToLower(k)
		if n, ok := idx[lk]; ok {
			out[n][1] = v
		} else {
			idx[lk] = len(out)
			out = append(out, [2]string{k, v})
		}
	}
	return out, nil
}

// splitHosts turns Npgsql's "h1:5433,h2" (default port def) into libpq's
// host=h1,h2 port=5433,def lists.
func splitHosts(hosts, def string) (string, string, error) {
	var hs, ps []string
	anyPort := def != ""
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		port := def
		if strings.HasPrefix(h, "[") { // [::1]:5432
			end := strings.IndexByte(h, ']')
			if end < 0 {
				return "", "", fmt.Errorf("config: connection string: bad host %q", h)
			}
			if rest := h[end+1:]; rest != "" {
				if !strings.HasPrefix(rest, ":") {
					return "", "", fmt.Errorf("config: connection string: bad host %q", h)
				}
				port, anyPort = rest[1:], true
			}
			h = h[1:end]
		} else if strings.Count(h, ":") == 1 {
			var p string
			h, p, _ = strings.Cut(h, ":")
			port, anyPort = p, true
		} else if strings.Count(h, ":") > 1 && net.ParseIP(h) == nil {
			return "", "", fmt.Errorf("config: connection string: bad host %q", h)
		}
		if h == "" {
			return "", "", fmt.Errorf("config: connection string: empty host in %q", hosts)
		}
		hs = append(hs, h)
		if port == "" {
			port = "5432"
		}
		ps = append(ps, port)
	}
	if !anyPort {
		return strings.Join(hs, ","), "", nil
	}
	return strings.Join(hs, ","), strings.Join(ps, ","), nil
}

// quoteLibpq writes a libpq value: quoted when empty or when it has white
// space (any Unicode space: pgx splits on those),
// quotes or backslashes, which are escaped.
func quoteLibpq(v string) string {
	if v != "" && !strings.ContainsAny(v, "'\\") && strings.IndexFunc(v, unicode.IsSpace) < 0 {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// escapeOption escapes blanks and backslashes in a -c value of the options
// parameter, as PostgreSQL's command-line parsing expects.
func escapeOption(v string) string {
	return strings.NewReplacer(`\`, `\\`, " ", `\ `).Replace(v)
}

// number parses a non-negative decimal of at most 9 digits, without the
// sign or blanks strconv would accept.
func number(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
