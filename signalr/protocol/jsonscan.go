package protocol

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonMaxDepth mirrors the default MaxDepth of .NET's Utf8JsonReader, so that
// the same documents are rejected as too deep. The limit also bounds our
// iterative skipper's stack.
const jsonMaxDepth = 64

// errJSONSyntax is the cause wrapped by "Error reading JSON." errors.
var errJSONSyntax = errors.New("protocol: invalid JSON")

// jsonScanner is a small validating JSON reader over one record. It never
// recurses, so hostile nesting cannot exhaust the stack, and it never
// allocates except when a string value is materialised.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end of input.
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *jsonScanner) expect(c byte) error {
	if s.peek() != c {
		return errJSONSyntax
	}
	s.i++
	return nil
}

// scanString reads a string token at s.i (which must be '"') and returns its
// raw contents (between the quotes) and whether it holds escapes. Contents are
// validated: no raw control characters, valid escapes, valid UTF-8.
func (s *jsonScanner) scanString() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, errJSONSyntax
	}
	s.i++
	start := s.i
	ascii := true
	for s.i < len(s.b) {
		c := s.b[s.i]
		if jsonSafeASCII[c] {
			s.i++
			continue
		}
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return nil, false, errJSONSyntax
			}
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return nil, false, errJSONSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, errJSONSyntax
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if unhex(h) < 0 {
						return nil, false, errJSONSyntax
					}
				}
				s.i += 6
			default:
				return nil, false, errJSONSyntax
			}
		case c < 0x20:
			return nil, false, errJSONSyntax
		default:
			if c >= utf8.RuneSelf {
				ascii = false
			}
			s.i++
		}
	}
	return nil, false, errJSONSyntax
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// jsonUnquote turns the raw contents of a validated string token into a Go
// string. Unpaired surrogates become U+FFFD.
func jsonUnquote(raw []byte, escaped bool) string {
	if !escaped {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if r2 := hex4(raw[i+2:]); utf16.DecodeRune(r, r2) != utf8.RuneError {
						r = utf16.DecodeRune(r, r2)
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	return string(out)
}

func hex4(b []byte) rune {
	return rune(unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3]))
}

// propertyIs reports whether a property-name token equals name, comparing
// the unescaped text as .NET's ValueTextEquals does (case-sensitively).
func propertyIs(raw []byte, escaped bool, name string) bool {
	if !escaped {
		return string(raw) == name
	}
	return jsonUnquote(raw, true) == name
}

// scanNumber reads a number token and returns its text.
func (s *jsonScanner) scanNumber() ([]byte, error) {
	s.ws()
	start := s.i
	b := s.b
	i := s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, errJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, errJSONSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == d {
			return nil, errJSONSyntax
		}
	}
	s.i = i
	return b[start:i], nil
}

func (s *jsonScanner) scanLiteral(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return errJSONSyntax
	}
	s.i += len(lit)
	return nil
}

// skipValue validates and skips one JSON value. depth is the nesting depth of
// the container holding the value; containers deeper than jsonMaxDepth fail.
// It returns the offsets of the value's first and past-last bytes.
func (s *jsonScanner) skipValue(depth int) (start, end int, err error) {
	var stack [jsonMaxDepth]byte
	n := 0
	c := s.peek()
	start = s.i
	for {
		switch c {
		case '{', '[':
			if depth+n >= jsonMaxDepth {
				return 0, 0, errJSONSyntax
			}
			stack[n] = c
			n++
			s.i++
			next := s.peek()
			if (c == '{' && next == '}') || (c == '[' && next == ']') {
				s.i++
				n--
				break
			}
			if c == '{' {
				if err := s.scanKey(); err != nil {
					return 0, 0, err
				}
			}
			c = s.peek()
			continue
		case '"':
			if _, _, err := s.scanString(); err != nil {
				return 0, 0, err
			}
		case 't':
			err = s.scanLiteral("true")
		case 'f':
			err = s.scanLiteral("false")
		case 'n':
			err = s.scanLiteral("null")
		default:
			_, err = s.scanNumber()
		}
		if err != nil {
			return 0, 0, err
		}
		// After a complete value: close containers or move to the next element.
		for {
			if n == 0 {
				return start, s.i, nil
			}
			c = s.peek()
			if c == ',' {
				s.i++
				if stack[n-1] == '{' {
					if err := s.scanKey(); err != nil {
						return 0, 0, err
					}
				}
				c = s.peek()
				break
			}
			if (stack[n-1] == '{' && c == '}') || (stack[n-1] == '[' && c == ']') {
				s.i++
				n--
				continue
			}
			return 0, 0, errJSONSyntax
		}
	}
}

// scanKey reads `"name" :` inside an object.
func (s *jsonScanner) scanKey() error {
	if _, _, err := s.scanString(); err != nil {
		return err
	}
	return s.expect(':')
}

// parseInt parses an integer number token that must fit in bits.
func parseJSONInt(num []byte, bits int) (int64, bool) {
	v, err := strconv.ParseInt(string(num), 10, bits)
	return v, err == nil
}
