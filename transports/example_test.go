package transports_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gosignalr/gosignalr/negotiate"
	"github.com/gosignalr/gosignalr/transports"
)

// An echo endpoint: every chunk a client sends comes back to it, over
// whichever transport the client picked.
func ExampleNewDispatcher() {
	echo := transports.HandlerFunc(func(ctx context.Context, c transports.Conn) {
		for {
			b, err := c.Receive(ctx)
			if err != nil {
				return // io.EOF: the client left
			}
			if err := c.Send(ctx, b); err != nil {
				return
			}
		}
	})
	d := transports.NewDispatcher(echo, transports.Options{})
	mux := http.NewServeMux()
	mux.Handle("/echo", d)
	mux.Handle("/echo/", d)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer d.Close()

	// Negotiate, then talk Long Polling by hand.
	resp, err := http.Post(srv.URL+"/echo/negotiate?negotiateVersion=1", "text/plain", nil)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	nr, _ := negotiate.ParseResponse(body)
	conn := srv.URL + "/echo?id=" + nr.ConnectionToken

	get := func() string {
		resp, err := http.Get(conn)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %q", resp.StatusCode, b)
	}
	fmt.Println("first poll:", get())
	if resp, err := http.Post(conn, "text/plain", strings.NewReader("hello\x1e")); err == nil {
		resp.Body.Close()
	}
	fmt.Println("poll:", get())
	// Output:
	// first poll: 200 ""
	// poll: 200 "hello\x1e"
}
