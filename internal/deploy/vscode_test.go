package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestVSCodeTasks(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, ".vscode", "tasks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version string
		Tasks   []struct {
			Label   string
			Type    string
			Command string
			Windows *struct{ Command string }
		}
	}
	// Plain JSON (no comments), so any tool can read it.
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("tasks.json: %v", err)
	}
	if f.Version != "2.0.0" {
		t.Errorf("version %q", f.Version)
	}
	labels := map[string]bool{}
	paths := regexp.MustCompile(`\./cmd/[a-z]+|scripts/[a-z-]+\.(sh|ps1)`)
	for _, task := range f.Tasks {
		if labels[task.Label] {
			t.Errorf("duplicate label %q", task.Label)
		}
		labels[task.Label] = true
		cmds := []string{task.Command}
		if task.Windows != nil {
			cmds = append(cmds, task.Windows.Command)
		}
		for _, c := range cmds {
			if c == "" {
				t.Errorf("%q: empty command", task.Label)
			}
			for _, p := range paths.FindAllString(c, -1) {
				if _, err := os.Stat(filepath.Join(repoRoot, strings.TrimPrefix(p, "./"))); err != nil {
					t.Errorf("%q refers to %s: %v", task.Label, p, err)
				}
			}
		}
	}
	for _, want := range []string{
		"build: server", "build: client", "run: server", "run: client",
		"postgres: start (docker compose)", "postgres: stop (docker compose)",
		"postgres: start (local pg_ctl)", "postgres: stop (local pg_ctl)", "test: all (race)",
	} {
		if !labels[want] {
			t.Errorf("no task %q", want)
		}
	}
}
