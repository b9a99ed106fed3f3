package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

const recordSeparator = 0x1E

// appendHandshakeRequest appends {"protocol":"<name>","version":<v>} and the separator.
func appendHandshakeRequest(dst []byte, name string, version int) []byte {
	dst = append(dst, `{"protocol":`...)
	dst = strconv.AppendQuote(dst, name)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(version), 10)
	return append(dst, '}', recordSeparator)
}

var errNotHandshakeResponse = errors.New("Expected a handshake response from the server.")

// parseHandshakeResponse parses the response at the start of buf. n == 0 with
// a nil error means the response is not complete yet.
func parseHandshakeResponse(buf []byte) (n int, err error) {
	i := bytes.IndexByte(buf, recordSeparator)
	if i < 0 {
		return 0, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(buf[:i], &fields); err != nil {
		return i + 1, fmt.Errorf("invalid handshake response: %w", err)
	}
	if _, ok := fields["type"]; ok {
		return i + 1, errNotHandshakeResponse
	}
	if raw, ok := fields["error"]; ok {
		var msg string
		if err := json.Unmarshal(raw, &msg); err != nil {
			return i + 1, fmt.Errorf("invalid handshake response: %w", err)
		}
		return i + 1, &HandshakeError{Message: msg}
	}
	return i + 1, nil
}
