package benchhub

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gosignalr/gosignalr/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.WithServer(m)) }
