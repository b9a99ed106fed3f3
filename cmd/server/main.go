// Command server is the ChatServer: a SignalR server with the ChatHub at
// /chathub that the ASP.NET Core chat samples' clients (JavaScript, .NET,
// Java) talk to unchanged. Run `go run ./cmd/server -h` for its flags.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/gosignalr/gosignalr/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], host{environ: os.Environ(), dirs: config.DefaultDirs(), stdout: os.Stdout, stderr: os.Stderr}); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		stop()
		os.Exit(1)
	}
}
