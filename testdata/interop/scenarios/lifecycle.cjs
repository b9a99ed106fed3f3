'use strict';
// Connection lifetime scenarios: keep-alive, server timeout, automatic
// reconnect after a server restart, hub abort, graceful stop.
//
//   SIGNALR_URL          server with short keep-alive and client timeout
//                        (KEEPALIVE_MS / CLIENT_TIMEOUT_MS tell the values)
//                        and stateful reconnect allowed, behind a proxy:
//                        POST <control>/drop cuts every connection through it
//   SIGNALR_URL_SLOW     server whose keep-alive is far longer than the
//                        client's server timeout used here
//   SIGNALR_CONTROL_URL  POST <it>/restart shuts the SIGNALR_URL server down
//                        (Close with allowReconnect) and brings up a new one
const h = require('../lib/harness.cjs');
const { assert } = h;

// The server's settings; the Go test also passes them to every connection as
// SIGNALR_KEEPALIVE_MS / SIGNALR_SERVER_TIMEOUT_MS.
const keepAliveMs = Number(h.env('KEEPALIVE_MS', '100'));
const clientTimeoutMs = Number(h.env('CLIENT_TIMEOUT_MS', '3000'));
const isLongPolling = () => h.transportName() === 'LongPolling';

async function control(action) {
    const res = await fetch(`${h.url('SIGNALR_CONTROL_URL')}/${action}`, { method: 'POST' });
    assert.equal(res.status, 200, `control ${action}: ${await res.text()}`);
}

h.run({
    // Idle for several times both timeouts: pings in both directions keep the
    // connection open (long polling needs none: its polls keep it alive).
    async 'keep-alive'() {
        const c = await h.connect(h.url(), { serverTimeoutMs: clientTimeoutMs, keepAliveMs });
        let closedWith = null;
        c.onclose((err) => { closedWith = err || new Error('closed without error'); });
        await h.sleep(clientTimeoutMs * 2);
        assert.equal(closedWith, null, `connection closed while idle: ${closedWith && closedWith.message}`);
        assert.equal(c.state, h.signalR.HubConnectionState.Connected);
        assert.equal(await c.invoke('Echo', 'after idle'), 'after idle');
    },

    // The server pings far less often than the client's server timeout: the
    // client gives up with the exact .NET client text. Long polling has
    // inherent keep-alive, so there the client must NOT time out.
    async 'server-timeout'() {
        const timeoutMs = 300;
        const c = await h.connect(h.url('SIGNALR_URL_SLOW'), { serverTimeoutMs: timeoutMs });
        const done = h.closed(c);
        if (isLongPolling()) {
            await h.sleep(timeoutMs * 3);
            assert.equal(c.state, h.signalR.HubConnectionState.Connected);
            assert.equal(await c.invoke('Echo', 'lp'), 'lp');
            return;
        }
        const err = await h.within(done, h.DEFAULT_TIMEOUT_MS, 'onclose after the server timeout');
        assert.ok(err, 'onclose got an error');
        assert.equal(err.message, 'Server timeout elapsed without receiving a message from the server.');
    },

    // A client that stops pinging is closed by the server after its client
    // timeout, with the exact detailed .NET text. Long polling has no client
    // timeout: there the connection must stay open.
    async 'client-timeout'() {
        const c = await h.connect(h.url(), { keepAliveMs: 60000, serverTimeoutMs: 60000 });
        const done = h.closed(c);
        if (isLongPolling()) {
            await h.sleep(clientTimeoutMs * 1.5);
            assert.equal(c.state, h.signalR.HubConnectionState.Connected);
            assert.equal(await c.invoke('Echo', 'lp'), 'lp');
            return;
        }
        const err = await h.within(done, clientTimeoutMs + h.DEFAULT_TIMEOUT_MS, 'onclose after the client timeout');
        assert.ok(err, 'onclose got an error');
        assert.equal(err.message, 'Server returned an error on close: Connection closed with an error. ' +
            "OperationCanceledException: Client hasn't sent a message/ping within the configured ClientTimeoutInterval.");
    },

    // Server shutdown sends Close with allowReconnect: withAutomaticReconnect
    // builds a new connection (new id) to the restarted server.
    async 'reconnect-after-restart'() {
        const c = await h.connect(h.url(), { reconnectDelays: [0, 100, 200, 400, 800, 1600, 3200] });
        const oldId = c.connectionId;
        const reconnecting = h.deferred();
        const reconnected = h.deferred();
        let closedWith;
        c.onreconnecting((err) => reconnecting.resolve(err));
        c.onreconnected((id) => reconnected.resolve(id));
        c.onclose((err) => { closedWith = err || new Error('closed without error'); });
        await control('restart');
        await h.within(reconnecting.promise, h.DEFAULT_TIMEOUT_MS, 'onreconnecting');
        const newId = await h.within(reconnected.promise, 2 * h.DEFAULT_TIMEOUT_MS, 'onreconnected');
        assert.equal(closedWith, undefined, 'onclose must not fire while reconnecting');
        assert.notEqual(newId, oldId, 'a reconnect is a new connection');
        assert.equal(c.connectionId, newId);
        assert.equal(await c.invoke('GetConnectionID'), newId);
    },

    // A network failure (connections cut, no close handshake) makes
    // withAutomaticReconnect build a new connection.
    async 'reconnect-after-drop'() {
        const c = await h.connect(h.url(), { reconnectDelays: [0, 100, 200, 400, 800, 1600, 3200] });
        const oldId = c.connectionId;
        const reconnecting = h.deferred();
        const reconnected = h.deferred();
        c.onreconnecting((err) => reconnecting.resolve(err));
        c.onreconnected((id) => reconnected.resolve(id));
        await control('drop');
        await h.within(reconnecting.promise, h.DEFAULT_TIMEOUT_MS, 'onreconnecting');
        const newId = await h.within(reconnected.promise, 2 * h.DEFAULT_TIMEOUT_MS, 'onreconnected');
        assert.notEqual(newId, oldId, 'a reconnect is a new connection');
        assert.equal(await c.invoke('GetConnectionID'), newId);
    },

    // Stateful reconnect: after a cut the client resumes the same connection
    // (same id, no onreconnecting) and nothing sent meanwhile is lost or doubled.
    async 'stateful-reconnect'() {
        const c = h.build(h.url(), { reconnectDelays: [0, 100, 200], statefulReconnect: true });
        const echoed = h.record(c, 'Echoed');
        let reconnecting = false;
        c.onreconnecting(() => { reconnecting = true; });
        await h.within(c.start(), h.DEFAULT_TIMEOUT_MS, 'start()');
        const id = c.connectionId;
        await c.send('EchoToCaller', 'before');
        await echoed.wait(1);
        await control('drop');
        await c.send('EchoToCaller', 'during');
        assert.equal(await h.within(c.invoke('Echo', 'after'), h.DEFAULT_TIMEOUT_MS, 'invoke after the cut'), 'after');
        assert.deepEqual(await echoed.wait(2), [['before'], ['during']]);
        assert.equal(await c.invoke('GetConnectionID'), id, 'the same connection on the server');
        assert.equal(c.connectionId, id);
        assert.equal(reconnecting, false, 'stateful reconnect is invisible to the hub connection');
        await h.sleep(200);
        assert.equal(echoed.calls.length, 2, `no duplicates: ${JSON.stringify(echoed.calls)}`);
    },

    // Context.Abort: Close without allowReconnect, so no reconnect even with
    // withAutomaticReconnect.
    async 'abort-no-reconnect'() {
        const c = await h.connect(h.url(), { reconnectDelays: [0, 100] });
        let reconnecting = false;
        c.onreconnecting(() => { reconnecting = true; });
        const done = h.closed(c);
        await c.send('Abort');
        await h.within(done, h.DEFAULT_TIMEOUT_MS, 'onclose after Abort');
        await h.sleep(300);
        assert.equal(reconnecting, false, 'client reconnected after a hub Abort');
        assert.equal(c.state, h.signalR.HubConnectionState.Disconnected);
    },

    // stop() is a clean close: onclose without error on the client, and
    // OnDisconnected with a nil error on the server (seen by an observer).
    async 'graceful-stop'() {
        const observer = await h.connect(h.url());
        const left = h.record(observer, 'Left');
        const c = await h.connect(h.url());
        const id = c.connectionId;
        const done = h.closed(c);
        await c.stop();
        assert.equal(await h.within(done, h.DEFAULT_TIMEOUT_MS, 'onclose'), undefined, 'onclose error after stop()');
        const args = await left.waitFor((who) => who === id);
        assert.deepEqual(args, [id, ''], 'OnDisconnected(id, reason) on the server');
    },
});
