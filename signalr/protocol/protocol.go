package protocol

import "errors"

// TransferFormat is the kind of frames a hub protocol needs from a transport.
type TransferFormat int

// Transfer formats. The values match .NET's TransferFormat flags.
const (
	TransferFormatBinary TransferFormat = 1
	TransferFormatText   TransferFormat = 2
)

func (f TransferFormat) String() string {
	switch f {
	case TransferFormatBinary:
		return "Binary"
	case TransferFormatText:
		return "Text"
	}
	return "Unknown"
}

// HubProtocol encodes and decodes hub messages. Implementations are safe for
// concurrent use.
type HubProtocol interface {
	// Name is the protocol name of the handshake: "json" or "messagepack".
	Name() string
	// Version is the highest protocol version this implementation speaks.
	Version() int
	// TransferFormat is the frame kind the protocol needs.
	TransferFormat() TransferFormat
	// ParseMessage parses the first complete message in buf. It returns the
	// message and the number of bytes consumed. n == 0 with a nil error means buf
	// holds no complete message yet. A record of an unknown type is consumed
	// and returned as a nil message with n > 0. A record longer than maxSize
	// (when maxSize > 0), complete or not, gives ErrMessageTooLarge.
	ParseMessage(buf []byte, maxSize int) (msg HubMessage, n int, err error)
	// AppendMessage appends the framed encoding of msg to dst.
	AppendMessage(dst []byte, msg HubMessage) ([]byte, error)
}

// ErrMessageTooLarge is returned by ParseMessage when a record exceeds the size limit.
var ErrMessageTooLarge = errors.New("protocol: message exceeds the maximum message size")

// InvalidDataError is a protocol parse error. Its Message is the .NET
// InvalidDataException text (e.g. "Missing required property 'target'."),
// which reaches clients in detailed Close errors.
type InvalidDataError struct {
	Message string
	Err     error
}

func (e *InvalidDataError) Error() string { return e.Message }
func (e *InvalidDataError) Unwrap() error { return e.Err }
