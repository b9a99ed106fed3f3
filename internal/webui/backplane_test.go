package webui

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/internal/chat"
	"github.com/gosignalr/gosignalr/internal/pgtest"
	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
)

// backplaneHub makes chat hubs whose lifetime manager is the PostgreSQL
// backplane on dsn; every hub it makes is a separate server node.
func backplaneHub(dsn string) hubFactory {
	return func(t *testing.T) (http.Handler, func()) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bp, err := npgsql.New(ctx, npgsql.Options{ConnectionString: dsn})
		if err != nil {
			t.Fatalf("backplane: %v", err)
		}
		s, err := signalr.NewServer(&chat.ChatHub{}, signalr.Options{LifetimeManager: bp})
		if err != nil {
			bp.Close()
			t.Fatal(err)
		}
		// Pages must not talk before the node hears the others.
		for {
			ok, reason := bp.Ready()
			if ok {
				break
			}
			if ctx.Err() != nil {
				s.Close()
				bp.Close()
				t.Fatalf("backplane not ready: %s", reason)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return s, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("hub shutdown: %v", err)
			}
			bp.Close()
		}
	}
}

// TestBrowserChatBackplane runs the chat scenario with page A on one server
// and page B on another, the two sharing the PostgreSQL backplane: every
// message between the pages crosses PostgreSQL.
func TestBrowserChatBackplane(t *testing.T) {
	browser := startBrowser(t) // skips without Chromium, before PostgreSQL starts
	dsn := pgtest.DSN(t)
	node1 := startChatServer(t, false, backplaneHub(dsn))
	node2 := startChatServer(t, false, backplaneHub(dsn))
	artifacts := artifactDir(t)
	// One run: the transports are covered by TestBrowserChat; here every
	// message between the pages crosses PostgreSQL.
	tc := transportCase{}
	chatScenario(t, browser, node1, node2, tc, filepath.Join(artifacts, "webui-backplane-"+tc.String()))
}
