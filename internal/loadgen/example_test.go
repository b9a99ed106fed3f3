package loadgen_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/gosignalr/gosignalr/internal/loadgen"
)

// Run a short broadcast against the raw baseline server and check that
// every message reached every connection in order.
func ExampleRun() {
	bs := &loadgen.BaselineServer{}
	ts := httptest.NewServer(bs)
	defer ts.Close()
	defer bs.Close(context.Background())

	rep, err := loadgen.Run(context.Background(), loadgen.Config{
		URLs:        []string{ts.URL + "/hub"},
		Scenario:    loadgen.ScenarioBroadcast,
		Connections: 4,
		Rate:        100, // messages per second, from one sender
		Duration:    200 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("passed:", rep.Passed)
	fmt.Println("every connection got every message:", rep.Received == rep.Sent*4)
	fmt.Println("lost:", rep.Lost, "out of order:", rep.OutOfOrder)
	// Output:
	// passed: true
	// every connection got every message: true
	// lost: 0 out of order: 0
}
