package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gosignalr/gosignalr/client"
	"github.com/gosignalr/gosignalr/signalr"
)

// EchoHub is a tiny hub for the examples.
type EchoHub struct{}

func (EchoHub) Echo(s string) string { return s }

func (EchoHub) Shout(ctx *signalr.Context, s string) error {
	return ctx.Clients().Caller().Send(ctx, "Shouted", strings.ToUpper(s))
}

func (EchoHub) Count(n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := 1; i <= n; i++ {
			ch <- i
		}
	}()
	return ch
}

// serve starts EchoHub on a loopback test server and returns its URL.
func serve() (url string, stop func()) {
	s, err := signalr.NewServer(EchoHub{}, signalr.Options{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/echo", s)
	mux.Handle("/echo/", s)
	hs := httptest.NewServer(mux)
	return hs.URL + "/echo", func() { _ = s.Close(); hs.CloseClientConnections(); hs.Close() }
}

func Example() {
	url, stop := serve()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := client.New(url, client.Options{Reconnect: client.DefaultReconnectPolicy()})
	if err != nil {
		panic(err)
	}
	shouted := make(chan string, 1)
	_ = conn.On("Shouted", func(s string) { shouted <- s })
	if err := conn.Start(ctx); err != nil {
		panic(err)
	}
	defer conn.Stop(ctx)

	echo, err := client.Invoke[string](ctx, conn, "Echo", "hello")
	fmt.Println(echo, err)

	_ = conn.Send(ctx, "Shout", "hey")
	fmt.Println(<-shouted)

	for n, err := range client.Stream[int](ctx, conn, "Count", 3) {
		if err != nil {
			panic(err)
		}
		fmt.Print(n, " ")
	}
	fmt.Println()
	// Output:
	// hello <nil>
	// HEY
	// 1 2 3
}

func ExampleHubConnection_Invoke() {
	url, stop := serve()
	defer stop()
	ctx := context.Background()
	conn, _ := client.New(url, client.Options{})
	if err := conn.Start(ctx); err != nil {
		panic(err)
	}
	defer conn.Stop(ctx)

	raw, err := conn.Invoke(ctx, "Echo", "raw")
	var s string
	if err == nil {
		err = raw.Decode(&s)
	}
	fmt.Println(s, err)

	_, err = conn.Invoke(ctx, "Missing")
	fmt.Println(err)
	// Output:
	// raw <nil>
	// Failed to invoke 'Missing' due to an error on the server. HubException: Method does not exist.
}
