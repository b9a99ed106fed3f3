package main

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"testing"
)

func TestCORS(t *testing.T) {
	const (
		acao = "Access-Control-Allow-Origin"
		acac = "Access-Control-Allow-Credentials"
		acam = "Access-Control-Allow-Methods"
		acah = "Access-Control-Allow-Headers"
	)
	tests := []struct {
		name        string
		origins     []string
		method      string
		header      map[string]string
		wantStatus  int
		wantHeaders map[string]string // "" means absent
		wantNext    bool
	}{
		{
			name:       "allowed origin, simple request",
			origins:    []string{"https://app.example"},
			method:     http.MethodPost,
			header:     map[string]string{"Origin": "https://app.example"},
			wantStatus: http.StatusOK,
			wantHeaders: map[string]string{
				acao: "https://app.example", acac: "true", "Vary": "Origin", acam: "",
			},
			wantNext: true,
		},
		{
			name:        "origin matching ignores case of scheme and host",
			origins:     []string{"https://app.example"},
			method:      http.MethodGet,
			header:      map[string]string{"Origin": "HTTPS://App.Example"},
			wantStatus:  http.StatusOK,
			wantHeaders: map[string]string{acao: "HTTPS://App.Example", acac: "true"},
			wantNext:    true,
		},
		{
			name:        "other origin gets no CORS headers",
			origins:     []string{"https://app.example"},
			method:      http.MethodPost,
			header:      map[string]string{"Origin": "https://evil.example"},
			wantStatus:  http.StatusOK,
			wantHeaders: map[string]string{acao: "", acac: "", "Vary": "Origin"},
			wantNext:    true,
		},
		{
			name:        "port is part of the origin",
			origins:     []string{"http://localhost:3000"},
			method:      http.MethodGet,
			header:      map[string]string{"Origin": "http://localhost:3001"},
			wantStatus:  http.StatusOK,
			wantHeaders: map[string]string{acao: ""},
			wantNext:    true,
		},
		{
			name:        "same-origin or non-browser request without Origin",
			origins:     []string{"*"},
			method:      http.MethodGet,
			wantStatus:  http.StatusOK,
			wantHeaders: map[string]string{acao: "", "Vary": ""},
			wantNext:    true,
		},
		{
			name:       "allow any reflects the origin, never a literal star",
			origins:    []string{"*"},
			method:     http.MethodPost,
			header:     map[string]string{"Origin": "http://anything.test:8080"},
			wantStatus: http.StatusOK,
			wantHeaders: map[string]string{
				acao: "http://anything.test:8080", acac: "true",
			},
			wantNext: true,
		},
		{
			name:    "preflight echoes method and headers with 204",
			origins: []string{"*"},
			method:  http.MethodOptions,
			header: map[string]string{
				"Origin":                         "https://app.example",
				"Access-Control-Request-Method":  "POST",
				"Access-Control-Request-Headers": "x-requested-with,x-signalr-user-agent,authorization",
			},
			wantStatus: http.StatusNoContent,
			wantHeaders: map[string]string{
				acao: "https://app.example", acac: "true", acam: "POST",
				acah: "x-requested-with,x-signalr-user-agent,authorization",
			},
		},
		{
			name:    "refused preflight: 204 without CORS headers",
			origins: []string{"https://app.example"},
			method:  http.MethodOptions,
			header: map[string]string{
				"Origin":                        "https://evil.example",
				"Access-Control-Request-Method": "POST",
			},
			wantStatus:  http.StatusNoContent,
			wantHeaders: map[string]string{acao: "", acam: "", acah: ""},
		},
		{
			name:        "OPTIONS without Access-Control-Request-Method is not a preflight",
			origins:     []string{"*"},
			method:      http.MethodOptions,
			header:      map[string]string{"Origin": "https://app.example"},
			wantStatus:  http.StatusOK,
			wantHeaders: map[string]string{acao: "https://app.example", acam: ""},
			wantNext:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calledNext := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calledNext = true })
			h := newCORSPolicy(tt.origins).handler(next)
			req := httptest.NewRequest(tt.method, "/chathub/negotiate", nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if calledNext != tt.wantNext {
				t.Errorf("next called: %v, want %v", calledNext, tt.wantNext)
			}
			for k, want := range tt.wantHeaders {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestCORSOriginPatterns(t *testing.T) {
	tests := []struct {
		origins []string
		want    []string
	}{
		{nil, nil},
		{[]string{"*"}, []string{"*"}},
		{[]string{"https://a.example", "http://localhost:3000"}, []string{"a.example", "localhost:3000"}},
	}
	for _, tt := range tests {
		p := newCORSPolicy(tt.origins)
		got := p.originPatterns()
		sort.Strings(got)
		want := append([]string(nil), tt.want...)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("originPatterns(%v) = %v, want %v", tt.origins, got, want)
		}
		if p.enabled() != (len(tt.origins) > 0) {
			t.Errorf("enabled(%v) = %v", tt.origins, p.enabled())
		}
	}
}
