// Package metrics exposes the server's Prometheus metrics: connections,
// messages, invocation latency, bytes, slow consumers, the PostgreSQL
// backplane, and the Go runtime and process. A Collector owns its registry
// (never the global one), so several servers in one process or test do not
// collide, and serves it with Handler at GET /metrics.
//
// The hub runtime reports through the HubObserver method set, which
// *Collector implements; the backplane through npgsql.Metrics, built by
// package npgsqlmetrics. This package imports nothing of the project, so the
// runtime can depend on the interface without a cycle.
package metrics

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HubObserver is what the hub runtime calls as connections and messages come
// and go: the method set of signalr.Observer (whose documentation is the
// reference for when each is called), repeated here so this package need not
// import the runtime. Calls arrive concurrently from many connections and on
// hot paths: implementations must be safe for concurrent use and cheap.
type HubObserver interface {
	// ConnectionOpened: a connection completed its handshake. transport is
	// "WebSockets", "ServerSentEvents" or "LongPolling"; protocol "json" or
	// "messagepack".
	ConnectionOpened(transport, protocol string)
	// ConnectionClosed: a connection opened with the same labels ended.
	ConnectionClosed(transport, protocol string)
	// MessageReceived: one hub message of this type ("Invocation",
	// "StreamItem", "Completion", "Ping", ...) arrived from a client.
	MessageReceived(msgType string)
	// MessageSent: n hub messages of this type went to one connection's
	// transport in one batch; a broadcast reports once per recipient, so
	// the totals count deliveries.
	MessageSent(msgType string, n int)
	// InvocationCompleted: a hub method returned (err == nil) or failed,
	// d after it was dispatched.
	InvocationCompleted(method string, d time.Duration, err error)
	// BytesIn and BytesOut count transport payload bytes.
	BytesIn(n int)
	BytesOut(n int)
	// SlowConsumerDisconnect: a connection was closed because its send
	// queue was full.
	SlowConsumerDisconnect()
}

// Defaults of the Options fields.
const (
	DefaultNamespace  = "signalr"
	DefaultMaxMethods = 256
	// OtherMethod is the method label once MaxMethods distinct methods
	// have been seen.
	OtherMethod = "other"
)

// DefaultBuckets are the invocation latency histogram's upper bounds in
// seconds: 0.5 ms to 10 s, enough for in-memory hub methods and for ones
// that wait on a database or a client result.
var DefaultBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Options configure a Collector. The zero value uses the defaults.
type Options struct {
	// Namespace prefixes every project metric name. Default "signalr".
	Namespace string
	// Buckets of the invocation latency histogram, in seconds.
	// Default DefaultBuckets.
	Buckets []float64
	// MaxMethods caps the distinct method label values of the invocation
	// histogram; later methods are counted as "other", so a client invoking
	// random names cannot grow the registry. Default 256.
	MaxMethods int
	// ConstLabels are added to every project metric (e.g. {"server": name}).
	ConstLabels prometheus.Labels
	// NoRuntimeMetrics leaves out the Go runtime and process collectors
	// (go_*, process_*), which are included by default.
	NoRuntimeMetrics bool
}

// Collector holds the metrics and their registry. Create it with New; it
// implements HubObserver.
type Collector struct {
	reg *prometheus.Registry
	ns  string
	cl  prometheus.Labels

	connCurrent *prometheus.GaugeVec
	connOpened  *prometheus.CounterVec
	connClosed  *prometheus.CounterVec
	msgRecv     *prometheus.CounterVec
	msgSent     *prometheus.CounterVec
	invocations *prometheus.HistogramVec
	bytesIn     prometheus.Counter
	bytesOut    prometheus.Counter
	slow        prometheus.Counter

	// Backplane.
	bpPublished  prometheus.Counter
	bpFailed     prometheus.Counter
	bpReceived   prometheus.Counter
	bpReconnects prometheus.Counter
	bpCatchUp    prometheus.Counter
	bpDupSkips   prometheus.Counter

	// Children of the per-message counters by type: a sync.Map load is
	// several times cheaper than WithLabelValues' hashing on every message.
	recvByType sync.Map // string → prometheus.Counter
	sentByType sync.Map // string → prometheus.Counter

	methodsMu  sync.RWMutex
	methods    map[string]struct{}
	maxMethods int

	queueOnce sync.Once
}

var _ HubObserver = (*Collector)(nil)

// New creates a Collector with its own registry.
func New(opts Options) *Collector {
	c := &Collector{
		reg:        prometheus.NewRegistry(),
		ns:         opts.Namespace,
		cl:         opts.ConstLabels,
		methods:    map[string]struct{}{},
		maxMethods: opts.MaxMethods,
	}
	if c.ns == "" {
		c.ns = DefaultNamespace
	}
	if c.maxMethods <= 0 {
		c.maxMethods = DefaultMaxMethods
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	counter := func(sub, name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: c.ns, Subsystem: sub, Name: name, Help: help, ConstLabels: c.cl})
	}
	counterVec := func(sub, name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: c.ns, Subsystem: sub, Name: name, Help: help, ConstLabels: c.cl}, labels)
	}
	c.connCurrent = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: c.ns, Name: "connections", Help: "Current hub connections.", ConstLabels: c.cl}, []string{"transport", "protocol"})
	c.connOpened = counterVec("", "connections_opened_total", "Hub connections opened (handshake completed).", "transport", "protocol")
	c.connClosed = counterVec("", "connections_closed_total", "Hub connections closed.", "transport", "protocol")
	c.msgRecv = counterVec("", "messages_received_total", "Hub messages received from clients, by message type.", "type")
	c.msgSent = counterVec("", "messages_sent_total", "Hub messages written to clients, by message type.", "type")
	c.invocations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: c.ns, Name: "invocation_duration_seconds", Help: "Hub method invocation latency, by method and result (success or error).",
		Buckets: buckets, ConstLabels: c.cl,
	}, []string{"method", "result"})
	c.bytesIn = counter("", "received_bytes_total", "Transport payload bytes received from clients.")
	c.bytesOut = counter("", "sent_bytes_total", "Transport payload bytes sent to clients.")
	c.slow = counter("", "slow_consumer_disconnects_total", "Connections closed because their send queue was full.")

	c.bpPublished = counter("backplane", "published_rows_total", "Backplane messages committed to PostgreSQL.")
	c.bpFailed = counter("backplane", "publish_failures_total", "Backplane publishes that failed.")
	c.bpReceived = counter("backplane", "received_total", "Backplane messages dispatched to local connections.")
	c.bpReconnects = counter("backplane", "listener_reconnects_total", "Times the backplane listener connected again after a failure.")
	c.bpCatchUp = counter("backplane", "catchup_rows_total", "Rows delivered from the messages table after a listener reconnect.")
	c.bpDupSkips = counter("backplane", "duplicate_skips_total", "Notifications skipped because the catch-up had already delivered them.")

	c.reg.MustRegister(c.connCurrent, c.connOpened, c.connClosed, c.msgRecv, c.msgSent, c.invocations,
		c.bytesIn, c.bytesOut, c.slow,
		c.bpPublished, c.bpFailed, c.bpReceived, c.bpReconnects, c.bpCatchUp, c.bpDupSkips)
	if !opts.NoRuntimeMetrics {
		c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return c
}

// Registry is the Collector's registry, to add application metrics.
func (c *Collector) Registry() *prometheus.Registry { return c.reg }

// Handler serves the registry in the Prometheus text (or negotiated
// OpenMetrics/protobuf) format; mount it at GET /metrics. A metric that fails
// to collect is logged into the response's error count, not a 500, so one
// broken callback does not hide the rest.
func (c *Collector) Handler() http.Handler {
	return promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{
		Registry:          c.reg, // promhttp_metric_handler_errors_total
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// ErrAlreadyRegistered is returned by RegisterNotifyQueueUsage when called
// twice.
var ErrAlreadyRegistered = errors.New("metrics: notify queue usage already registered")

// RegisterNotifyQueueUsage adds the gauge <ns>_backplane_notify_queue_usage,
// read from f at every scrape: PostgreSQL's pg_notification_queue_usage()
// (0…1; NOTIFY fails at 1). It is separate from New because the backplane
// that knows the value is created after its Metrics, which come from here.
// f runs on the scraping goroutine and must not block.
func (c *Collector) RegisterNotifyQueueUsage(f func() float64) error {
	if f == nil {
		return errors.New("metrics: nil notify queue usage func")
	}
	err := ErrAlreadyRegistered
	c.queueOnce.Do(func() {
		err = c.reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: c.ns, Subsystem: "backplane", Name: "notify_queue_usage",
			Help:        "PostgreSQL pg_notification_queue_usage() at the listener's last health check (0 to 1; NOTIFY fails at 1).",
			ConstLabels: c.cl,
		}, f))
	})
	return err
}

// ConnectionOpened implements HubObserver.
func (c *Collector) ConnectionOpened(transport, protocol string) {
	c.connCurrent.WithLabelValues(transport, protocol).Inc()
	c.connOpened.WithLabelValues(transport, protocol).Inc()
}

// ConnectionClosed implements HubObserver.
func (c *Collector) ConnectionClosed(transport, protocol string) {
	c.connCurrent.WithLabelValues(transport, protocol).Dec()
	c.connClosed.WithLabelValues(transport, protocol).Inc()
}

// MessageReceived implements HubObserver.
func (c *Collector) MessageReceived(msgType string) {
	child(&c.recvByType, c.msgRecv, msgType).Inc()
}

// child returns vec's counter for label, cached in m.
func child(m *sync.Map, vec *prometheus.CounterVec, label string) prometheus.Counter {
	if ctr, ok := m.Load(label); ok {
		return ctr.(prometheus.Counter)
	}
	ctr, _ := m.LoadOrStore(label, vec.WithLabelValues(label))
	return ctr.(prometheus.Counter)
}

// MessageSent implements HubObserver.
func (c *Collector) MessageSent(msgType string, n int) {
	if n > 0 {
		child(&c.sentByType, c.msgSent, msgType).Add(float64(n))
	}
}

// InvocationCompleted implements HubObserver.
func (c *Collector) InvocationCompleted(method string, d time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	c.invocations.WithLabelValues(c.methodLabel(method), result).Observe(d.Seconds())
}

// methodLabel bounds the method label's cardinality.
func (c *Collector) methodLabel(method string) string {
	c.methodsMu.RLock()
	_, ok := c.methods[method]
	c.methodsMu.RUnlock()
	if ok {
		return method
	}
	c.methodsMu.Lock()
	defer c.methodsMu.Unlock()
	if _, ok := c.methods[method]; ok {
		return method
	}
	if len(c.methods) >= c.maxMethods {
		return OtherMethod
	}
	c.methods[method] = struct{}{}
	return method
}

// BytesIn implements HubObserver.
func (c *Collector) BytesIn(n int) {
	if n > 0 {
		c.bytesIn.Add(float64(n))
	}
}

// BytesOut implements HubObserver.
func (c *Collector) BytesOut(n int) {
	if n > 0 {
		c.bytesOut.Add(float64(n))
	}
}

// SlowConsumerDisconnect implements HubObserver.
func (c *Collector) SlowConsumerDisconnect() { c.slow.Inc() }

// Backplane hooks, in the shape of npgsql.Metrics' fields (see package
// npgsqlmetrics). They are methods here so this package need not import the
// backplane.

// BackplanePublished counts rows committed by one publish.
func (c *Collector) BackplanePublished(rows int) {
	if rows > 0 {
		c.bpPublished.Add(float64(rows))
	}
}

// BackplanePublishFailed counts a failed publish.
func (c *Collector) BackplanePublishFailed(error) { c.bpFailed.Inc() }

// BackplaneReceived counts a backplane message dispatched locally.
func (c *Collector) BackplaneReceived() { c.bpReceived.Inc() }

// BackplaneReconnected counts a listener reconnect.
func (c *Collector) BackplaneReconnected() { c.bpReconnects.Inc() }

// BackplaneCaughtUp counts rows delivered by a catch-up.
func (c *Collector) BackplaneCaughtUp(rows int) {
	if rows > 0 {
		c.bpCatchUp.Add(float64(rows))
	}
}

// BackplaneDuplicateSkip counts a notification skipped after a catch-up.
func (c *Collector) BackplaneDuplicateSkip() { c.bpDupSkips.Inc() }
