package metrics_test

import "runtime"

// processMetricsSupported: the process collector reads /proc (Linux) or
// platform APIs; elsewhere it exports nothing.
func processMetricsSupported() bool {
	return runtime.GOOS == "linux" || runtime.GOOS == "windows" || runtime.GOOS == "darwin"
}
