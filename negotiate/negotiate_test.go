package negotiate

import (
	"encoding/base64"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestAppendJSON(t *testing.T) {
	all := []AvailableTransport{WebSocketsTransport, ServerSentEventsTransport, LongPollingTransport}
	tests := []struct {
		name string
		r    Response
		want string
	}{
		{
			name: "v1 stateful all transports",
			r: Response{UseStatefulReconnect: true, NegotiateVersion: 1, ConnectionID: "id", ConnectionToken: "tok",
				AvailableTransports: all},
			want: `{"useStatefulReconnect":true,"negotiateVersion":1,"connectionId":"id","connectionToken":"tok",` +
				`"availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},` +
				`{"transport":"ServerSentEvents","transferFormats":["Text"]},` +
				`{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`,
		},
		{
			name: "v1 no stateful",
			r:    Response{NegotiateVersion: 1, ConnectionID: "id", ConnectionToken: "tok", AvailableTransports: all[1:]},
			want: `{"negotiateVersion":1,"connectionId":"id","connectionToken":"tok","availableTransports":[` +
				`{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`,
		},
		{
			name: "v0 omits token",
			r:    Response{NegotiateVersion: 0, ConnectionID: "id", ConnectionToken: "tok", AvailableTransports: all[2:]},
			want: `{"negotiateVersion":0,"connectionId":"id","availableTransports":[{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}`,
		},
		{
			name: "no transports",
			r:    Response{NegotiateVersion: 1, ConnectionID: "id", ConnectionToken: "tok"},
			want: `{"negotiateVersion":1,"connectionId":"id","connectionToken":"tok","availableTransports":[]}`,
		},
		{
			name: "error only",
			r:    Response{Error: "The client requested version '0', but the server does not support this version.", ConnectionID: "x"},
			want: `{"error":"The client requested version '0', but the server does not support this version."}`,
		},
		{
			name: "escaping",
			r:    Response{Error: "a\"b\\c\n\r\t\b\f\x01\x7fé\u2028<>&'+"},
			want: `{"error":"a\"b\\c\n\r\t\b\f\u0001\u007Fé\u2028<>&'+"}`,
		},
		{
			name: "redirect fields in order",
			r:    Response{URL: "https://h/x?a=1&b=2", AccessToken: "t"},
			want: `{"negotiateVersion":0,"url":"https://h/x?a=1&b=2","accessToken":"t","availableTransports":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.r.AppendJSON(nil)); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			b, _ := tt.r.MarshalJSON()
			if string(b) != tt.want {
				t.Fatalf("MarshalJSON differs: %s", b)
			}
		})
	}
}

// TestGolden checks the response against the golden bytes kept in testdata
// (the same file other packages and the conformance tool compare with).
func TestGolden(t *testing.T) {
	r := Response{UseStatefulReconnect: true, NegotiateVersion: 1,
		ConnectionID: "AAAAAAAAAAAAAAAAAAAAAA", ConnectionToken: "AQEBAQEBAQEBAQEBAQEBAQ",
		AvailableTransports: []AvailableTransport{WebSocketsTransport, ServerSentEventsTransport, LongPollingTransport}}
	want, err := os.ReadFile(filepath.Join("testdata", "negotiate_v1_stateful.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.AppendJSON(nil); string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAppendRedirect(t *testing.T) {
	if got := string(AppendRedirect(nil, "https://x/y", "")); got != `{"url":"https://x/y"}` {
		t.Fatal(got)
	}
	if got := string(AppendRedirect(nil, "https://x/y", "tok")); got != `{"url":"https://x/y","accessToken":"tok"}` {
		t.Fatal(got)
	}
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		query   string
		min     int
		want    Request
		wantErr string
	}{
		{query: "", want: Request{Version: 0}},
		{query: "negotiateVersion=1", want: Request{Version: 1}},
		{query: "NEGOTIATEVERSION=1", want: Request{Version: 1}},
		{query: "negotiateVersion=0", want: Request{Version: 0}},
		{query: "negotiateVersion=7", want: Request{Version: 1}},
		{query: "negotiateVersion=+1", want: Request{Version: 1}},
		{query: "negotiateVersion=%201%20", want: Request{Version: 1}},
		{query: "negotiateVersion=abc", wantErr: "The client requested a non-integer protocol version."},
		{query: "negotiateVersion=1.0", wantErr: "The client requested a non-integer protocol version."},
		{query: "negotiateVersion=", wantErr: "The client requested a non-integer protocol version."},
		{query: "negotiateVersion=99999999999", wantErr: "The client requested a non-integer protocol version."},
		{query: "negotiateVersion=1&negotiateVersion=1", wantErr: "The client requested a non-integer protocol version."},
		{query: "negotiateVersion=-1", wantErr: "The client requested version '-1', but the server does not support this version."},
		{query: "negotiateVersion=0", min: 1, wantErr: "The client requested version '0', but the server does not support this version."},
		{query: "", min: 1, wantErr: "The client requested version '0', but the server does not support this version."},
		{query: "negotiateVersion=1&useStatefulReconnect=true", want: Request{Version: 1, UseStatefulReconnect: true}},
		{query: "negotiateVersion=1&UseStatefulReconnect=TRUE", want: Request{Version: 1, UseStatefulReconnect: true}},
		{query: "negotiateVersion=1&useStatefulReconnect=false", want: Request{Version: 1}},
		{query: "negotiateVersion=1&useStatefulReconnect=yes", want: Request{Version: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseRequest(q, tt.min)
			if tt.wantErr != "" {
				var ve *VersionError
				if !errors.As(err, &ve) || ve.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    *Response
		wantErr string
	}{
		{
			name: "v1",
			body: `{"negotiateVersion":1,"connectionId":"i","connectionToken":"t","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}],"extra":{"x":[1]}}`,
			want: &Response{NegotiateVersion: 1, ConnectionID: "i", ConnectionToken: "t",
				AvailableTransports: []AvailableTransport{WebSocketsTransport}},
		},
		{
			name: "v0 copies id to token",
			body: `{"connectionId":"i","availableTransports":[]}`,
			want: &Response{ConnectionID: "i", ConnectionToken: "i"},
		},
		{
			name: "stateful",
			body: `{"useStatefulReconnect":true,"negotiateVersion":1,"connectionId":"i","connectionToken":"t","availableTransports":[]}`,
			want: &Response{UseStatefulReconnect: true, NegotiateVersion: 1, ConnectionID: "i", ConnectionToken: "t"},
		},
		{name: "redirect", body: `{"url":"https://x","accessToken":"a"}`, want: &Response{URL: "https://x", AccessToken: "a"}},
		{name: "error", body: `{"error":"boom"}`, want: &Response{Error: "boom"}},
		{name: "missing id", body: `{"availableTransports":[]}`, wantErr: "Invalid negotiation response received. Missing required property 'connectionId'."},
		{name: "missing token", body: `{"negotiateVersion":1,"connectionId":"i","availableTransports":[]}`, wantErr: "Invalid negotiation response received. Missing required property 'connectionToken'."},
		{name: "missing transports", body: `{"connectionId":"i"}`, wantErr: "Invalid negotiation response received. Missing required property 'availableTransports'."},
		{name: "case-sensitive names", body: `{"ConnectionId":"i","availableTransports":[]}`, wantErr: "Invalid negotiation response received. Missing required property 'connectionId'."},
		{name: "missing transport name", body: `{"connectionId":"i","availableTransports":[{"transferFormats":[]}]}`, wantErr: "Invalid negotiation response received. Missing required property 'transport'."},
		{name: "classic", body: `{"ProtocolVersion":"1.5"}`, wantErr: ErrClassicServer.Error()},
		{name: "not json", body: `<html>`, wantErr: "Invalid negotiation response received."},
		{name: "not object", body: `null`, wantErr: "Invalid negotiation response received. Expected a JSON object."},
		{name: "wrong type", body: `{"connectionId":5,"availableTransports":[]}`, wantErr: "Invalid negotiation response received. Expected 'connectionId' to be of type String."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseResponse([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	r := &Response{UseStatefulReconnect: true, NegotiateVersion: 1, ConnectionID: NewID(), ConnectionToken: NewID(),
		AvailableTransports: []AvailableTransport{WebSocketsTransport, ServerSentEventsTransport, LongPollingTransport}}
	got, err := ParseResponse(r.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("got %+v want %+v", got, r)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if len(id) != 22 {
			t.Fatalf("len(%q) = %d", id, len(id))
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 {
			t.Fatalf("%q: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"negotiateVersion":1,"connectionId":"i","connectionToken":"t","availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}`))
	f.Add([]byte(`{"url":"https://x","accessToken":"a"}`))
	f.Add([]byte(`{"error":"e"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			return
		}
		// Whatever parsed must survive our own writer and parse again (the
		// writer omits empty strings, as .NET does, so those cannot).
		if r.Error == "" && r.URL == "" && r.ConnectionID != "" && (r.NegotiateVersion < 1 || r.ConnectionToken != "") {
			if _, err := ParseResponse(r.AppendJSON(nil)); err != nil {
				t.Fatalf("re-parse of %s: %v", r.AppendJSON(nil), err)
			}
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	f.Add("negotiateVersion=1&useStatefulReconnect=true", 0)
	f.Add("NegotiateVersion=abc", 1)
	f.Add("negotiateversion=-5&NEGOTIATEVERSION=2", 0)
	f.Fuzz(func(t *testing.T, query string, minVersion int) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		req, err := ParseRequest(q, minVersion)
		if err != nil {
			var ve *VersionError
			if !errors.As(err, &ve) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		// Like ASP.NET Core: at least the minimum (even a negative one),
		// at most MaxVersion.
		if req.Version > MaxVersion || req.Version < min(minVersion, MaxVersion) {
			t.Fatalf("version %d selected (min %d)", req.Version, minVersion)
		}
	})
}
