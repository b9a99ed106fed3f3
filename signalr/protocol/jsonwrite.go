package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// jsonSafeASCII marks the bytes written as they are: printable ASCII except
// quote and backslash.
var jsonSafeASCII = func() (t [256]bool) {
	for c := 0x20; c < 0x7F; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string escaped the way System.Text.Json
// does with the relaxed encoder the .NET server uses: quote, backslash and
// control characters are escaped (short forms where JSON has them, else
// \uXXXX in upper case), as are characters outside the BMP (as surrogate
// pairs) and the non-printable ones of .NET's global block list (format,
// private-use, unassigned, separators but U+0020); everything else is
// written as UTF-8. Invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafeASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"':
				dst = append(dst, '\\', '"')
			case '\\':
				dst = append(dst, '\\', '\\')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = appendUEscape(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
		case r > 0xFFFF:
			dst = append(dst, s[start:i]...)
			r1, r2 := surrogates(r)
			dst = appendUEscape(dst, r1)
			dst = appendUEscape(dst, r2)
		case !unicode.IsPrint(r):
			// .NET's block list: controls, format and private-use
			// characters, unassigned code points, separators other than
			// U+0020 (U+00A0, U+2028, U+3000, ...).
			dst = append(dst, s[start:i]...)
			dst = appendUEscape(dst, r)
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

func appendUEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', upperHex[r>>12&0xF], upperHex[r>>8&0xF], upperHex[r>>4&0xF], upperHex[r&0xF])
}

// appendJSONHeaders writes a non-empty headers object, keys sorted so the
// bytes are deterministic.
func appendJSONHeaders(dst []byte, h map[string]string) []byte {
	if len(h) == 0 {
		return dst
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, `,"headers":{`...)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, h[k])
	}
	return append(dst, '}')
}

// appendJSONValue encodes one payload value. Common scalar types and raw JSON
// are written directly; everything else goes through encoding/json.
func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case *JSONRawValue:
		if x == nil || len(x.raw) == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, x.raw...), nil
	case JSONRawValue:
		if len(x.raw) == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, x.raw...), nil
	case json.RawMessage:
		if len(x) == 0 {
			return append(dst, "null"...), nil
		}
		return append(dst, x...), nil
	case string:
		return appendJSONString(dst, x), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 && !(x == 0 && math.Signbit(x)) {
			return strconv.AppendInt(dst, int64(x), 10), nil
		}
	case *MessagePackRawValue:
		if x == nil || x.IsNull() {
			return append(dst, "null"...), nil
		}
		g, err := mpGeneric(x.raw)
		if err != nil {
			return dst, err
		}
		return appendJSONMarshal(dst, g)
	case RawValue:
		// A value received through another protocol: decode it
		// generically and re-encode it as JSON.
		var g any
		if err := x.Decode(&g); err != nil {
			return dst, err
		}
		return appendJSONMarshal(dst, g)
	}
	return appendJSONMarshal(dst, v)
}

// jsonEncoder is a pooled encoding/json encoder writing into its own buffer,
// so marshalling costs no per-call encoder or buffer allocation.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false) // .NET's relaxed encoder leaves <, >, & alone
	return e
}}

func appendJSONMarshal(dst []byte, v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	e.buf.Reset()
	err := e.enc.Encode(v)
	if err == nil {
		b := e.buf.Bytes()
		dst = append(dst, b[:len(b)-1]...) // drop Encode's newline
	}
	if e.buf.Cap() <= 64<<10 { // don't keep huge buffers alive
		jsonEncoders.Put(e)
	}
	if err != nil {
		return dst, fmt.Errorf("encoding value of type %T: %w", v, err)
	}
	return dst, nil
}
