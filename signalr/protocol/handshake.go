package protocol

import (
	"bytes"
	"strconv"
	"strings"
)

// Handshake error texts sent in {"error":"..."} responses, exactly as the
// .NET server words them.
const (
	// HandshakeCanceledText answers a handshake that timed out or exceeded the
	// maximum message size.
	HandshakeCanceledText = "Handshake was canceled."
	// HandshakeUnexpectedErrorText answers a malformed handshake request. With
	// detailed errors the server appends " <ExceptionType>: <message>" (see
	// UnexpectedHandshakeErrorText).
	HandshakeUnexpectedErrorText = "An unexpected error occurred during connection handshake."
	// HandshakeResponseExpectedText is the client's error for a handshake
	// response that is a hub message (it has a "type").
	HandshakeResponseExpectedText = "Expected a handshake response from the server."
)

// ProtocolNotSupportedText is the handshake error for an unknown protocol name.
func ProtocolNotSupportedText(protocol string) string {
	return "The protocol '" + protocol + "' is not supported."
}

// VersionNotSupportedText is the handshake error for an unsupported version.
func VersionNotSupportedText(protocol string, version int) string {
	return "The server does not support version " + strconv.Itoa(version) + " of the '" + protocol + "' protocol."
}

// TransferFormatNotSupportedText is the handshake error for a protocol whose
// frames the transport cannot carry (MessagePack over Server-Sent Events).
func TransferFormatNotSupportedText(protocol string, f TransferFormat) string {
	return "Cannot use the '" + protocol + "' protocol on the current transport. The transport does not support '" +
		f.String() + "' transfer format."
}

// UnexpectedHandshakeErrorText is the handshake error for a request that
// ParseHandshakeRequest rejected with err. With detailed errors, an
// InvalidDataError adds " InvalidDataException: <message>" as .NET does.
func UnexpectedHandshakeErrorText(err error, detailed bool) string {
	if !detailed || err == nil {
		return HandshakeUnexpectedErrorText
	}
	return HandshakeUnexpectedErrorText + " InvalidDataException: " + err.Error()
}

// SelectHubProtocol applies the server's handshake checks in .NET's order:
// the protocol name (matched case-insensitively), the version (any version up
// to the protocol's Version), then the transfer format, where
// transportFormats is the set of formats the transport carries. It returns the
// protocol, or nil and the error text for the handshake response.
func SelectHubProtocol(protocols []HubProtocol, name string, version int, transportFormats TransferFormat) (HubProtocol, string) {
	var p HubProtocol
	for _, c := range protocols {
		if strings.EqualFold(c.Name(), name) {
			p = c
			break
		}
	}
	switch {
	case p == nil:
		return nil, ProtocolNotSupportedText(name)
	case version > p.Version():
		return nil, VersionNotSupportedText(name, version)
	case transportFormats&p.TransferFormat() == 0:
		return nil, TransferFormatNotSupportedText(p.Name(), p.TransferFormat())
	}
	return p, ""
}

// ParseHandshakeRequest parses the client's handshake request
// ({"protocol":"json","version":1} + 0x1E) at the start of buf. n == 0 with a
// nil error means the request is not complete yet; bytes after the first
// separator belong to the hub protocol. Unknown properties are ignored.
// Malformed requests give an *InvalidDataError with .NET's text.
func ParseHandshakeRequest(buf []byte) (protocol string, version int, n int, err error) {
	end := bytes.IndexByte(buf, RecordSeparator)
	if end < 0 {
		return "", 0, 0, nil
	}
	n = end + 1
	payload := buf[:end]
	content := func() string { return " Message content: " + strings.ToValidUTF8(string(payload), "\uFFFD") }

	s := jsonScanner{b: payload}
	if err := handshakeObjectStart(&s); err != nil {
		return "", 0, n, err
	}
	hasProtocol, hasVersion := false, false
	err = objectMembers(&s, func(name []byte, esc bool) error {
		switch {
		case propertyIs(name, esc, "protocol"):
			if s.peek() != '"' {
				return wrongTypeOf(&s, "Expected 'protocol' to be of type String.")
			}
			raw, resc, err := s.scanString()
			if err != nil {
				return errReadingJSON(err)
			}
			protocol, hasProtocol = jsonUnquote(raw, resc), true
		case propertyIs(name, esc, "version"):
			switch c := s.peek(); {
			case c == 'n':
				if err := s.scanLiteral("null"); err != nil {
					return errReadingJSON(err)
				}
				hasVersion = false
			case c == '-' || (c >= '0' && c <= '9'):
				num, err := s.scanNumber()
				if err != nil {
					return errReadingJSON(err)
				}
				v, ok := parseJSONInt(num, 32)
				if !ok {
					return errReadingJSON(errJSONSyntax)
				}
				version, hasVersion = int(v), true
			default:
				return wrongTypeOf(&s, "Expected 'version' to be of type Number.")
			}
		default:
			if _, _, err := s.skipValue(1); err != nil {
				return errReadingJSON(err)
			}
		}
		return nil
	})
	if err != nil {
		return "", 0, n, err
	}
	if !hasProtocol {
		return "", 0, n, invalidData("Missing required property 'protocol'." + content())
	}
	if !hasVersion {
		return "", 0, n, invalidData("Missing required property 'version'." + content())
	}
	return protocol, version, n, nil
}

// ParseHandshakeResponse parses the server's handshake response at the start
// of buf (client side). errText is the server's error ("" on success). n == 0
// with a nil error means the response is not complete yet; bytes after the
// separator are hub messages. A response that is a hub message fails with
// HandshakeResponseExpectedText.
func ParseHandshakeResponse(buf []byte) (errText string, n int, err error) {
	end := bytes.IndexByte(buf, RecordSeparator)
	if end < 0 {
		return "", 0, nil
	}
	n = end + 1
	s := jsonScanner{b: buf[:end]}
	if err := handshakeObjectStart(&s); err != nil {
		return "", n, err
	}
	err = objectMembers(&s, func(name []byte, esc bool) error {
		switch {
		case propertyIs(name, esc, "type"):
			return invalidData(HandshakeResponseExpectedText)
		case propertyIs(name, esc, "error"):
			if s.peek() != '"' {
				return wrongTypeOf(&s, "Expected 'error' to be of type String.")
			}
			raw, resc, err := s.scanString()
			if err != nil {
				return errReadingJSON(err)
			}
			errText = jsonUnquote(raw, resc)
		default:
			if _, _, err := s.skipValue(1); err != nil {
				return errReadingJSON(err)
			}
		}
		return nil
	})
	if err != nil {
		return "", n, err
	}
	return errText, n, nil
}

func handshakeObjectStart(s *jsonScanner) error {
	switch c := s.peek(); {
	case c == '{':
		s.i++
		return nil
	case jsonTokenKind(c) != "":
		if _, _, err := s.skipValue(0); err != nil {
			return errReadingJSON(err)
		}
		return invalidData("Unexpected JSON Token Type '" + jsonTokenKind(c) + "'. Expected a JSON Object.")
	}
	return errReadingJSON(errJSONSyntax)
}

// objectMembers walks the members of an object whose '{' was read,
// calling prop with the scanner positioned at each value (handshakes and
// the headers of hub messages).
func objectMembers(s *jsonScanner, prop func(name []byte, esc bool) error) error {
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		name, esc, err := s.scanString()
		if err != nil {
			return errReadingJSON(err)
		}
		if err := s.expect(':'); err != nil {
			return errReadingJSON(err)
		}
		if err := prop(name, esc); err != nil {
			return err
		}
		c := s.peek()
		s.i++
		if c == '}' {
			return nil
		}
		if c != ',' {
			return errReadingJSON(errJSONSyntax)
		}
	}
}

func wrongTypeOf(s *jsonScanner, text string) error {
	if _, _, err := s.skipValue(1); err != nil {
		return errReadingJSON(err)
	}
	return invalidData(text)
}

// AppendHandshakeRequest appends a client handshake request:
// {"protocol":"<protocol>","version":<version>} + 0x1E.
func AppendHandshakeRequest(dst []byte, protocol string, version int) []byte {
	dst = append(dst, `{"protocol":`...)
	dst = appendJSONString(dst, protocol)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(version), 10)
	return append(dst, '}', RecordSeparator)
}

// WriteHandshakeRequest returns a client handshake request.
func WriteHandshakeRequest(protocol string, version int) []byte {
	return AppendHandshakeRequest(nil, protocol, version)
}

// AppendHandshakeResponse appends a server handshake response: exactly
// {} + 0x1E on success (errText == ""), else {"error":"<errText>"} + 0x1E.
func AppendHandshakeResponse(dst []byte, errText string) []byte {
	if errText == "" {
		return append(dst, '{', '}', RecordSeparator)
	}
	dst = append(dst, `{"error":`...)
	dst = appendJSONString(dst, errText)
	return append(dst, '}', RecordSeparator)
}

// WriteHandshakeResponse returns a server handshake response.
func WriteHandshakeResponse(errText string) []byte {
	return AppendHandshakeResponse(nil, errText)
}
