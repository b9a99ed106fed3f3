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
	pairs, err := splitNpgsql(s)
	if err != nil {
		return "", err
	}
	var out []string
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		key := strings.ToLower(strings.ReplaceAll(k, " ", ""))
		pk, known := npgsqlKeywords[key]
		switch {
		case !known:
			return "", fmt.Errorf("connection string: unsupported keyword %q", k)
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

// splitNpgsql splits "Key=value;Key='a;b';Key=\"x\"\"y\"" into key/value
// pairs like .NET's DbConnectionStringBuilder: a value in single or double
// quotes may hold ';' and '=', a doubled quote inside stands for one.
func splitNpgsql(s string) ([][2]string, error) {
	var pairs [][2]string
	for i := 0; i < len(s); {
		if s[i] == ';' || s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, fmt.Errorf("connection string: %q is not keyword=value", strings.TrimSpace(s[i:]))
		}
		key := strings.TrimSpace(s[i : i+eq])
		if key == "" || strings.Contains(key, ";") {
			return nil, fmt.Errorf("connection string: %q is not keyword=value", strings.TrimSpace(s[i:i+eq]))
		}
		i += eq + 1
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val strings.Builder
		if i < len(s) && (s[i] == '\'' || s[i] == '"') {
			q := s[i]
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("connection string: unterminated quoted value of %q", key)
				}
				if s[i] == q {
					if i+1 < len(s) && s[i+1] == q {
						val.WriteByte(q)
						i += 2
						continue
					}
					i++
					break
				}
				val.WriteByte(s[i])
				i++
			}
			for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
				i++
			}
			if i < len(s) && s[i] != ';' {
				return nil, fmt.Errorf("connection string: unexpected %q after the quoted value of %q", s[i:], key)
			}
		} else {
			end := strings.IndexByte(s[i:], ';')
			if end < 0 {
				end = len(s) - i
			}
			val.WriteString(strings.TrimSpace(s[i : i+end]))
			i += end
		}
		pairs = append(pairs, [2]string{key, val.String()})
	}
	return pairs, nil
}
