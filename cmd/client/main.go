// Command client is the ChatClient: an interactive console chat against a
// ChatServer hub (cmd/server, or any ASP.NET Core SignalR chat sample).
//
//	client [--url http://localhost:5000] [--name User_1234] [--transport auto] [--token JWT] [--protocol json]
//
// Commands: /help (/h), /join <group>, /leave <group>, /group <group> <message>,
// /quit (/exit); any other text is sent to everyone. It also reads commands
// from a pipe and exits at the end of input once they have been sent.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
