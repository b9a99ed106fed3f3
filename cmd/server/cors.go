package main

import (
	"net/http"
	"net/url"
	"strings"
)

// corsPolicy lets browser pages on other origins use the server. The
// SignalR JS client sends credentials (withCredentials defaults to true), so
// an allowed origin is always echoed back with
// Access-Control-Allow-Credentials: true; browsers reject a literal "*"
// together with credentials, so "allow any" reflects the request's Origin.
type corsPolicy struct {
	any     bool
	origins map[string]bool
}

func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			p.any = true
			continue
		}
		p.origins[o] = true
	}
	return p
}

// enabled reports whether any cross-origin access is configured.
func (p corsPolicy) enabled() bool { return p.any || len(p.origins) > 0 }

// allows reports whether a request with this Origin header may proceed
// cross-site.
func (p corsPolicy) allows(origin string) bool {
	if origin == "" {
		return false
	}
	if p.any {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return p.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// originPatterns are the host patterns the WebSocket upgrade accepts in
// Origin: the same origins as CORS. Same-origin pages and clients that send
// no Origin (Node, .NET, Java) are always accepted by the transport.
func (p corsPolicy) originPatterns() []string {
	if p.any {
		return []string{"*"}
	}
	var out []string
	for o := range p.origins {
		if u, err := url.Parse(o); err == nil {
			out = append(out, u.Host)
		}
	}
	return out
}

// handler wraps next with CORS: allowed origins get the
// Access-Control-Allow-* headers, and a preflight (OPTIONS with
// Access-Control-Request-Method) is answered with 204, echoing the requested
// method and headers, without reaching next.
func (p corsPolicy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		h := w.Header()
		if origin != "" {
			// The answer depends on Origin: caches must key on it.
			h.Add("Vary", "Origin")
		}
		allowed := p.allows(origin)
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		if allowed {
			h.Set("Access-Control-Allow-Methods", r.Header.Get("Access-Control-Request-Method"))
			if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
				h.Set("Access-Control-Allow-Headers", rh)
			}
		}
		// A refused preflight gets no Access-Control-* headers; the browser
		// then blocks the real request.
		w.WriteHeader(http.StatusNoContent)
	})
}
