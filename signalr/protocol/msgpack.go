package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// MessagePackProtocol is the "messagepack" hub protocol (version 2, binary
// frames). The zero value is ready to use and safe for concurrent use.
//
// Every message is framed as a VarInt length followed by a MessagePack array.
// Received arguments, stream items and results are *MessagePackRawValue
// values. Values sent are encoded with github.com/vmihailenco/msgpack/v5,
// set up to match what .NET's MessagePack-CSharp produces and expects:
// integers in their most compact form, []byte as bin, time.Time as the
// timestamp extension (type -1), structs as maps keyed by field name (or the
// `msgpack:"name"` tag), so PascalCase Go names meet PascalCase .NET names.
type MessagePackProtocol struct{}

// MessagePack is the shared MessagePack hub protocol.
var MessagePack HubProtocol = MessagePackProtocol{}

// NewMessagePackProtocol returns the MessagePack hub protocol.
func NewMessagePackProtocol() HubProtocol { return MessagePackProtocol{} }

// Name returns "messagepack".
func (MessagePackProtocol) Name() string { return "messagepack" }

// Version returns 2; handshakes asking for any version up to 2 are accepted.
func (MessagePackProtocol) Version() int { return 2 }

// TransferFormat returns TransferFormatBinary.
func (MessagePackProtocol) TransferFormat() TransferFormat { return TransferFormatBinary }

// MessagePackRawValue is a MessagePack value received from a peer, kept as
// its bytes until the receiver knows the Go type to decode it into.
type MessagePackRawValue struct {
	raw []byte
}

// NewMessagePackRawValue wraps the encoded value b (not copied).
func NewMessagePackRawValue(b []byte) *MessagePackRawValue { return &MessagePackRawValue{raw: b} }

// Bytes returns the encoded value. It must not be modified.
func (v MessagePackRawValue) Bytes() []byte { return v.raw }

// IsNull reports whether the value is nil.
func (v MessagePackRawValue) IsNull() bool {
	return len(v.raw) == 0 || (len(v.raw) == 1 && v.raw[0] == mpNil)
}

// Decode decodes the value into ptr with the protocol's msgpack settings.
func (v MessagePackRawValue) Decode(ptr any) error {
	dec := msgpack.GetDecoder()
	dec.Reset(bytes.NewReader(v.raw)) // default flags: no preallocation from declared lengths
	err := dec.Decode(ptr)
	msgpack.PutDecoder(dec)
	if err != nil {
		return fmt.Errorf("protocol: decoding MessagePack value: %w", err)
	}
	return nil
}

// EncodeMsgpack writes the value's bytes as they are, so a received value can
// be forwarded inside other Go values without re-encoding.
func (v MessagePackRawValue) EncodeMsgpack(enc *msgpack.Encoder) error {
	if len(v.raw) == 0 {
		return enc.EncodeNil()
	}
	_, err := enc.Writer().Write(v.raw)
	return err
}

// Result kinds of a Completion.
const (
	mpErrorResult   = 1
	mpVoidResult    = 2
	mpNonVoidResult = 3
)

// MessagePack format bytes used by the envelope.
const (
	mpNil   = 0xc0
	mpFalse = 0xc2
	mpTrue  = 0xc3
)

// maxLengthPrefix is the size of the longest VarInt prefix (2 GB).
const maxLengthPrefix = 5

var errMessageOver2GB = &InvalidDataError{Message: "Messages over 2GB in size are not supported."}

// ParseMessage parses the first frame of buf. See HubProtocol. The size
// limit applies to the frame including its length prefix; a declared length
// over the limit fails at once, before the body arrives.
func (MessagePackProtocol) ParseMessage(buf []byte, maxSize int) (HubMessage, int, error) {
	var length uint64
	prefix := 0
	for {
		if prefix == len(buf) {
			if maxSize > 0 && len(buf) >= maxSize {
				return nil, 0, ErrMessageTooLarge
			}
			return nil, 0, nil
		}
		c := buf[prefix]
		length |= uint64(c&0x7f) << (7 * prefix)
		prefix++
		if c&0x80 == 0 {
			if prefix == maxLengthPrefix && c > 7 {
				return nil, 0, errMessageOver2GB
			}
			break
		}
		if prefix == maxLengthPrefix {
			return nil, 0, errMessageOver2GB
		}
	}
	total := uint64(prefix) + length
	if maxSize > 0 && total > uint64(maxSize) {
		return nil, 0, ErrMessageTooLarge
	}
	if uint64(len(buf)) < total {
		return nil, 0, nil
	}
	msg, err := parseMessagePackBody(buf[prefix:total])
	return msg, int(total), err
}

// mpReader reads the envelope of one message. It validates every length
// against the bytes actually present and never preallocates from a declared
// length.
type mpReader struct {
	b []byte
	i int
}

var errMPShort = errors.New("protocol: truncated MessagePack data")
var errMPType = errors.New("protocol: unexpected MessagePack type")

func (r *mpReader) byte1() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errMPShort
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

// uintN reads an n-byte big-endian unsigned integer.
func (r *mpReader) uintN(n int) (uint64, error) {
	if len(r.b)-r.i < n {
		return 0, errMPShort
	}
	var v uint64
	for _, c := range r.b[r.i : r.i+n] {
		v = v<<8 | uint64(c)
	}
	r.i += n
	return v, nil
}

func (r *mpReader) arrayHeader() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case c == 0xdc:
		n, err = r.uintN(2)
	case c == 0xdd:
		n, err = r.uintN(4)
	default:
		return 0, errMPType
	}
	return int(n), err
}

func (r *mpReader) mapHeader() (int, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x80 && c <= 0x8f:
		return int(c & 0x0f), nil
	case c == 0xde:
		n, err = r.uintN(2)
	case c == 0xdf:
		n, err = r.uintN(4)
	default:
		return 0, errMPType
	}
	return int(n), err
}

// int reads any integer format whose value fits in bits.
func (r *mpReader) int(bits int) (int64, error) {
	c, err := r.byte1()
	if err != nil {
		return 0, err
	}
	var v int64
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xcc && c <= 0xcf: // uint 8/16/32/64
		u, err := r.uintN(1 << (c - 0xcc))
		if err != nil {
			return 0, err
		}
		if u > math.MaxInt64 {
			return 0, errMPType
		}
		v = int64(u)
	case c >= 0xd0 && c <= 0xd3: // int 8/16/32/64
		n := 1 << (c - 0xd0)
		u, err := r.uintN(n)
		if err != nil {
			return 0, err
		}
		shift := 64 - 8*n
		v = int64(u<<shift) >> shift // sign-extend
	default:
		return 0, errMPType
	}
	if bits < 64 && (v < -(1<<(bits-1)) || v >= 1<<(bits-1)) {
		return 0, errMPType
	}
	return v, nil
}

// str reads a string or nil.
func (r *mpReader) str() (s string, isNil bool, err error) {
	c, err := r.byte1()
	if err != nil {
		return "", false, err
	}
	var n uint64
	switch {
	case c == mpNil:
		return "", true, nil
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c == 0xd9:
		n, err = r.uintN(1)
	case c == 0xda:
		n, err = r.uintN(2)
	case c == 0xdb:
		n, err = r.uintN(4)
	default:
		return "", false, errMPType
	}
	if err != nil {
		return "", false, err
	}
	if uint64(len(r.b)-r.i) < n {
		return "", false, errMPShort
	}
	s = string(r.b[r.i : r.i+int(n)])
	r.i += int(n)
	return s, false, nil
}

func (r *mpReader) boolean() (bool, error) {
	c, err := r.byte1()
	switch {
	case err != nil:
		return false, err
	case c == mpTrue:
		return true, nil
	case c == mpFalse:
		return false, nil
	}
	return false, errMPType
}

// mpMaxDepth bounds the nesting of skipped values.
const mpMaxDepth = 128

// skip validates and skips one value without recursion, returning its span.
func (r *mpReader) skip() (span, error) {
	start := r.i
	// remaining[d] counts the values still to read in the container at depth d.
	var remaining [mpMaxDepth]uint64
	depth := 0
	pending := uint64(1)
	for {
		for pending == 0 {
			if depth == 0 {
				return span{start, r.i}, nil
			}
			depth--
			pending = remaining[depth]
		}
		pending--
		c, err := r.byte1()
		if err != nil {
			return span{}, err
		}
		var skipBytes uint64
		var children uint64
		switch {
		case c <= 0x7f, c >= 0xe0, c == mpNil, c == mpFalse, c == mpTrue:
		case c >= 0xa0 && c <= 0xbf:
			skipBytes = uint64(c & 0x1f)
		case c >= 0x90 && c <= 0x9f:
			children = uint64(c & 0x0f)
		case c >= 0x80 && c <= 0x8f:
			children = 2 * uint64(c&0x0f)
		case c == 0xc4 || c == 0xd9: // bin8, str8
			skipBytes, err = r.uintN(1)
		case c == 0xc5 || c == 0xda: // bin16, str16
			skipBytes, err = r.uintN(2)
		case c == 0xc6 || c == 0xdb: // bin32, str32
			skipBytes, err = r.uintN(4)
		case c == 0xc7: // ext8
			skipBytes, err = r.uintN(1)
			skipBytes++
		case c == 0xc8: // ext16
			skipBytes, err = r.uintN(2)
			skipBytes++
		case c == 0xc9: // ext32
			skipBytes, err = r.uintN(4)
			skipBytes++
		case c == 0xca: // float32
			skipBytes = 4
		case c == 0xcb: // float64
			skipBytes = 8
		case c >= 0xcc && c <= 0xcf:
			skipBytes = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3:
			skipBytes = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1/2/4/8/16
			skipBytes = 1 + 1<<(c-0xd4)
		case c == 0xdc:
			children, err = r.uintN(2)
		case c == 0xdd:
			children, err = r.uintN(4)
		case c == 0xde:
			children, err = r.uintN(2)
			children *= 2
		case c == 0xdf:
			children, err = r.uintN(4)
			children *= 2
		default: // 0xc1 is never used
			return span{}, errMPType
		}
		if err != nil {
			return span{}, err
		}
		if skipBytes > uint64(len(r.b)-r.i) {
			return span{}, errMPShort
		}
		r.i += int(skipBytes)
		if children > 0 {
			// Each child takes at least one byte: reject impossible counts now.
			if children > uint64(len(r.b)-r.i) {
				return span{}, errMPShort
			}
			if depth == mpMaxDepth {
				return span{}, errMPType
			}
			remaining[depth] = pending
			depth++
			pending = children
		}
	}
}

func mpInvalid(text string, cause error) error {
	return &InvalidDataError{Message: text, Err: cause}
}

func parseMessagePackBody(b []byte) (HubMessage, error) {
	r := &mpReader{b: b}
	count, err := r.arrayHeader()
	if err != nil {
		return nil, mpInvalid("Reading array header for message failed.", err)
	}
	t, err := r.int(32)
	if err != nil {
		return nil, mpInvalid("Reading 'messageType' as Int32 failed.", err)
	}
	switch MessageType(t) {
	case TypeInvocation, TypeStreamInvocation:
		return r.call(MessageType(t), count, b)
	case TypeStreamItem:
		h, err := r.headers()
		if err != nil {
			return nil, err
		}
		id, err := r.invocationID("StreamItem")
		if err != nil {
			return nil, err
		}
		sp, err := r.skip()
		if err != nil {
			return nil, mpInvalid("Reading 'item' failed.", err)
		}
		return &StreamItem{InvocationID: id, Item: mpRawSpan(b, sp), Headers: h}, nil
	case TypeCompletion:
		h, err := r.headers()
		if err != nil {
			return nil, err
		}
		id, err := r.invocationID("Completion")
		if err != nil {
			return nil, err
		}
		kind, err := r.int(32)
		if err != nil {
			return nil, mpInvalid("Reading 'resultKind' as Int32 failed.", err)
		}
		c := &Completion{InvocationID: id, Headers: h}
		switch kind {
		case mpErrorResult:
			if c.Error, _, err = r.str(); err != nil {
				return nil, mpInvalid("Reading 'error' as String failed.", err)
			}
		case mpNonVoidResult:
			sp, err := r.skip()
			if err != nil {
				return nil, mpInvalid("Reading 'result' failed.", err)
			}
			c.HasResult, c.Result = true, mpRawSpan(b, sp)
		case mpVoidResult:
		default:
			return nil, mpInvalid("Invalid invocation result kind.", nil)
		}
		return c, nil
	case TypeCancelInvocation:
		h, err := r.headers()
		if err != nil {
			return nil, err
		}
		id, err := r.invocationID("CancelInvocation")
		if err != nil {
			return nil, err
		}
		return &CancelInvocation{InvocationID: id, Headers: h}, nil
	case TypePing:
		return &Ping{}, nil
	case TypeClose:
		e, _, err := r.str()
		if err != nil {
			return nil, mpInvalid("Reading 'error' as String failed.", err)
		}
		c := &Close{Error: e}
		if count > 2 {
			if c.AllowReconnect, err = r.boolean(); err != nil {
				return nil, mpInvalid("Reading 'allowReconnect' as Boolean failed.", err)
			}
		}
		return c, nil
	case TypeAck, TypeSequence:
		seq, err := r.int(64)
		if err != nil {
			return nil, mpInvalid("Reading 'sequenceId' as Int64 failed.", err)
		}
		if MessageType(t) == TypeAck {
			return &Ack{SequenceID: seq}, nil
		}
		return &Sequence{SequenceID: seq}, nil
	}
	// Unknown types are ignored for forward compatibility.
	return nil, nil
}

func (r *mpReader) headers() (map[string]string, error) {
	n, err := r.mapHeader()
	if err != nil {
		return nil, mpInvalid("Reading map length for 'headers' failed.", err)
	}
	if n == 0 {
		return nil, nil
	}
	h := map[string]string{}
	for i := 0; i < n; i++ {
		k, _, err := r.str()
		if err != nil {
			return nil, mpInvalid(fmt.Sprintf("Reading 'headers[%d].Key' as String failed.", i), err)
		}
		if k == "" {
			return nil, mpInvalid("Null or empty key in header.", nil)
		}
		v, _, err := r.str()
		if err != nil {
			return nil, mpInvalid(fmt.Sprintf("Reading 'headers[%d].Value' as String failed.", i), err)
		}
		if v == "" {
			return nil, mpInvalid("Null or empty value in header.", nil)
		}
		h[k] = v
	}
	return h, nil
}

func (r *mpReader) invocationID(kind string) (string, error) {
	id, _, err := r.str()
	if err != nil {
		return "", mpInvalid("Reading 'invocationId' as String failed.", err)
	}
	if id == "" {
		return "", mpInvalid("Null or empty invocation ID for "+kind+" message.", nil)
	}
	return id, nil
}

// call reads an Invocation or StreamInvocation:
// [type, headers, invocationId, target, [args], [streamIds]?].
func (r *mpReader) call(t MessageType, count int, b []byte) (HubMessage, error) {
	kind := "Invocation"
	if t == TypeStreamInvocation {
		kind = "StreamInvocation"
	}
	h, err := r.headers()
	if err != nil {
		return nil, err
	}
	id, _, err := r.str()
	if err != nil {
		return nil, mpInvalid("Reading 'invocationId' as String failed.", err)
	}
	if id == "" && t == TypeStreamInvocation {
		return nil, mpInvalid("Null or empty invocation ID for StreamInvocation message.", nil)
	}
	target, _, err := r.str()
	if err != nil {
		return nil, mpInvalid("Reading 'target' as String failed.", err)
	}
	if target == "" {
		return nil, mpInvalid("Null or empty target for "+kind+" message.", nil)
	}
	n, err := r.arrayHeader()
	if err != nil {
		return nil, mpInvalid("Reading array length for 'arguments' failed.", err)
	}
	if n > len(r.b)-r.i { // every argument takes at least one byte
		return nil, mpInvalid("Reading array length for 'arguments' failed.", errMPShort)
	}
	var spansBuf [8]span
	spans := spansBuf[:0]
	for i := 0; i < n; i++ {
		sp, err := r.skip()
		if err != nil {
			return nil, mpInvalid(fmt.Sprintf("Reading argument %d failed.", i+1), err)
		}
		spans = append(spans, sp)
	}
	var streamIDs []string
	if count > 5 {
		m, err := r.arrayHeader()
		if err != nil {
			return nil, mpInvalid("Reading array length for 'streamIds' failed.", err)
		}
		for i := 0; i < m; i++ {
			sid, _, err := r.str()
			if err != nil {
				return nil, mpInvalid("Reading 'streamIds' as String failed.", err)
			}
			if sid == "" {
				return nil, mpInvalid("Null or empty value in streamIds received.", nil)
			}
			streamIDs = append(streamIDs, sid)
		}
	}
	if t == TypeInvocation && len(spans) <= smallArgs {
		return mpSmallInvocation(b, spans, &Invocation{InvocationID: id, Target: target, StreamIDs: streamIDs, Headers: h}), nil
	}
	args := mpRawArgs(b, spans)
	if t == TypeStreamInvocation {
		return &StreamInvocation{InvocationID: id, Target: target, Arguments: args, StreamIDs: streamIDs, Headers: h}, nil
	}
	return &Invocation{InvocationID: id, Target: target, Arguments: args, StreamIDs: streamIDs, Headers: h}, nil
}

// mpInvocationBlock holds an Invocation with few arguments and their raw
// values in one allocation (the common case of a client call).
type mpInvocationBlock struct {
	inv  Invocation
	args [smallArgs]any
	vals [smallArgs]MessagePackRawValue
}

func mpSmallInvocation(b []byte, spans []span, inv *Invocation) *Invocation {
	blk := &mpInvocationBlock{inv: *inv}
	n := len(spans)
	blk.inv.Arguments = blk.args[:n:n]
	if n > 0 {
		lo, hi := spans[0].start, spans[n-1].end
		own := make([]byte, hi-lo)
		copy(own, b[lo:hi])
		for i, sp := range spans {
			blk.vals[i].raw = own[sp.start-lo : sp.end-lo : sp.end-lo]
			blk.args[i] = &blk.vals[i]
		}
	}
	return &blk.inv
}

// mpRawArgs copies the arguments out of the caller's buffer in one
// allocation and wraps them without per-argument allocations.
func mpRawArgs(b []byte, spans []span) []any {
	args := make([]any, len(spans))
	if len(spans) == 0 {
		return args
	}
	lo, hi := spans[0].start, spans[len(spans)-1].end
	own := make([]byte, hi-lo)
	copy(own, b[lo:hi])
	vals := make([]MessagePackRawValue, len(spans))
	for i, sp := range spans {
		vals[i].raw = own[sp.start-lo : sp.end-lo : sp.end-lo]
		args[i] = &vals[i]
	}
	return args
}

func mpRawSpan(b []byte, sp span) *MessagePackRawValue {
	own := make([]byte, sp.end-sp.start)
	copy(own, b[sp.start:sp.end])
	return &MessagePackRawValue{raw: own}
}

// AppendMessage appends the length-prefixed encoding of msg to dst, laid out
// exactly as the .NET writer does.
func (MessagePackProtocol) AppendMessage(dst []byte, msg HubMessage) ([]byte, error) {
	start := len(dst)
	// Reserve one byte for the length prefix: bodies under 128 bytes need no move.
	dst = append(dst, 0)
	body := len(dst)
	var err error
	switch m := msg.(type) {
	case *Invocation:
		dst = append(dst, 0x96, byte(TypeInvocation))
		dst = appendMPHeaders(dst, m.Headers)
		if m.InvocationID == "" {
			dst = append(dst, mpNil)
		} else {
			dst = appendMPString(dst, m.InvocationID)
		}
		dst, err = appendMPCallTail(dst, m.Target, m.Arguments, m.StreamIDs)
	case *StreamInvocation:
		dst = append(dst, 0x96, byte(TypeStreamInvocation))
		dst = appendMPHeaders(dst, m.Headers)
		dst = appendMPString(dst, m.InvocationID)
		dst, err = appendMPCallTail(dst, m.Target, m.Arguments, m.StreamIDs)
	case *StreamItem:
		dst = append(dst, 0x94, byte(TypeStreamItem))
		dst = appendMPHeaders(dst, m.Headers)
		dst = appendMPString(dst, m.InvocationID)
		dst, err = appendMPValue(dst, m.Item)
	case *Completion:
		switch {
		case m.Error != "":
			dst = append(dst, 0x95, byte(TypeCompletion))
			dst = appendMPHeaders(dst, m.Headers)
			dst = appendMPString(dst, m.InvocationID)
			dst = append(dst, mpErrorResult)
			dst = appendMPString(dst, m.Error)
		case m.HasResult:
			dst = append(dst, 0x95, byte(TypeCompletion))
			dst = appendMPHeaders(dst, m.Headers)
			dst = appendMPString(dst, m.InvocationID)
			dst = append(dst, mpNonVoidResult)
			dst, err = appendMPValue(dst, m.Result)
		default:
			dst = append(dst, 0x94, byte(TypeCompletion))
			dst = appendMPHeaders(dst, m.Headers)
			dst = appendMPString(dst, m.InvocationID)
			dst = append(dst, mpVoidResult)
		}
	case *CancelInvocation:
		dst = append(dst, 0x93, byte(TypeCancelInvocation))
		dst = appendMPHeaders(dst, m.Headers)
		dst = appendMPString(dst, m.InvocationID)
	case *Ping:
		dst = append(dst, 0x91, byte(TypePing))
	case *Close:
		dst = append(dst, 0x93, byte(TypeClose))
		if m.Error == "" {
			dst = append(dst, mpNil)
		} else {
			dst = appendMPString(dst, m.Error)
		}
		if m.AllowReconnect {
			dst = append(dst, mpTrue)
		} else {
			dst = append(dst, mpFalse)
		}
	case *Ack:
		dst = append(dst, 0x92, byte(TypeAck))
		dst = appendMPInt(dst, m.SequenceID)
	case *Sequence:
		dst = append(dst, 0x92, byte(TypeSequence))
		dst = appendMPInt(dst, m.SequenceID)
	default:
		return dst[:start], fmt.Errorf("protocol: messagepack: unsupported message type %T", msg)
	}
	if err != nil {
		return dst[:start], err
	}
	return finishLengthPrefix(dst, start, body), nil
}

// finishLengthPrefix writes the VarInt length of dst[body:] into the byte
// reserved at dst[start], widening the prefix when the body is 128 bytes or more.
func finishLengthPrefix(dst []byte, start, body int) []byte {
	n := len(dst) - body
	var prefix [maxLengthPrefix]byte
	p := 0
	for v := uint32(n); ; {
		b := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b |= 0x80
		}
		prefix[p] = b
		p++
		if v == 0 {
			break
		}
	}
	if p > 1 {
		dst = append(dst, prefix[1:p]...) // grow
		copy(dst[start+p:], dst[body:body+n])
	}
	copy(dst[start:], prefix[:p])
	return dst
}

// appendMPCallTail writes target, [arguments] and [streamIds] (always
// present, like the .NET writer's six-element layout).
func appendMPCallTail(dst []byte, target string, args []any, streamIDs []string) ([]byte, error) {
	dst = appendMPString(dst, target)
	dst = appendMPArrayHeader(dst, len(args))
	for i, a := range args {
		var err error
		if dst, err = appendMPValue(dst, a); err != nil {
			return dst, fmt.Errorf("protocol: messagepack: argument %d: %w", i, err)
		}
	}
	dst = appendMPArrayHeader(dst, len(streamIDs))
	for _, id := range streamIDs {
		dst = appendMPString(dst, id)
	}
	return dst, nil
}

func appendMPHeaders(dst []byte, h map[string]string) []byte {
	if len(h) == 0 {
		return append(dst, 0x80)
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = appendMPMapHeader(dst, len(keys))
	for _, k := range keys {
		dst = appendMPString(dst, k)
		dst = appendMPString(dst, h[k])
	}
	return dst
}

func appendMPArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xdc, byte(n>>8), byte(n))
	}
	return append(dst, 0xdd, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func appendMPMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return append(dst, 0xde, byte(n>>8), byte(n))
	}
	return append(dst, 0xdf, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendMPString writes s in the shortest str format (fixstr, str8, str16,
// str32), as MessagePack-CSharp does.
func appendMPString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = append(dst, 0xda, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0xdb, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, s...)
}

// appendMPInt writes v in its most compact form: unsigned formats for
// non-negative values, signed ones for negative values.
func appendMPInt(dst []byte, v int64) []byte {
	if v >= 0 {
		u := uint64(v)
		switch {
		case u <= 0x7f:
			return append(dst, byte(u))
		case u <= math.MaxUint8:
			return append(dst, 0xcc, byte(u))
		case u <= math.MaxUint16:
			return append(dst, 0xcd, byte(u>>8), byte(u))
		case u <= math.MaxUint32:
			return append(dst, 0xce, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
		}
		return append(dst, 0xcf, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	switch {
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(v))
	case v >= math.MinInt16:
		return append(dst, 0xd1, byte(v>>8), byte(v))
	case v >= math.MinInt32:
		return append(dst, 0xd2, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
	}
	return append(dst, 0xd3, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendMPValue encodes one payload value: common scalars and raw
// MessagePack directly, everything else through msgpack/v5.
func appendMPValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, mpNil), nil
	case *MessagePackRawValue:
		if x == nil || len(x.raw) == 0 {
			return append(dst, mpNil), nil
		}
		return append(dst, x.raw...), nil
	case MessagePackRawValue:
		if len(x.raw) == 0 {
			return append(dst, mpNil), nil
		}
		return append(dst, x.raw...), nil
	case msgpack.RawMessage:
		if len(x) == 0 {
			return append(dst, mpNil), nil
		}
		return append(dst, x...), nil
	case string:
		return appendMPString(dst, x), nil
	case bool:
		if x {
			return append(dst, mpTrue), nil
		}
		return append(dst, mpFalse), nil
	case int:
		return appendMPInt(dst, int64(x)), nil
	case int32:
		return appendMPInt(dst, int64(x)), nil
	case int64:
		return appendMPInt(dst, x), nil
	case *JSONRawValue:
		if x == nil || x.IsNull() {
			return append(dst, mpNil), nil
		}
		g, err := jsonGeneric(x.raw)
		if err != nil {
			return dst, err
		}
		v = g
	case RawValue:
		// A value received through another protocol: decode it generically
		// and re-encode it as MessagePack.
		var g any
		if err := x.Decode(&g); err != nil {
			return dst, err
		}
		v = g
	}
	return appendMPMarshal(dst, v)
}

// mpAppendWriter lets the msgpack encoder write straight into our slice.
type mpAppendWriter struct{ b []byte }

func (w *mpAppendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *mpAppendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

type mpEncoder struct {
	w   mpAppendWriter
	enc *msgpack.Encoder
}

var mpEncoders = sync.Pool{New: func() any {
	e := &mpEncoder{}
	e.enc = msgpack.NewEncoder(&e.w)
	e.enc.UseCompactInts(true) // MessagePack-CSharp writes the smallest int format
	e.enc.SetSortMapKeys(true) // deterministic bytes
	return e
}}

func appendMPMarshal(dst []byte, v any) ([]byte, error) {
	e := mpEncoders.Get().(*mpEncoder)
	e.w.b = dst
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	mpEncoders.Put(e)
	if err != nil {
		return dst, fmt.Errorf("encoding value of type %T: %w", v, err)
	}
	return out, nil
}
