package transports

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/negotiate"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

func TestNegotiateResponse(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		path     string
		wantBody func(nb negotiateBody) string
	}{
		{
			name: "v1 all transports",
			path: "/echo/negotiate?negotiateVersion=1",
			wantBody: func(nb negotiateBody) string {
				return `{"negotiateVersion":1,"connectionId":"` + nb.ConnectionID + `","connectionToken":"` + nb.ConnectionToken +
					`","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},` +
					`{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`
			},
		},
		{
			name: "v0 has no token",
			opts: Options{Transports: LongPolling},
			path: "/echo/negotiate",
			wantBody: func(nb negotiateBody) string {
				return `{"negotiateVersion":0,"connectionId":"` + nb.ConnectionID +
					`","availableTransports":[{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`
			},
		},
		{
			name: "clamped, stateful allowed and requested, case-insensitive keys",
			opts: Options{AllowStatefulReconnects: true, Transports: WebSockets},
			path: "/echo/negotiate?NEGOTIATEVERSION=5&UseStatefulReconnect=true",
			wantBody: func(nb negotiateBody) string {
				return `{"useStatefulReconnect":true,"negotiateVersion":1,"connectionId":"` + nb.ConnectionID +
					`","connectionToken":"` + nb.ConnectionToken + `","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}`
			},
		},
		{
			name: "stateful requested but not allowed",
			opts: Options{Transports: ServerSentEvents},
			path: "/echo/negotiate?negotiateVersion=1&useStatefulReconnect=true",
			wantBody: func(nb negotiateBody) string {
				return `{"negotiateVersion":1,"connectionId":"` + nb.ConnectionID + `","connectionToken":"` + nb.ConnectionToken +
					`","availableTransports":[{"transport":"ServerSentEvents","transferFormats":["Text"]}]}`
			},
		},
		{
			name: "stateful allowed but not requested; path variants",
			opts: Options{AllowStatefulReconnects: true, Transports: ServerSentEvents},
			path: "/echo//NEGOTIATE/?negotiateVersion=1",
			wantBody: func(nb negotiateBody) string {
				return `{"negotiateVersion":1,"connectionId":"` + nb.ConnectionID + `","connectionToken":"` + nb.ConnectionToken +
					`","availableTransports":[{"transport":"ServerSentEvents","transferFormats":["Text"]}]}`
			},
		},
		{
			name:     "non-integer",
			path:     "/echo/negotiate?negotiateVersion=one",
			wantBody: func(negotiateBody) string { return `{"error":"The client requested a non-integer protocol version."}` },
		},
		{
			name: "below minimum",
			opts: Options{MinNegotiateVersion: 1},
			path: "/echo/negotiate",
			wantBody: func(negotiateBody) string {
				return `{"error":"The client requested version '0', but the server does not support this version."}`
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, newEcho(), tt.opts)
			resp := s.do(t, http.MethodPost, tt.path, "", nil)
			if resp.status != http.StatusOK || resp.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, content type %q", resp.status, resp.header.Get("Content-Type"))
			}
			nb, err := negotiate.ParseResponse([]byte(resp.body))
			if err != nil {
				t.Fatalf("%v: %s", err, resp.body)
			}
			if nb.Error == "" {
				if !idPattern.MatchString(nb.ConnectionID) || !idPattern.MatchString(nb.ConnectionToken) {
					t.Fatalf("bad id/token in %s", resp.body)
				}
				if nb.NegotiateVersion == 1 && nb.ConnectionID == nb.ConnectionToken {
					t.Fatal("v1 token equals id")
				}
			}
			want := tt.wantBody(negotiateBody{ConnectionID: nb.ConnectionID, ConnectionToken: nb.ConnectionToken})
			if resp.body != want {
				t.Fatalf("body\n got  %s\n want %s", resp.body, want)
			}
			if nb.Error != "" && s.d.Len() != 0 {
				t.Fatal("an error response created a connection")
			}
		})
	}
}

func TestNegotiateMethodNotAllowed(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{})
	resp := s.do(t, http.MethodGet, "/echo/negotiate", "", nil)
	if resp.status != http.StatusMethodNotAllowed || resp.header.Get("Content-Type") != "text/plain" || resp.body != "" {
		t.Fatalf("got %d %q %q", resp.status, resp.header.Get("Content-Type"), resp.body)
	}
}

func TestNegotiatedConnectionExpires(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{DisconnectTimeout: 20 * time.Millisecond})
	tok := s.token(t)
	eventually(t, "expiry", func() bool { return s.d.Len() == 0 })
	resp := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil)
	if resp.status != http.StatusNotFound || resp.body != "No Connection with that ID" {
		t.Fatalf("got %d %q", resp.status, resp.body)
	}
}

func TestPendingCap(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{MaxPendingConnections: 2})
	tok := s.token(t)
	s.token(t)
	resp := s.do(t, http.MethodPost, "/echo/negotiate?negotiateVersion=1", "", nil)
	if resp.status != http.StatusServiceUnavailable || resp.body != msgTooManyPending || resp.header.Get("Retry-After") != "1" {
		t.Fatalf("got %d %q", resp.status, resp.body)
	}
	// Starting a connection frees its pending slot.
	if r := s.do(t, http.MethodGet, "/echo?id="+tok, "", nil); r.status != http.StatusOK {
		t.Fatalf("first poll: %d", r.status)
	}
	if nb := s.negotiate(t, "negotiateVersion=1"); nb.ConnectionToken == "" {
		t.Fatalf("negotiate after a start: %+v", nb)
	}
}

func TestPendingSlotFreedByExpiry(t *testing.T) {
	s := newTestServer(t, newEcho(), Options{MaxPendingConnections: 1, DisconnectTimeout: 20 * time.Millisecond})
	s.token(t)
	eventually(t, "expiry", func() bool { return s.d.Len() == 0 })
	if nb := s.negotiate(t, "negotiateVersion=1"); nb.ConnectionToken == "" {
		t.Fatalf("negotiate after expiry: %+v", nb)
	}
}
