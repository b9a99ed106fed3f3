package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestURLMemory(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/debug/memstats", MemStatsHandler())
	mux.HandleFunc("/go/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP go_memstats_heap_inuse_bytes x\n# TYPE go_memstats_heap_inuse_bytes gauge\n"+
			"go_memstats_heap_inuse_bytes 1.2e+06\ngo_memstats_stack_inuse_bytes 800000\nprocess_resident_memory_bytes 9e+06\n")
	})
	mux.HandleFunc("/rss/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "process_resident_memory_bytes 9e+06\n")
	})
	mux.HandleFunc("/none/metrics", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "up 1\n") })
	ts := httptest.NewServer(mux)
	defer ts.Close()
	ctx := context.Background()

	tests := []struct {
		path   string
		want   uint64 // 0: any positive figure
		source string
		err    bool
	}{
		{"/debug/memstats", 0, "memstats", false},
		{"/go/metrics", 2_000_000, "go_memstats", false},
		{"/rss/metrics", 9_000_000, "resident", false},
		{"/none/metrics", 0, "", true},
		{"/missing", 0, "", true},
	}
	for _, tt := range tests {
		got, source, err := URLMemory(ts.Client(), ts.URL+tt.path)(ctx)
		switch {
		case tt.err:
			if err == nil {
				t.Errorf("%s: want error, got %d", tt.path, got)
			}
		case err != nil:
			t.Errorf("%s: %v", tt.path, err)
		case tt.want != 0 && got != tt.want, got == 0:
			t.Errorf("%s: %d bytes, want %d", tt.path, got, tt.want)
		case !strings.Contains(source, tt.source):
			t.Errorf("%s: source %q", tt.path, source)
		}
	}
	if b, _, err := InProcessMemory()(ctx); err != nil || b == 0 {
		t.Errorf("in-process: %d, %v", b, err)
	}
}
