package protocol_test

import (
	"fmt"

	"github.com/gosignalr/gosignalr/signalr/protocol"
)

// A server reads the handshake, picks the protocol, answers, then parses hub
// messages from the bytes that follow.
func Example_serverHandshake() {
	in := []byte("{\"protocol\":\"json\",\"version\":1}\x1e{\"type\":6}\x1e")

	name, version, n, err := protocol.ParseHandshakeRequest(in)
	if err != nil {
		fmt.Println(protocol.UnexpectedHandshakeErrorText(err, true))
		return
	}
	p, reason := protocol.SelectHubProtocol([]protocol.HubProtocol{protocol.JSON, protocol.MessagePack},
		name, version, protocol.TransferFormatText|protocol.TransferFormatBinary)
	fmt.Printf("%q\n", protocol.WriteHandshakeResponse(reason))

	msg, _, err := p.ParseMessage(in[n:], 32768)
	fmt.Printf("%T %v\n", msg, err)
	// Output:
	// "{}\x1e"
	// *protocol.Ping <nil>
}

func ExampleSelectHubProtocol() {
	_, reason := protocol.SelectHubProtocol([]protocol.HubProtocol{protocol.JSON, protocol.MessagePack},
		"messagepack", 1, protocol.TransferFormatText) // Server-Sent Events carry text only
	fmt.Println(reason)
	// Output:
	// Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.
}

// ParseMessage works over a byte stream: it returns n == 0 until a record is
// complete, and the caller keeps whatever was not consumed.
func ExampleHubProtocol_parseStream() {
	var buf []byte
	for _, chunk := range []string{"{\"type\":1,\"target\":\"Send\",\"argu", "ments\":[\"hi\",42]}\x1e{\"type\":6}\x1e"} {
		buf = append(buf, chunk...)
		for {
			msg, n, err := protocol.JSON.ParseMessage(buf, 32768)
			if err != nil {
				fmt.Println("error:", err)
				return
			}
			if n == 0 {
				break // wait for more bytes
			}
			buf = buf[n:]
			if inv, ok := msg.(*protocol.Invocation); ok {
				var text string
				var number int
				_ = inv.Arguments[0].(protocol.RawValue).Decode(&text)
				_ = inv.Arguments[1].(protocol.RawValue).Decode(&number)
				fmt.Println(inv.Target, text, number)
			} else if msg != nil {
				fmt.Printf("%T\n", msg)
			}
		}
	}
	// Output:
	// Send hi 42
	// *protocol.Ping
}

func ExampleJSONProtocol_AppendMessage() {
	type chat struct {
		User string `json:"user"`
		Text string `json:"text"`
	}
	b, _ := protocol.JSON.AppendMessage(nil, &protocol.Invocation{
		Target:    "ReceiveMessage",
		Arguments: []any{chat{User: "ann", Text: "<hello>"}},
	})
	b, _ = protocol.JSON.AppendMessage(b, &protocol.Completion{InvocationID: "1", HasResult: true}) // a void method
	b, _ = protocol.JSON.AppendMessage(b, &protocol.Close{Error: "Connection closed with an error.", AllowReconnect: true})
	fmt.Printf("%q\n", b)
	// Output:
	// "{\"type\":1,\"target\":\"ReceiveMessage\",\"arguments\":[{\"user\":\"ann\",\"text\":\"<hello>\"}]}\x1e{\"type\":3,\"invocationId\":\"1\",\"result\":null}\x1e{\"type\":7,\"error\":\"Connection closed with an error.\",\"allowReconnect\":true}\x1e"
}

func ExampleMessagePackProtocol_AppendMessage() {
	b, _ := protocol.MessagePack.AppendMessage(nil, &protocol.Ping{})
	fmt.Printf("% x\n", b)
	b, _ = protocol.MessagePack.AppendMessage(nil, &protocol.Completion{InvocationID: "1", HasResult: true})
	fmt.Printf("% x\n", b)
	// Output:
	// 02 91 06
	// 07 95 03 80 a1 31 03 c0
}

// A client writes its handshake request and reads the server's answer.
func ExampleParseHandshakeResponse() {
	fmt.Printf("%q\n", protocol.WriteHandshakeRequest("messagepack", 1))
	errText, n, err := protocol.ParseHandshakeResponse([]byte("{\"error\":\"The protocol 'xml' is not supported.\"}\x1e"))
	fmt.Println(errText, n, err)
	// Output:
	// "{\"protocol\":\"messagepack\",\"version\":1}\x1e"
	// The protocol 'xml' is not supported. 49 <nil>
}

func ExampleRawValue() {
	msg, _, _ := protocol.MessagePack.ParseMessage([]byte{0x07, 0x95, 0x03, 0x80, 0xa1, 0x31, 0x03, 0x2a}, 0)
	c := msg.(*protocol.Completion)
	var v int
	if err := c.Result.(protocol.RawValue).Decode(&v); err != nil {
		fmt.Println(err)
	}
	fmt.Println(c.InvocationID, c.HasResult, v)
	// Output:
	// 1 true 42
}
