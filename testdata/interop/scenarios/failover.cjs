'use strict';
// Failover on shutdown: a client with withAutomaticReconnect moves to a
// second server when the first one shuts down (Server.Shutdown sends Close
// with allowReconnect), as behind a load balancer.
//
//   SIGNALR_URL          hub behind a front that sends new connections to
//                        server A until A is shutting down, then to server B,
//                        and every request of a connection to the server that
//                        owns it; the hub's Server() returns "A" or "B"
//   SIGNALR_CONTROL_URL  POST <it>/shutdown shuts server A down and answers
//                        200 once Shutdown returned without error
const h = require('../lib/harness.cjs');
const { assert } = h;

h.run({
    async 'failover-on-shutdown'() {
        const c = await h.connect(h.url(), { reconnectDelays: [0, 100, 200, 400, 800, 1600] });
        assert.equal(await c.invoke('Server'), 'A');
        const oldId = c.connectionId;
        assert.equal(await c.invoke('GetConnectionID'), oldId);

        const reconnecting = h.deferred();
        const reconnected = h.deferred();
        let closedWith;
        c.onreconnecting((err) => reconnecting.resolve(err));
        c.onreconnected((id) => reconnected.resolve(id));
        c.onclose((err) => { closedWith = err || new Error('closed without error'); });

        const res = await fetch(`${h.url('SIGNALR_CONTROL_URL')}/shutdown`, { method: 'POST' });
        assert.equal(res.status, 200, `shutdown of A: ${await res.text()}`);
        const reason = await h.within(reconnecting.promise, h.DEFAULT_TIMEOUT_MS, 'onreconnecting');
        // undefined: the client got Close{allowReconnect:true} without an
        // error; a transport failure (say, a 503 poll) would give an Error.
        assert.equal(reason, undefined, `onreconnecting got ${reason && reason.message}`);
        const newId = await h.within(reconnected.promise, 2 * h.DEFAULT_TIMEOUT_MS, 'onreconnected');
        assert.equal(closedWith, undefined, `onclose must not fire: ${closedWith && closedWith.message}`);
        assert.notEqual(newId, oldId, 'a reconnect is a new connection');
        assert.equal(c.connectionId, newId);
        assert.equal(await c.invoke('Server'), 'B', 'the reconnected client is served by B');
        assert.equal(await c.invoke('GetConnectionID'), newId);
    },
});
