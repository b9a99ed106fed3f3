package deploy

import (
	"testing"

	"go.uber.org/goleak"
)

// The tests start processes and pipe readers; none may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
