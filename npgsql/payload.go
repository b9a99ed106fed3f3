package npgsql

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// MessageType is the type tag that starts every backplane payload. The values
// are those of AspNetCore.SignalR.Npgsql (and IntelliTect's SQL Server
// provider it derives from).
type MessageType byte

// Backplane message types.
const (
	TypeAck                  MessageType = 1
	TypeGroup                MessageType = 2
	TypeInvocationAll        MessageType = 11
	TypeInvocationGroup      MessageType = 12
	TypeInvocationConnection MessageType = 13
	TypeInvocationUser       MessageType = 14
)

func (t MessageType) String() string {
	switch t {
	case TypeAck:
		return "Ack"
	case TypeGroup:
		return "Group"
	case TypeInvocationAll:
		return "InvocationAll"
	case TypeInvocationGroup:
		return "InvocationGroup"
	case TypeInvocationConnection:
		return "InvocationConnection"
	case TypeInvocationUser:
		return "InvocationUser"
	}
	return fmt.Sprintf("MessageType(%d)", byte(t))
}

// GroupAction is the action of a Group command.
type GroupAction byte

// Group actions.
const (
	GroupAdd    GroupAction = 1
	GroupRemove GroupAction = 2
)

// Encoded is one protocol's framed encoding of a hub message: the bytes a
// server writes to a client that negotiated that protocol.
type Encoded struct {
	Protocol string // hub protocol name: "json", "messagepack", ...
	Bytes    []byte
}

// Payload is one backplane message: the content of the "Payload" column.
// Which fields are used depends on Type:
//
//	Ack:                  ID, ServerName
//	Group:                ID, ServerName, Action, GroupName, ConnectionID
//	InvocationAll:        ExcludedIDs, Messages
//	InvocationGroup:      GroupName, ExcludedIDs, Messages
//	InvocationConnection: ConnectionID, ExcludedIDs, Messages
//	InvocationUser:       UserID, ExcludedIDs, Messages
type Payload struct {
	Type         MessageType
	ID           int32
	ServerName   string
	Action       GroupAction
	GroupName    string
	ConnectionID string
	UserID       string
	ExcludedIDs  []string
	// Messages keeps the order of the map on the wire (the hub's protocol order).
	Messages []Encoded
}

// AppendPayload appends the MessagePack encoding of p to dst, byte for byte as
// the .NET PostgresProtocol writes it: the tag as uint8 (0xCC t), then an
// array with the fields, integers in their most compact form, an always-present
// exclusion array, and a map from protocol name to bin.
func AppendPayload(dst []byte, p *Payload) ([]byte, error) {
	dst = append(dst, 0xcc, byte(p.Type))
	switch p.Type {
	case TypeAck:
		dst = appendArrayHeader(dst, 2)
		dst = appendInt(dst, int64(p.ID))
		dst = appendString(dst, p.ServerName)
	case TypeGroup:
		dst = appendArrayHeader(dst, 5)
		dst = appendInt(dst, int64(p.ID))
		dst = appendString(dst, p.ServerName)
		dst = appendInt(dst, int64(p.Action))
		dst = appendString(dst, p.GroupName)
		dst = appendString(dst, p.ConnectionID)
	case TypeInvocationAll:
		dst = appendArrayHeader(dst, 2)
		dst = appendInvocation(dst, p)
	case TypeInvocationGroup, TypeInvocationConnection, TypeInvocationUser:
		dst = appendArrayHeader(dst, 3)
		switch p.Type {
		case TypeInvocationGroup:
			dst = appendString(dst, p.GroupName)
		case TypeInvocationConnection:
			dst = appendString(dst, p.ConnectionID)
		default:
			dst = appendString(dst, p.UserID)
		}
		dst = appendInvocation(dst, p)
	default:
		return dst, fmt.Errorf("npgsql: cannot encode payload of unknown type %d", byte(p.Type))
	}
	return dst, nil
}

func appendInvocation(dst []byte, p *Payload) []byte {
	dst = appendArrayHeader(dst, len(p.ExcludedIDs))
	for _, id := range p.ExcludedIDs {
		dst = appendString(dst, id)
	}
	dst = appendMapHeader(dst, len(p.Messages))
	for _, m := range p.Messages {
		dst = appendString(dst, m.Protocol)
		dst = appendBin(dst, m.Bytes)
	}
	return dst
}

// appendInt writes v the way MessagePack-CSharp's Write(int) does: positive
// fixint, else uint8/16/32 for positives and negative fixint, else int8/16/32.
func appendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 0x7f:
		return append(dst, byte(v))
	case v >= 0 && v <= math.MaxUint8:
		return append(dst, 0xcc, byte(v))
	case v >= 0 && v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(v))
	case v >= 0 && v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(v))
	case v >= 0:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), uint64(v))
	case v >= -32:
		return append(dst, byte(int8(v)))
	case v >= math.MinInt8:
		return append(dst, 0xd0, byte(int8(v)))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(int16(v)))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(int32(v)))
	}
	return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(v))
}

func appendString(dst []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		dst = append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

func appendBin(dst []byte, b []byte) []byte {
	n := len(b)
	switch {
	case n <= math.MaxUint8:
		dst = append(dst, 0xc4, byte(n))
	case n <= math.MaxUint16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xc5), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xc6), uint32(n))
	}
	return append(dst, b...)
}

func appendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
}

func appendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
}

// ErrShortPayload is wrapped by parse errors caused by truncated input.
var ErrShortPayload = errors.New("unexpected end of payload")

// ParsePayload decodes a backplane payload. It accepts any MessagePack integer
// encoding, nil for strings, str for bin, and extra trailing array items, as
// the .NET reader does; it never panics and fails with a clear error on
// malformed input. The returned byte slices alias b.
func ParsePayload(b []byte) (*Payload, error) {
	r := &reader{b: b}
	tag, err := r.int("message type")
	if err != nil {
		return nil, err
	}
	if tag < 0 || tag > math.MaxUint8 {
		return nil, fmt.Errorf("npgsql: message type %d out of range", tag)
	}
	p := &Payload{Type: MessageType(tag)}
	var want int
	var what string
	switch p.Type {
	case TypeAck:
		want, what = 2, "Ack"
	case TypeGroup:
		want, what = 5, "Group"
	case TypeInvocationAll:
		want, what = 2, "InvocationAll"
	case TypeInvocationGroup, TypeInvocationConnection, TypeInvocationUser:
		want, what = 3, p.Type.String()
	default:
		return nil, fmt.Errorf("npgsql: unknown message type %d", tag)
	}
	n, err := r.arrayHeader(what)
	if err != nil {
		return nil, err
	}
	if n < want {
		return nil, fmt.Errorf("npgsql: insufficient items in %s array: got %d, need %d", what, n, want)
	}
	switch p.Type {
	case TypeAck, TypeGroup:
		id, err := r.int("id")
		if err != nil {
			return nil, err
		}
		if id < math.MinInt32 || id > math.MaxInt32 {
			return nil, fmt.Errorf("npgsql: %s id %d does not fit in an int32", what, id)
		}
		p.ID = int32(id)
		if p.ServerName, err = r.str("server name"); err != nil {
			return nil, err
		}
		if p.Type == TypeGroup {
			a, err := r.int("group action")
			if err != nil {
				return nil, err
			}
			if a < 0 || a > math.MaxUint8 {
				return nil, fmt.Errorf("npgsql: group action %d out of range", a)
			}
			p.Action = GroupAction(a)
			if p.GroupName, err = r.str("group name"); err != nil {
				return nil, err
			}
			if p.ConnectionID, err = r.str("connection id"); err != nil {
				return nil, err
			}
		}
	default:
		if p.Type != TypeInvocationAll {
			s, err := r.str("target")
			if err != nil {
				return nil, err
			}
			switch p.Type {
			case TypeInvocationGroup:
				p.GroupName = s
			case TypeInvocationConnection:
				p.ConnectionID = s
			default:
				p.UserID = s
			}
		}
		if err := r.invocation(p); err != nil {
			return nil, err
		}
	}
	// Extra trailing items are allowed (newer writers may append fields).
	for i := want; i < n; i++ {
		if err := r.skip(0); err != nil {
			return nil, err
		}
	}
	return p, nil
}

type reader struct {
	b   []byte
	off int
}

func (r *reader) short(what string) error {
	return fmt.Errorf("npgsql: reading %s at offset %d: %w", what, r.off, ErrShortPayload)
}

func (r *reader) need(n int, what string) ([]byte, error) {
	if n < 0 || len(r.b)-r.off < n {
		return nil, r.short(what)
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s, nil
}

func (r *reader) byte1(what string) (byte, error) {
	s, err := r.need(1, what)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

// int reads any MessagePack integer.
func (r *reader) int(what string) (int64, error) {
	c, err := r.byte1(what)
	if err != nil {
		return 0, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		return 0, fmt.Errorf("npgsql: reading %s at offset %d: expected an integer, got code 0x%02x", what, r.off-1, c)
	}
	s, err := r.need(size, what)
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xcc:
		return int64(s[0]), nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(s)), nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(s)), nil
	case 0xcf:
		u := binary.BigEndian.Uint64(s)
		if u > math.MaxInt64 {
			return 0, fmt.Errorf("npgsql: reading %s: integer %d out of range", what, u)
		}
		return int64(u), nil
	case 0xd0:
		return int64(int8(s[0])), nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(s))), nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(s))), nil
	default:
		return int64(binary.BigEndian.Uint64(s)), nil
	}
}

func (r *reader) length(c byte, size int, what string) (int, error) {
	s, err := r.need(size, what)
	if err != nil {
		return 0, err
	}
	var n uint64
	switch size {
	case 1:
		n = uint64(s[0])
	case 2:
		n = uint64(binary.BigEndian.Uint16(s))
	default:
		n = uint64(binary.BigEndian.Uint32(s))
	}
	if n > uint64(len(r.b)-r.off) {
		// Every element takes at least one byte: a longer count is a lie.
		return 0, fmt.Errorf("npgsql: reading %s: length %d exceeds the %d bytes left: %w", what, n, len(r.b)-r.off, ErrShortPayload)
	}
	return int(n), nil
}

func (r *reader) arrayHeader(what string) (int, error) {
	c, err := r.byte1(what)
	if err != nil {
		return 0, err
	}
	switch {
	case c&0xf0 == 0x90:
		return int(c & 0x0f), nil
	case c == 0xdc:
		return r.length(c, 2, what)
	case c == 0xdd:
		return r.length(c, 4, what)
	}
	return 0, fmt.Errorf("npgsql: reading %s at offset %d: expected an array, got code 0x%02x", what, r.off-1, c)
}

func (r *reader) mapHeader(what string) (int, error) {
	c, err := r.byte1(what)
	if err != nil {
		return 0, err
	}
	switch {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), nil
	case c == 0xde:
		return r.length(c, 2, what)
	case c == 0xdf:
		return r.length(c, 4, what)
	}
	return 0, fmt.Errorf("npgsql: reading %s at offset %d: expected a map, got code 0x%02x", what, r.off-1, c)
}

// rawStr reads str (or bin, accepted like MessagePack-CSharp does for old
// writers) and nil as an empty value.
func (r *reader) raw(what string, allowNil bool) ([]byte, error) {
	c, err := r.byte1(what)
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
		if n > len(r.b)-r.off {
			return nil, r.short(what)
		}
	case c == 0xd9 || c == 0xc4:
		n, err = r.length(c, 1, what)
	case c == 0xda || c == 0xc5:
		n, err = r.length(c, 2, what)
	case c == 0xdb || c == 0xc6:
		n, err = r.length(c, 4, what)
	case c == 0xc0 && allowNil:
		return nil, nil
	default:
		return nil, fmt.Errorf("npgsql: reading %s at offset %d: expected a string, got code 0x%02x", what, r.off-1, c)
	}
	if err != nil {
		return nil, err
	}
	return r.need(n, what)
}

func (r *reader) str(what string) (string, error) {
	b, err := r.raw(what, true)
	return string(b), err
}

func (r *reader) invocation(p *Payload) error {
	// excludedIds: .NET writes an empty array for none; nil is accepted too.
	if len(r.b) > r.off && r.b[r.off] == 0xc0 {
		r.off++
	} else {
		n, err := r.arrayHeader("excluded ids")
		if err != nil {
			return err
		}
		if n > 0 {
			p.ExcludedIDs = make([]string, 0, n)
		}
		for range n {
			s, err := r.str("excluded id")
			if err != nil {
				return err
			}
			p.ExcludedIDs = append(p.ExcludedIDs, s)
		}
	}
	n, err := r.mapHeader("serialized messages")
	if err != nil {
		return err
	}
	p.Messages = make([]Encoded, 0, n)
	for range n {
		name, err := r.str("protocol name")
		if err != nil {
			return err
		}
		b, err := r.raw("serialized message", true)
		if err != nil {
			return err
		}
		p.Messages = append(p.Messages, Encoded{Protocol: name, Bytes: b})
	}
	return nil
}

const maxSkipDepth = 64

// skip passes over one MessagePack value of any type.
func (r *reader) skip(depth int) error {
	if depth > maxSkipDepth {
		return errors.New("npgsql: payload nested too deeply")
	}
	c, err := r.byte1("value")
	if err != nil {
		return err
	}
	var n int
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		return nil
	case c&0xe0 == 0xa0:
		_, err = r.need(int(c&0x1f), "value")
		return err
	case c&0xf0 == 0x90:
		return r.skipN(int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return r.skipN(2*int(c&0x0f), depth)
	}
	switch c {
	case 0xcc, 0xd0:
		_, err = r.need(1, "value")
	case 0xcd, 0xd1:
		_, err = r.need(2, "value")
	case 0xce, 0xd2, 0xca:
		_, err = r.need(4, "value")
	case 0xcf, 0xd3, 0xcb:
		_, err = r.need(8, "value")
	case 0xd4:
		_, err = r.need(2, "value")
	case 0xd5:
		_, err = r.need(3, "value")
	case 0xd6:
		_, err = r.need(5, "value")
	case 0xd7:
		_, err = r.need(9, "value")
	case 0xd8:
		_, err = r.need(17, "value")
	case 0xc4, 0xd9:
		if n, err = r.length(c, 1, "value"); err == nil {
			_, err = r.need(n, "value")
		}
	case 0xc5, 0xda:
		if n, err = r.length(c, 2, "value"); err == nil {
			_, err = r.need(n, "value")
		}
	case 0xc6, 0xdb:
		if n, err = r.length(c, 4, "value"); err == nil {
			_, err = r.need(n, "value")
		}
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type byte, data
		size := map[byte]int{0xc7: 1, 0xc8: 2, 0xc9: 4}[c]
		if n, err = r.length(c, size, "value"); err == nil {
			_, err = r.need(n+1, "value")
		}
	case 0xdc:
		if n, err = r.length(c, 2, "value"); err == nil {
			err = r.skipN(n, depth)
		}
	case 0xdd:
		if n, err = r.length(c, 4, "value"); err == nil {
			err = r.skipN(n, depth)
		}
	case 0xde:
		if n, err = r.length(c, 2, "value"); err == nil {
			err = r.skipN(2*n, depth)
		}
	case 0xdf:
		if n, err = r.length(c, 4, "value"); err == nil {
			err = r.skipN(2*n, depth)
		}
	default:
		return fmt.Errorf("npgsql: invalid MessagePack code 0x%02x at offset %d", c, r.off-1)
	}
	return err
}

func (r *reader) skipN(n, depth int) error {
	for range n {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
