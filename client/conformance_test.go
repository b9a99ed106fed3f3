package client

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/signalr/protocol"
	"github.com/gosignalr/gosignalr/transports"
)

// The conformance server (cmd/conformance) serves the endpoints of the
// official JS functional test suite. Running the Go client through the same
// scenarios checks it behaves like @microsoft/signalr against them.
func startConformance(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs cmd/conformance")
	}
	bin := filepath.Join(t.TempDir(), "conformance")
	build := exec.Command("go", "build", "-o", bin, "../cmd/conformance")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ../cmd/conformance: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--urls", "http://127.0.0.1:0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "Now listening on: "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return u
		}
	}
	t.Fatal("conformance server did not report its address")
	return ""
}

func TestConformanceScenarios(t *testing.T) {
	base := startConformance(t)
	ctx := testCtx(t)

	t.Run("testhub", func(t *testing.T) {
		for _, pc := range protoCases() {
			c := startClient(t, base+"/testhub", Options{Transports: pc.tr, Protocol: pc.proto})
			if got, err := Invoke[string](ctx, c, "Echo", "42"); err != nil || got != "42" {
				t.Fatalf("%v: Echo = %q %v", pc, got, err)
			}
			if got, err := Invoke[string](ctx, c, "GetActiveTransportName"); err != nil || got != pc.tr.String() {
				t.Fatalf("%v: transport %q %v", pc, got, err)
			}
			_, err := c.Invoke(ctx, "ThrowException", "An error occurred.")
			if err == nil || err.Error() != "An unexpected error occurred invoking 'ThrowException' on the server. InvalidOperationException: An error occurred." {
				t.Fatalf("%v: ThrowException: %v", pc, err)
			}
			_, err = c.Invoke(ctx, "Stream")
			if err == nil || err.Error() != "The client attempted to invoke the streaming 'Stream' method with a non-streaming invocation." {
				t.Fatalf("%v: invoke Stream: %v", pc, err)
			}
			var items []string
			for s, err := range Stream[string](ctx, c, "Stream") {
				if err != nil {
					t.Fatalf("%v: Stream: %v", pc, err)
				}
				items = append(items, s)
			}
			if strings.Join(items, "") != "abc" {
				t.Fatalf("%v: Stream items %q", pc, items)
			}
			for _, err := range c.Stream(ctx, "Echo", "42") {
				if err == nil || err.Error() != "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation." {
					t.Fatalf("%v: stream Echo: %v", pc, err)
				}
			}
			up := make(chan any, 3)
			up <- "Hello "
			up <- "World"
			close(up)
			if got, err := Invoke[string](ctx, c, "StreamingConcat", up); err != nil || got != "Hello World" {
				t.Fatalf("%v: StreamingConcat = %q %v", pc, got, err)
			}
			bad := make(chan any, 1)
			bad <- errors.New("Something bad")
			_, err = c.Invoke(ctx, "StreamingConcat", bad)
			if err == nil || err.Error() != "An unexpected error occurred invoking 'StreamingConcat' on the server. HubException: Something bad" {
				t.Fatalf("%v: StreamingConcat error: %v", pc, err)
			}
			// Cookies set by negotiate reach the connection (our default cookie jar).
			if got, err := Invoke[string](ctx, c, "GetCookie", "testCookie"); err != nil || got != "testValue" {
				t.Fatalf("%v: testCookie = %q %v", pc, got, err)
			}
			if got, err := Invoke[*string](ctx, c, "GetCookie", "expiredCookie"); err != nil || got != nil {
				t.Fatalf("%v: expiredCookie = %v %v", pc, got, err)
			}
		}
	})

	t.Run("client result", func(t *testing.T) {
		for _, tr := range allTransports {
			c, err := New(base+"/testhub", Options{Transports: tr})
			if err != nil {
				t.Fatal(err)
			}
			_ = c.On("Result", func() int { return 10 })
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(base + "/clientresult/" + c.ConnectionID())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = c.Stop(ctx)
			if string(body) != "10" {
				t.Fatalf("%v: client result %q", tr, body)
			}
		}
	})

	t.Run("redirects", func(t *testing.T) {
		c := startClient(t, base+"/redirect?baseUrl="+base, Options{Reconnect: DelaysReconnectPolicy{0}})
		first, err := Invoke[int](ctx, c, "GetNumRedirects")
		if err != nil || first < 1 {
			t.Fatalf("GetNumRedirects = %d %v", first, err)
		}
	})

	t.Run("negotiate errors", func(t *testing.T) {
		c, _ := New(base+"/bad-negotiate", Options{})
		if err := c.Start(ctx); err == nil || err.Error() != "Failed to complete negotiation with the server: Some response from server: Status code '400'" {
			t.Fatalf("bad-negotiate: %v", err)
		}
		c, _ = New(base+"/authorizedhub", Options{})
		if err := c.Start(ctx); err == nil || err.Error() != "Failed to complete negotiation with the server: Unauthorized: Status code '401'" {
			t.Fatalf("unauthorized: %v", err)
		}
	})

	t.Run("authorized hub", func(t *testing.T) {
		for _, tr := range allTransports {
			c := startClient(t, base+"/authorizedhub", Options{
				Transports: tr,
				AccessTokenProvider: func(ctx context.Context) (string, error) {
					resp, err := http.Get(base + "/generateJwtToken")
					if err != nil {
						return "", err
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					return string(b), err
				},
			})
			if got, err := Invoke[string](ctx, c, "Echo", "secret"); err != nil || got != "secret" {
				t.Fatalf("%v: Echo = %q %v", tr, got, err)
			}
			if got, err := Invoke[string](ctx, c, "GetUserNameIdentifier"); err != nil || got != "testuser" {
				t.Fatalf("%v: user = %q %v", tr, got, err)
			}
		}
	})

	t.Run("no websockets endpoint", func(t *testing.T) {
		for pr, want := range map[protocol.HubProtocol]string{protocol.JSON: "ServerSentEvents", protocol.MessagePack: "LongPolling"} {
			c := startClient(t, base+"/testhub-nowebsockets", Options{Protocol: pr})
			if got, err := Invoke[string](ctx, c, "GetActiveTransportName"); err != nil || got != want {
				t.Fatalf("%s: transport %q %v", pr.Name(), got, err)
			}
		}
	})

	t.Run("skip negotiation", func(t *testing.T) {
		c := startClient(t, base+"/testhub", Options{SkipNegotiation: true, Transports: transports.WebSockets})
		if c.ConnectionID() != "" {
			t.Fatalf("ConnectionID %q", c.ConnectionID())
		}
		if got, err := Invoke[string](ctx, c, "GetCallerConnectionId"); err != nil || got == "" {
			t.Fatalf("GetCallerConnectionId = %q %v", got, err)
		}
	})

	t.Run("server timeout", func(t *testing.T) {
		const want = "Server timeout elapsed without receiving a message from the server."
		closed := make(chan error, 1)
		c, err := New(base+"/testhub", Options{ServerTimeout: time.Millisecond, OnClose: func(err error) { closed <- err }})
		if err != nil {
			t.Fatal(err)
		}
		// With a 1 ms timeout the timer may fire before Start returns (the
		// handshake response is the first message): then Start fails with
		// the same text instead of the connection closing later.
		if err := c.Start(testCtx(t)); err != nil {
			if err.Error() != want && !strings.HasSuffix(err.Error(), want) {
				t.Fatalf("Start failed with %v", err)
			}
			return
		}
		if err := <-closed; err == nil || err.Error() != want {
			t.Fatalf("closed with %v", err)
		}
	})
}
