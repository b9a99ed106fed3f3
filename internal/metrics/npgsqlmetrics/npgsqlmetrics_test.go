package npgsqlmetrics_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/internal/metrics/npgsqlmetrics"
	"github.com/gosignalr/gosignalr/npgsql"
)

type status struct{ usage float64 }

func (s *status) Status() npgsql.Status { return npgsql.Status{NotifyQueueUsage: s.usage} }

func TestMetrics(t *testing.T) {
	c := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	m := npgsqlmetrics.Metrics(c)
	m.Published(2)
	m.PublishFailed(errors.New("x"))
	m.Received()
	m.Reconnected()
	m.CaughtUp(5)
	m.DuplicateSkips()
	src := &status{usage: 0.125}
	if err := npgsqlmetrics.Observe(c, src); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"signalr_backplane_published_rows_total 2\n",
		"signalr_backplane_publish_failures_total 1\n",
		"signalr_backplane_received_total 1\n",
		"signalr_backplane_listener_reconnects_total 1\n",
		"signalr_backplane_catchup_rows_total 5\n",
		"signalr_backplane_duplicate_skips_total 1\n",
		"signalr_backplane_notify_queue_usage 0.125\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

// *npgsql.Manager is what Observe reads in the server.
var _ npgsqlmetrics.StatusSource = (*npgsql.Manager)(nil)
