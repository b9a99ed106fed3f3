package signalr_test

import (
	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/signalr"
)

// The Prometheus collector plugs into Options.Observer as is: the two
// interfaces must keep the same method set.
var (
	_ signalr.Observer    = (*metrics.Collector)(nil)
	_ metrics.HubObserver = signalr.Observer(nil)
)
