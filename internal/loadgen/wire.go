package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// record is the part of a received hub message the load client needs. Byte
// slices may point into the read buffer: valid until the next read.
type record struct {
	Type         int
	InvocationID []byte
	Target       []byte
	Arg          []byte // the last argument when it is a string, else nil
	HasResult    bool
	Result       []byte // the result when it is a string, else nil
	Error        []byte
}

func (r *record) reset() { *r = record{} }

// wireCodec is the minimal hub-protocol surface of the load client. The
// JSON implementation is hand-rolled for speed; others adapt a
// protocol.HubProtocol.
type wireCodec interface {
	Name() string
	Binary() bool
	// AppendInvocation appends an Invocation whose arguments are all strings.
	// An empty id is a non-blocking call.
	AppendInvocation(dst []byte, id, target string, args ...[]byte) ([]byte, error)
	AppendPing(dst []byte) []byte
	AppendClose(dst []byte) []byte
	// Parse parses the first record in buf into rec; n == 0 with a nil error
	// means no complete record yet.
	Parse(buf []byte, rec *record) (n int, err error)
}

const recordSeparator = 0x1e

// maxRecordSize bounds a record the client will buffer, so a broken server
// cannot make the load generator grow without limit.
const maxRecordSize = 16 << 20

// jsonCodec speaks the JSON hub protocol. Encoding writes records directly;
// decoding scans the object once without building a tree.
type jsonCodec struct{}

func (jsonCodec) Name() string { return "json" }
func (jsonCodec) Binary() bool { return false }

func (jsonCodec) AppendInvocation(dst []byte, id, target string, args ...[]byte) ([]byte, error) {
	dst = append(dst, `{"type":1,`...)
	if id != "" {
		dst = append(dst, `"invocationId":`...)
		dst = appendJSONString(dst, []byte(id))
		dst = append(dst, ',')
	}
	dst = append(dst, `"target":`...)
	dst = appendJSONString(dst, []byte(target))
	dst = append(dst, `,"arguments":[`...)
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, a)
	}
	dst = append(dst, "]}\x1e"...)
	return dst, nil
}

func (jsonCodec) AppendPing(dst []byte) []byte  { return append(dst, "{\"type\":6}\x1e"...) }
func (jsonCodec) AppendClose(dst []byte) []byte { return append(dst, "{\"type\":7}\x1e"...) }

func (jsonCodec) Parse(buf []byte, rec *record) (int, error) {
	end := bytes.IndexByte(buf, recordSeparator)
	if end < 0 {
		if len(buf) > maxRecordSize {
			return 0, errors.New("loadgen: record exceeds the maximum size")
		}
		return 0, nil
	}
	rec.reset()
	if err := parseJSONRecord(buf[:end], rec); err != nil {
		return 0, err
	}
	return end + 1, nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// jsonScanner walks one JSON object record.
type jsonScanner struct {
	b   []byte
	pos int
}

var errBadJSON = errors.New("loadgen: malformed JSON record")

func parseJSONRecord(b []byte, rec *record) error {
	s := jsonScanner{b: b}
	s.ws()
	if !s.eat('{') {
		return errBadJSON
	}
	sawType := false
	s.ws()
	if s.eat('}') {
		return fmt.Errorf("%w: missing type", errBadJSON)
	}
	for {
		s.ws()
		key, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if !s.eat(':') {
			return errBadJSON
		}
		s.ws()
		switch string(key) {
		case "type":
			n, err := s.integer()
			if err != nil {
				return err
			}
			rec.Type = n
			sawType = true
		case "invocationId":
			if rec.InvocationID, err = s.strOrNull(); err != nil {
				return err
			}
		case "target":
			if rec.Target, err = s.str(); err != nil {
				return err
			}
		case "error":
			if rec.Error, err = s.strOrNull(); err != nil {
				return err
			}
		case "result":
			rec.HasResult = true
			if s.peek() == '"' {
				if rec.Result, err = s.str(); err != nil {
					return err
				}
			} else if err := s.skip(0); err != nil {
				return err
			}
		case "arguments":
			if err := s.args(rec); err != nil {
				return err
			}
		default:
			if err := s.skip(0); err != nil {
				return err
			}
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return errBadJSON
	}
	s.ws()
	if s.pos != len(s.b) || !sawType {
		return errBadJSON
	}
	return nil
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) peek() byte {
	if s.pos < len(s.b) {
		return s.b[s.pos]
	}
	return 0
}

func (s *jsonScanner) eat(c byte) bool {
	if s.pos < len(s.b) && s.b[s.pos] == c {
		s.pos++
		return true
	}
	return false
}

// str reads a string. Without escapes it returns a view into the record;
// with escapes it decodes into a new slice.
func (s *jsonScanner) str() ([]byte, error) {
	if !s.eat('"') {
		return nil, errBadJSON
	}
	start := s.pos
	escaped := false
	for s.pos < len(s.b) {
		c := s.b[s.pos]
		switch {
		case c == '"':
			v := s.b[start:s.pos]
			s.pos++
			if !escaped {
				return v, nil
			}
			var out string
			if err := json.Unmarshal(s.b[start-1:s.pos], &out); err != nil {
				return nil, fmt.Errorf("%w: %v", errBadJSON, err)
			}
			return []byte(out), nil
		case c == '\\':
			escaped = true
			s.pos += 2
		case c < 0x20:
			return nil, errBadJSON
		default:
			s.pos++
		}
	}
	return nil, errBadJSON
}

func (s *jsonScanner) strOrNull() ([]byte, error) {
	if s.lit("null") {
		return nil, nil
	}
	return s.str()
}

func (s *jsonScanner) lit(word string) bool {
	if len(s.b)-s.pos >= len(word) && string(s.b[s.pos:s.pos+len(word)]) == word {
		s.pos += len(word)
		return true
	}
	return false
}

func (s *jsonScanner) integer() (int, error) {
	start := s.pos
	for s.pos < len(s.b) && (s.b[s.pos] == '-' || s.b[s.pos] >= '0' && s.b[s.pos] <= '9') {
		s.pos++
	}
	n, err := strconv.Atoi(string(s.b[start:s.pos]))
	if err != nil {
		return 0, fmt.Errorf("%w: bad number", errBadJSON)
	}
	return n, nil
}

func (s *jsonScanner) args(rec *record) error {
	if !s.eat('[') {
		return errBadJSON
	}
	rec.Arg = nil
	s.ws()
	if s.eat(']') {
		return nil
	}
	for {
		s.ws()
		if s.peek() == '"' {
			v, err := s.str()
			if err != nil {
				return err
			}
			rec.Arg = v
		} else {
			if err := s.skip(0); err != nil {
				return err
			}
			rec.Arg = nil
		}
		s.ws()
		if s.eat(',') {
			continue
		}
		if s.eat(']') {
			return nil
		}
		return errBadJSON
	}
}

const maxJSONDepth = 64

// skip skips one value of any kind.
func (s *jsonScanner) skip(depth int) error {
	if depth > maxJSONDepth {
		return fmt.Errorf("%w: nested too deeply", errBadJSON)
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.pos++
		s.ws()
		if s.eat(closer) {
			return nil
		}
		for {
			s.ws()
			if c == '{' {
				if _, err := s.str(); err != nil {
					return err
				}
				s.ws()
				if !s.eat(':') {
					return errBadJSON
				}
				s.ws()
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.eat(',') {
				continue
			}
			if s.eat(closer) {
				return nil
			}
			return errBadJSON
		}
	case c == 't':
		if s.lit("true") {
			return nil
		}
	case c == 'f':
		if s.lit("false") {
			return nil
		}
	case c == 'n':
		if s.lit("null") {
			return nil
		}
	case c == '-' || c >= '0' && c <= '9':
		start := s.pos
		for s.pos < len(s.b) && bytes.IndexByte([]byte("+-.eE0123456789"), s.b[s.pos]) >= 0 {
			s.pos++
		}
		if !json.Valid(s.b[start:s.pos]) {
			return errBadJSON
		}
		return nil
	}
	return errBadJSON
}
