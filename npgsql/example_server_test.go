package npgsql_test

import (
	"context"
	"log"
	"net/http"

	"github.com/gosignalr/gosignalr/npgsql"
	"github.com/gosignalr/gosignalr/signalr"
)

type ChatHub struct{}

func (ChatHub) SendMessage(ctx *signalr.Context, user, message string) error {
	return ctx.Clients().All().Send(ctx, "ReceiveMessage", user, message)
}

// Wiring the backplane into a server: the table is "SignalR"."ChatHub_Messages"
// and the channel "signalr_notification_channel", as for a .NET server with
// default options.
func ExampleNew() {
	ctx := context.Background()
	bp, err := npgsql.New(ctx, npgsql.Options{ConnectionString: "postgres://app@db:5432/chat"})
	if err != nil {
		log.Fatal(err)
	}
	defer bp.Close()
	srv, err := signalr.NewServer(ChatHub{}, signalr.Options{LifetimeManager: bp})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/chathub", srv)
	http.Handle("/chathub/", srv)
	http.HandleFunc("/health/ready", func(w http.ResponseWriter, r *http.Request) {
		if ok, reason := bp.Ready(); !ok {
			http.Error(w, reason, http.StatusServiceUnavailable)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}
