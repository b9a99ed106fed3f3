package loadgen

import (
	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// protocolCodec adapts a protocol.HubProtocol (for MessagePack, or to check
// the lean JSON scanner against the project's own codec).
type protocolCodec struct {
	p protocol.HubProtocol
}

func (c *protocolCodec) Name() string { return c.p.Name() }
func (c *protocolCodec) Binary() bool { return c.p.TransferFormat() == protocol.TransferFormatBinary }

func (c *protocolCodec) AppendInvocation(dst []byte, id, target string, args ...[]byte) ([]byte, error) {
	// Each Conn serializes its sends, but the codec is shared: build args locally.
	a := make([]any, len(args))
	for i, b := range args {
		a[i] = string(b)
	}
	return c.p.AppendMessage(dst, &protocol.Invocation{InvocationID: id, Target: target, Arguments: a})
}

func (c *protocolCodec) AppendPing(dst []byte) []byte {
	b, err := c.p.AppendMessage(dst, &protocol.Ping{})
	if err != nil {
		return dst
	}
	return b
}

func (c *protocolCodec) AppendClose(dst []byte) []byte {
	b, err := c.p.AppendMessage(dst, &protocol.Close{})
	if err != nil {
		return dst
	}
	return b
}

func (c *protocolCodec) Parse(buf []byte, rec *record) (int, error) {
	msg, n, err := c.p.ParseMessage(buf, maxRecordSize)
	if err != nil || n == 0 {
		return n, err
	}
	rec.reset()
	switch m := msg.(type) {
	case nil:
		rec.Type = 0 // unknown type: ignored
	case *protocol.Invocation:
		rec.Type = 1
		rec.InvocationID = []byte(m.InvocationID)
		rec.Target = []byte(m.Target)
		if len(m.Arguments) > 0 {
			rec.Arg = rawString(m.Arguments[len(m.Arguments)-1])
		}
	case *protocol.Completion:
		rec.Type = 3
		rec.InvocationID = []byte(m.InvocationID)
		rec.Error = []byte(m.Error)
		rec.HasResult = m.HasResult
		if m.HasResult {
			rec.Result = rawString(m.Result)
		}
	case *protocol.Close:
		rec.Type = 7
		rec.Error = []byte(m.Error)
	default:
		rec.Type = int(msg.MessageType())
	}
	return n, nil
}

// rawString decodes a received value as a string; nil if it is not one.
func rawString(v any) []byte {
	switch x := v.(type) {
	case protocol.RawValue:
		if x.IsNull() {
			return nil
		}
		var s string
		if err := x.Decode(&s); err != nil {
			return nil
		}
		return []byte(s)
	case string:
		return []byte(x)
	}
	return nil
}
