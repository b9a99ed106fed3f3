package signalr

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// invalidOp is an error that names its .NET type, like the functional
// tests' InvalidOperationException.
type invalidOp struct{ msg string }

func (e invalidOp) Error() string    { return e.msg }
func (e invalidOp) TypeName() string { return "InvalidOperationException" }

type complexObject struct {
	Name  string
	Value int
}

type testHub struct {
	connected    atomic.Int32
	disconnected chan error
	failConnect  error
	release      chan struct{} // Block waits on it
	started      chan string   // Block reports its start
}

func newTestHub() *testHub {
	return &testHub{
		disconnected: make(chan error, 16),
		release:      make(chan struct{}),
		started:      make(chan string, 16),
	}
}

func (h *testHub) OnConnected(ctx *Context) error {
	h.connected.Add(1)
	return h.failConnect
}

func (h *testHub) OnDisconnected(ctx *Context, err error) error {
	select {
	case h.disconnected <- err:
	default: // nobody reads (fuzzing): drop
	}
	return nil
}

func (h *testHub) Echo(s string) string                     { return s }
func (h *testHub) Add(a, b int) int                         { return a + b }
func (h *testHub) Void()                                    {}
func (h *testHub) EchoObject(o complexObject) complexObject { return o }
func (h *testHub) ThrowException(msg string) error          { return invalidOp{msg} }
func (h *testHub) PlainError() error                        { return errors.New("plain failure") }
func (h *testHub) WrappedHubError() (int, error) {
	return 0, fmt.Errorf("ctx: %w", NewHubError("bad %d", 7))
}
func (h *testHub) Panic() string                           { panic("oops") }
func (h *testHub) ConnectionID(ctx *Context) string        { return ctx.ConnectionID() }
func (h *testHub) Header(ctx *Context, name string) string { return ctx.Request().Header.Get(name) }
func (h *testHub) Transport(ctx *Context) string           { return ctx.Transport().String() }
func (h *testHub) UserID(ctx *Context) string              { return ctx.UserIdentifier() }
func (h *testHub) Abort(ctx *Context)                      { ctx.Abort() }
func (h *testHub) Raw(v protocol.RawValue) string          { return fmt.Sprint(v) }

func (h *testHub) SetItem(ctx *Context, v string) { ctx.Items().Store("k", v) }
func (h *testHub) GetItem(ctx *Context) string {
	v, _ := ctx.Items().Load("k")
	s, _ := v.(string)
	return s
}

func (h *testHub) Block(ctx *Context, name string) string {
	select {
	case h.started <- name:
	case <-ctx.Done():
		return name
	}
	select {
	case <-h.release:
	case <-ctx.Done():
	}
	return name
}

func (h *testHub) Stream(ctx *Context, n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := range n {
			select {
			case ch <- i:
			case <-ctx.Done(): // cancelled or disconnected: stop producing
				return
			}
		}
	}()
	return ch
}

func (h *testHub) SeqStream(n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(strings.Repeat("x", i)) {
				return
			}
		}
	}
}

func (h *testHub) FailingStream() iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		if !yield(1, nil) {
			return
		}
		yield(0, invalidOp{"mid-stream"})
	}
}

func (h *testHub) NilStream() <-chan int { return nil }

func (h *testHub) StreamThrow() (<-chan int, error) { return nil, invalidOp{"An error occurred."} }

func (h *testHub) InfiniteStream(ctx *Context) iter.Seq[int] {
	return func(yield func(int) bool) {
		<-ctx.Done()
		select {
		case h.started <- "canceled":
		default: // nobody listening (fuzzing)
		}
	}
}

func (h *testHub) StreamingConcat(items <-chan string) string {
	var b strings.Builder
	for s := range items {
		b.WriteString(s)
	}
	return b.String()
}

func (h *testHub) Broadcast(ctx *Context, msg string) error {
	return ctx.Clients().All().Send(ctx, "Receive", msg)
}

func (h *testHub) AskClient(ctx *Context) (int, error) {
	return InvokeClient[int](ctx, ctx.Clients().Caller(), "Result")
}

func TestDescribeHubRejectsBadSignatures(t *testing.T) {
	tests := []struct {
		name string
		hub  any
		want string
	}{
		{"nil", nil, "hub is nil"},
		{"no methods", struct{}{}, "no exported methods"},
		{"three results", &badResults{}, "at most two results"},
		{"second not error", &badSecond{}, "second result must be error"},
		{"variadic", &badVariadic{}, "variadic"},
		{"context not first", &badCtx{}, "must be the first parameter"},
		{"hook signature", &badHook{}, "OnConnected must be"},
		{"send-only channel", &badChan{}, "upload stream parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewConnectionHandler(tt.hub, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

type badResults struct{}

func (badResults) M() (int, int, error) { return 0, 0, nil }

type badSecond struct{}

func (badSecond) M() (int, int) { return 0, 0 }

type badVariadic struct{}

func (badVariadic) M(...int) {}

type badCtx struct{}

func (badCtx) M(int, *Context) {}

type badHook struct{}

func (badHook) OnConnected() {}
func (badHook) M()           {}

type badChan struct{}

func (badChan) M(chan<- int) {}

func TestHubNameDefaultsToTypeName(t *testing.T) {
	h := newHandler(t, newTestHub(), Options{})
	if h.HubName() != "testHub" {
		t.Fatalf("HubName = %q", h.HubName())
	}
	h = newHandler(t, newTestHub(), Options{HubName: "chat"})
	if h.HubName() != "chat" {
		t.Fatalf("HubName = %q", h.HubName())
	}
}

// Upper is a server stream fed by an upload stream.
func (h *testHub) Upper(ctx *Context, in <-chan string) <-chan string {
	out := make(chan string)
	go func() {
		defer close(out)
		for s := range in {
			select {
			case out <- strings.ToUpper(s):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
