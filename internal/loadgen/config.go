package loadgen

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// Scenario names a load pattern.
type Scenario string

// Scenarios.
const (
	// ScenarioConnect holds idle connections and reports memory per connection.
	ScenarioConnect Scenario = "connect"
	// ScenarioEcho runs a closed loop of Echo invocations on every connection.
	ScenarioEcho Scenario = "echo"
	// ScenarioBroadcast sends messages to all connections.
	ScenarioBroadcast Scenario = "broadcast"
	// ScenarioGroup sends messages to groups of GroupSize connections.
	ScenarioGroup Scenario = "group"
	// ScenarioConnection has every connection send to the next one by id.
	ScenarioConnection Scenario = "connection"
	// ScenarioStorm opens and closes connections continuously next to idle ones.
	ScenarioStorm Scenario = "storm"
)

// Scenarios lists every scenario.
var Scenarios = []Scenario{ScenarioConnect, ScenarioEcho, ScenarioBroadcast, ScenarioGroup, ScenarioConnection, ScenarioStorm}

// Dialect selects the hub methods a run calls.
type Dialect string

const (
	// DialectBench is the benchmark hub (BenchHub methods: Echo, Broadcast,
	// SendToGroup, SendToConnection, JoinGroup; clients receive "Receive").
	// The baseline server also works with it for connect and broadcast.
	DialectBench Dialect = "bench"
	// DialectChat is the ChatServer hub: SendMessage/ReceiveMessage,
	// JoinGroup/SendMessageToGroup/ReceiveGroupMessage. It has no echo and
	// no send-to-connection method.
	DialectChat Dialect = "chat"
)

// Config describes one run. The zero value of every field is its documented default.
type Config struct {
	// URLs are hub URLs (http or https); connections are spread over them
	// round-robin, so clients of a backplane run land on every node. Required.
	URLs []string
	// Scenario to run. Default broadcast.
	Scenario Scenario
	// Transport for every connection. Default WebSockets.
	Transport transports.TransportType
	// Protocol is "json" (default) or "messagepack".
	Protocol string
	// HubProtocol, when set, encodes and parses records instead of the lean
	// built-in JSON scanner; required for MessagePack. Its Name must match Protocol.
	HubProtocol protocol.HubProtocol
	// Dialect of the hub. Default DialectBench.
	Dialect Dialect
	// Connections to hold. Default 10.
	Connections int
	// RampRate is connections opened per second; 0: as fast as
	// DialConcurrency allows.
	RampRate float64
	// DialConcurrency bounds simultaneous connection attempts. Default 64.
	DialConcurrency int
	// SkipNegotiate opens WebSockets without negotiate (no connection ids:
	// not usable with the connection scenario).
	SkipNegotiate bool
	// Duration of the measuring phase (after connecting). Default 10s.
	Duration time.Duration
	// Rate is messages per second over all senders for broadcast, group and
	// connection, invocations per second for echo, connects per second for
	// storm. 0: closed loop for echo, broadcast and group (each sender keeps
	// Window messages in flight, released when its own copy comes back);
	// 10 per connection per second for connection; 50 for storm.
	Rate float64
	// Window is the in-flight limit per sender in closed-loop mode. Default 10.
	Window int
	// Senders is the number of sending connections in broadcast. Default 1.
	Senders int
	// GroupSize is the number of connections per group. Default 10.
	GroupSize int
	// MessageSize is the payload size in bytes (at least the header, about
	// 40 bytes). Default 64.
	MessageSize int
	// Drain: after sending stops, the run waits for in-flight messages until
	// all have arrived or none has arrived for Drain; what is missing then
	// counts as lost. Default 5s.
	Drain time.Duration
	// PingInterval is how often clients send Pings (not over Long Polling).
	// Default 15s; negative disables.
	PingInterval time.Duration
	// Progress receives one status line per ProgressInterval; nil: none.
	Progress io.Writer
	// ProgressInterval defaults to 1s.
	ProgressInterval time.Duration
	// Memory, when set, is sampled before connecting and after all
	// connections are up (connect and storm scenarios).
	Memory MemoryProbe
	// ServerCPU, when set, is sampled around the measuring phase to report
	// the server's CPU time per delivery, a figure that holds up on a
	// machine shared with other work.
	ServerCPU CPUProbe
	// Settle is the pause between the last connection and the second memory
	// sample, so the server finishes per-connection setup. Default 500ms.
	Settle time.Duration
	// HTTPClient for negotiate, SSE, Long Polling and the WebSocket upgrade.
	// Default: a client tuned for many connections to few hosts, closed at the end.
	HTTPClient *http.Client
	// Logger gets details of errors; zero value: silent.
	Logger zerolog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	d := *c
	if len(d.URLs) == 0 {
		return d, fmt.Errorf("loadgen: no hub URL")
	}
	for _, s := range d.URLs {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return d, fmt.Errorf("loadgen: hub URL %q: want http(s)://host/path", s)
		}
	}
	if d.Scenario == "" {
		d.Scenario = ScenarioBroadcast
	}
	known := false
	for _, s := range Scenarios {
		known = known || s == d.Scenario
	}
	if !known {
		return d, fmt.Errorf("loadgen: unknown scenario %q", d.Scenario)
	}
	if d.Transport == 0 {
		d.Transport = transports.WebSockets
	}
	switch d.Transport {
	case transports.WebSockets, transports.ServerSentEvents, transports.LongPolling:
	default:
		return d, fmt.Errorf("loadgen: transport must be exactly one of WebSockets, ServerSentEvents, LongPolling")
	}
	if d.Protocol == "" {
		d.Protocol = "json"
	}
	if d.Dialect == "" {
		d.Dialect = DialectBench
	}
	if d.Dialect != DialectBench && d.Dialect != DialectChat {
		return d, fmt.Errorf("loadgen: unknown dialect %q", d.Dialect)
	}
	if d.Dialect == DialectChat && (d.Scenario == ScenarioEcho || d.Scenario == ScenarioConnection) {
		return d, fmt.Errorf("loadgen: the chat hub has no method for the %s scenario", d.Scenario)
	}
	if d.SkipNegotiate && d.Scenario == ScenarioConnection {
		return d, fmt.Errorf("loadgen: the connection scenario needs connection ids from negotiate")
	}
	if d.SkipNegotiate && d.Transport != transports.WebSockets {
		return d, fmt.Errorf("loadgen: skipping negotiate needs WebSockets")
	}
	if d.Connections <= 0 {
		d.Connections = 10
	}
	if d.DialConcurrency <= 0 {
		d.DialConcurrency = 64
	}
	if d.Duration <= 0 {
		d.Duration = 10 * time.Second
	}
	if d.Rate < 0 {
		return d, fmt.Errorf("loadgen: negative rate")
	}
	if d.Window <= 0 {
		d.Window = 10
	}
	if d.Senders <= 0 {
		d.Senders = 1
	}
	if d.Senders > d.Connections {
		d.Senders = d.Connections
	}
	if d.GroupSize <= 0 {
		d.GroupSize = 10
	}
	if d.MessageSize <= 0 {
		d.MessageSize = 64
	}
	if d.Drain <= 0 {
		d.Drain = 5 * time.Second
	}
	if d.PingInterval == 0 {
		d.PingInterval = 15 * time.Second
	}
	if d.Settle <= 0 {
		d.Settle = 500 * time.Millisecond
	}
	if d.ProgressInterval <= 0 {
		d.ProgressInterval = time.Second
	}
	if d.Scenario == ScenarioConnection && d.Connections < 2 {
		return d, fmt.Errorf("loadgen: the connection scenario needs at least 2 connections")
	}
	return d, nil
}

// codec picks the wire codec: the lean JSON scanner for "json", else the
// given hub protocol (MessagePack, or JSON through signalr/protocol).
func (c *Config) codec() (wireCodec, error) {
	if c.HubProtocol != nil {
		if c.HubProtocol.Name() != c.Protocol && c.Protocol != "" {
			return nil, fmt.Errorf("loadgen: protocol %q given with a %q hub protocol", c.Protocol, c.HubProtocol.Name())
		}
		return &protocolCodec{p: c.HubProtocol}, nil
	}
	if c.Protocol == "json" {
		return jsonCodec{}, nil
	}
	return nil, fmt.Errorf("loadgen: protocol %q needs Config.HubProtocol", c.Protocol)
}
