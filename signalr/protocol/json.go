package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// RecordSeparator ends every JSON hub protocol record and every handshake message.
const RecordSeparator = 0x1E

// JSONProtocol is the "json" hub protocol (version 2, text frames). The zero
// value is ready to use and safe for concurrent use.
//
// Received arguments, stream items and results are *JSONRawValue values.
// Values sent are encoded with encoding/json (hub authors name fields with
// json tags) without HTML escaping, like the .NET server's relaxed encoder;
// a JSONRawValue or json.RawMessage is copied as is.
type JSONProtocol struct{}

// JSON is the shared JSON hub protocol.
var JSON HubProtocol = JSONProtocol{}

// NewJSONProtocol returns the JSON hub protocol.
func NewJSONProtocol() HubProtocol { return JSONProtocol{} }

// Name returns "json".
func (JSONProtocol) Name() string { return "json" }

// Version returns 2; handshakes asking for any version up to 2 are accepted.
func (JSONProtocol) Version() int { return 2 }

// TransferFormat returns TransferFormatText.
func (JSONProtocol) TransferFormat() TransferFormat { return TransferFormatText }

// JSONRawValue is a JSON value received from a peer, kept as its bytes until
// the receiver knows the Go type to decode it into.
type JSONRawValue struct {
	raw []byte
}

// NewJSONRawValue wraps the JSON text b (not copied).
func NewJSONRawValue(b []byte) *JSONRawValue { return &JSONRawValue{raw: b} }

// Bytes returns the JSON text of the value. It must not be modified.
func (v JSONRawValue) Bytes() []byte { return v.raw }

// Decode unmarshals the value into ptr with encoding/json.
func (v JSONRawValue) Decode(ptr any) error {
	if err := json.Unmarshal(v.raw, ptr); err != nil {
		return fmt.Errorf("protocol: decoding JSON value: %w", err)
	}
	return nil
}

// IsNull reports whether the value is the JSON literal null.
func (v JSONRawValue) IsNull() bool { return string(v.raw) == "null" || len(v.raw) == 0 }

// MarshalJSON returns the value's bytes, so a received value can be
// forwarded inside other Go values without re-encoding.
func (v JSONRawValue) MarshalJSON() ([]byte, error) {
	if len(v.raw) == 0 {
		return []byte("null"), nil
	}
	return v.raw, nil
}

// String returns the JSON text.
func (v JSONRawValue) String() string { return string(v.raw) }

// ParseMessage parses the first record of buf. See HubProtocol.
// The size limit applies to the record including its separator.
func (JSONProtocol) ParseMessage(buf []byte, maxSize int) (HubMessage, int, error) {
	end := bytes.IndexByte(buf, RecordSeparator)
	if end < 0 {
		if maxSize > 0 && len(buf) >= maxSize {
			return nil, 0, ErrMessageTooLarge
		}
		return nil, 0, nil
	}
	if maxSize > 0 && end+1 > maxSize {
		return nil, 0, ErrMessageTooLarge
	}
	msg, err := parseJSONRecord(buf[:end])
	return msg, end + 1, err
}

func invalidData(msg string) error { return &InvalidDataError{Message: msg} }

func errReadingJSON(cause error) error {
	return &InvalidDataError{Message: "Error reading JSON.", Err: cause}
}

// span is a value's position inside the record.
type span struct{ start, end int }

// jsonRecord collects the properties of one message, whatever their order.
type jsonRecord struct {
	typ            int
	hasType        bool
	invocationID   string
	hasID          bool
	target         string
	hasTarget      bool
	errText        string
	hasError       bool
	allowReconnect bool
	result         span
	hasResult      bool
	item           span
	hasItem        bool
	argsArr        [8]span // first argument spans, kept off the heap
	argsMore       []span  // spans beyond len(argsArr)
	nargs          int
	hasArgs        bool
	streamIDs      []string
	headers        map[string]string
	sequenceID     int64
	hasSequenceID  bool
}

func parseJSONRecord(b []byte) (HubMessage, error) {
	var r jsonRecord
	s := jsonScanner{b: b}
	switch c := s.peek(); c {
	case '{':
		s.i++
	case 0:
		return nil, errReadingJSON(errJSONSyntax)
	default:
		if kind := jsonTokenKind(c); kind != "" {
			if _, _, err := s.skipValue(0); err != nil {
				return nil, errReadingJSON(err)
			}
			return nil, invalidData("Unexpected JSON Token Type '" + kind + "'. Expected a JSON Object.")
		}
		return nil, errReadingJSON(errJSONSyntax)
	}
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			name, esc, err := s.scanString()
			if err != nil {
				return nil, errReadingJSON(err)
			}
			if err := s.expect(':'); err != nil {
				return nil, errReadingJSON(err)
			}
			if err := r.property(&s, name, esc); err != nil {
				return nil, err
			}
			c := s.peek()
			s.i++
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, errReadingJSON(errJSONSyntax)
			}
		}
	}
	// Like .NET, bytes after the object inside the record are ignored.
	return r.message(b)
}

// jsonTokenKind names the token starting with c as .NET's JsonTokenType does.
func jsonTokenKind(c byte) string {
	switch {
	case c == '[':
		return "Array"
	case c == '"':
		return "String"
	case c == 't':
		return "True"
	case c == 'f':
		return "False"
	case c == 'n':
		return "Null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "Number"
	}
	return ""
}

// property reads the value of one property of the message object.
func (r *jsonRecord) property(s *jsonScanner, name []byte, esc bool) error {
	switch jsonPropertyName(name, esc) {
	case "type":
		switch c := s.peek(); {
		case c == 'n':
			if err := s.scanLiteral("null"); err != nil {
				return errReadingJSON(err)
			}
			return invalidData("Expected 'type' to be of type Number.")
		case c == '-' || (c >= '0' && c <= '9'):
			num, err := s.scanNumber()
			if err != nil {
				return errReadingJSON(err)
			}
			v, ok := parseJSONInt(num, 32)
			if !ok {
				return errReadingJSON(errJSONSyntax)
			}
			r.typ, r.hasType = int(v), true
			return nil
		default:
			return r.wrongType(s, "Expected 'type' to be of type Number.")
		}
	case "invocationId":
		v, err := r.stringProperty(s, "invocationId")
		r.invocationID, r.hasID = v, err == nil
		return err
	case "target":
		v, err := r.stringProperty(s, "target")
		r.target, r.hasTarget = v, err == nil
		return err
	case "error":
		v, err := r.stringProperty(s, "error")
		r.errText, r.hasError = v, err == nil
		return err
	case "allowReconnect":
		switch s.peek() {
		case 't':
			r.allowReconnect = true
			if err := s.scanLiteral("true"); err != nil {
				return errReadingJSON(err)
			}
			return nil
		case 'f':
			r.allowReconnect = false
			if err := s.scanLiteral("false"); err != nil {
				return errReadingJSON(err)
			}
			return nil
		}
		return r.wrongType(s, "Expected 'allowReconnect' to be true or false.")
	case "result":
		start, end, err := s.skipValue(1)
		if err != nil {
			return errReadingJSON(err)
		}
		r.result, r.hasResult = span{start, end}, true
		return nil
	case "item":
		start, end, err := s.skipValue(1)
		if err != nil {
			return errReadingJSON(err)
		}
		r.item, r.hasItem = span{start, end}, true
		return nil
	case "arguments":
		if s.peek() != '[' {
			return r.wrongType(s, "Expected 'arguments' to be of type Array.")
		}
		s.i++
		r.nargs, r.argsMore = 0, r.argsMore[:0]
		r.hasArgs = true
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			start, end, err := s.skipValue(2)
			if err != nil {
				return errReadingJSON(err)
			}
			r.addArg(span{start, end})
			c := s.peek()
			s.i++
			if c == ']' {
				return nil
			}
			if c != ',' {
				return errReadingJSON(errJSONSyntax)
			}
		}
	case "streamIds":
		if s.peek() != '[' {
			return r.wrongType(s, "Expected 'streamIds' to be of type Array.")
		}
		s.i++
		ids := []string{}
		if s.peek() == ']' {
			s.i++
			r.streamIDs = ids
			return nil
		}
		for {
			switch s.peek() {
			case '"':
				raw, esc, err := s.scanString()
				if err != nil {
					return errReadingJSON(err)
				}
				ids = append(ids, jsonUnquote(raw, esc))
			case 'n':
				if err := s.scanLiteral("null"); err != nil {
					return errReadingJSON(err)
				}
				return invalidData("Null value for 'streamIds' is not valid.")
			default:
				// .NET fails with an InvalidOperationException here; any
				// non-string id is a malformed message for us.
				if _, _, err := s.skipValue(2); err != nil {
					return errReadingJSON(err)
				}
				return errReadingJSON(errJSONSyntax)
			}
			c := s.peek()
			s.i++
			if c == ']' {
				r.streamIDs = ids
				return nil
			}
			if c != ',' {
				return errReadingJSON(errJSONSyntax)
			}
		}
	case "headers":
		return r.readHeaders(s)
	case "sequenceId":
		switch c := s.peek(); {
		case c == 'n':
			if err := s.scanLiteral("null"); err != nil {
				return errReadingJSON(err)
			}
			r.hasSequenceID = false
			return nil
		case c == '-' || (c >= '0' && c <= '9'):
			num, err := s.scanNumber()
			if err != nil {
				return errReadingJSON(err)
			}
			v, ok := parseJSONInt(num, 64)
			if !ok {
				return errReadingJSON(errJSONSyntax)
			}
			r.sequenceID, r.hasSequenceID = v, true
			return nil
		default:
			return r.wrongType(s, "Expected 'sequenceId' to be of type Number.")
		}
	}
	if _, _, err := s.skipValue(1); err != nil {
		return errReadingJSON(err)
	}
	return nil
}

// jsonPropertyName maps a property-name token to one of the constant names
// the protocol knows (without allocating) or "" for any other name.
func jsonPropertyName(raw []byte, esc bool) string {
	name := ""
	if esc {
		name = jsonUnquote(raw, true)
	}
	switch {
	case esc:
	case string(raw) == "type":
		return "type"
	case string(raw) == "invocationId":
		return "invocationId"
	case string(raw) == "target":
		return "target"
	case string(raw) == "arguments":
		return "arguments"
	case string(raw) == "error":
		return "error"
	case string(raw) == "result":
		return "result"
	case string(raw) == "item":
		return "item"
	case string(raw) == "headers":
		return "headers"
	case string(raw) == "streamIds":
		return "streamIds"
	case string(raw) == "allowReconnect":
		return "allowReconnect"
	case string(raw) == "sequenceId":
		return "sequenceId"
	}
	return name
}

// wrongType reports a property value of the wrong JSON type. A value that is
// not even valid JSON is a syntax error first, as it is for .NET's reader.
func (r *jsonRecord) wrongType(s *jsonScanner, text string) error {
	if _, _, err := s.skipValue(1); err != nil {
		return errReadingJSON(err)
	}
	return invalidData(text)
}

func (r *jsonRecord) stringProperty(s *jsonScanner, name string) (string, error) {
	if s.peek() != '"' {
		return "", r.wrongType(s, "Expected '"+name+"' to be of type String.")
	}
	raw, esc, err := s.scanString()
	if err != nil {
		return "", errReadingJSON(err)
	}
	return jsonUnquote(raw, esc), nil
}

func (r *jsonRecord) readHeaders(s *jsonScanner) error {
	if s.peek() != '{' {
		return r.wrongType(s, "Expected 'headers' to be of type StartObject.")
	}
	s.i++
	h := map[string]string{}
	err := objectMembers(s, func(kraw []byte, kesc bool) error {
		k := jsonUnquote(kraw, kesc)
		if s.peek() != '"' {
			return r.wrongType(s, "Expected header '"+k+"' to be of type String.")
		}
		vraw, vesc, err := s.scanString()
		if err != nil {
			return errReadingJSON(err)
		}
		h[k] = jsonUnquote(vraw, vesc)
		return nil
	})
	if err != nil {
		return err
	}
	r.headers = h
	return nil
}

// message validates the collected properties, applying .NET's rules in
// .NET's order, and builds the message.
func (r *jsonRecord) message(b []byte) (HubMessage, error) {
	if !r.hasType {
		return nil, invalidData("Missing required property 'type'.")
	}
	switch MessageType(r.typ) {
	case TypeInvocation:
		if !r.hasTarget || r.target == "" {
			return nil, invalidData("Missing required property 'target'.")
		}
		if !r.hasArgs {
			return nil, invalidData("Missing required property 'arguments'.")
		}
		if r.nargs <= smallArgs {
			return r.smallInvocation(b), nil
		}
		return &Invocation{
			InvocationID: r.invocationID,
			Target:       r.target,
			Arguments:    r.rawArgs(b),
			StreamIDs:    r.streamIDs,
			Headers:      r.headers,
		}, nil
	case TypeStreamInvocation:
		if !r.hasTarget {
			return nil, invalidData("Missing required property 'target'.")
		}
		if r.invocationID == "" {
			return nil, invalidData("Missing required property 'invocationId'.")
		}
		if !r.hasArgs {
			return nil, invalidData("Missing required property 'arguments'.")
		}
		if r.target == "" {
			return nil, invalidData("Missing required property 'target'.")
		}
		return &StreamInvocation{
			InvocationID: r.invocationID,
			Target:       r.target,
			Arguments:    r.rawArgs(b),
			StreamIDs:    r.streamIDs,
			Headers:      r.headers,
		}, nil
	case TypeStreamItem:
		if r.invocationID == "" {
			return nil, invalidData("Missing required property 'invocationId'.")
		}
		if !r.hasItem {
			return nil, invalidData("Missing required property 'item'.")
		}
		return &StreamItem{InvocationID: r.invocationID, Item: rawSpan(b, r.item), Headers: r.headers}, nil
	case TypeCompletion:
		if r.invocationID == "" {
			return nil, invalidData("Missing required property 'invocationId'.")
		}
		if r.hasError && r.hasResult {
			return nil, invalidData("The 'error' and 'result' properties are mutually exclusive.")
		}
		c := &Completion{InvocationID: r.invocationID, Error: r.errText, Headers: r.headers}
		if r.hasResult {
			c.HasResult = true
			c.Result = rawSpan(b, r.result)
		}
		return c, nil
	case TypeCancelInvocation:
		if r.invocationID == "" {
			return nil, invalidData("Missing required property 'invocationId'.")
		}
		return &CancelInvocation{InvocationID: r.invocationID, Headers: r.headers}, nil
	case TypePing:
		return &Ping{}, nil
	case TypeClose:
		return &Close{Error: r.errText, AllowReconnect: r.allowReconnect}, nil
	case TypeAck:
		if !r.hasSequenceID {
			return nil, invalidData("Missing required property 'sequenceId'.")
		}
		return &Ack{SequenceID: r.sequenceID}, nil
	case TypeSequence:
		if !r.hasSequenceID {
			return nil, invalidData("Missing required property 'sequenceId'.")
		}
		return &Sequence{SequenceID: r.sequenceID}, nil
	}
	// Unknown types are ignored for forward compatibility.
	return nil, nil
}

func (r *jsonRecord) addArg(sp span) {
	if r.nargs < len(r.argsArr) {
		r.argsArr[r.nargs] = sp
	} else {
		r.argsMore = append(r.argsMore, sp)
	}
	r.nargs++
}

func (r *jsonRecord) arg(i int) span {
	if i < len(r.argsArr) {
		return r.argsArr[i]
	}
	return r.argsMore[i-len(r.argsArr)]
}

// smallArgs is the largest argument count served by smallInvocation.
const smallArgs = 4

// invocationBlock holds an Invocation with few arguments and their raw
// values in one allocation (the common case of a client call).
type invocationBlock struct {
	inv  Invocation
	args [smallArgs]any
	vals [smallArgs]JSONRawValue
}

func (r *jsonRecord) smallInvocation(b []byte) *Invocation {
	blk := &invocationBlock{inv: Invocation{
		InvocationID: r.invocationID,
		Target:       r.target,
		StreamIDs:    r.streamIDs,
		Headers:      r.headers,
	}}
	n := r.nargs
	blk.inv.Arguments = blk.args[:n:n]
	if n > 0 {
		lo, hi := r.arg(0).start, r.arg(n-1).end
		own := make([]byte, hi-lo)
		copy(own, b[lo:hi])
		for i := range n {
			sp := r.arg(i)
			blk.vals[i].raw = own[sp.start-lo : sp.end-lo : sp.end-lo]
			blk.args[i] = &blk.vals[i]
		}
	}
	return &blk.inv
}

// rawArgs copies the argument values out of the caller's buffer (which the
// caller reuses) in one allocation and wraps them without further
// per-argument allocations.
func (r *jsonRecord) rawArgs(b []byte) []any {
	n := r.nargs
	args := make([]any, n)
	if n == 0 {
		return args
	}
	lo, hi := r.arg(0).start, r.arg(n-1).end
	own := make([]byte, hi-lo)
	copy(own, b[lo:hi])
	vals := make([]JSONRawValue, n)
	for i := range n {
		sp := r.arg(i)
		vals[i].raw = own[sp.start-lo : sp.end-lo : sp.end-lo]
		args[i] = &vals[i]
	}
	return args
}

func rawSpan(b []byte, sp span) *JSONRawValue {
	own := make([]byte, sp.end-sp.start)
	copy(own, b[sp.start:sp.end])
	return &JSONRawValue{raw: own}
}

// AppendMessage appends msg and its record separator to dst.
func (JSONProtocol) AppendMessage(dst []byte, msg HubMessage) ([]byte, error) {
	start := len(dst)
	var err error
	switch m := msg.(type) {
	case *Invocation:
		dst = append(dst, `{"type":1`...)
		dst = appendJSONHeaders(dst, m.Headers)
		dst, err = appendJSONCall(dst, m.InvocationID, m.Target, m.Arguments, m.StreamIDs)
	case *StreamInvocation:
		dst = append(dst, `{"type":4`...)
		dst = appendJSONHeaders(dst, m.Headers)
		dst, err = appendJSONCall(dst, m.InvocationID, m.Target, m.Arguments, m.StreamIDs)
	case *StreamItem:
		dst = append(dst, `{"type":2`...)
		dst = appendJSONHeaders(dst, m.Headers)
		dst = appendJSONInvocationID(dst, m.InvocationID)
		dst = append(dst, `,"item":`...)
		dst, err = appendJSONValue(dst, m.Item)
	case *Completion:
		dst = append(dst, `{"type":3`...)
		dst = appendJSONHeaders(dst, m.Headers)
		dst = appendJSONInvocationID(dst, m.InvocationID)
		if m.Error != "" {
			dst = append(dst, `,"error":`...)
			dst = appendJSONString(dst, m.Error)
		} else if m.HasResult {
			dst = append(dst, `,"result":`...)
			dst, err = appendJSONValue(dst, m.Result)
		}
	case *CancelInvocation:
		dst = append(dst, `{"type":5`...)
		dst = appendJSONHeaders(dst, m.Headers)
		dst = appendJSONInvocationID(dst, m.InvocationID)
	case *Ping:
		dst = append(dst, `{"type":6`...)
	case *Close:
		dst = append(dst, `{"type":7`...)
		if m.Error != "" {
			dst = append(dst, `,"error":`...)
			dst = appendJSONString(dst, m.Error)
		}
		if m.AllowReconnect {
			dst = append(dst, `,"allowReconnect":true`...)
		}
	case *Ack:
		dst = append(dst, `{"type":8,"sequenceId":`...)
		dst = strconv.AppendInt(dst, m.SequenceID, 10)
	case *Sequence:
		dst = append(dst, `{"type":9,"sequenceId":`...)
		dst = strconv.AppendInt(dst, m.SequenceID, 10)
	default:
		return dst, fmt.Errorf("protocol: json: unsupported message type %T", msg)
	}
	if err != nil {
		return dst[:start], err
	}
	return append(dst, '}', RecordSeparator), nil
}

func appendJSONInvocationID(dst []byte, id string) []byte {
	if id == "" {
		return dst
	}
	dst = append(dst, `,"invocationId":`...)
	return appendJSONString(dst, id)
}

// appendJSONCall writes the body of an Invocation or StreamInvocation in the
// .NET writer's order: invocationId, target, arguments, streamIds.
func appendJSONCall(dst []byte, id, target string, args []any, streamIDs []string) ([]byte, error) {
	dst = appendJSONInvocationID(dst, id)
	dst = append(dst, `,"target":`...)
	dst = appendJSONString(dst, target)
	dst = append(dst, `,"arguments":[`...)
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSONValue(dst, a); err != nil {
			return dst, fmt.Errorf("protocol: json: argument %d: %w", i, err)
		}
	}
	dst = append(dst, ']')
	if len(streamIDs) > 0 {
		dst = append(dst, `,"streamIds":[`...)
		for i, id := range streamIDs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, id)
		}
		dst = append(dst, ']')
	}
	return dst, nil
}
