package metrics_test

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gosignalr/gosignalr/internal/metrics"
)

// scrape GETs /metrics from c's handler and parses the text format.
func scrape(t *testing.T, c *metrics.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", "text/plain")
	c.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// value finds the sample of family name whose labels equal labels
// ("k=v,k=v", "" for none) and returns its value: counter, gauge, or the
// histogram's sample count.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name, labels string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("metric %s missing; have %v", name, names(fams))
	}
	for _, m := range f.Metric {
		var ls []string
		for _, lp := range m.Label {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		if strings.Join(ls, ",") != labels {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
		t.Fatalf("%s{%s}: unexpected type %v", name, labels, f.GetType())
	}
	t.Fatalf("%s{%s} missing", name, labels)
	return 0
}

func names(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for n := range fams {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestHubObserverMetrics(t *testing.T) {
	c := metrics.New(metrics.Options{})
	var o metrics.HubObserver = c
	o.ConnectionOpened("WebSockets", "json")
	o.ConnectionOpened("WebSockets", "json")
	o.ConnectionOpened("LongPolling", "messagepack")
	o.ConnectionClosed("WebSockets", "json")
	o.MessageReceived("Invocation")
	o.MessageReceived("Invocation")
	o.MessageReceived("Ping")
	o.MessageSent("Invocation", 5)
	o.MessageSent("Completion", 1)
	o.MessageSent("Ping", 0) // nothing sent: no sample
	o.InvocationCompleted("SendMessage", 3*time.Millisecond, nil)
	o.InvocationCompleted("SendMessage", 2*time.Second, nil)
	o.InvocationCompleted("SendMessage", time.Millisecond, errors.New("boom"))
	o.BytesIn(100)
	o.BytesIn(-1) // ignored
	o.BytesOut(250)
	o.SlowConsumerDisconnect()

	fams := scrape(t, c)
	tests := []struct {
		name, labels string
		want         float64
	}{
		{"signalr_connections", "protocol=json,transport=WebSockets", 1},
		{"signalr_connections", "protocol=messagepack,transport=LongPolling", 1},
		{"signalr_connections_opened_total", "protocol=json,transport=WebSockets", 2},
		{"signalr_connections_opened_total", "protocol=messagepack,transport=LongPolling", 1},
		{"signalr_connections_closed_total", "protocol=json,transport=WebSockets", 1},
		{"signalr_messages_received_total", "type=Invocation", 2},
		{"signalr_messages_received_total", "type=Ping", 1},
		{"signalr_messages_sent_total", "type=Invocation", 5},
		{"signalr_messages_sent_total", "type=Completion", 1},
		{"signalr_invocation_duration_seconds", "method=SendMessage,result=success", 2},
		{"signalr_invocation_duration_seconds", "method=SendMessage,result=error", 1},
		{"signalr_received_bytes_total", "", 100},
		{"signalr_sent_bytes_total", "", 250},
		{"signalr_slow_consumer_disconnects_total", "", 1},
		{"signalr_backplane_published_rows_total", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+"{"+tt.labels+"}", func(t *testing.T) {
			if got := value(t, fams, tt.name, tt.labels); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, m := range fams["signalr_messages_sent_total"].Metric {
		if m.Label[0].GetValue() == "Ping" {
			t.Errorf("MessageSent with n=0 created a Ping sample")
		}
	}
	// The histogram's sum is the observed seconds, bucketed by DefaultBuckets.
	for _, m := range fams["signalr_invocation_duration_seconds"].Metric {
		if m.Label[1].GetValue() != "success" {
			continue
		}
		h := m.Histogram
		if got := h.GetSampleSum(); math.Abs(got-2.003) > 1e-9 {
			t.Errorf("sum %v, want 2.003", got)
		}
		if len(h.Bucket) != len(metrics.DefaultBuckets)+1 { // +Inf
			t.Errorf("%d buckets, want %d", len(h.Bucket), len(metrics.DefaultBuckets)+1)
		}
		for _, b := range h.Bucket {
			want := uint64(0)
			if b.GetUpperBound() >= 0.003 {
				want = 1
			}
			if b.GetUpperBound() >= 2 {
				want = 2
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
}

func TestRuntimeMetrics(t *testing.T) {
	tests := []struct {
		opts metrics.Options
		want bool
	}{
		{metrics.Options{}, true},
		{metrics.Options{NoRuntimeMetrics: true}, false},
	}
	for _, tt := range tests {
		fams := scrape(t, metrics.New(tt.opts))
		for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total"} {
			if name == "process_cpu_seconds_total" && !processMetricsSupported() {
				continue
			}
			if _, ok := fams[name]; ok != tt.want {
				t.Errorf("NoRuntimeMetrics=%v: %s present=%v", tt.opts.NoRuntimeMetrics, name, ok)
			}
		}
	}
}

func TestOptions(t *testing.T) {
	c := metrics.New(metrics.Options{
		Namespace:        "chat",
		Buckets:          []float64{0.1, 1},
		MaxMethods:       2,
		ConstLabels:      map[string]string{"server": "s1"},
		NoRuntimeMetrics: true,
	})
	for _, m := range []string{"A", "B", "C", "A", "D"} {
		c.InvocationCompleted(m, 50*time.Millisecond, nil)
	}
	c.ConnectionOpened("ServerSentEvents", "json")
	fams := scrape(t, c)
	tests := []struct {
		name, labels string
		want         float64
	}{
		{"chat_invocation_duration_seconds", "method=A,result=success,server=s1", 2},
		{"chat_invocation_duration_seconds", "method=B,result=success,server=s1", 1},
		// C and D came after MaxMethods distinct names.
		{"chat_invocation_duration_seconds", "method=other,result=success,server=s1", 2},
		{"chat_connections", "protocol=json,server=s1,transport=ServerSentEvents", 1},
	}
	for _, tt := range tests {
		if got := value(t, fams, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s{%s} = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	if n := len(fams["chat_invocation_duration_seconds"].Metric[0].Histogram.Bucket); n != 3 {
		t.Errorf("%d buckets, want 2 and +Inf", n)
	}
	if _, ok := fams["signalr_connections"]; ok {
		t.Error("default namespace used despite Namespace")
	}
}

func TestBackplaneMetrics(t *testing.T) {
	c := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	c.BackplanePublished(3)
	c.BackplanePublished(1)
	c.BackplanePublishFailed(errors.New("x"))
	c.BackplaneReceived()
	c.BackplaneReceived()
	c.BackplaneReconnected()
	c.BackplaneCaughtUp(7)
	c.BackplaneDuplicateSkip()

	usage := 0.25
	if err := c.RegisterNotifyQueueUsage(func() float64 { return usage }); err != nil {
		t.Fatal(err)
	}
	if err := c.RegisterNotifyQueueUsage(func() float64 { return 0 }); !errors.Is(err, metrics.ErrAlreadyRegistered) {
		t.Errorf("second RegisterNotifyQueueUsage: %v, want ErrAlreadyRegistered", err)
	}
	fams := scrape(t, c)
	tests := []struct {
		name string
		want float64
	}{
		{"signalr_backplane_published_rows_total", 4},
		{"signalr_backplane_publish_failures_total", 1},
		{"signalr_backplane_received_total", 2},
		{"signalr_backplane_listener_reconnects_total", 1},
		{"signalr_backplane_catchup_rows_total", 7},
		{"signalr_backplane_duplicate_skips_total", 1},
		{"signalr_backplane_notify_queue_usage", 0.25},
	}
	for _, tt := range tests {
		if got := value(t, fams, tt.name, ""); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, got, tt.want)
		}
	}
	// The gauge is read at scrape time.
	usage = 0.5
	if got := value(t, scrape(t, c), "signalr_backplane_notify_queue_usage", ""); got != 0.5 {
		t.Errorf("after change: %v, want 0.5", got)
	}
	if err := metrics.New(metrics.Options{}).RegisterNotifyQueueUsage(nil); err == nil {
		t.Error("nil func accepted")
	}
}

// Hooks are called from many connections at once.
func TestConcurrentObservers(t *testing.T) {
	c := metrics.New(metrics.Options{NoRuntimeMetrics: true, MaxMethods: 4})
	const workers, per = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				c.ConnectionOpened("WebSockets", "json")
				c.MessageReceived("Invocation")
				c.InvocationCompleted(fmt.Sprintf("M%d", (w+i)%10), time.Microsecond, nil)
				c.BytesIn(1)
				c.ConnectionClosed("WebSockets", "json")
			}
		}()
	}
	wg.Wait()
	fams := scrape(t, c)
	if got := value(t, fams, "signalr_connections", "protocol=json,transport=WebSockets"); got != 0 {
		t.Errorf("current connections %v, want 0", got)
	}
	if got := value(t, fams, "signalr_received_bytes_total", ""); got != workers*per {
		t.Errorf("bytes %v, want %d", got, workers*per)
	}
	methods := map[string]bool{}
	total := 0.0
	for _, m := range fams["signalr_invocation_duration_seconds"].Metric {
		methods[m.Label[0].GetValue()] = true
		total += float64(m.Histogram.GetSampleCount())
	}
	if len(methods) != 5 || !methods[metrics.OtherMethod] {
		t.Errorf("method labels %v, want 4 methods + other", methods)
	}
	if total != workers*per {
		t.Errorf("invocations %v, want %d", total, workers*per)
	}
}

func ExampleCollector() {
	c := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	c.ConnectionOpened("WebSockets", "json")
	c.MessageReceived("Invocation")

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.Handler())

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasPrefix(line, "signalr_connections{") || strings.HasPrefix(line, "signalr_messages_received_total{") {
			fmt.Println(line)
		}
	}
	// Output:
	// signalr_connections{protocol="json",transport="WebSockets"} 1
	// signalr_messages_received_total{type="Invocation"} 1
}
