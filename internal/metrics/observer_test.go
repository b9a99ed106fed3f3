package metrics_test

import (
	"github.com/gosignalr/gosignalr/internal/metrics"
	"github.com/gosignalr/gosignalr/signalr"
)

// The hub runtime's Observer and this package's HubObserver are the same
// method set, so a Collector plugs into signalr.Options.Observer.
var (
	_ signalr.Observer    = (*metrics.Collector)(nil)
	_ metrics.HubObserver = signalr.Observer(nil)
)
