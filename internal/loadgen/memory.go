package loadgen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MemoryProbe reports a server's memory in use, in bytes, and where the
// figure comes from.
type MemoryProbe func(ctx context.Context) (bytes uint64, source string, err error)

// MemStats is the JSON that MemStatsHandler serves.
type MemStats struct {
	HeapInuse  uint64 `json:"heapInuse"`
	StackInuse uint64 `json:"stackInuse"`
	Sys        uint64 `json:"sys"`
	Goroutines int    `json:"goroutines"`
	// CPUSeconds is the process's user+system CPU time so far.
	CPUSeconds float64 `json:"cpuSeconds"`
}

// processCPUSeconds is this process's user+system CPU time.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// CPUProbe reports a server's CPU time so far, in seconds.
type CPUProbe func(ctx context.Context) (seconds float64, err error)

// URLCPU reads the cpuSeconds of a MemStatsHandler URL (a nil hc means
// http.DefaultClient).
func URLCPU(hc *http.Client, url string) CPUProbe {
	if hc == nil {
		hc = http.DefaultClient
	}
	return func(ctx context.Context) (float64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?nogc=1", nil)
		if err != nil {
			return 0, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, fmt.Errorf("loadgen: cpu: %w", err)
		}
		defer resp.Body.Close()
		var m MemStats
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&m); err != nil {
			return 0, fmt.Errorf("loadgen: cpu: %w", err)
		}
		return m.CPUSeconds, nil
	}
}

// InProcessCPU reports this process's CPU time (server and clients together).
func InProcessCPU() CPUProbe {
	return func(context.Context) (float64, error) { return processCPUSeconds(), nil }
}

func readMemStats(gc bool) MemStats {
	if gc {
		// Collect twice so finalizer-freed memory is gone too: the figure
		// should be live memory, not garbage awaiting collection.
		runtime.GC()
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return MemStats{HeapInuse: m.HeapInuse, StackInuse: m.StackInuse, Sys: m.Sys,
		Goroutines: runtime.NumGoroutine(), CPUSeconds: processCPUSeconds()}
}

// MemStatsHandler serves this process's live memory (after a forced GC,
// unless the query has nogc=1) and CPU time as JSON (mounted at
// /debug/memstats by `loadgen --serve`).
func MemStatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(readMemStats(r.URL.Query().Get("nogc") == ""))
	})
}

// InProcessMemory measures this process (heap + stacks in use, after GC).
// With an in-process server it includes the load clients' own memory.
func InProcessMemory() MemoryProbe {
	return func(ctx context.Context) (uint64, string, error) {
		m := readMemStats(true)
		return m.HeapInuse + m.StackInuse, "in-process runtime.MemStats heap+stack in use (server and clients)", nil
	}
}

// URLMemory reads a server's memory over HTTP: a URL whose path ends in
// /metrics is scraped as Prometheus text (go_memstats_heap_inuse_bytes +
// go_memstats_stack_inuse_bytes, else process_resident_memory_bytes); any
// other URL is read as MemStatsHandler JSON. A nil hc means http.DefaultClient.
func URLMemory(hc *http.Client, url string) MemoryProbe {
	if hc == nil {
		hc = http.DefaultClient
	}
	return func(ctx context.Context) (uint64, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("loadgen: memory: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, "", fmt.Errorf("loadgen: memory: %s: status %d", url, resp.StatusCode)
		}
		body := io.LimitReader(resp.Body, 16<<20)
		if strings.HasSuffix(req.URL.Path, "/metrics") {
			return parsePromMemory(body)
		}
		var m MemStats
		if err := json.NewDecoder(body).Decode(&m); err != nil {
			return 0, "", fmt.Errorf("loadgen: memory: %w", err)
		}
		return m.HeapInuse + m.StackInuse, "server memstats heap+stack in use after GC (" + url + ")", nil
	}
}

func parsePromMemory(r io.Reader) (uint64, string, error) {
	vals := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "process_resident_memory_bytes":
			f, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			if err == nil {
				vals[name] = f
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, "", fmt.Errorf("loadgen: memory: %w", err)
	}
	if h, ok := vals["go_memstats_heap_inuse_bytes"]; ok {
		return uint64(h + vals["go_memstats_stack_inuse_bytes"]), "prometheus go_memstats heap+stack in use (no forced GC)", nil
	}
	if rss, ok := vals["process_resident_memory_bytes"]; ok {
		return uint64(rss), "prometheus process_resident_memory_bytes", nil
	}
	return 0, "", fmt.Errorf("loadgen: memory: no memory metric in /metrics")
}
