package main

import (
	"context"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/gosignalr/gosignalr/signalr"
	"github.com/gosignalr/gosignalr/signalr/auth"
)

// dotnetError is an error shown to clients with a .NET exception type name
// (detailed errors are on): "<Type>: <message>".
type dotnetError struct {
	typ, msg string
}

func (e *dotnetError) Error() string    { return e.msg }
func (e *dotnetError) TypeName() string { return e.typ }

func invalidOperation(msg string) error { return &dotnetError{"InvalidOperationException", msg} }

// CustomObject is the test suite's {Name, Value} payload. No JSON tags: the
// test app's JSON naming policy is null, so names stay PascalCase.
type CustomObject struct {
	Name  string
	Value int
}

// ComplexObject carries the types whose wire forms differ between JSON
// and MessagePack: byte[] (base64 string / bin), DateTime (ISO string /
// timestamp extension), Guid (string in both).
type ComplexObject struct {
	String    string
	IntArray  []int
	ByteArray []byte
	Guid      string
	DateTime  time.Time
}

// TestHub is the functional tests' TestHub, method for method.
type TestHub struct{}

func (TestHub) Echo(message string) string { return message }

func (TestHub) GetCallerConnectionId(ctx *signalr.Context) string { return ctx.ConnectionID() }

// GetNumRedirects parses numRedirects of the connection's URL (int.Parse).
func (TestHub) GetNumRedirects(ctx *signalr.Context) (int, error) {
	q := ctx.Request().URL.Query()
	if !q.Has("numRedirects") {
		return 0, &dotnetError{"ArgumentNullException", "Value cannot be null. (Parameter 's')"}
	}
	s := q.Get("numRedirects")
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, &dotnetError{"FormatException", "The input string '" + s + "' was not in a correct format."}
	}
	return n, nil
}

func (TestHub) ThrowException(message string) error { return invalidOperation(message) }

func (TestHub) InvokeWithString(ctx *signalr.Context, message string) error {
	return ctx.Clients().Client(ctx.ConnectionID()).Send(ctx, "Message", message)
}

func (TestHub) SendCustomObject(ctx *signalr.Context, o CustomObject) error {
	return ctx.Clients().Client(ctx.ConnectionID()).Send(ctx, "CustomObject", o)
}

func (TestHub) Stream() <-chan string {
	ch := make(chan string, 3)
	ch <- "a"
	ch <- "b"
	ch <- "c"
	close(ch)
	return ch
}

// InfiniteStream yields nothing until the stream is cancelled (by the
// client, or by the connection ending), then tells the caller
// StreamCanceled, as the .NET hub's token registration does.
func (TestHub) InfiniteStream(ctx *signalr.Context) iter.Seq[string] {
	return func(yield func(string) bool) {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = ctx.Clients().Client(ctx.ConnectionID()).Send(sctx, "StreamCanceled")
	}
}

func (TestHub) StreamingConcat(stream <-chan string) string {
	var sb strings.Builder
	for s := range stream {
		sb.WriteString(s)
	}
	return sb.String()
}

func (TestHub) EmptyStream() <-chan int {
	ch := make(chan int)
	close(ch)
	return ch
}

func (TestHub) StreamThrowException(message string) (<-chan string, error) {
	return nil, invalidOperation(message)
}

func (TestHub) GetActiveTransportName(ctx *signalr.Context) string { return ctx.Transport().String() }

func (TestHub) EchoComplexObject(o ComplexObject) ComplexObject { return o }

func (TestHub) SendComplexObject() ComplexObject {
	return ComplexObject{
		ByteArray: []byte{1, 2, 3},
		DateTime:  time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		Guid:      "00010203-0405-0607-0706-050403020100",
		IntArray:  []int{1, 2, 3},
		String:    "hello world",
	}
}

// header mirrors .NET's Request.Headers[name] converted to string: null
// when absent, values joined with commas.
func header(ctx *signalr.Context, name string) *string {
	v := ctx.Request().Header.Values(name)
	if len(v) == 0 {
		return nil
	}
	s := strings.Join(v, ",")
	return &s
}

func (TestHub) GetContentTypeHeader(ctx *signalr.Context) *string {
	return header(ctx, "Content-Type")
}

func (TestHub) GetHeader(ctx *signalr.Context, name string) *string { return header(ctx, name) }

func (TestHub) GetCookie(ctx *signalr.Context, name string) *string {
	c, err := ctx.Request().Cookie(name)
	if err != nil {
		return nil
	}
	return &c.Value
}

// UncreatableHub stands for the .NET hub whose constructor cannot be
// satisfied: every connection fails in OnConnected with the exception .NET
// throws while activating it.
type UncreatableHub struct{}

func (UncreatableHub) OnConnected(*signalr.Context) error {
	return invalidOperation("Unable to resolve service for type 'System.Object' while attempting to activate 'FunctionalTests.UncreatableHub'.")
}

// Unreachable exists because a Go hub needs at least one method; no
// connection gets past OnConnected to call it.
func (UncreatableHub) Unreachable() {}

// AuthorizedHub is HubWithAuthorization, served behind the JWT middleware.
type AuthorizedHub struct{}

func (AuthorizedHub) Echo(message string) string { return message }

func (AuthorizedHub) GetUserNameIdentifier(ctx *signalr.Context) string {
	if u := ctx.User(); u != nil {
		return u.ID
	}
	return ""
}

// claimAliases are the JWT claim names .NET's token handler maps to its
// ClaimTypes URIs, so GetUserClaim finds them under either name.
var claimAliases = map[string][]string{
	auth.ClaimTypeNameIdentifier: {"sub", "nameid"},
	auth.ClaimTypeName:           {"unique_name", "name"},
}

func (AuthorizedHub) GetUserClaim(ctx *signalr.Context, claimType string) string {
	u := ctx.User()
	if v, ok := u.FindClaim(claimType); ok {
		return v
	}
	for _, alt := range claimAliases[claimType] {
		if v, ok := u.FindClaim(alt); ok {
			return v
		}
	}
	return ""
}
