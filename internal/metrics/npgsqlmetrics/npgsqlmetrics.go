// Package npgsqlmetrics connects the PostgreSQL backplane's counters
// (npgsql.Metrics) to a metrics.Collector. It is a package of its own so
// that package metrics, which the hub runtime may depend on, does not import
// the backplane.
package npgsqlmetrics

import (
	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/npgsql"
)

// Metrics returns the npgsql.Metrics that feed c. Use it as
// npgsql.Options.Metrics, then, once the Manager exists, call Observe.
func Metrics(c *metrics.Collector) npgsql.Metrics {
	return npgsql.Metrics{
		Published:      c.BackplanePublished,
		PublishFailed:  c.BackplanePublishFailed,
		Received:       c.BackplaneReceived,
		Reconnected:    c.BackplaneReconnected,
		CaughtUp:       c.BackplaneCaughtUp,
		DuplicateSkips: c.BackplaneDuplicateSkip,
	}
}

// StatusSource is what Observe reads: *npgsql.Manager.
type StatusSource interface {
	Status() npgsql.Status
}

// Observe registers the gauges read from the Manager's Status at scrape
// time: the NOTIFY queue usage.
func Observe(c *metrics.Collector, m StatusSource) error {
	return c.RegisterNotifyQueueUsage(func() float64 { return m.Status().NotifyQueueUsage })
}
