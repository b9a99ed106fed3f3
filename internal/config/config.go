// Package config reads the server's settings the way ASP.NET Core does, so a
// deployment of the .NET ChatServer (its appsettings.json, its environment
// variables) works unchanged.
//
// Layers, lowest precedence first (a later layer overrides an earlier one):
//
//  1. Options.Defaults
//  2. environment variables prefixed DOTNET_, then ASPNETCORE_, with the
//     prefix removed (ASPNETCORE_URLS is the key "URLS"), as .NET's host
//     configuration: below the files, so "Urls" in appsettings.json beats
//     ASPNETCORE_URLS, exactly as in ASP.NET Core
//  3. appsettings.json
//  4. appsettings.{Environment}.json
//  5. all environment variables, "__" standing for ':'
//     (ConnectionStrings__DefaultConnection); the Azure-style
//     POSTGRESQLCONNSTR_x, CUSTOMCONNSTR_x, SQLCONNSTR_x, SQLAZURECONNSTR_x
//     and MYSQLCONNSTR_x become ConnectionStrings:x
//  6. Options.Flags (command-line flags the program parsed)
//
// Each settings file is looked for in every Options.Dirs entry, a later
// directory overriding an earlier one; DefaultDirs puts the executable's
// directory first and the working directory last, so the working directory's
// file wins (it is .NET's default content root). Missing files are skipped;
// unreadable or malformed ones are errors.
//
// Keys are case-insensitive and ':' separates sections, as in .NET. The
// environment name comes from the "environment" key of layers 2 and 6
// (DOTNET_ENVIRONMENT < ASPNETCORE_ENVIRONMENT < a flag), default
// "Production"; it is used exactly as spelled in the file name.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultEnvironment is the environment name when none is configured.
const DefaultEnvironment = "Production"

// Dir is a directory searched for settings files.
type Dir struct {
	// Name identifies the directory in sources and errors (a path).
	Name string
	// FS reads the directory; files are opened by base name.
	FS fs.FS
}

// Options say where the layers come from. The zero value reads nothing:
// everything is injected, so Load is pure and testable.
type Options struct {
	// Defaults are the lowest layer, by key.
	Defaults map[string]string
	// Dirs are searched for the settings files, lowest precedence first.
	// See DefaultDirs.
	Dirs []Dir
	// FileName is the settings files' base name. Default "appsettings".
	FileName string
	// Environ is the process environment as "KEY=value" (os.Environ()).
	Environ []string
	// Flags are the command-line values by configuration key, the highest
	// layer. See FlagValues.
	Flags map[string]string
}

// Values is the merged configuration. It is immutable and safe for
// concurrent use.
type Values struct {
	env   string
	files []string
	m     map[string]value // by lower-case key
}

type value struct {
	key    string // spelling of the layer that set it
	value  string
	null   bool
	source string
}

// layer is one source's settings.
type layer struct {
	source func(key string) string // describes where key came from
	items  []entry
}

// Load reads and merges the layers.
func Load(opts Options) (*Values, error) {
	base := opts.FileName
	if base == "" {
		base = "appsettings"
	}
	var layers []layer
	if len(opts.Defaults) > 0 {
		layers = append(layers, mapLayer(opts.Defaults, func(string) string { return "default" }))
	}
	env := parseEnviron(opts.Environ)
	for _, prefix := range []string{"DOTNET_", "ASPNETCORE_"} {
		layers = append(layers, prefixedEnvLayer(env, prefix))
	}
	var flags layer
	if len(opts.Flags) > 0 {
		flags = mapLayer(opts.Flags, func(string) string { return "command line" })
	}

	// The environment name is host configuration: prefixed variables and
	// the command line only, never a settings file.
	environment := DefaultEnvironment
	hostLayers := []layer{layers[len(layers)-2], layers[len(layers)-1], flags}
	for _, l := range hostLayers {
		for _, e := range l.items {
			if strings.EqualFold(e.key, "environment") && !e.null && e.value != "" {
				environment = e.value
			}
		}
	}
	if strings.ContainsAny(environment, `/\`) || environment == "." || environment == ".." {
		return nil, fmt.Errorf("config: environment name %q is not a valid file name part", environment)
	}

	v := &Values{env: environment, m: map[string]value{}}
	for _, name := range []string{base + ".json", base + "." + environment + ".json"} {
		for _, d := range opts.Dirs {
			l, ok, err := fileLayer(d, name)
			if err != nil {
				return nil, err
			}
			if ok {
				layers = append(layers, l)
				v.files = append(v.files, displayPath(d.Name, name))
			}
		}
	}
	layers = append(layers, envLayer(env), flags)

	for _, l := range layers {
		for _, e := range l.items {
			v.m[strings.ToLower(e.key)] = value{key: e.key, value: e.value, null: e.null, source: l.source(e.key)}
		}
	}
	return v, nil
}

func displayPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return filepath.Join(dir, name)
}

func mapLayer(m map[string]string, source func(string) string) layer {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic winner among keys differing in case only
	l := layer{source: source}
	for _, k := range keys {
		l.items = append(l.items, entry{key: k, value: m[k]})
	}
	return l
}

func fileLayer(d Dir, name string) (layer, bool, error) {
	path := displayPath(d.Name, name)
	if d.FS == nil {
		return layer{}, false, nil
	}
	data, err := fs.ReadFile(d.FS, name)
	if errors.Is(err, fs.ErrNotExist) {
		return layer{}, false, nil
	}
	if err != nil {
		return layer{}, false, fmt.Errorf("config: read %s: %w", path, err)
	}
	items, err := parseJSON(path, data)
	if err != nil {
		return layer{}, false, fmt.Errorf("config: %w", err)
	}
	return layer{source: func(string) string { return path }, items: items}, true, nil
}

// envVar is one environment variable, in Environ order.
type envVar struct{ name, value string }

func parseEnviron(environ []string) []envVar {
	out := make([]envVar, 0, len(environ))
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			// Windows has "=C:=C:\..." entries: not settings.
			continue
		}
		out = append(out, envVar{name, val})
	}
	return out
}

// envKey is .NET's mapping of a variable name to a configuration key.
func envKey(name string) string { return strings.ReplaceAll(name, "__", ":") }

func prefixedEnvLayer(env []envVar, prefix string) layer {
	l := layer{}
	names := map[string]string{}
	for _, e := range env {
		if len(e.name) > len(prefix) && strings.EqualFold(e.name[:len(prefix)], prefix) {
			k := envKey(e.name[len(prefix):])
			names[strings.ToLower(k)] = e.name
			l.items = append(l.items, entry{key: k, value: e.value})
		}
	}
	l.source = func(key string) string { return "environment variable " + names[strings.ToLower(key)] }
	return l
}

// connStrPrefixes are the Azure App Service connection string variables .NET
// maps to ConnectionStrings:<name>.
var connStrPrefixes = []string{"POSTGRESQLCONNSTR_", "CUSTOMCONNSTR_", "SQLCONNSTR_", "SQLAZURECONNSTR_", "MYSQLCONNSTR_"}

func envLayer(env []envVar) layer {
	l := layer{}
	names := map[string]string{}
	for _, e := range env {
		k := envKey(e.name)
		for _, p := range connStrPrefixes {
			if len(e.name) > len(p) && strings.EqualFold(e.name[:len(p)], p) {
				k = "ConnectionStrings:" + envKey(e.name[len(p):])
				break
			}
		}
		names[strings.ToLower(k)] = e.name
		l.items = append(l.items, entry{key: k, value: e.value})
	}
	l.source = func(key string) string { return "environment variable " + names[strings.ToLower(key)] }
	return l
}

// Environment is the environment name (Production, Development, ...).
func (v *Values) Environment() string { return v.env }

// Files lists the settings files that were read, in the order applied.
func (v *Values) Files() []string { return append([]string(nil), v.files...) }

// Lookup returns the value of key (case-insensitive, ':'-separated). ok is
// false if no layer sets it, or the winning layer set it to JSON null, {}
// or [].
func (v *Values) Lookup(key string) (val string, ok bool) {
	e, found := v.m[strings.ToLower(key)]
	if !found || e.null {
		return "", false
	}
	return e.value, true
}

// Get returns the value of key, or "" if it is not set.
func (v *Values) Get(key string) string {
	s, _ := v.Lookup(key)
	return s
}

// ConnectionString is Get("ConnectionStrings:" + name), like .NET's
// GetConnectionString.
func (v *Values) ConnectionString(name string) string {
	return v.Get("ConnectionStrings:" + name)
}

// Source says where key's value came from ("default", a settings file path,
// "environment variable X", "command line"), or "" if it is not set. Log it
// next to a value so operators see which layer won.
func (v *Values) Source(key string) string {
	return v.m[strings.ToLower(key)].source
}

// Keys returns every key, sorted case-insensitively, as spelled by the layer
// that set it.
func (v *Values) Keys() []string {
	out := make([]string, 0, len(v.m))
	for _, e := range v.m {
		out = append(out, e.key)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}

// Children returns the names of the direct subkeys of section ("" for the
// top level), sorted, deduplicated case-insensitively: for
// "Logging:LogLevel" the categories ("Default", "Microsoft.AspNetCore", ...).
func (v *Values) Children(section string) []string {
	prefix := ""
	if section != "" {
		prefix = strings.ToLower(section) + ":"
	}
	seen := map[string]string{}
	for lk, e := range v.m {
		if !strings.HasPrefix(lk, prefix) {
			continue
		}
		rest := e.key[len(prefix):]
		name, _, _ := strings.Cut(rest, ":")
		if _, ok := seen[strings.ToLower(name)]; !ok {
			seen[strings.ToLower(name)] = name
		}
	}
	out := make([]string, 0, len(seen))
	for _, n := range seen {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}

// ValueError is a setting that does not parse as the type asked for.
type ValueError struct {
	Key, Value, Source string
	Want               string // "a boolean", "an integer", "a duration"
	Err                error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("config: %s = %q (from %s) is not %s", e.Key, e.Value, e.Source, e.Want)
}

func (e *ValueError) Unwrap() error { return e.Err }

func (v *Values) valueError(key, val, want string, err error) error {
	return &ValueError{Key: key, Value: val, Source: v.Source(key), Want: want, Err: err}
}

// Bool parses key like .NET's binder: "true" or "false" in any case, with
// surrounding blanks. def is returned if key is not set or empty.
func (v *Values) Bool(key string, def bool) (bool, error) {
	s, ok := v.Lookup(key)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return def, nil
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return def, v.valueError(key, s, "a boolean (true or false)", nil)
}

// Int parses key as a decimal integer. def is returned if key is not set or
// empty.
func (v *Values) Int(key string, def int) (int, error) {
	s, ok := v.Lookup(key)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return def, v.valueError(key, s, "an integer", err)
	}
	return n, nil
}

// Duration parses key as a .NET TimeSpan ("00:00:30", "1.02:03:04.5") or a
// Go duration ("30s", "1m30s"). def is returned if key is not set or empty.
func (v *Values) Duration(key string, def time.Duration) (time.Duration, error) {
	s, ok := v.Lookup(key)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return def, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return def, v.valueError(key, s, `a duration ("00:00:30" or "30s")`, err)
	}
	return d, nil
}

// parseDuration accepts TimeSpan's invariant format [-][d.]hh:mm[:ss[.fffffff]]
// and a bare day count, else Go's time.ParseDuration syntax.
func parseDuration(s string) (time.Duration, error) {
	if !strings.Contains(s, ":") {
		if n, err := strconv.ParseInt(s, 10, 32); err == nil { // TimeSpan "5" is 5 days
			return time.Duration(n) * 24 * time.Hour, nil
		}
		return time.ParseDuration(s)
	}
	neg := strings.HasPrefix(s, "-")
	t := strings.TrimPrefix(s, "-")
	var days int64
	parts := strings.Split(t, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, errors.New("want [d.]hh:mm[:ss[.fffffff]]")
	}
	if d, h, ok := strings.Cut(parts[0], "."); ok {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad days %q", d)
		}
		days, parts[0] = n, h
	}
	field := func(s string, max int64) (int64, error) {
		if s == "" || len(s) > 2 {
			return 0, fmt.Errorf("bad field %q", s)
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > max {
			return 0, fmt.Errorf("bad field %q", s)
		}
		return n, nil
	}
	h, err := field(parts[0], 23)
	if err != nil {
		return 0, err
	}
	m, err := field(parts[1], 59)
	if err != nil {
		return 0, err
	}
	var sec, frac int64
	if len(parts) == 3 {
		ss, fs, hasFrac := strings.Cut(parts[2], ".")
		if sec, err = field(ss, 59); err != nil {
			return 0, err
		}
		if hasFrac {
			if fs == "" || len(fs) > 7 {
				return 0, fmt.Errorf("bad fraction %q", fs)
			}
			f, err := strconv.ParseInt(fs, 10, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("bad fraction %q", fs)
			}
			for range 7 - len(fs) {
				f *= 10
			}
			frac = f * 100 // 100 ns ticks to ns
		}
	}
	const maxDays = int64((1<<63-1)/int64(24*time.Hour)) - 1
	if days > maxDays {
		return 0, errors.New("out of range")
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(sec)*time.Second + time.Duration(frac)
	if neg {
		d = -d
	}
	return d, nil
}

// FlagValues returns the flags of fs that were set on the command line, by
// configuration key: keys maps a flag name to its key ("urls" → "Urls",
// "log-level" → "Logging:LogLevel:Default"). Flags not in keys are left out.
// Call it after fs.Parse and pass the result as Options.Flags.
func FlagValues(fs *flag.FlagSet, keys map[string]string) map[string]string {
	out := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if k, ok := keys[f.Name]; ok {
			out[k] = f.Value.String()
		}
	})
	return out
}

// DefaultDirs returns the directories a program searches: the directory of
// its executable (symlinks resolved), then the working directory, which
// therefore wins. A directory that cannot be determined is left out; the
// same directory is listed once.
func DefaultDirs() []Dir {
	var paths []string
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		paths = append(paths, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		paths = append(paths, wd)
	}
	var out []Dir
	for i, p := range paths {
		if i > 0 && sameDir(paths[0], p) {
			continue
		}
		out = append(out, Dir{Name: p, FS: os.DirFS(p)})
	}
	return out
}

func sameDir(a, b string) bool {
	if a == b {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
