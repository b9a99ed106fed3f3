'use strict';
// Authentication with JWT bearer tokens (package signalr/auth in front of the
// interop test hub). The client gets its token from accessTokenFactory and
// sends it on every request (Authorization header in Node, on WebSockets too).
//
//   SIGNALR_URL          the hub, which refuses anonymous requests
//   SIGNALR_CONTROL_URL  GET <it>/token?sub=<id>&name=<name> issues a valid token
const h = require('../lib/harness.cjs');
const { assert } = h;

async function token(sub, name) {
    const res = await fetch(`${h.url('SIGNALR_CONTROL_URL')}/token?sub=${encodeURIComponent(sub)}&name=${encodeURIComponent(name)}`);
    assert.equal(res.status, 200);
    return res.text();
}

h.run({
    // ASP.NET Core's exact failure for a hub that requires authentication.
    async unauthorized() {
        const c = h.build(h.url());
        assert.equal(await h.rejection(c.start(), 'start() without a token'),
            "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'");
        const bad = h.build(h.url(), { accessTokenFactory: () => 'not.a.jwt' });
        assert.equal(await h.rejection(bad.start(), 'start() with a bad token'),
            "Failed to complete negotiation with the server: Error: Unauthorized: Status code '401'");
    },

    // The hub sees the token's user: id for Clients.User, name for display.
    async authorized() {
        const t = await token('alice-id', 'Alice');
        let calls = 0;
        const c = await h.connect(h.url(), { accessTokenFactory: () => { calls++; return t; } });
        assert.ok(calls >= 1, 'accessTokenFactory was used');
        assert.equal(await c.invoke('GetUserIdentifier'), 'alice-id');
        assert.equal(await c.invoke('GetUserName'), 'Alice');
        // Every later request carries the token too (sends, polls).
        for (let i = 0; i < 5; i++) {
            assert.equal(await c.invoke('Echo', `call ${i}`), `call ${i}`);
        }
        const rec = h.record(c, 'User');
        await c.invoke('ToUser', 'alice-id', 'for alice');
        assert.deepEqual(await rec.wait(1), [['for alice']]);
    },
});
