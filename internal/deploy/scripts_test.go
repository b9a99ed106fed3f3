package deploy

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The PowerShell script cannot run here (no pwsh); check that it keeps in
// step with the bash script, which the unix tests run.
func TestScriptsAgree(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, "scripts", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sh, ps := read("start-multiple-servers.sh"), read("start-multiple-servers.ps1")
	shared := []string{
		"BASE_PORT", "COUNT", "DATABASE_URL", "SERVER_BIN", "HEALTH_TIMEOUT", "LOG_DIR",
		"postgres://postgres:postgres@localhost:5432/signalr_demo",
		"5000", "'--connection-string'", "--urls", "http://localhost:$port", "/health/ready", "/health\"", "/chathub",
		"go build -o", "./cmd/server", "Press Ctrl+C to stop them.",
	}
	for _, s := range shared {
		inSh := strings.Contains(sh, s) || strings.Contains(sh, strings.Trim(s, "'"))
		if !inSh || !strings.Contains(ps, s) && !strings.Contains(ps, strings.Trim(s, "'")) {
			t.Errorf("%q: in .sh %v, in .ps1 %v", s, inSh, strings.Contains(ps, strings.Trim(s, "'")))
		}
	}
	if !strings.HasPrefix(sh, "#!/usr/bin/env bash\n") {
		t.Error(".sh lacks its bash shebang")
	}
	// Windows has no executable bit; git keeps it for the others.
	if fi, err := os.Stat(filepath.Join(repoRoot, "scripts", "start-multiple-servers.sh")); runtime.GOOS != "windows" && (err != nil || fi.Mode()&0o111 == 0) {
		t.Errorf(".sh is not executable: %v", err)
	}
}
