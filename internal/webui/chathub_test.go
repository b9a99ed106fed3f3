package webui

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/signalr"
)

// browserTransportCases are the transports of pages A and B ("" = the
// client's own choice, which must be WebSockets).
var browserTransportCases = []transportCase{
	{"", ""},
	{"ServerSentEvents", "LongPolling"},
}

// newChatHub is the real ChatServer hub on the real hub runtime.
func newChatHub(t *testing.T) (http.Handler, func()) {
	t.Helper()
	s, err := signalr.NewServer(&chat.ChatHub{}, signalr.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
	}
}
