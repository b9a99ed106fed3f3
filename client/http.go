package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"runtime"
	"strings"
	"sync"
)

// userAgent identifies this client the way the official clients do
// ("<name>/<version> (<version>; <OS>; <runtime>; <runtime version>)").
var userAgent = fmt.Sprintf("gosignalr/1.0 (1.0.0; %s; Go; %s)", runtime.GOOS, runtime.Version())

// httpDoer sends the HTTP requests of one connection attempt: it adds the
// built-in and user headers and the bearer token, caches the token, and
// retries a request once with a fresh token after a 401 (never negotiate),
// as the JS AccessTokenHttpClient does.
type httpDoer struct {
	client  *http.Client
	headers http.Header

	mu            sync.Mutex
	tokenProvider func(ctx context.Context) (string, error)
	token         string
}

func newHTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails with nil options
	return &http.Client{Jar: jar}
}

// setToken replaces the token provider with a fixed token (negotiate redirect).
func (h *httpDoer) setToken(tok string) {
	h.mu.Lock()
	h.token = tok
	h.tokenProvider = nil
	h.mu.Unlock()
}

// accessToken returns the cached token, fetching a new one when refresh is set
// or nothing is cached.
func (h *httpDoer) accessToken(ctx context.Context, refresh bool) (string, error) {
	h.mu.Lock()
	provider, tok := h.tokenProvider, h.token
	h.mu.Unlock()
	if provider == nil || (tok != "" && !refresh) {
		return tok, nil
	}
	tok, err := provider(ctx)
	if err != nil {
		return "", fmt.Errorf("access token provider: %w", err)
	}
	h.mu.Lock()
	h.token = tok
	h.mu.Unlock()
	return tok, nil
}

func (h *httpDoer) canRefresh() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tokenProvider != nil
}

// header builds the request headers: built-in ones, then the token, then the
// user's headers, which win.
func (h *httpDoer) header(tok string) http.Header {
	hd := http.Header{}
	hd.Set("X-Requested-With", "XMLHttpRequest")
	hd.Set("User-Agent", userAgent)
	if tok != "" {
		hd.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range h.headers {
		hd[http.CanonicalHeaderKey(k)] = append([]string(nil), v...)
	}
	return hd
}

type request struct {
	method      string
	url         string
	body        []byte
	contentType string
	accept      string
	negotiate   bool // negotiate always refreshes the token and is never retried
}

// do sends r and returns the response with its body unread; the caller closes it.
func (h *httpDoer) do(ctx context.Context, r request) (*http.Response, error) {
	tok, err := h.accessToken(ctx, r.negotiate)
	if err != nil {
		return nil, err
	}
	resp, err := h.send(ctx, r, tok)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && !r.negotiate && h.canRefresh() {
		drain(resp)
		if tok, err = h.accessToken(ctx, true); err != nil {
			return nil, err
		}
		return h.send(ctx, r, tok)
	}
	return resp, nil
}

func (h *httpDoer) send(ctx context.Context, r request, tok string) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return nil, err
	}
	req.Header = h.header(tok)
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	return h.client.Do(req)
}

// httpErrorFrom reads a non-2xx response into an HTTPError (body text, else status text).
func httpErrorFrom(resp *http.Response) *HTTPError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	drain(resp)
	msg := strings.TrimSpace(string(b))
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &HTTPError{StatusCode: resp.StatusCode, Message: msg}
}

// drain discards a bounded rest of the body so the connection can be reused, then closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
