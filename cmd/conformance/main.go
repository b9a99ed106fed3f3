// Command conformance serves the endpoints of the official SignalR JS
// functional test suite (dotnet/aspnetcore src/SignalR/clients/ts/
// FunctionalTests): /testhub, /testhub-nowebsockets, /uncreatable,
// /authorizedhub, the raw /echo connection, /generateJwtToken,
// /clientresult/{id}, /redirect, /echoredirect, /bad-negotiate, the
// negotiate cookies and permissive CORS, so that suite (and our own Node
// scenarios in testdata/conformance) can run against gosignalr.
//
// Like the ASP.NET test app it prints "Now listening on: <url>" on stdout.
// --urls picks the addresses (default $ASPNETCORE_URLS, else
// http://127.0.0.1:5000); port 0 picks a free port. Only http is served,
// so the suite's https-only cases (cookies over https) do not apply.
//
// Our scenarios run with `go test ./cmd/conformance`; by hand:
//
//	go run ./cmd/conformance --urls http://127.0.0.1:5000 &
//	cd testdata/conformance && npm ci
//	BASE_URL=http://127.0.0.1:5000 TRANSPORT=LongPolling PROTOCOL=messagepack \
//	  SCENARIOS=invoke,stream-cancel node scripts/suite.cjs
//
// The official suite's Node tests take the server from
// SERVER_URL="<https url>;<http url>" (an empty https part skips the https
// cases).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		stop()
		os.Exit(1)
	}
}
