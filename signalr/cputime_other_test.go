//go:build !unix

package signalr

import "time"

func processCPU() time.Duration { return 0 }
