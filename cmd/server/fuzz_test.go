package main

import (
	"strings"
	"testing"
)

// FuzzParseListenURL: any --urls entry is either refused with an error or
// gives a listen address with a valid port; it never panics.
func FuzzParseListenURL(f *testing.F) {
	for _, s := range []string{
		"http://localhost:5000", "http://127.0.0.1:0", "http://[::1]:8080", "http://*:80", "http://+:5000/",
		"http://0.0.0.0:1", "https://localhost:5001", "http://host.example", "http://[::]:5000", "http://*", "http://",
		"http://a:b@localhost:1", "http://localhost:99999", "ftp://x", "http://+", "http://*:-1", "http://[::1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		l, err := parseListenURL(raw)
		if err != nil {
			return
		}
		if l.port < 0 || l.port > 65535 {
			t.Fatalf("%q: port %d", raw, l.port)
		}
		if (l.host == "") == (l.wildcard == "") {
			t.Fatalf("%q: want exactly one of host %q and wildcard %q", raw, l.host, l.wildcard)
		}
		if l.host == "localhost" && l.port == 0 {
			t.Fatalf("%q: localhost with a dynamic port accepted", raw)
		}
	})
}

// FuzzParseOrigins: every accepted origin is normalized (parsing it again
// gives itself) and allowed by the CORS policy built from it, with a
// browser's casing of it too.
func FuzzParseOrigins(f *testing.F) {
	for _, s := range []string{
		"https://app.example", "http://localhost:3000, https://A.example/", "*", "a.example", "https://x/path",
		"http://[::1]:8080;https://b.example", "https://x?q=1", "", " , ;", "javascript:alert(1)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		origins, err := parseOrigins(s)
		if err != nil {
			return
		}
		p := newCORSPolicy(origins)
		for _, o := range origins {
			again, err := parseOrigins(o)
			if err != nil || len(again) != 1 || again[0] != o {
				t.Fatalf("%q: origin %q does not re-parse to itself: %v %v", s, o, again, err)
			}
			if o != "*" && (!p.allows(o) || !p.allows(strings.ToUpper(o))) {
				t.Fatalf("%q: policy refuses its own origin %q", s, o)
			}
		}
	})
}
