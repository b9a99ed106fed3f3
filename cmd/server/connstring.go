package main

import (
	"fmt"
	"strings"
)

// npgsqlKeywords maps Npgsql connection-string keywords (lower case, spaces
// removed; Npgsql accepts several spellings) to libpq keywords. Keywords
// mapped to "" are accepted and ignored: they tune Npgsql's own client
// (pooling, multiplexing, ...) and have no libpq/pgx counterpart here.
var npgsqlKeywords = map[string]string{
	"host": "host", "server": "host",
	"port":     "port",
	"database": "dbname", "db": "dbname",
	"username": "user", "userid": "user", "user": "user", "uid": "user",
	"password": "password", "pwd": "password",
	"sslmode":         "sslmode",
	"timeout":         "connect_timeout",
	"applicationname": "application_name",
	"searchpath":      "search_path",
	"maxpoolsize":     "pool_max_conns", "maximumpoolsize": "pool_max_conns",
	"minpoolsize": "pool_min_conns", "minimumpoolsize": "pool_min_conns",
	"pooling": "", "commandtimeout": "", "includeerrordetail": "", "includeerrordetails": "",
	"trustservercertificate": "", "keepalive": "", "tcpkeepalive": "", "connectionidlelifetime": "",
	"connectionpruninginterval": "", "connectionlifetime": "", "enlist": "", "noresetonclose": "",
	"multiplexing": "", "maxautoprepare": "", "autoprepareminusages": "", "serversidecursors": "",
	"internalcommandtimeout": "",
}

// npgsqlSSLModes maps Npgsql's SSL Mode values to libpq's.
var npgsqlSSLModes = map[string]string{
	"disable": "disable", "allow": "allow", "prefer": "prefer", "require": "require",
	"verifyca": "verify-ca", "verifyfull": "verify-full",
}

// pgConnString turns the ChatServer's connection string into one pgx
// parses. ASP.NET deployments give it in Npgsql's keyword form
// ("Host=db;Port=5432;Database=chat;Username=app;Password=..."), which is
// converted; a postgres:// URL or a libpq "key=value key=value" string is
// passed through unchanged.
func pgConnString(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.Contains(s, "://") || !isNpgsqlForm(s) {
		return s, nil
	}
	var out []string
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return "", fmt.Errorf("connection string: %q is not keyword=value", strings.TrimSpace(part))
		}
		key := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(k), " ", ""))
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		pk, known := npgsqlKeywords[key]
		switch {
		case !known:
			return "", fmt.Errorf("connection string: unsupported keyword %q", strings.TrimSpace(k))
		case pk == "":
			continue
		case pk == "sslmode":
			m, ok := npgsqlSSLModes[strings.ToLower(strings.ReplaceAll(v, "-", ""))]
			if !ok {
				return "", fmt.Errorf("connection string: unknown SSL Mode %q", v)
			}
			v = m
		}
		out = append(out, pk+"="+libpqQuote(v))
	}
	return strings.Join(out, " "), nil
}

// isNpgsqlForm tells Npgsql's "Key=value;Key=value" from libpq's
// "key=value key=value": a ';' separator, or a first keyword that is not
// libpq's (libpq keywords are lower case without spaces).
func isNpgsqlForm(s string) bool {
	if strings.Contains(s, ";") {
		return true
	}
	k, _, ok := strings.Cut(s, "=")
	if !ok {
		return false
	}
	k = strings.TrimSpace(k)
	return k != strings.ToLower(k) || strings.Contains(k, " ")
}

// libpqQuote quotes a value for a libpq keyword/value string when needed.
func libpqQuote(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}
