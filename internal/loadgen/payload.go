package loadgen

import (
	"errors"
	"math"
	"strconv"
)

// Payload is what every load message carries, as a plain ASCII string:
//
//	lg1|<sender>|<seq>|<unix nanos>|xxxx...
//
// padded with 'x' to the configured message size. Plain ASCII keeps JSON
// encoding escape-free and lets receivers parse it without allocating.
type Payload struct {
	Sender int   // index of the sending connection
	Seq    int64 // 1, 2, 3, ... per sender
	SentNs int64 // send time, unix nanoseconds
}

const payloadPrefix = "lg1|"

// AppendPayload appends p, padded with 'x' up to size bytes in total.
func AppendPayload(dst []byte, p Payload, size int) []byte {
	start := len(dst)
	dst = append(dst, payloadPrefix...)
	dst = strconv.AppendInt(dst, int64(p.Sender), 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, p.Seq, 10)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, p.SentNs, 10)
	dst = append(dst, '|')
	for len(dst)-start < size {
		dst = append(dst, 'x')
	}
	return dst
}

var errNotPayload = errors.New("loadgen: not a load payload")

// ParsePayload parses a payload made by AppendPayload. It does not allocate.
func ParsePayload(b []byte) (Payload, error) {
	if len(b) < len(payloadPrefix) || string(b[:len(payloadPrefix)]) != payloadPrefix {
		return Payload{}, errNotPayload
	}
	b = b[len(payloadPrefix):]
	var fields [3]int64
	for i := range fields {
		var v int64
		n := 0
		for n < len(b) && b[n] != '|' {
			c := b[n]
			if c < '0' || c > '9' || v > (math.MaxInt64-int64(c-'0'))/10 {
				return Payload{}, errNotPayload
			}
			v = v*10 + int64(c-'0')
			n++
		}
		if n == 0 || n == len(b) {
			return Payload{}, errNotPayload
		}
		fields[i] = v
		b = b[n+1:]
	}
	if fields[0] > 1<<31 {
		return Payload{}, errNotPayload
	}
	for _, c := range b {
		if c != 'x' {
			return Payload{}, errNotPayload
		}
	}
	return Payload{Sender: int(fields[0]), Seq: fields[1], SentNs: fields[2]}, nil
}
