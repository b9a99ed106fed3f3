package deploy

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ENV, ...
	args string
	line int
}

// parseDockerfile splits a Dockerfile into instructions: comments and blank
// lines dropped, backslash continuations joined.
func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: trailing continuation", path)
	}
	return out
}

// finalStage returns the instructions after the last FROM.
func finalStage(ins []instruction) []instruction {
	last := 0
	for i, in := range ins {
		if in.cmd == "FROM" {
			last = i
		}
	}
	return ins[last:]
}

// goBuildRun returns the RUN instruction that builds the server.
func goBuildRun(t *testing.T, ins []instruction) string {
	t.Helper()
	for _, in := range ins {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/server") {
			return in.args
		}
	}
	t.Fatal("Dockerfile: no RUN ... go build ... ./cmd/server")
	return ""
}

func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	froms := 0
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms++
		}
	}
	if froms < 2 {
		t.Errorf("%d FROM instructions, want a multi-stage build", froms)
	}
	run := goBuildRun(t, ins)
	if !strings.Contains(run, "CGO_ENABLED=0") {
		t.Errorf("go build without CGO_ENABLED=0: %s", run)
	}

	final := finalStage(ins)
	base := strings.Fields(final[0].args)[0]
	if !strings.Contains(base, "distroless/static") && base != "scratch" {
		t.Errorf("final image %q, want distroless static or scratch", base)
	}
	var user, expose, entry string
	env := map[string]string{}
	for _, in := range final {
		switch in.cmd {
		case "USER":
			user = in.args
		case "EXPOSE":
			expose = in.args
		case "ENTRYPOINT", "CMD":
			entry = in.args
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				if k, v, ok := strings.Cut(kv, "="); ok {
					env[k] = v
				}
			}
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("final stage USER %q, want a non-root user", user)
	}
	if !slices.Contains(strings.Fields(expose), "5000") {
		t.Errorf("EXPOSE %q, want 5000", expose)
	}
	if env["ASPNETCORE_URLS"] != "http://+:5000" {
		t.Errorf("ENV ASPNETCORE_URLS = %q, want http://+:5000", env["ASPNETCORE_URLS"])
	}
	if entry == "" {
		t.Error("no ENTRYPOINT")
	}
	// HEALTHCHECK runs the server binary in its probe mode (no curl in the image).
	var health string
	for _, in := range final {
		if in.cmd == "HEALTHCHECK" {
			health = in.args
		}
	}
	_, exec, _ := strings.Cut(health, "CMD ")
	if want := `["` + imageEntrypoint(t) + `", "--healthcheck"]`; strings.TrimSpace(exec) != want {
		t.Errorf("HEALTHCHECK %q, want CMD %s", health, want)
	}
}

// imageEntrypoint is the path of the server in the image, from the
// Dockerfile's exec-form ENTRYPOINT.
func imageEntrypoint(t *testing.T) string {
	t.Helper()
	var entry string
	for _, in := range finalStage(parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))) {
		if in.cmd == "ENTRYPOINT" {
			entry = in.args
		}
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 {
		t.Fatalf("ENTRYPOINT %q is not an exec-form JSON array: %v", entry, err)
	}
	return argv[0]
}

func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, want := range []string{".git", "**/node_modules", "/testdata"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
	// The build needs these; an ignore pattern must not match them.
	for _, p := range patterns {
		for _, need := range []string{"go.mod", "go.sum", "cmd", "signalr", "internal", "transports", "negotiate", "npgsql"} {
			if strings.TrimPrefix(p, "/") == need || p == "*" {
				t.Errorf(".dockerignore pattern %q excludes %s", p, need)
			}
		}
	}
}
