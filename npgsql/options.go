package npgsql

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr"
)

// Mode selects how messages travel in the NOTIFY payload.
type Mode string

const (
	// ModeCompat is the .NET AspNetCore.SignalR.Npgsql behaviour: the trigger
	// puts the whole message into the notification, so a message whose
	// notification would reach 8000 bytes cannot be published (publish fails
	// with *TooLargeError, before anything is inserted).
	ModeCompat Mode = "compat"
	// ModeNative installs a trigger that notifies small rows exactly like
	// compat mode but announces larger rows by Id only; listeners then read
	// the row. There is no size limit. .NET servers on the same table receive
	// the small messages and drop the large ones (their notification has no
	// "Payload"), and a .NET server starting up reinstalls the compat trigger,
	// after which large publishes fail. Use it where all servers are gosignalr.
	ModeNative Mode = "native"
)

// Metrics receives counters from a Manager. Nil fields are skipped. The
// functions are called synchronously from hot paths: keep them cheap
// (increment a Prometheus counter, for instance).
type Metrics struct {
	Published      func(rows int)  // rows committed by one INSERT
	PublishFailed  func(err error) // a publish that returned an error
	Received       func()          // a backplane message dispatched locally
	Reconnected    func()          // the listener connected again after a failure
	CaughtUp       func(rows int)  // rows delivered from the table after a reconnect
	DuplicateSkips func()          // a notification skipped because catch-up already delivered it
}

// LocalEngine is the local delivery engine the backplane feeds:
// signalr.DefaultHubLifetimeManager. Tests may substitute their own.
type LocalEngine interface {
	signalr.HubLifetimeManager
	LocalSendAll(sm *signalr.SerializedMessage, excludedConnectionIDs []string)
	LocalSendConnections(sm *signalr.SerializedMessage, connectionIDs []string)
	LocalSendGroups(sm *signalr.SerializedMessage, groupNames []string, excludedConnectionIDs []string)
	LocalSendUsers(sm *signalr.SerializedMessage, userIDs []string)
	LocalConnection(connectionID string) *signalr.HubConnection
	LocalAddToGroup(connectionID, groupName string) bool
	LocalRemoveFromGroup(connectionID, groupName string) bool
}

// Options configure a Manager. Names follow the .NET PostgresOptions; the
// zero value of every field but ConnectionString is its documented default.
type Options struct {
	// ConnectionString is a libpq/pgx DSN or URL. Required. The listener
	// needs a direct or session-pooled connection (LISTEN does not work
	// through transaction-pooling PgBouncer).
	ConnectionString string
	// SchemaName is the (quoted, case-sensitive) schema. Default "SignalR".
	SchemaName string
	// TableSlug names the table "<TableSlug>_Messages". Default: the hub
	// name given by the server (signalr.HubInfo.Name), e.g. "ChatHub", which
	// is .NET's default (typeof(THub).Name). Letters, digits and '_' only:
	// the trigger and function names are built from it unquoted, as in .NET.
	TableSlug string
	// NotificationChannel is the channel every hub's trigger notifies.
	// Default "signalr_notification_channel". The listener LISTENs on exactly
	// this name; a .NET listener folds it to lower case, so a channel with
	// upper-case letters reaches no .NET server (a warning is logged).
	NotificationChannel string

	// MaxRetryAttempts and BaseRetryDelay shape the listener's reconnect
	// backoff: BaseRetryDelay × 2^(n−1) for the n-th consecutive failure,
	// growing for MaxRetryAttempts failures and capped at MaxRetryDelay,
	// plus up to 50% jitter. Unlike .NET, which stops listening for good
	// after MaxRetryAttempts failures, the listener never gives up.
	// Defaults 10, 1s, 30s.
	MaxRetryAttempts int
	BaseRetryDelay   time.Duration
	MaxRetryDelay    time.Duration
	// CommandTimeout bounds every statement (DDL, INSERT, LISTEN, catch-up,
	// health query); .NET applies it to LISTEN only. Default 30s.
	CommandTimeout time.Duration
	// AckTimeout bounds the wait for the owning server's ack of a remote
	// AddToGroup/RemoveFromGroup. Default 30s.
	AckTimeout time.Duration
	// HealthCheckInterval is how long the listener waits for a notification
	// before it checks its connection with a query. Default 15s.
	HealthCheckInterval time.Duration
	// TCPKeepAlive is the keep-alive period of the listener's socket.
	// Default 15s.
	TCPKeepAlive time.Duration

	// Mode is ModeCompat (default) or ModeNative.
	Mode Mode
	// RetentionAge: rows older than this are deleted periodically (.NET never
	// deletes). Default 1h; a negative value disables retention. Catch-up
	// after an outage longer than RetentionAge cannot recover older rows.
	RetentionAge time.Duration
	// RetentionInterval is the period of the retention sweep. Default 1m.
	RetentionInterval time.Duration

	// MaxBatchSize caps how many concurrent publishes are coalesced into one
	// multi-row INSERT. Default 256; 1 disables coalescing (every publish is
	// its own INSERT on a pooled connection, like .NET).
	MaxBatchSize int
	// CatchUpMargin is how many ids below the highest id seen the catch-up
	// after a reconnect re-reads, because ids are allocated before commit and
	// a lower id can commit after a higher one. Default 10000.
	CatchUpMargin int
	// SeenWindow is how many delivered (id, payload) pairs are remembered to
	// drop notifications the catch-up already delivered. The catch-up
	// re-reads from the sequence value of the last health check minus
	// CatchUpMargin, so the window must hold more than CatchUpMargin +
	// messages/s × HealthCheckInterval (about 8,000 msg/s with the defaults)
	// or a reconnect may deliver a few messages twice. Default 131072
	// (about 7 MB); raised to 4×CatchUpMargin if smaller.
	SeenWindow int
	// MaxPoolSize is the publisher pool's connection limit. Default 8.
	MaxPoolSize int

	// ServerName identifies this server in group commands and acks.
	// Default "<hostname>_<32 hex digits>", as .NET's
	// MachineName_Guid.ToString("N").
	ServerName string
	// Logger receives the backplane's logs. Default: the logger of the
	// signalr server (HubInfo.Logger), which is silent unless configured.
	Logger zerolog.Logger
	// Engine delivers to local connections. Default
	// signalr.NewDefaultHubLifetimeManager().
	Engine LocalEngine
	// Metrics receives counters. Optional.
	Metrics Metrics
}

// Defaults of the Options fields.
const (
	DefaultSchemaName          = "SignalR"
	DefaultNotificationChannel = "signalr_notification_channel"
	DefaultMaxRetryAttempts    = 10
	DefaultBaseRetryDelay      = time.Second
	DefaultMaxRetryDelay       = 30 * time.Second
	DefaultCommandTimeout      = 30 * time.Second
	DefaultAckTimeout          = 30 * time.Second
	DefaultHealthCheckInterval = 15 * time.Second
	DefaultTCPKeepAlive        = 15 * time.Second
	DefaultRetentionAge        = time.Hour
	DefaultRetentionInterval   = time.Minute
	DefaultMaxBatchSize        = 256
	DefaultCatchUpMargin       = 10000
	DefaultSeenWindow          = 1 << 17
	DefaultMaxPoolSize         = 8
)

var slugRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o Options) withDefaults() (Options, error) {
	if o.ConnectionString == "" {
		return o, errors.New("npgsql: ConnectionString is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.SchemaName == "" {
		o.SchemaName = DefaultSchemaName
	}
	if o.NotificationChannel == "" {
		o.NotificationChannel = DefaultNotificationChannel
	}
	defInt(&o.MaxRetryAttempts, DefaultMaxRetryAttempts)
	def(&o.BaseRetryDelay, DefaultBaseRetryDelay)
	def(&o.MaxRetryDelay, DefaultMaxRetryDelay)
	def(&o.CommandTimeout, DefaultCommandTimeout)
	def(&o.AckTimeout, DefaultAckTimeout)
	def(&o.HealthCheckInterval, DefaultHealthCheckInterval)
	def(&o.TCPKeepAlive, DefaultTCPKeepAlive)
	if o.RetentionAge == 0 {
		o.RetentionAge = DefaultRetentionAge
	}
	def(&o.RetentionInterval, DefaultRetentionInterval)
	defInt(&o.MaxBatchSize, DefaultMaxBatchSize)
	defInt(&o.CatchUpMargin, DefaultCatchUpMargin)
	defInt(&o.SeenWindow, DefaultSeenWindow)
	if o.SeenWindow < 4*o.CatchUpMargin {
		o.SeenWindow = 4 * o.CatchUpMargin
	}
	defInt(&o.MaxPoolSize, DefaultMaxPoolSize)
	switch o.Mode {
	case "":
		o.Mode = ModeCompat
	case ModeCompat, ModeNative:
	default:
		return o, fmt.Errorf("npgsql: unknown Mode %q (want %q or %q)", o.Mode, ModeCompat, ModeNative)
	}
	if len(o.NotificationChannel) > 63 {
		return o, fmt.Errorf("npgsql: NotificationChannel %q is longer than PostgreSQL's 63-byte identifier limit", o.NotificationChannel)
	}
	if len(o.SchemaName) > 63 {
		return o, fmt.Errorf("npgsql: SchemaName %q is longer than 63 bytes", o.SchemaName)
	}
	if o.TableSlug != "" {
		if err := checkSlug(o.TableSlug); err != nil {
			return o, err
		}
	}
	if o.ServerName == "" {
		o.ServerName = newServerName()
	}
	return o, nil
}

func checkSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("npgsql: TableSlug %q must hold only letters, digits and '_' (the trigger and function names are built from it unquoted)", slug)
	}
	if len(slug)+len("_Messages") > 63 {
		return fmt.Errorf("npgsql: TableSlug %q is too long: the table name would exceed 63 bytes", slug)
	}
	return nil
}

// newServerName returns "<hostname>_<32 lower-case hex digits>", the format
// of .NET's Environment.MachineName + "_" + Guid.NewGuid().ToString("N").
func newServerName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gosignalr"
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return host + "_" + hex.EncodeToString(b[:])
}
