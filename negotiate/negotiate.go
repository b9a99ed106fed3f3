// Package negotiate implements the SignalR negotiate protocol: the JSON
// document POST /{hub}/negotiate returns, byte-for-byte as ASP.NET Core
// writes it, the parsing a client does on it, the server's version selection
// from the query string, and connection id/token generation.
//
// It does no I/O; the transports package serves the endpoint and the client
// package calls it.
package negotiate

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxVersion is the highest negotiate version this package speaks. Clients
// asking for more are clamped to it.
const MaxVersion = 1

// Transport names and transfer formats as they appear on the wire.
const (
	TransportWebSockets       = "WebSockets"
	TransportServerSentEvents = "ServerSentEvents"
	TransportLongPolling      = "LongPolling"
	FormatText                = "Text"
	FormatBinary              = "Binary"
)

// AvailableTransport is one entry of availableTransports.
type AvailableTransport struct {
	Transport       string   // "WebSockets", "ServerSentEvents", "LongPolling"
	TransferFormats []string // "Text", "Binary"
}

// Response is a negotiate response. Exactly one of three forms is meant:
// an error (Error set), a redirect (URL set, optional AccessToken), or a
// connection (ConnectionID and AvailableTransports set).
type Response struct {
	// UseStatefulReconnect is written only when true: the server allows it
	// and the client asked for it.
	UseStatefulReconnect bool
	// NegotiateVersion is the selected version (0 or 1).
	NegotiateVersion int
	// URL and AccessToken form a redirect to another endpoint.
	URL         string
	AccessToken string
	// ConnectionID is the public id hub code sees.
	ConnectionID string
	// ConnectionToken addresses the connection on the transport endpoint;
	// written only when NegotiateVersion > 0. A v0 client uses ConnectionID.
	ConnectionToken     string
	AvailableTransports []AvailableTransport
	// Error alone makes the whole response: {"error":"..."}.
	Error string
}

// Standard transport entries in server order, as ASP.NET Core lists them.
var (
	WebSocketsTransport       = AvailableTransport{TransportWebSockets, []string{FormatText, FormatBinary}}
	ServerSentEventsTransport = AvailableTransport{TransportServerSentEvents, []string{FormatText}}
	LongPollingTransport      = AvailableTransport{TransportLongPolling, []string{FormatText, FormatBinary}}
)

// AppendJSON appends the response to dst in the exact property order and
// escaping of ASP.NET Core's NegotiateProtocol.WriteResponse: an error
// response is {"error":..} alone; otherwise useStatefulReconnect (only when
// true), negotiateVersion, url, accessToken, connectionId (each only when
// non-empty), connectionToken (only for version > 0), availableTransports.
func (r *Response) AppendJSON(dst []byte) []byte {
	if r.Error != "" {
		dst = append(dst, `{"error":`...)
		dst = appendString(dst, r.Error)
		return append(dst, '}')
	}
	dst = append(dst, '{')
	if r.UseStatefulReconnect {
		dst = append(dst, `"useStatefulReconnect":true,`...)
	}
	dst = append(dst, `"negotiateVersion":`...)
	dst = strconv.AppendInt(dst, int64(r.NegotiateVersion), 10)
	if r.URL != "" {
		dst = append(dst, `,"url":`...)
		dst = appendString(dst, r.URL)
	}
	if r.AccessToken != "" {
		dst = append(dst, `,"accessToken":`...)
		dst = appendString(dst, r.AccessToken)
	}
	if r.ConnectionID != "" {
		dst = append(dst, `,"connectionId":`...)
		dst = appendString(dst, r.ConnectionID)
	}
	if r.NegotiateVersion > 0 && r.ConnectionToken != "" {
		dst = append(dst, `,"connectionToken":`...)
		dst = appendString(dst, r.ConnectionToken)
	}
	dst = append(dst, `,"availableTransports":[`...)
	for i, t := range r.AvailableTransports {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"transport":`...)
		dst = appendString(dst, t.Transport)
		dst = append(dst, `,"transferFormats":[`...)
		for j, f := range t.TransferFormats {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, f)
		}
		dst = append(dst, "]}"...)
	}
	return append(dst, "]}"...)
}

// MarshalJSON implements json.Marshaler with AppendJSON's exact bytes.
func (r *Response) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// AppendRedirect appends the redirect form {"url":..,"accessToken":..}
// (accessToken omitted when empty). Servers that redirect clients to another
// endpoint (as Azure SignalR does) write this; the client negotiates again at url.
func AppendRedirect(dst []byte, redirectURL, accessToken string) []byte {
	dst = append(dst, `{"url":`...)
	dst = appendString(dst, redirectURL)
	if accessToken != "" {
		dst = append(dst, `,"accessToken":`...)
		dst = appendString(dst, accessToken)
	}
	return append(dst, '}')
}

// appendString writes s as a JSON string the way System.Text.Json does with
// JavaScriptEncoder.UnsafeRelaxedJsonEscaping (what SignalR uses): only '"',
// '\\', control characters, U+2028/U+2029 and invalid UTF-8 are escaped;
// short escapes where JSON has them, \uXXXX upper-case otherwise.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				dst = append(dst, '\\', '"')
			case c == '\\':
				dst = append(dst, '\\', '\\')
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c == '\b':
				dst = append(dst, '\\', 'b')
			case c == '\f':
				dst = append(dst, '\\', 'f')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\uFFFD`...)
		case r >= 0x80 && r <= 0x9f, r == 0x2028, r == 0x2029:
			dst = append(dst, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// ErrClassicServer is returned by ParseResponse for a response of classic
// ASP.NET SignalR (it carries ProtocolVersion); the text is the one .NET and
// JS clients use.
var ErrClassicServer = errors.New("Detected a connection attempt to an ASP.NET SignalR Server. This client only supports connecting to an ASP.NET Core SignalR Server. See https://aka.ms/signalr-core-differences for details.")

// ResponseError is a malformed negotiate response. Its text starts like the
// .NET client's "Invalid negotiation response received.".
type ResponseError struct {
	Reason string // e.g. "Missing required property 'connectionId'."
	Err    error
}

func (e *ResponseError) Error() string {
	if e.Reason == "" {
		return "Invalid negotiation response received."
	}
	return "Invalid negotiation response received. " + e.Reason
}

func (e *ResponseError) Unwrap() error { return e.Err }

// ParseResponse parses a negotiate response body as the .NET client does:
// property names are case-sensitive, unknown properties are ignored, and
// unless url or error is present connectionId, availableTransports and (for
// negotiateVersion > 0) connectionToken are required. A response with
// ProtocolVersion gives ErrClassicServer. For version 0 responses the
// connectionId is copied into ConnectionToken, as clients do.
func ParseResponse(body []byte) (*Response, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, &ResponseError{Err: err}
	}
	if fields == nil {
		return nil, &ResponseError{Reason: "Expected a JSON object."}
	}
	if _, ok := fields["ProtocolVersion"]; ok {
		return nil, ErrClassicServer
	}
	r := &Response{}
	var hasURL, hasError, hasID, hasToken, hasTransports bool
	str := func(name string, dst *string, seen *bool) error {
		raw, ok := fields[name]
		if !ok {
			return nil
		}
		if string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return &ResponseError{Reason: fmt.Sprintf("Expected '%s' to be of type String.", name), Err: err}
		}
		if seen != nil {
			*seen = true
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
		seen *bool
	}{
		{"url", &r.URL, &hasURL},
		{"accessToken", &r.AccessToken, nil},
		{"connectionId", &r.ConnectionID, &hasID},
		{"connectionToken", &r.ConnectionToken, &hasToken},
		{"error", &r.Error, &hasError},
	} {
		if err := str(f.name, f.dst, f.seen); err != nil {
			return nil, err
		}
	}
	if raw, ok := fields["negotiateVersion"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &r.NegotiateVersion); err != nil {
			return nil, &ResponseError{Reason: "Expected 'negotiateVersion' to be of type Integer.", Err: err}
		}
	}
	if raw, ok := fields["useStatefulReconnect"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &r.UseStatefulReconnect); err != nil {
			return nil, &ResponseError{Reason: "Expected 'useStatefulReconnect' to be of type Boolean.", Err: err}
		}
	}
	if raw, ok := fields["availableTransports"]; ok {
		hasTransports = true
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, &ResponseError{Reason: "Expected 'availableTransports' to be of type Array.", Err: err}
		}
		for _, t := range list {
			var at AvailableTransport
			rawT, okT := t["transport"]
			if !okT {
				return nil, &ResponseError{Reason: "Missing required property 'transport'."}
			}
			if err := json.Unmarshal(rawT, &at.Transport); err != nil {
				return nil, &ResponseError{Reason: "Expected 'transport' to be of type String.", Err: err}
			}
			rawF, okF := t["transferFormats"]
			if !okF {
				return nil, &ResponseError{Reason: "Missing required property 'transferFormats'."}
			}
			if err := json.Unmarshal(rawF, &at.TransferFormats); err != nil {
				return nil, &ResponseError{Reason: "Expected 'transferFormats' to be an array of strings.", Err: err}
			}
			if at.TransferFormats == nil {
				at.TransferFormats = []string{}
			}
			r.AvailableTransports = append(r.AvailableTransports, at)
		}
	}
	if !hasURL && !hasError {
		if !hasID {
			return nil, &ResponseError{Reason: "Missing required property 'connectionId'."}
		}
		if r.NegotiateVersion > 0 && !hasToken {
			return nil, &ResponseError{Reason: "Missing required property 'connectionToken'."}
		}
		if !hasTransports {
			return nil, &ResponseError{Reason: "Missing required property 'availableTransports'."}
		}
	}
	if r.NegotiateVersion < 1 {
		// v0: the id doubles as the token (what every official client does).
		r.ConnectionToken = r.ConnectionID
	}
	return r, nil
}

// Request is what a negotiate request asks for, after version selection.
type Request struct {
	Version              int  // selected version: 0 or 1
	UseStatefulReconnect bool // the client asked for stateful reconnect
}

// VersionError is a rejected negotiateVersion. Its text is the exact error
// string ASP.NET Core returns in {"error":"..."} with HTTP 200.
type VersionError struct{ Message string }

func (e *VersionError) Error() string { return e.Message }

// ParseRequest selects the negotiate version from the query like ASP.NET
// Core: no NegotiateVersion means 0; a non-integer or a version below
// minVersion is a *VersionError with the .NET text; a version above
// MaxVersion is clamped. Query keys match case-insensitively.
func ParseRequest(q url.Values, minVersion int) (Request, error) {
	var req Request
	if v, ok := QueryValue(q, "NegotiateVersion"); ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return req, &VersionError{"The client requested a non-integer protocol version."}
		}
		if int(n) < minVersion {
			return req, &VersionError{fmt.Sprintf("The client requested version '%d', but the server does not support this version.", n)}
		}
		req.Version = min(int(n), MaxVersion)
	} else if minVersion > 0 {
		return req, &VersionError{"The client requested version '0', but the server does not support this version."}
	}
	if v, ok := QueryValue(q, "UseStatefulReconnect"); ok {
		// bool.TryParse: "true"/"false" in any case, surrounding white space allowed.
		req.UseStatefulReconnect = strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return req, nil
}

// QueryValue looks up key case-insensitively, as ASP.NET Core's query
// collection does. Several values (also under differently cased keys) are
// joined with ",", like StringValues.ToString().
func QueryValue(q url.Values, key string) (string, bool) {
	var all []string
	found := false
	for k, vs := range q {
		if strings.EqualFold(k, key) {
			found = true
			all = append(all, vs...)
		}
	}
	return strings.Join(all, ","), found
}

// NewID returns 16 cryptographically random bytes, base64url-encoded
// without padding (22 characters): the form of connection ids and tokens.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics on a broken system)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
