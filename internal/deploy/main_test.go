package deploy

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

// The tests start processes, pipe readers and a PostgreSQL server; none may
// outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithServer(m)) }
