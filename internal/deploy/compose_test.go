package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is where the deployment files live, relative to this package.
const repoRoot = "../.."

// compose is the part of the Compose file format the checks need.
type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string               `yaml:"image"`
	Build       *build               `yaml:"build"`
	Ports       []string             `yaml:"ports"`
	Environment map[string]string    `yaml:"environment"`
	Volumes     []string             `yaml:"volumes"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
	Healthcheck *healthcheck         `yaml:"healthcheck"`
	Restart     string               `yaml:"restart"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test     []string `yaml:"test"`
	Interval string   `yaml:"interval"`
	Timeout  string   `yaml:"timeout"`
	Retries  int      `yaml:"retries"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(false) // the file has keys the checks do not model
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

const wantConnString = "Host=postgres;Port=5432;Database=signalr_demo;Username=postgres;Password=postgres"

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	var names []string
	for n := range c.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"chatserver1", "chatserver2", "chatserver3", "postgres"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
}

func TestComposePostgres(t *testing.T) {
	c := loadCompose(t)
	pg := c.Services["postgres"]
	if !strings.HasPrefix(pg.Image, "postgres:15") {
		t.Errorf("postgres image %q, want postgres:15*", pg.Image)
	}
	if pg.Build != nil {
		t.Error("postgres has a build section")
	}
	for k, want := range map[string]string{"POSTGRES_DB": "signalr_demo", "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres"} {
		if got := pg.Environment[k]; got != want {
			t.Errorf("postgres %s = %q, want %q", k, got, want)
		}
	}
	hc := pg.Healthcheck
	if hc == nil {
		t.Fatal("postgres has no healthcheck")
	}
	if len(hc.Test) < 2 || (hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL") ||
		!strings.Contains(strings.Join(hc.Test[1:], " "), "pg_isready") {
		t.Errorf("postgres healthcheck %q does not run pg_isready", hc.Test)
	}
	if hc.Interval == "" || hc.Retries < 1 {
		t.Errorf("postgres healthcheck interval %q retries %d", hc.Interval, hc.Retries)
	}
	// A named volume (declared at the top level) holds the data directory.
	found := false
	for _, v := range pg.Volumes {
		src, dst, ok := strings.Cut(v, ":")
		if ok && dst == "/var/lib/postgresql/data" {
			found = true
			if _, declared := c.Volumes[src]; !declared {
				t.Errorf("volume %q is not a declared named volume", src)
			}
		}
	}
	if !found {
		t.Errorf("postgres volumes %v: no named volume on /var/lib/postgresql/data", pg.Volumes)
	}
}

func TestComposeChatServers(t *testing.T) {
	c := loadCompose(t)
	tests := []struct {
		name     string
		hostPort string
	}{
		{"chatserver1", "5000"},
		{"chatserver2", "5001"},
		{"chatserver3", "5002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok := c.Services[tt.name]
			if !ok {
				t.Fatal("missing")
			}
			if s.Build == nil || s.Build.Context != "." || (s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile") {
				t.Errorf("build %+v, want context . and the repo Dockerfile", s.Build)
			}
			if want := []string{tt.hostPort + ":5000"}; !slices.Equal(s.Ports, want) {
				t.Errorf("ports %v, want %v", s.Ports, want)
			}
			if got := s.Environment["ConnectionStrings__DefaultConnection"]; got != wantConnString {
				t.Errorf("ConnectionStrings__DefaultConnection = %q, want %q", got, wantConnString)
			}
			if got := s.Environment["ASPNETCORE_URLS"]; got != "http://+:5000" {
				t.Errorf("ASPNETCORE_URLS = %q", got)
			}
			// The image has no shell or curl: the server binary probes itself.
			hc := s.Healthcheck
			if hc == nil {
				t.Fatal("no healthcheck")
			}
			if want := []string{"CMD", imageEntrypoint(t), "--healthcheck"}; !slices.Equal(hc.Test, want) {
				t.Errorf("healthcheck test %q, want %q", hc.Test, want)
			}
			if hc.Interval == "" || hc.Timeout == "" || hc.Retries < 1 {
				t.Errorf("healthcheck interval %q timeout %q retries %d", hc.Interval, hc.Timeout, hc.Retries)
			}
			dep, ok := s.DependsOn["postgres"]
			if !ok || dep.Condition != "service_healthy" {
				t.Errorf("depends_on %+v, want postgres: condition service_healthy", s.DependsOn)
			}
		})
	}
}
