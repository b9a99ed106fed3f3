'use strict';
// Fan-out scenarios: broadcast, groups and the Clients.* selections, several
// connections in one process against the interop test hub.
const h = require('../lib/harness.cjs');
const { assert } = h;

/**
 * connectAll opens n connections, each recording the given client methods,
 * and returns [{conn, id, rec: {method: recorder}}].
 */
async function connectAll(n, methods, opts = {}) {
    const out = [];
    for (let i = 0; i < n; i++) {
        const conn = h.build(h.url(), opts);
        const rec = {};
        for (const m of methods) {
            rec[m] = h.record(conn, m);
        }
        await h.within(conn.start(), h.DEFAULT_TIMEOUT_MS, `start() of client ${i}`);
        out.push({ conn, id: conn.connectionId, rec });
    }
    return out;
}

/**
 * fence makes sender broadcast a Marker and waits until every client got it.
 * Messages one caller's hub methods sent before are delivered before the
 * marker, so after the fence "did not receive X" is a real observation.
 */
let fenceCount = 0;
async function fence(sender, clients) {
    const n = ++fenceCount;
    const seen = clients.map((c) => c.rec.Marker.calls.length);
    await sender.conn.invoke('ToAll', 'Marker', `fence-${n}`);
    await Promise.all(clients.map((c, i) => c.rec.Marker.wait(seen[i] + 1)));
}

function payloads(rec) {
    return rec.calls.map((args) => args[args.length - 1]);
}

h.run({
    // Every client sends a numbered series; every client must get every message,
    // each sender's messages in the order sent.
    async 'broadcast-order'() {
        const n = 4;
        const perSender = Number(h.env('BROADCAST_MESSAGES', '40'));
        const clients = await connectAll(n, ['Broadcast']);
        const sends = [];
        clients.forEach((c, i) => {
            for (let seq = 0; seq < perSender; seq++) {
                sends.push(c.conn.send('Broadcast', `sender-${i}`, seq));
            }
        });
        await h.within(Promise.all(sends), 2 * h.DEFAULT_TIMEOUT_MS, 'all sends');
        for (const [i, c] of clients.entries()) {
            const calls = await c.rec.Broadcast.wait(n * perSender, 2 * h.DEFAULT_TIMEOUT_MS);
            assert.equal(calls.length, n * perSender, `client ${i} message count`);
            const next = {};
            for (const [sender, seq] of calls) {
                const want = next[sender] || 0;
                assert.equal(seq, want, `client ${i}: from ${sender} got #${seq} when #${want} was due`);
                next[sender] = want + 1;
            }
        }
    },

    async groups() {
        const [a, b, c] = await connectAll(3, ['Group', 'Marker']);
        await a.conn.invoke('JoinGroup', 'red');
        await b.conn.invoke('JoinGroup', 'red');
        await c.conn.invoke('JoinGroup', 'blue');
        await a.conn.invoke('ToGroup', 'red', 'r1');
        await c.conn.invoke('ToGroup', 'blue', 'b1');
        await fence(a, [a, b, c]);
        assert.deepEqual(payloads(a.rec.Group), ['r1']);
        assert.deepEqual(payloads(b.rec.Group), ['r1']);
        assert.deepEqual(payloads(c.rec.Group), ['b1']);

        // Several groups at once: a member of both gets the message once.
        await c.conn.invoke('JoinGroup', 'red');
        await a.conn.invoke('ToGroups', ['red', 'blue'], 'rb');
        // GroupExcept and OthersInGroup.
        await a.conn.invoke('ToGroupExcept', 'red', [b.id], 'not-b');
        await a.conn.invoke('ToOthersInGroup', 'red', 'not-a');
        await fence(a, [a, b, c]);
        assert.deepEqual(payloads(a.rec.Group), ['r1', 'rb', 'not-b']);
        assert.deepEqual(payloads(b.rec.Group), ['r1', 'rb', 'not-a']);
        assert.deepEqual(payloads(c.rec.Group), ['b1', 'rb', 'not-b', 'not-a']);

        // Leaving: b no longer gets red messages; leaving twice is harmless.
        await b.conn.invoke('LeaveGroup', 'red');
        await b.conn.invoke('LeaveGroup', 'red');
        await a.conn.invoke('ToGroup', 'red', 'r2');
        await fence(a, [a, b, c]);
        assert.deepEqual(payloads(b.rec.Group), ['r1', 'rb', 'not-a']);
        assert.deepEqual(payloads(c.rec.Group).slice(-1), ['r2']);

        // A group of a closed connection no longer includes it.
        await c.conn.stop();
        await a.conn.invoke('ToGroup', 'red', 'r3');
        await fence(a, [a, b]);
        assert.deepEqual(payloads(a.rec.Group).slice(-1), ['r3']);
    },

    async selections() {
        const methods = ['Others', 'Caller', 'AllExcept', 'Client', 'Clients', 'Marker'];
        const [a, b, c] = await connectAll(3, methods);
        await a.conn.invoke('ToOthers', 'o');
        await a.conn.invoke('ToCaller', 'me');
        await a.conn.invoke('ToAllExcept', [b.id], 'ae');
        await a.conn.invoke('ToClient', c.id, 'just-c');
        await a.conn.invoke('ToClients', [a.id, c.id], 'a-and-c');
        await fence(a, [a, b, c]);
        const got = (x) => Object.fromEntries(methods.filter((m) => m !== 'Marker').map((m) => [m, payloads(x.rec[m])]));
        assert.deepEqual(got(a), { Others: [], Caller: ['me'], AllExcept: ['ae'], Client: [], Clients: ['a-and-c'] });
        assert.deepEqual(got(b), { Others: ['o'], Caller: [], AllExcept: [], Client: [], Clients: [] });
        assert.deepEqual(got(c), { Others: ['o'], Caller: [], AllExcept: ['ae'], Client: ['just-c'], Clients: ['a-and-c'] });
        // A message to an unknown connection id goes nowhere and is not an error.
        await a.conn.invoke('ToClient', 'no-such-connection', 'lost');
    },

    // Clients.User/Users: the test server takes the user id from the query
    // string "user" of the connection's request (Options.UserIdentifier).
    async users() {
        const withUser = (u) => `${h.url()}?user=${encodeURIComponent(u)}`;
        const open = async (u) => {
            const conn = h.build(u === '' ? h.url() : withUser(u));
            const rec = { User: h.record(conn, 'User'), Marker: h.record(conn, 'Marker') };
            await h.within(conn.start(), h.DEFAULT_TIMEOUT_MS, `start() as '${u}'`);
            return { conn, rec };
        };
        const alice1 = await open('alice');
        const alice2 = await open('alice');
        const bob = await open('bob');
        const anon = await open('');
        assert.equal(await alice2.conn.invoke('GetUserIdentifier'), 'alice');
        assert.equal(await anon.conn.invoke('GetUserIdentifier'), '');
        await anon.conn.invoke('ToUser', 'alice', 'to-alice');
        await anon.conn.invoke('ToUsers', ['alice', 'bob'], 'to-both');
        await anon.conn.invoke('ToUser', 'nobody', 'lost');
        const all = [alice1, alice2, bob, anon];
        await fence(anon, all);
        assert.deepEqual(payloads(alice1.rec.User), ['to-alice', 'to-both']);
        assert.deepEqual(payloads(alice2.rec.User), ['to-alice', 'to-both']);
        assert.deepEqual(payloads(bob.rec.User), ['to-both']);
        assert.deepEqual(payloads(anon.rec.User), []);
    },
});
