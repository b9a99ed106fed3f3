package interop

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/gosignalr/gosignalr/signalr"
)

// testHub is the hub the scenario scripts call. Its methods exercise every
// hub-method shape (results, void, errors, context) and every Clients
// selection; each client method the scripts record carries its payload last.
type testHub struct{}

func (testHub) Echo(s string) string { return s }
func (testHub) Add(a, b int) int     { return a + b }
func (testHub) Nothing()             {}

type item struct {
	Name  string   `json:"name" msgpack:"name"`
	Tags  []string `json:"tags" msgpack:"tags"`
	Count int      `json:"count" msgpack:"count"`
}

type description struct {
	Name    string   `json:"name" msgpack:"name"`
	Tags    []string `json:"tags" msgpack:"tags"`
	Count   int      `json:"count" msgpack:"count"`
	Summary string   `json:"summary" msgpack:"summary"`
}

// Describe takes and returns an object, to check struct payloads both ways.
func (testHub) Describe(it item) description {
	return description{Name: it.Name, Tags: it.Tags, Count: it.Count,
		Summary: fmt.Sprintf("%s:%d:%s", it.Name, it.Count, strings.Join(it.Tags, ","))}
}

func (testHub) GetConnectionID(ctx *signalr.Context) string   { return ctx.ConnectionID() }
func (testHub) GetTransport(ctx *signalr.Context) string      { return ctx.Transport().String() }
func (testHub) GetUserIdentifier(ctx *signalr.Context) string { return ctx.UserIdentifier() }

// GetUserName is the authenticated user's display name, "" when anonymous.
func (testHub) GetUserName(ctx *signalr.Context) string {
	if p := ctx.User(); p != nil {
		return p.Name
	}
	return ""
}

func (testHub) EchoToCaller(ctx *signalr.Context, s string) error {
	return ctx.Clients().Caller().Send(ctx, "Echoed", s)
}

// SendMany calls the client with arguments of every JSON kind, then with none.
func (testHub) SendMany(ctx *signalr.Context) error {
	if err := ctx.Clients().Caller().Send(ctx, "Many", "text", 42, 3.5, true, nil, []int{1, 2, 3},
		map[string]any{"name": "x", "n": 1}); err != nil {
		return err
	}
	return ctx.Clients().Caller().Send(ctx, "ManyUpper")
}

// invalidOperation stands in for .NET's InvalidOperationException.
type invalidOperation struct{ msg string }

func (e invalidOperation) Error() string    { return e.msg }
func (e invalidOperation) TypeName() string { return "InvalidOperationException" }

func (testHub) ThrowHubError(msg string) error   { return signalr.NewHubError("%s", msg) }
func (testHub) ThrowTypedError(msg string) error { return invalidOperation{msg} }
func (testHub) ThrowError(msg string) error      { return errors.New(msg) }

func (testHub) Broadcast(ctx *signalr.Context, sender string, seq int) error {
	return ctx.Clients().All().Send(ctx, "Broadcast", sender, seq)
}

func (testHub) ToAll(ctx *signalr.Context, method, payload string) error {
	return ctx.Clients().All().Send(ctx, method, payload)
}

func (testHub) JoinGroup(ctx *signalr.Context, group string) error {
	return ctx.Groups().AddToGroup(ctx, ctx.ConnectionID(), group)
}

func (testHub) LeaveGroup(ctx *signalr.Context, group string) error {
	return ctx.Groups().RemoveFromGroup(ctx, ctx.ConnectionID(), group)
}

func (testHub) ToGroup(ctx *signalr.Context, group, msg string) error {
	return ctx.Clients().Group(group).Send(ctx, "Group", group, msg)
}

func (testHub) ToGroups(ctx *signalr.Context, groups []string, msg string) error {
	return ctx.Clients().Groups(groups...).Send(ctx, "Group", strings.Join(groups, ","), msg)
}

func (testHub) ToGroupExcept(ctx *signalr.Context, group string, except []string, msg string) error {
	return ctx.Clients().GroupExcept(group, except...).Send(ctx, "Group", group, msg)
}

func (testHub) ToOthersInGroup(ctx *signalr.Context, group, msg string) error {
	return ctx.Clients().OthersInGroup(group).Send(ctx, "Group", group, msg)
}

func (testHub) ToOthers(ctx *signalr.Context, msg string) error {
	return ctx.Clients().Others().Send(ctx, "Others", msg)
}

func (testHub) ToCaller(ctx *signalr.Context, msg string) error {
	return ctx.Clients().Caller().Send(ctx, "Caller", msg)
}

func (testHub) ToAllExcept(ctx *signalr.Context, except []string, msg string) error {
	return ctx.Clients().AllExcept(except...).Send(ctx, "AllExcept", msg)
}

func (testHub) ToClient(ctx *signalr.Context, id, msg string) error {
	return ctx.Clients().Client(id).Send(ctx, "Client", msg)
}

func (testHub) ToClients(ctx *signalr.Context, ids []string, msg string) error {
	return ctx.Clients().Clients(ids...).Send(ctx, "Clients", msg)
}

func (testHub) ToUser(ctx *signalr.Context, user, msg string) error {
	return ctx.Clients().User(user).Send(ctx, "User", msg)
}

func (testHub) ToUsers(ctx *signalr.Context, users []string, msg string) error {
	return ctx.Clients().Users(users...).Send(ctx, "User", msg)
}

// Abort ends the caller's connection from the hub: Close without allowReconnect.
func (testHub) Abort(ctx *signalr.Context) { ctx.Abort() }

// OnDisconnected tells the remaining clients who left and why ("" = clean).
func (testHub) OnDisconnected(ctx *signalr.Context, err error) error {
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	return ctx.Clients().Others().Send(context.WithoutCancel(ctx), "Left", ctx.ConnectionID(), reason)
}

// Counter streams 0..n-1 through a channel. Its goroutine ends when the
// stream does or the stream's context is cancelled.
func (testHub) Counter(ctx *signalr.Context, n int) <-chan int {
	ch := make(chan int)
	go func() {
		defer close(ch)
		for i := 0; i < n; i++ {
			select {
			case ch <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// Letters streams through an iterator.
func (testHub) Letters() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, s := range []string{"a", "b", "c"} {
			if !yield(s) {
				return
			}
		}
	}
}

// Infinite streams until cancelled, then tells the caller (like the .NET
// functional tests' TestHub.InfiniteStream).
func (testHub) Infinite(ctx *signalr.Context) iter.Seq[int] {
	return func(yield func(int) bool) {
		defer ctx.Clients().Caller().Send(context.WithoutCancel(ctx), "StreamCanceled")
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}

// Concat joins an upload stream.
func (testHub) Concat(parts <-chan string) string {
	var b strings.Builder
	for p := range parts {
		b.WriteString(p)
	}
	return b.String()
}

// StreamThrow fails before the stream starts.
func (testHub) StreamThrow(msg string) (iter.Seq[int], error) {
	return nil, invalidOperation{msg}
}

// FailAfter streams n items, then fails.
func (testHub) FailAfter(n int) iter.Seq2[int, error] {
	return func(yield func(int, error) bool) {
		for i := 0; i < n; i++ {
			if !yield(i, nil) {
				return
			}
		}
		yield(0, invalidOperation{fmt.Sprintf("broken after %d", n)})
	}
}

// NilStream is a streaming method that returns no stream.
func (testHub) NilStream() <-chan int { return nil }
