package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/transports"
)

func TestMain(m *testing.M) {
	// Install the pinned client before any test: a missing or broken Node
	// setup must fail loudly, never skip.
	if err := EnsureNodeModules(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}

// transportsUnderTest are the transports every scenario runs over.
var transportsUnderTest = []transports.TransportType{
	transports.WebSockets,
	transports.ServerSentEvents,
	transports.LongPolling,
}

// variant is one transport and hub protocol combination a scenario runs in.
type variant struct {
	transport transports.TransportType
	protocol  string // "json" or "messagepack"
}

func (v variant) String() string {
	if v.protocol == "json" {
		return v.transport.String()
	}
	return v.transport.String() + "-" + v.protocol
}

// variants are every transport with JSON, plus MessagePack over the
// transports that carry binary (not SSE) once the runtime offers it.
func variants() []variant {
	var out []variant
	for _, tr := range transportsUnderTest {
		out = append(out, variant{tr, "json"})
	}
	for _, p := range signalr.DefaultProtocols() {
		if p.Name() != "messagepack" {
			continue
		}
		for _, tr := range transportsUnderTest {
			if tr != transports.ServerSentEvents {
				out = append(out, variant{tr, "messagepack"})
			}
		}
	}
	return out
}

// onlyOn limits a scenario to some transports (where the client itself
// supports nothing else).
var onlyOn = map[string]transports.TransportType{
	"skip-negotiation":   transports.WebSockets, // the JS client refuses it for SSE and LP
	"stateful-reconnect": transports.WebSockets, // the JS client offers it on WebSockets only
}

// startHub serves a testHub with opts at <url>/testhub on 127.0.0.1 and
// returns the hub URL. The server is shut down when the test ends.
func startHub(t *testing.T, opts signalr.Options) string {
	t.Helper()
	s, err := signalr.NewServer(testHub{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/testhub", s)
	mux.Handle("/testhub/", s)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		shutdown(t, s)
		ts.Close()
	})
	return ts.URL + "/testhub"
}

func shutdown(t *testing.T, s *signalr.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("hub shutdown: %v", err)
	}
}

// userFromQuery is the test servers' user id: the "user" query parameter.
func userFromQuery(r *http.Request) string { return r.URL.Query().Get("user") }

// scenarios asks a script for its scenario names.
func scenarios(t *testing.T, script string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := RunNode(ctx, script, map[string]string{"SIGNALR_LIST": "1"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var names []string
	if err := json.Unmarshal([]byte(out), &names); err != nil {
		t.Fatalf("scenario list of %s: %v\n%s", script, err, out)
	}
	return names
}

// runScenarios runs every scenario of script in every variant (transport and
// protocol). One node process per variant runs its scenarios one after
// another (starting node is the slow part); its output is split into one
// subtest per scenario (variant/scenario) that fails with that scenario's
// output. envFor is called once per variant, inside its subtest (so it may
// start servers just for that variant); its variables are passed to node.
// Variants run in parallel.
func runScenarios(t *testing.T, script string, envFor func(t *testing.T, tr transports.TransportType) map[string]string) {
	all := scenarios(t, script)
	for _, v := range variants() {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			var names []string
			for _, name := range all {
				if only, ok := onlyOn[name]; !ok || only.Has(v.transport) {
					names = append(names, name)
				}
			}
			e := map[string]string{
				"SIGNALR_TRANSPORT": v.transport.String(),
				"SIGNALR_PROTOCOL":  v.protocol,
				"SIGNALR_SCENARIO":  strings.Join(names, ","),
			}
			for k, val := range envFor(t, v.transport) {
				e[k] = val
			}
			if err := EnsureNodeModules(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), DefaultScriptTimeout)
			defer cancel()
			out, runErr := RunNode(ctx, script, e)
			sections := splitScenarios(out)
			for _, name := range names {
				t.Run(name, func(t *testing.T) {
					sec, ok := sections[name]
					switch {
					case !ok:
						t.Fatalf("scenario did not run (%v); node output:\n%s", runErr, out)
					case !strings.Contains(sec, "\nok - "+name+" ("):
						t.Fatalf("(env %s)\n%s", formatEnv(e), sec)
					case testing.Verbose():
						t.Log(sec)
					}
				})
			}
			if runErr != nil && !t.Failed() {
				t.Fatalf("%v; node output:\n%s", runErr, out)
			}
		})
	}
}

// splitScenarios splits harness output at its "# begin <name>" lines.
func splitScenarios(out string) map[string]string {
	sections := map[string]string{}
	name := ""
	var b strings.Builder
	flush := func() {
		if name != "" {
			sections[name] = strings.TrimRight(b.String(), "\n")
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(out, "\n") {
		if n, ok := strings.CutPrefix(line, "# begin "); ok {
			flush()
			name = strings.TrimSpace(n)
		}
		b.WriteString(line)
	}
	flush()
	return sections
}

func TestRPC(t *testing.T) {
	runScenarios(t, "scenarios/rpc.cjs", func(t *testing.T, _ transports.TransportType) map[string]string {
		return map[string]string{
			"SIGNALR_URL":       startHub(t, signalr.Options{EnableDetailedErrors: true}),
			"SIGNALR_URL_PLAIN": startHub(t, signalr.Options{}),
		}
	})
}

// TestClients gives every transport its own server: broadcasts of one
// transport's scenario must not reach the clients of another.
func TestClients(t *testing.T) {
	runScenarios(t, "scenarios/clients.cjs", func(t *testing.T, _ transports.TransportType) map[string]string {
		return map[string]string{"SIGNALR_URL": startHub(t, signalr.Options{UserIdentifier: userFromQuery})}
	})
}

func TestStreams(t *testing.T) {
	runScenarios(t, "scenarios/streams.cjs", func(t *testing.T, _ transports.TransportType) map[string]string {
		s, err := signalr.NewServer(testHub{}, signalr.Options{EnableDetailedErrors: true})
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		mux.Handle("/testhub", s)
		mux.Handle("/testhub/", s)
		// Like the .NET functional tests' /clientresult/{id}: invoke the
		// client's Result handler and answer with its int, or the error text.
		mux.HandleFunc("GET /control/clientresult/{id}", func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			defer cancel()
			n, err := signalr.InvokeClient[int](ctx, s.HubContext().Clients.Client(r.PathValue("id")), "Result")
			if err != nil {
				fmt.Fprint(w, err.Error())
				return
			}
			fmt.Fprint(w, n)
		})
		ts := httptest.NewServer(mux)
		t.Cleanup(func() {
			shutdown(t, s)
			ts.Close()
		})
		return map[string]string{"SIGNALR_URL": ts.URL + "/testhub", "SIGNALR_CONTROL_URL": ts.URL + "/control"}
	})
}

// TestLifecycle gives every transport its own servers: a restart must not
// disturb the scenarios of the other transports running in parallel.
func TestLifecycle(t *testing.T) {
	// Short, but with room for a loaded machine: keep-alive is proven by
	// idling for twice the timeouts.
	const keepAlive, clientTimeout = 100 * time.Millisecond, 3000 * time.Millisecond
	runScenarios(t, "scenarios/lifecycle.cjs", func(t *testing.T, _ transports.TransportType) map[string]string {
		rs := newRestartable(t, func() (*signalr.Server, error) {
			return signalr.NewServer(testHub{}, signalr.Options{
				KeepAliveInterval:       keepAlive,
				ClientTimeoutInterval:   clientTimeout,
				EnableDetailedErrors:    true,
				AllowStatefulReconnects: true, // used only by clients that ask for it
			})
		})
		mux := http.NewServeMux()
		mux.Handle("/testhub", rs)
		mux.Handle("/testhub/", rs)
		mux.HandleFunc("POST /control/restart", rs.restart)
		ts := httptest.NewServer(mux)
		// Clients connect through a proxy that can cut their connections.
		proxy := newDropProxy(t, ts.Listener.Addr().String())
		mux.HandleFunc("POST /control/drop", func(http.ResponseWriter, *http.Request) { proxy.drop() })
		t.Cleanup(func() {
			rs.close(t)
			ts.Close()
		})
		// The slow server pings far less often than the scripts' server timeout.
		slow := startHub(t, signalr.Options{KeepAliveInterval: 10 * time.Second})
		return map[string]string{
			"SIGNALR_URL":         "http://" + proxy.Addr() + "/testhub",
			"SIGNALR_URL_SLOW":    slow,
			"SIGNALR_CONTROL_URL": ts.URL + "/control",
			"KEEPALIVE_MS":        strconv.Itoa(int(keepAlive.Milliseconds())),
			"CLIENT_TIMEOUT_MS":   strconv.Itoa(int(clientTimeout.Milliseconds())),
			// Every client pings as often as the server, and gives the server as long.
			"SIGNALR_KEEPALIVE_MS":      strconv.Itoa(int(keepAlive.Milliseconds())),
			"SIGNALR_SERVER_TIMEOUT_MS": strconv.Itoa(int(clientTimeout.Milliseconds())),
		}
	})
}

// restartable serves the hub from a server that restart replaces: the
// current server is shut down (every client gets Close with allowReconnect
// and keeps being served until it has gone), then a new one takes over.
// Reconnect attempts meanwhile fail and are retried by the client.
type restartable struct {
	make func() (*signalr.Server, error)

	mu  sync.Mutex
	cur *signalr.Server
	wg  sync.WaitGroup // restarts in progress
}

func newRestartable(t *testing.T, make func() (*signalr.Server, error)) *restartable {
	s, err := make()
	if err != nil {
		t.Fatal(err)
	}
	return &restartable{make: make, cur: s}
}

func (rs *restartable) current() *signalr.Server {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.cur
}

func (rs *restartable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs.current().ServeHTTP(w, r)
}

// restart is the handler of POST /control/restart.
func (rs *restartable) restart(w http.ResponseWriter, _ *http.Request) {
	next, err := rs.make()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	old := rs.current()
	rs.wg.Add(1)
	go func() {
		defer rs.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		old.Shutdown(ctx)
		rs.mu.Lock()
		rs.cur = next
		rs.mu.Unlock()
	}()
}

func (rs *restartable) close(t *testing.T) {
	rs.wg.Wait()
	shutdown(t, rs.current())
}
