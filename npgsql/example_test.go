package npgsql_test

import (
	"fmt"
	"log"

	"github.com/gosignalr/gosignalr/npgsql"
)

// The payload of SendAll("Send", "hi") with only the JSON protocol, as the
// .NET backplane writes it.
func ExampleAppendPayload() {
	framed := []byte("{\"type\":1,\"target\":\"Send\",\"arguments\":[\"hi\"]}\x1e")
	b, err := npgsql.AppendPayload(nil, &npgsql.Payload{
		Type:     npgsql.TypeInvocationAll,
		Messages: []npgsql.Encoded{{Protocol: "json", Bytes: framed}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% X ...\n", b[:12])
	// Output: CC 0B 92 90 81 A4 6A 73 6F 6E C4 2E ...
}

func ExampleParseNotification() {
	n, err := npgsql.ParseNotification(`{"Id" : 7, "Payload" : "zAKVAaZzZXJ2ZXIBpHJvb22mY29ubi1h", "InsertedOn" : "2026-11-27T08:00:00.5"}`)
	if err != nil {
		log.Fatal(err)
	}
	p, err := npgsql.ParsePayload(n.Payload)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.ID, p.Type, p.ServerName, p.Action == npgsql.GroupAdd, p.GroupName, p.ConnectionID)
	// Output: 7 Group server true room conn-a
}
