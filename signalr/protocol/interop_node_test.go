package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The official JS protocols (@microsoft/signalr and
// @microsoft/signalr-protocol-msgpack) cross-check our bytes in both
// directions. The test runs when node and the packages installed under
// testdata/interop/node_modules are present, and is skipped otherwise.

const nodeCheckScript = `
const nm = process.argv[2];
const signalr = require(nm + '/@microsoft/signalr');
const { MessagePackHubProtocol } = require(nm + '/@microsoft/signalr-protocol-msgpack');
const logger = { log() {} };
const json = new signalr.JsonHubProtocol();
const mp = new MessagePackHubProtocol();
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = { parsedJSON: {}, parsedMP: {}, writtenJSON: {}, writtenMP: {} };
for (const [name, text] of Object.entries(input.json)) {
  try { out.parsedJSON[name] = json.parseMessages(text, logger).map(m => m.type); }
  catch (e) { out.parsedJSON[name] = 'ERR ' + e.message; }
}
for (const [name, h] of Object.entries(input.mp)) {
  const b = Buffer.from(h, 'hex');
  try { out.parsedMP[name] = mp.parseMessages(b.buffer.slice(b.byteOffset, b.byteOffset + b.length), logger).map(m => m.type); }
  catch (e) { out.parsedMP[name] = 'ERR ' + e.message; }
}
const sends = {
  invocation: { type: 1, invocationId: '0', target: 'Echo', arguments: ['hi', 42, { Name: 'n', Value: 1.5 }], headers: {} },
  send: { type: 1, target: 'Send', arguments: [], headers: {} },
  upload: { type: 1, invocationId: '1', target: 'StreamingConcat', arguments: [], streamIds: ['0'], headers: {} },
  streamInvocation: { type: 4, invocationId: '2', target: 'Stream', arguments: [], headers: {} },
  streamItem: { type: 2, invocationId: '0', item: 'a', headers: {} },
  completion: { type: 3, invocationId: 's1', result: 10, headers: {} },
  completionVoid: { type: 3, invocationId: 's1', headers: {} },
  completionError: { type: 3, invocationId: 's1', error: 'Error: from callback', headers: {} },
  cancel: { type: 5, invocationId: '2', headers: {} },
  ping: { type: 6 },
  close: { type: 7 },
  ack: { type: 8, sequenceId: 70000 },
  sequence: { type: 9, sequenceId: 1 },
};
for (const [name, m] of Object.entries(sends)) {
  out.writtenJSON[name] = json.writeMessage(m);
  out.writtenMP[name] = Buffer.from(mp.writeMessage(m)).toString('hex');
}
process.stdout.write(JSON.stringify(out));
`

func TestOfficialJSClientInterop(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	nm, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "interop", "node_modules"))
	if _, err := os.Stat(filepath.Join(nm, "@microsoft", "signalr-protocol-msgpack")); err != nil {
		t.Skip("JS packages not installed under testdata/interop/node_modules")
	}

	// Server-to-client goldens: what our writer sends.
	input := struct {
		JSON map[string]string `json:"json"`
		MP   map[string]string `json:"mp"`
	}{map[string]string{}, map[string]string{}}
	wantTypes := map[string]MessageType{}
	for _, g := range jsonGoldens {
		input.JSON[g.file] = string(readGolden(t, "json", g.file))
		wantTypes[g.file] = g.msg.MessageType()
	}
	for _, g := range mpGoldens {
		input.MP[g.file] = hex.EncodeToString(readGolden(t, "msgpack", g.file))
	}
	in, _ := json.Marshal(input)
	script := filepath.Join(t.TempDir(), "check.js")
	if err := os.WriteFile(script, []byte(nodeCheckScript), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, script, nm)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outBytes, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var out struct {
		ParsedJSON  map[string]any    `json:"parsedJSON"`
		ParsedMP    map[string]any    `json:"parsedMP"`
		WrittenJSON map[string]string `json:"writtenJSON"`
		WrittenMP   map[string]string `json:"writtenMP"`
	}
	if err := json.Unmarshal(outBytes, &out); err != nil {
		t.Fatal(err)
	}

	// The JS client ignores types it never receives (4 and 5); everything
	// else must parse as exactly one message of the right type.
	check := func(proto string, parsed map[string]any) {
		for name, got := range parsed {
			typ := wantTypes[name]
			if proto == "msgpack" {
				for _, g := range mpGoldens {
					if g.file == name {
						typ = g.msg.MessageType()
					}
				}
			}
			want := []any{float64(typ)}
			if typ == TypeStreamInvocation || typ == TypeCancelInvocation {
				want = []any{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("JS %s parse of %s: %v, want types %v", proto, name, got, want)
			}
		}
	}
	check("json", out.ParsedJSON)
	check("msgpack", out.ParsedMP)

	// Client-to-server: what the JS client sends must parse in Go, and
	// our re-encoding must parse back in JS terms the same way.
	wantMsgs := map[string]HubMessage{
		"invocation":       &Invocation{InvocationID: "0", Target: "Echo", Arguments: []any{"hi", 42, map[string]any{"Name": "n", "Value": 1.5}}},
		"send":             &Invocation{Target: "Send", Arguments: []any{}},
		"upload":           &Invocation{InvocationID: "1", Target: "StreamingConcat", Arguments: []any{}, StreamIDs: []string{"0"}},
		"streamInvocation": &StreamInvocation{InvocationID: "2", Target: "Stream", Arguments: []any{}},
		"streamItem":       &StreamItem{InvocationID: "0", Item: "a"},
		"completion":       &Completion{InvocationID: "s1", HasResult: true, Result: 10},
		"completionVoid":   &Completion{InvocationID: "s1"},
		"completionError":  &Completion{InvocationID: "s1", Error: "Error: from callback"},
		"cancel":           &CancelInvocation{InvocationID: "2"},
		"ping":             &Ping{},
		"close":            &Close{},
		"ack":              &Ack{SequenceID: 70000},
		"sequence":         &Sequence{SequenceID: 1},
	}
	for name, want := range wantMsgs {
		jb := []byte(out.WrittenJSON[name])
		got, n, err := JSON.ParseMessage(jb, 0)
		if err != nil || n != len(jb) {
			t.Errorf("JSON %s %q: n=%d err=%v", name, jb, n, err)
		} else if g, w := canonical(normalize(t, got)), canonical(normalize(t, want)); !reflect.DeepEqual(g, w) {
			t.Errorf("JSON %s: got %#v\nwant %#v", name, g, w)
		}

		mb, err := hex.DecodeString(out.WrittenMP[name])
		if err != nil {
			t.Fatal(err)
		}
		got, n, err = MessagePack.ParseMessage(mb, 0)
		if err != nil || n != len(mb) {
			t.Errorf("MessagePack %s % x: n=%d err=%v", name, mb, n, err)
		} else if g, w := canonical(mpNormalize(t, got)), canonical(mpNormalize(t, want)); !reflect.DeepEqual(g, w) {
			t.Errorf("MessagePack %s: got %#v\nwant %#v", name, g, w)
		}
	}
	if !strings.HasSuffix(out.WrittenJSON["ping"], "\x1e") {
		t.Errorf("JS JSON ping %q", out.WrittenJSON["ping"])
	}
}
