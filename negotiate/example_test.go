package negotiate_test

import (
	"fmt"
	"net/url"

	"github.com/gosignalr/gosignalr/negotiate"
)

func ExampleResponse_AppendJSON() {
	r := negotiate.Response{
		NegotiateVersion:    1,
		ConnectionID:        "AAAAAAAAAAAAAAAAAAAAAA",
		ConnectionToken:     "AQEBAQEBAQEBAQEBAQEBAQ",
		AvailableTransports: []negotiate.AvailableTransport{negotiate.LongPollingTransport},
	}
	fmt.Println(string(r.AppendJSON(nil)))
	// Output:
	// {"negotiateVersion":1,"connectionId":"AAAAAAAAAAAAAAAAAAAAAA","connectionToken":"AQEBAQEBAQEBAQEBAQEBAQ","availableTransports":[{"transport":"LongPolling","transferFormats":["Text","Binary"]}]}
}

func ExampleParseRequest() {
	q, _ := url.ParseQuery("negotiateVersion=5&useStatefulReconnect=true")
	req, err := negotiate.ParseRequest(q, 0)
	fmt.Println(req.Version, req.UseStatefulReconnect, err)

	q, _ = url.ParseQuery("negotiateVersion=x")
	_, err = negotiate.ParseRequest(q, 0)
	fmt.Println(err)
	// Output:
	// 1 true <nil>
	// The client requested a non-integer protocol version.
}

func ExampleParseResponse() {
	r, err := negotiate.ParseResponse([]byte(`{"url":"https://other.example/hub","accessToken":"t"}`))
	fmt.Println(r.URL, r.AccessToken, err)
	// Output:
	// https://other.example/hub t <nil>
}
