package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Received values may have to be forwarded to peers speaking the other
// protocol (a JSON client's argument broadcast to MessagePack clients, say).
// These conversions go through generic Go values.

// jsonGeneric decodes JSON text into generic Go values, keeping integers as
// int64 (encoding/json alone would make every number a float64, and a
// MessagePack peer would then see 42 as 42.0).
func jsonGeneric(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("protocol: decoding JSON value: %w", err)
	}
	return fromJSONNumbers(g), nil
}

func fromJSONNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromJSONNumbers(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = fromJSONNumbers(e)
		}
	}
	return v
}

// EncodeMsgpack lets a JSON value received from one peer travel inside a
// value sent to a MessagePack peer.
func (v JSONRawValue) EncodeMsgpack(enc *msgpack.Encoder) error {
	if v.IsNull() {
		return enc.EncodeNil()
	}
	g, err := jsonGeneric(v.raw)
	if err != nil {
		return err
	}
	return enc.Encode(g)
}

// MarshalJSON lets a MessagePack value received from one peer travel inside
// a value sent to a JSON peer.
func (v MessagePackRawValue) MarshalJSON() ([]byte, error) {
	if v.IsNull() {
		return []byte("null"), nil
	}
	g, err := mpGeneric(v.raw)
	if err != nil {
		return nil, err
	}
	return json.Marshal(g)
}

// mpGeneric decodes MessagePack into generic Go values, with timestamps in
// UTC (msgpack/v5 yields local time; .NET reads them as UTC DateTimes, and a
// JSON peer must see "...Z").
func mpGeneric(raw []byte) (any, error) {
	var g any
	if err := (MessagePackRawValue{raw: raw}).Decode(&g); err != nil {
		return nil, err
	}
	return utcTimes(g), nil
}

func utcTimes(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case []any:
		for i := range x {
			x[i] = utcTimes(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = utcTimes(e)
		}
	case map[any]any:
		for k, e := range x {
			x[k] = utcTimes(e)
		}
	}
	return v
}
