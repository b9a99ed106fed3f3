package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is System.Text.Json's default nesting limit, which .NET's JSON
// configuration provider uses.
const maxDepth = 64

// SyntaxError is a malformed settings file: what is wrong and where (1-based
// line and column, the column counted in characters).
type SyntaxError struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// entry is one flattened setting.
type entry struct {
	key   string // as spelled in the source
	value string
	null  bool // JSON null, {} or []: present but without a value, as in .NET
}

// parseJSON flattens a settings file the way .NET's JSON configuration
// provider does: nested object keys and array indexes joined with ':',
// numbers as written, true/false as "True"/"False", null and empty
// objects/arrays as a key without a value. Like .NET it allows comments and
// trailing commas, requires an object at the top, and rejects a key that
// appears twice (compared case-insensitively, after flattening).
func parseJSON(file string, data []byte) ([]entry, error) {
	p := &jsonParser{file: file, data: data, line: 1, lineStart: 0, seen: map[string]bool{}}
	// Files saved by Visual Studio often start with a UTF-8 BOM.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		p.pos = 3
		p.lineStart = 3
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.pos >= len(p.data) {
		return nil, p.errorf("the file is empty; want a JSON object")
	}
	if p.data[p.pos] != '{' {
		return nil, p.errorf("the top-level JSON element must be an object")
	}
	if err := p.object("", 1); err != nil {
		return nil, err
	}
	if err := p.skipSpace(); err != nil {
		return nil, err
	}
	if p.pos < len(p.data) {
		return nil, p.errorf("unexpected %s after the top-level object", p.describe())
	}
	return p.out, nil
}

type jsonParser struct {
	file      string
	data      []byte
	pos       int
	line      int
	lineStart int // offset of the current line's first byte
	out       []entry
	seen      map[string]bool // lower-cased flattened keys
}

func (p *jsonParser) errorf(format string, args ...any) error {
	col := utf8.RuneCount(p.data[p.lineStart:min(p.pos, len(p.data))]) + 1
	return &SyntaxError{File: p.file, Line: p.line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// describe names the byte at pos for error messages.
func (p *jsonParser) describe() string {
	if p.pos >= len(p.data) {
		return "end of file"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	if r == utf8.RuneError {
		return fmt.Sprintf("byte 0x%02x", p.data[p.pos])
	}
	return strconv.QuoteRune(r)
}

// skipSpace skips white space and // and /* */ comments.
func (p *jsonParser) skipSpace() error {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case '\n':
			p.pos++
			p.line++
			p.lineStart = p.pos
		case ' ', '\t', '\r':
			p.pos++
		case '/':
			if p.pos+1 >= len(p.data) {
				return p.errorf("unexpected '/'")
			}
			switch p.data[p.pos+1] {
			case '/':
				for p.pos < len(p.data) && p.data[p.pos] != '\n' {
					p.pos++
				}
			case '*':
				startLine, startPos, startLineStart := p.line, p.pos, p.lineStart
				p.pos += 2
				for {
					if p.pos+1 >= len(p.data) {
						p.line, p.pos, p.lineStart = startLine, startPos, startLineStart
						return p.errorf("unterminated /* comment")
					}
					if p.data[p.pos] == '*' && p.data[p.pos+1] == '/' {
						p.pos += 2
						break
					}
					if p.data[p.pos] == '\n' {
						p.line++
						p.lineStart = p.pos + 1
					}
					p.pos++
				}
			default:
				return p.errorf("unexpected '/'")
			}
		default:
			return nil
		}
	}
	return nil
}

// value parses one JSON value at pos whose flattened key is path.
func (p *jsonParser) value(path string, depth int) error {
	if err := p.skipSpace(); err != nil {
		return err
	}
	if p.pos >= len(p.data) {
		return p.errorf("unexpected end of file; want a value")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(path, depth+1)
	case c == '[':
		return p.array(path, depth+1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		return p.emit(path, s, false)
	case c == '-' || (c >= '0' && c <= '9'):
		n, err := p.number()
		if err != nil {
			return err
		}
		return p.emit(path, n, false)
	case p.literal("true"):
		return p.emit(path, "True", false)
	case p.literal("false"):
		return p.emit(path, "False", false)
	case p.literal("null"):
		return p.emit(path, "", true)
	}
	return p.errorf("unexpected %s; want a value", p.describe())
}

// literal consumes word if it is at pos.
func (p *jsonParser) literal(word string) bool {
	if !strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(word))]), word) {
		return false
	}
	end := p.pos + len(word)
	if end < len(p.data) && isIdentByte(p.data[end]) {
		return false // "trueish"
	}
	p.pos = end
	return true
}

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func (p *jsonParser) emit(path, value string, null bool) error {
	lower := strings.ToLower(path)
	if p.seen[lower] {
		return p.errorf("duplicate key %q", path)
	}
	p.seen[lower] = true
	p.out = append(p.out, entry{key: path, value: value, null: null})
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + ":" + key
}

func (p *jsonParser) object(path string, depth int) error {
	if depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	p.pos++ // '{'
	n := 0
	for {
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.pos >= len(p.data) {
			return p.errorf("unexpected end of file in an object; want '}'")
		}
		if p.data[p.pos] == '}' {
			p.pos++
			if n == 0 && depth > 1 { // an empty top-level object sets nothing
				return p.emit(path, "", true)
			}
			return nil
		}
		if p.data[p.pos] != '"' {
			return p.errorf("unexpected %s; want a property name in double quotes", p.describe())
		}
		keyLine, keyStart, keyLineStart := p.line, p.pos, p.lineStart
		key, err := p.str()
		if err != nil {
			return err
		}
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return p.errorf("unexpected %s after property name; want ':'", p.describe())
		}
		p.pos++
		full := join(path, key)
		if p.seen[strings.ToLower(full)] {
			p.line, p.pos, p.lineStart = keyLine, keyStart, keyLineStart
			return p.errorf("duplicate key %q", full)
		}
		if err := p.value(full, depth); err != nil {
			return err
		}
		n++
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.pos >= len(p.data) {
			return p.errorf("unexpected end of file in an object; want ',' or '}'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++ // a trailing comma before '}' is allowed, as in .NET
		case '}':
		default:
			return p.errorf("unexpected %s in an object; want ',' or '}'", p.describe())
		}
	}
}

func (p *jsonParser) array(path string, depth int) error {
	if depth > maxDepth {
		return p.errorf("nesting deeper than %d", maxDepth)
	}
	p.pos++ // '['
	n := 0
	for {
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.pos >= len(p.data) {
			return p.errorf("unexpected end of file in an array; want ']'")
		}
		if p.data[p.pos] == ']' {
			p.pos++
			if n == 0 {
				return p.emit(path, "", true)
			}
			return nil
		}
		if err := p.value(join(path, strconv.Itoa(n)), depth); err != nil {
			return err
		}
		n++
		if err := p.skipSpace(); err != nil {
			return err
		}
		if p.pos >= len(p.data) {
			return p.errorf("unexpected end of file in an array; want ',' or ']'")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
		default:
			return p.errorf("unexpected %s in an array; want ',' or ']'", p.describe())
		}
	}
}

// str parses a JSON string at pos (the opening quote).
func (p *jsonParser) str() (string, error) {
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c < 0x20:
			return "", p.errorf("control character 0x%02x in a string; escape it", c)
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errorf("unterminated string")
			}
			e := p.data[p.pos+1]
			p.pos += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					// A high surrogate pairs with a following \uDC00-\uDFFF.
					if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
						save := p.pos
						p.pos += 2
						r2, err := p.hex4()
						if err != nil {
							return "", err
						}
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
						} else {
							p.pos = save
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				p.pos -= 2
				return "", p.errorf("invalid escape '\\%c' in a string", e)
			}
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("invalid UTF-8 in a string")
			}
			b.Write(p.data[p.pos : p.pos+size])
			p.pos += size
		}
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		return 0, p.errorf("truncated \\u escape")
	}
	v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errorf("invalid \\u escape %q", p.data[p.pos:p.pos+4])
	}
	p.pos += 4
	return rune(v), nil
}

// number scans a JSON number and returns it as written.
func (p *jsonParser) number() (string, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	intStart := p.pos
	if digits() == 0 {
		return "", p.errorf("invalid number; want a digit")
	}
	if p.data[intStart] == '0' && p.pos-intStart > 1 {
		p.pos = intStart
		return "", p.errorf("invalid number: leading zero")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return "", p.errorf("invalid number; want a digit after '.'")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return "", p.errorf("invalid number; want a digit in the exponent")
		}
	}
	if p.pos < len(p.data) && isIdentByte(p.data[p.pos]) {
		return "", p.errorf("invalid number: unexpected %s", p.describe())
	}
	return string(p.data[start:p.pos]), nil
}
