package transports

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echoHandler sends every received chunk back and reports what happened.
type echoHandler struct {
	binary   bool
	closeErr error // when set, Close(closeErr) after the first chunk

	mu       sync.Mutex
	conns    []Conn
	ended    chan Conn // receives each conn whose Receive ended
	recvErrs map[string]error
}

func newEcho() *echoHandler {
	return &echoHandler{ended: make(chan Conn, 100), recvErrs: map[string]error{}}
}

func (e *echoHandler) ServeConn(ctx context.Context, c Conn) {
	e.mu.Lock()
	e.conns = append(e.conns, c)
	e.mu.Unlock()
	if e.binary {
		if err := c.SetTransferFormat(true); err != nil {
			c.Close(err)
			e.finish(c, err)
			return
		}
	}
	for {
		b, err := c.Receive(ctx)
		if err != nil {
			e.finish(c, err)
			return
		}
		if err := c.Send(ctx, b); err != nil {
			e.finish(c, err)
			return
		}
		if e.closeErr != nil {
			c.Close(e.closeErr)
		}
	}
}

func (e *echoHandler) finish(c Conn, err error) {
	e.mu.Lock()
	e.recvErrs[c.ID()] = err
	e.mu.Unlock()
	e.ended <- c
}

func (e *echoHandler) waitEnded(t *testing.T) (Conn, error) {
	t.Helper()
	select {
	case c := <-e.ended:
		e.mu.Lock()
		defer e.mu.Unlock()
		return c, e.recvErrs[c.ID()]
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not end")
	}
	return nil, nil
}

type testServer struct {
	*httptest.Server
	d *Dispatcher
}

// newTestServer mounts a dispatcher at /echo; short timeouts keep tests fast.
func newTestServer(t testing.TB, h Handler, opts Options) *testServer {
	t.Helper()
	if opts.DisconnectTimeout == 0 {
		opts.DisconnectTimeout = 5 * time.Second
	}
	d := NewDispatcher(h, opts)
	mux := http.NewServeMux()
	mux.Handle("/echo", d)
	mux.Handle("/echo/", d)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		d.Close()
		srv.Close()
	})
	return &testServer{Server: srv, d: d}
}

type negotiateBody struct {
	NegotiateVersion     int    `json:"negotiateVersion"`
	ConnectionID         string `json:"connectionId"`
	ConnectionToken      string `json:"connectionToken"`
	UseStatefulReconnect bool   `json:"useStatefulReconnect"`
	Error                string `json:"error"`
}

func (s *testServer) negotiate(t testing.TB, query string) negotiateBody {
	t.Helper()
	resp := s.do(t, http.MethodPost, "/echo/negotiate?"+query, "", nil)
	var nb negotiateBody
	if err := json.Unmarshal([]byte(resp.body), &nb); err != nil {
		t.Fatalf("negotiate: %v: %q", err, resp.body)
	}
	return nb
}

// token negotiates v1 and returns the connection token.
func (s *testServer) token(t testing.TB) string {
	t.Helper()
	return s.negotiate(t, "negotiateVersion=1").ConnectionToken
}

type result struct {
	status int
	header http.Header
	body   string
}

func (s *testServer) do(t testing.TB, method, path, body string, header http.Header) result {
	t.Helper()
	r, err := s.doErr(context.Background(), method, path, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *testServer) doErr(ctx context.Context, method, path, body string, header http.Header) (result, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return result{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// eventually polls cond until it holds or 5 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

func newHTTPTestServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
