package signalr

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// The connection's logs name it although it keeps no Logger.With of its own
// (that cost ~0.75 KiB per idle connection).
func TestConnectionLogsCarryConnectionID(t *testing.T) {
	var buf bytes.Buffer
	opts := Options{Logger: zerolog.New(&buf).Level(zerolog.WarnLevel), OutboundQueueSize: 1}.withDefaults()
	c := newHubConnection(context.Background(), newMemConn("conn-log-1", 1), protocol.JSON, &opts)
	defer c.cancel()
	defer c.wcancel()
	// No writer runs: the second message finds the queue full.
	if err := c.Write(NewInvocationMessage("A", nil)); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(NewInvocationMessage("B", nil)); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("second write: %v, want ErrSlowConsumer", err)
	}
	out := buf.String()
	if !strings.Contains(out, `"connectionId":"conn-log-1"`) || !strings.Contains(out, "slow consumer") {
		t.Fatalf("log = %q, want the slow-consumer warning with connectionId", out)
	}
}
