package transports

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gosignalr/gosignalr/interop"
)

// jsEchoScript drives the official client's HttpConnection (the layer below
// HubConnection: negotiate plus transport, no hub protocol) against a raw
// echo endpoint over every transport and transfer format it supports.
const jsEchoScript = `
const { HttpConnection } = require("@microsoft/signalr/dist/cjs/HttpConnection");
const { HttpTransportType, TransferFormat, NullLogger } = require("@microsoft/signalr");
const base = process.env.URL;

function fail(msg) { console.error(msg); process.exit(1); }

async function run(name, transport, format, opts = {}) {
  const binary = format === TransferFormat.Binary;
  const url = base + (binary ? "?binary=1" : "");
  const conn = new HttpConnection(url, { transport, logger: NullLogger.instance, ...opts });
  const received = [];
  let wake = () => {};
  conn.onreceive = (d) => { received.push(d); wake(); };
  let closeErr = "not closed";
  const closed = new Promise((r) => { conn.onclose = (e) => { closeErr = e; r(); }; });
  await conn.start(format);
  const next = async () => {
    const deadline = Date.now() + 5000;
    while (received.length === 0) {
      if (Date.now() > deadline) fail(name + ": no echo");
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
    }
    return received.shift();
  };
  const payloads = binary
    ? [new Uint8Array([1, 2, 0x1e, 0x0a, 255]).buffer]
    : ["hello\x1e", "line1\nline2\x1e", "{\"type\":6}\x1e{\"type\":6}\x1e"];
  for (const p of payloads) {
    await conn.send(p);
    const got = await next();
    if (binary) {
      const a = new Uint8Array(p), b = new Uint8Array(got);
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) fail(name + ": binary echo differs: " + b);
    } else if (got !== p) {
      fail(name + ": echo " + JSON.stringify(got) + " want " + JSON.stringify(p));
    }
  }
  if (!opts.skipNegotiation && !/^[A-Za-z0-9_-]{22}$/.test(conn.connectionId)) fail(name + ": connectionId " + conn.connectionId);
  await conn.stop();
  await closed;
  if (closeErr !== undefined) fail(name + ": closed with " + closeErr);
  console.log("ok " + name);
}

(async () => {
  await run("WebSockets text", HttpTransportType.WebSockets, TransferFormat.Text);
  await run("WebSockets binary", HttpTransportType.WebSockets, TransferFormat.Binary);
  await run("WebSockets skipNegotiation", HttpTransportType.WebSockets, TransferFormat.Text, { skipNegotiation: true });
  await run("ServerSentEvents text", HttpTransportType.ServerSentEvents, TransferFormat.Text);
  await run("LongPolling text", HttpTransportType.LongPolling, TransferFormat.Text);
  await run("LongPolling binary", HttpTransportType.LongPolling, TransferFormat.Binary);
})().catch((e) => fail(String(e && e.stack || e)));
`

// TestOfficialClientEcho runs the official JS client's HttpConnection over
// every transport against a raw echo endpoint (needs node; the interop
// package installs the pinned client).
func TestOfficialClientEcho(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node")
	}
	h := HandlerFunc(func(ctx context.Context, c Conn) {
		if c.Request().URL.Query().Get("binary") == "1" {
			if err := c.SetTransferFormat(true); err != nil {
				c.Close(err)
				return
			}
		}
		for {
			b, err := c.Receive(ctx)
			if err != nil {
				return
			}
			if err := c.Send(ctx, b); err != nil {
				return
			}
		}
	})
	d := NewDispatcher(h, Options{})
	mux := http.NewServeMux()
	mux.Handle("/echo", d)
	mux.Handle("/echo/", d)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer d.Close()

	dir, err := interop.NodeDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := interop.EnsureNodeModules(); err != nil {
		t.Fatal(err)
	}
	// The script must sit in the Node project so require finds node_modules.
	f, err := os.CreateTemp(dir, ".transports-echo-*.cjs")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(jsEchoScript); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := interop.RunNode(ctx, filepath.Base(f.Name()), map[string]string{"URL": srv.URL + "/echo"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := strings.Count(out, "ok "); got != 6 {
		t.Fatalf("%d of 6 runs passed:\n%s", got, out)
	}
	eventually(t, "all connections removed", func() bool { return d.Len() == 0 })
}
