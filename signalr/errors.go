package signalr

import (
	"errors"
	"fmt"
)

// HubError is an error whose message always reaches the client, like .NET's
// HubException: "An unexpected error occurred invoking 'X' on the server.
// HubException: <Message>", with or without EnableDetailedErrors.
type HubError struct {
	Message string
}

// NewHubError returns a *HubError with a formatted message.
func NewHubError(format string, args ...any) *HubError {
	if len(args) == 0 {
		return &HubError{Message: format}
	}
	return &HubError{Message: fmt.Sprintf(format, args...)}
}

func (e *HubError) Error() string { return e.Message }

// TypeName is the .NET exception type name shown to clients.
func (e *HubError) TypeName() string { return "HubException" }

// typeNamer is implemented by errors that name the .NET exception type shown
// in detailed errors (e.g. "InvalidOperationException").
type typeNamer interface{ TypeName() string }

// exception is an error with an explicit .NET type name; the runtime uses it
// for its own failures (InvalidDataException, OperationCanceledException...).
type exception struct {
	typ string
	msg string
	err error
}

func (e *exception) Error() string    { return e.msg }
func (e *exception) TypeName() string { return e.typ }
func (e *exception) Unwrap() error    { return e.err }

func newException(typ, msg string) error { return &exception{typ: typ, msg: msg} }

// errorTypeName returns the .NET-style type name of err: the outermost error
// in its chain that names one, else "Exception".
func errorTypeName(err error) string {
	var tn typeNamer
	if errors.As(err, &tn) {
		return tn.TypeName()
	}
	return "Exception"
}

// buildErrorMessage mirrors .NET's ErrorMessageHelper: the exception's type
// and message are appended when detailed errors are on or the error is a
// HubError (whose text is meant for clients).
func buildErrorMessage(base string, err error, detailed bool) string {
	if err == nil {
		return base
	}
	var he *HubError
	if errors.As(err, &he) {
		return base + " HubException: " + he.Message
	}
	if detailed {
		return base + " " + errorTypeName(err) + ": " + err.Error()
	}
	return base
}

// panicError wraps a value recovered from a panicking hub method.
type panicError struct{ v any }

func (e *panicError) Error() string { return fmt.Sprint(e.v) }
