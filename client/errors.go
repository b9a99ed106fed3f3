package client

import (
	"errors"
	"fmt"
)

// Error texts shared with the official clients; tests and users compare them.
const (
	textServerTimeout      = "Server timeout elapsed without receiving a message from the server."
	textInvocationCanceled = "Invocation canceled due to the underlying connection being closed."
	textSequenceTooLarge   = "Sequence ID greater than amount of messages we've received."
	textNoResult           = "Client didn't provide a result."
	textMultipleResults    = "Client provided multiple results."
)

var (
	// ErrServerTimeout ends a connection on which nothing arrived for ServerTimeout.
	ErrServerTimeout = errors.New(textServerTimeout)
	// ErrConnectionClosed fails invocations and streams pending when the
	// connection ends (errors.Is matches it also when the error carries the
	// connection's own reason, such as ErrServerTimeout).
	ErrConnectionClosed = errors.New(textInvocationCanceled)
	// ErrNotConnected is returned by calls made while the connection is not Connected.
	ErrNotConnected = errors.New("Cannot send data if the connection is not in the 'Connected' State.")
	// ErrSequenceTooLarge ends a stateful connection whose server resumes past what was received.
	ErrSequenceTooLarge = errors.New(textSequenceTooLarge)
	// ErrNegotiateRedirects is returned after 100 negotiate redirects.
	ErrNegotiateRedirects = errors.New("Negotiate redirection limit exceeded.")
)

// closedError is what pending invocations and streams fail with when the
// connection ends: like JS, the connection's error when there is one (e.g.
// the server timeout), else the "Invocation canceled ..." text. Either way
// errors.Is(err, ErrConnectionClosed) holds.
func closedError(cause error) error {
	if cause == nil {
		return ErrConnectionClosed
	}
	return &connectionClosedError{cause: cause}
}

type connectionClosedError struct{ cause error }

func (e *connectionClosedError) Error() string        { return e.cause.Error() }
func (e *connectionClosedError) Unwrap() error        { return e.cause }
func (e *connectionClosedError) Is(target error) bool { return target == ErrConnectionClosed }

// HubError is an error reported by the server for an invocation or a stream
// (the Completion's error). Message is the exact server text, for example
// "An unexpected error occurred invoking 'X' on the server.".
type HubError struct {
	Message string
}

func (e *HubError) Error() string { return e.Message }

// CloseError is the reason of a connection the server ended with a Close
// message that carried an error.
type CloseError struct {
	// Message is the server's error text.
	Message string
	// AllowReconnect reports whether the server allowed automatic reconnect.
	AllowReconnect bool
}

func (e *CloseError) Error() string { return "Server returned an error on close: " + e.Message }

// HandshakeError is a handshake the server refused; Message is its text.
type HandshakeError struct {
	Message string
}

func (e *HandshakeError) Error() string { return "Server returned handshake error: " + e.Message }

// HTTPError is an HTTP request that failed with a non-2xx status. Message is
// the response body text, or the status text when the body is empty.
type HTTPError struct {
	StatusCode int
	Message    string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s: Status code '%d'", e.Message, e.StatusCode)
}

// NegotiateError is an error the server sent in a negotiate response
// ({"error":"..."}); Message is that text exactly.
type NegotiateError struct {
	Message string
}

func (e *NegotiateError) Error() string { return e.Message }
