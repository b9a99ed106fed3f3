package protocol

import (
	"errors"
	"testing"
)

func TestParseHandshakeRequest(t *testing.T) {
	cases := []struct {
		in       string
		protocol string
		version  int
		n        int
		err      string
	}{
		{"{\"protocol\":\"json\",\"version\":1}\x1e", "json", 1, 32, ""},
		{"{\"version\":2,\"protocol\":\"messagepack\",\"extra\":[{}]}\x1e{\"type\":6}\x1e", "messagepack", 2, 52, ""},
		{" { \"protocol\" : \"json\" , \"version\" : 0 } \x1e", "json", 0, 42, ""},
		{"{\"protocol\":\"json\",\"version\":1}", "", 0, 0, ""}, // incomplete
		{"", "", 0, 0, ""},
		{"{\"version\":1}\x1e", "", 0, 14, "Missing required property 'protocol'. Message content: {\"version\":1}"},
		{"{\"protocol\":\"json\"}\x1e", "", 0, 20, "Missing required property 'version'. Message content: {\"protocol\":\"json\"}"},
		{"{\"protocol\":\"json\",\"version\":null}\x1e", "", 0, 35, "Missing required property 'version'. Message content: {\"protocol\":\"json\",\"version\":null}"},
		{"{\"Protocol\":\"json\",\"Version\":1}\x1e", "", 0, 32, "Missing required property 'protocol'. Message content: {\"Protocol\":\"json\",\"Version\":1}"},
		{"{\"protocol\":1,\"version\":1}\x1e", "", 0, 27, "Expected 'protocol' to be of type String."},
		{"{\"protocol\":\"json\",\"version\":\"1\"}\x1e", "", 0, 34, "Expected 'version' to be of type Number."},
		{"[]\x1e", "", 0, 3, "Unexpected JSON Token Type 'Array'. Expected a JSON Object."},
		{"{\"protocol\":\x1e", "", 0, 13, "Error reading JSON."},
		{"\x1e", "", 0, 1, "Error reading JSON."},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			p, v, n, err := ParseHandshakeRequest([]byte(tc.in))
			if p != tc.protocol || v != tc.version || n != tc.n {
				t.Fatalf("got %q %d n=%d (err %v), want %q %d n=%d", p, v, n, err, tc.protocol, tc.version, tc.n)
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ide *InvalidDataError
			if !errors.As(err, &ide) || ide.Message != tc.err {
				t.Fatalf("err %v\nwant %s", err, tc.err)
			}
		})
	}
}

func TestParseHandshakeRequestGolden(t *testing.T) {
	b := readGolden(t, "json", "handshake_request")
	p, v, n, err := ParseHandshakeRequest(b)
	if p != "json" || v != 1 || n != len(b) || err != nil {
		t.Fatalf("%q %d %d %v", p, v, n, err)
	}
	if got := WriteHandshakeRequest("json", 1); string(got) != string(b) {
		t.Fatalf("%q", got)
	}
}

func TestHandshakeResponseWriteGolden(t *testing.T) {
	if got, want := WriteHandshakeResponse(""), readGolden(t, "json", "handshake_response"); string(got) != string(want) {
		t.Fatalf("got %q want %q", got, want)
	}
	if got, want := WriteHandshakeResponse(ProtocolNotSupportedText("foo")), readGolden(t, "json", "handshake_error"); string(got) != string(want) {
		t.Fatalf("got %q want %q", got, want)
	}
}

func TestParseHandshakeResponse(t *testing.T) {
	cases := []struct {
		in      string
		errText string
		n       int
		err     string
	}{
		{"{}\x1e", "", 3, ""},
		{"{}\x1e{\"type\":6}\x1e", "", 3, ""},
		{"{\"error\":\"The protocol 'foo' is not supported.\"}\x1e", "The protocol 'foo' is not supported.", 49, ""},
		{"{\"other\":[1,{\"a\":2}]}\x1e", "", 22, ""},
		{"{}", "", 0, ""},
		{"{\"type\":6}\x1e", "", 11, HandshakeResponseExpectedText},
		{"{\"error\":1}\x1e", "", 12, "Expected 'error' to be of type String."},
		{"{\x1e", "", 2, "Error reading JSON."},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			errText, n, err := ParseHandshakeResponse([]byte(tc.in))
			if errText != tc.errText || n != tc.n {
				t.Fatalf("got %q n=%d (err %v)", errText, n, err)
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ide *InvalidDataError
			if !errors.As(err, &ide) || ide.Message != tc.err {
				t.Fatalf("err %v, want %s", err, tc.err)
			}
		})
	}
}

func TestHandshakeTexts(t *testing.T) {
	cases := []struct{ got, want string }{
		{ProtocolNotSupportedText("foo"), "The protocol 'foo' is not supported."},
		{VersionNotSupportedText("json", 3), "The server does not support version 3 of the 'json' protocol."},
		{TransferFormatNotSupportedText("messagepack", TransferFormatBinary), "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format."},
		{UnexpectedHandshakeErrorText(invalidData("Missing required property 'protocol'. Message content: {}"), true),
			"An unexpected error occurred during connection handshake. InvalidDataException: Missing required property 'protocol'. Message content: {}"},
		{UnexpectedHandshakeErrorText(invalidData("x"), false), "An unexpected error occurred during connection handshake."},
		{HandshakeCanceledText, "Handshake was canceled."},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got  %q\nwant %q", tc.got, tc.want)
		}
	}
}

func TestSelectHubProtocol(t *testing.T) {
	protos := []HubProtocol{JSON, MessagePack}
	both := TransferFormatText | TransferFormatBinary
	cases := []struct {
		name    string
		version int
		formats TransferFormat
		want    HubProtocol
		reason  string
	}{
		{"json", 1, both, JSON, ""},
		{"json", 2, TransferFormatText, JSON, ""},
		{"JSON", 0, both, JSON, ""},
		{"messagepack", 2, both, MessagePack, ""},
		{"json", 3, both, nil, "The server does not support version 3 of the 'json' protocol."},
		{"xml", 1, both, nil, "The protocol 'xml' is not supported."},
		{"messagepack", 1, TransferFormatText, nil, "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format."},
	}
	for _, tc := range cases {
		p, reason := SelectHubProtocol(protos, tc.name, tc.version, tc.formats)
		if p != tc.want || reason != tc.reason {
			t.Errorf("%s v%d: got %v %q, want %v %q", tc.name, tc.version, p, reason, tc.want, tc.reason)
		}
	}
}

func TestMessageTooLargeText(t *testing.T) {
	want := "The maximum message size of 32768B was exceeded. The message size can be configured in AddHubOptions."
	if got := MessageTooLargeText(32768); got != want {
		t.Fatalf("got %q", got)
	}
}
