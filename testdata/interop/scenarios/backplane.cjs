'use strict';
// Official JS clients spread over three gosignalr servers that share one
// PostgreSQL backplane (npgsql). Driven by npgsql's TestJSClientsThreeServers:
// SIGNALR_URL_A, SIGNALR_URL_B, SIGNALR_URL_C are the servers' /chathub URLs.
// The hub is the ChatServer's (internal/chat) plus SendAllExcept, SendToUser,
// SendToConnection, AddToGroupOf and RemoveFromGroupOf.
//
// Connections alternate JSON and MessagePack (and some use SSE and Long
// Polling), so every server holds both encodings of every message. Absence
// is checked with a fence: a later message from the same sender, which the
// backplane delivers after the earlier one, so once the fence has arrived
// anything the earlier message was going to deliver has been delivered.
const h = require('../lib/harness.cjs');
const { assert } = h;

const servers = {
    A: h.url('SIGNALR_URL_A'),
    B: h.url('SIGNALR_URL_B'),
    C: h.url('SIGNALR_URL_C'),
};
const events = ['ReceiveMessage', 'ReceiveGroupMessage', 'UserConnected', 'UserDisconnected', 'UserJoinedGroup', 'UserLeftGroup'];
const WAIT_MS = 10000;

/**
 * open connects a client to server (A, B or C) and waits until the client has
 * heard its own UserConnected notice, which went through the backplane: then
 * the connection is registered for fan-out and its server's listener is live.
 */
async function open(name, server, { protocol = 'json', transport = 'WebSockets', user } = {}) {
    let url = servers[server];
    if (user) {
        url += `?user=${encodeURIComponent(user)}`;
    }
    const conn = h.build(url, { protocol, transport });
    const rec = {};
    for (const e of events) {
        rec[e] = h.record(conn, e);
    }
    await h.within(conn.start(), WAIT_MS, `start() of ${name} on ${server}`);
    const c = { name, server, protocol, transport, conn, id: conn.connectionId, rec };
    await h.within(rec.UserConnected.waitFor((id) => id === c.id, WAIT_MS), WAIT_MS, `${name}'s own UserConnected`);
    return c;
}

/** until polls cond every 5 ms until it is true, failing with what() after ms. */
async function until(cond, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${ms} ms waiting for ${what()}`);
        }
        await h.sleep(5);
    }
}

/** calls returns the argument lists of method that c received and that match pred. */
function calls(c, method, pred = () => true) {
    return c.rec[method].calls.filter((args) => pred(...args));
}

let fences = 0;

/**
 * fence has sender broadcast a unique message and waits until every client in
 * receivers has it: whatever sender published earlier has then arrived.
 */
async function fence(sender, receivers) {
    const tag = `fence-${++fences}`;
    await sender.conn.invoke('SendMessage', 'fence', tag);
    for (const r of receivers) {
        await until(() => calls(r, 'ReceiveMessage', (u, m) => m === tag).length === 1,
            () => `${r.name} (${r.server}, ${r.protocol}) to receive ${tag} from ${sender.name}`);
    }
}

function describe(c) {
    return `${c.name} (server ${c.server}, ${c.transport}, ${c.protocol})`;
}

h.run({
    // Three senders, one per server, broadcast concurrently: every client on
    // every server gets every message exactly once, each sender's in order.
    async 'broadcast-exactly-once-in-order'() {
        const clients = [
            await open('a1', 'A'),
            await open('a2', 'A', { protocol: 'messagepack' }),
            await open('a3', 'A', { transport: 'ServerSentEvents' }),
            await open('b1', 'B', { protocol: 'messagepack' }),
            await open('b2', 'B'),
            await open('b3', 'B', { transport: 'LongPolling', protocol: 'messagepack' }),
            await open('c1', 'C'),
            await open('c2', 'C', { protocol: 'messagepack' }),
            await open('c3', 'C', { transport: 'LongPolling' }),
        ];
        const senders = [clients[0], clients[3], clients[6]];
        const K = 40;
        await Promise.all(senders.map(async (s) => {
            for (let i = 1; i <= K; i++) {
                // send: no completion awaited, so messages pile up on the
                // server; one client's invocations still run in order.
                await s.conn.send('SendMessage', s.name, String(i));
            }
        }));
        const fromSenders = (u) => senders.some((s) => s.name === u);
        for (const r of clients) {
            await until(() => calls(r, 'ReceiveMessage', fromSenders).length >= senders.length * K,
                () => `${describe(r)} to receive ${senders.length * K} broadcasts (has ${calls(r, 'ReceiveMessage', fromSenders).length})`);
        }
        for (const s of senders) {
            await fence(s, clients);
        }
        const want = Array.from({ length: K }, (_, i) => String(i + 1));
        for (const r of clients) {
            for (const s of senders) {
                assert.deepEqual(calls(r, 'ReceiveMessage', (u) => u === s.name).map((a) => a[1]), want,
                    `${describe(r)}: broadcasts of ${describe(s)}`);
            }
        }
    },

    // AllExcept from server C excludes one connection on A and one on C.
    async 'all-except'() {
        const a1 = await open('a1', 'A');
        const a2 = await open('a2', 'A', { protocol: 'messagepack' });
        const b1 = await open('b1', 'B', { protocol: 'messagepack' });
        const c1 = await open('c1', 'C');
        const c2 = await open('c2', 'C', { protocol: 'messagepack' });
        const all = [a1, a2, b1, c1, c2];
        await c1.conn.invoke('SendAllExcept', [a2.id, c2.id], 'not for a2 and c2');
        await fence(c1, all);
        for (const r of all) {
            const got = calls(r, 'ReceiveMessage', (u) => u === 'except');
            const want = r === a2 || r === c2 ? [] : [['except', 'not for a2 and c2']];
            assert.deepEqual(got, want, describe(r));
        }
    },

    // A group joined on A and on B, addressed from C; leaving takes effect.
    async 'group-across-servers'() {
        const a1 = await open('a1', 'A', { protocol: 'messagepack' });
        const a2 = await open('a2', 'A');
        const b1 = await open('b1', 'B');
        const c1 = await open('c1', 'C', { protocol: 'messagepack' });
        const all = [a1, a2, b1, c1];
        await a1.conn.invoke('JoinGroup', 'g-across');
        await b1.conn.invoke('JoinGroup', 'g-across');
        for (const r of [a1, b1]) {
            await until(() => calls(r, 'UserJoinedGroup', (u) => u === b1.id).length === 1, () => `${describe(r)}: UserJoinedGroup of b1`);
        }
        await c1.conn.invoke('SendMessageToGroup', 'g-across', 'carol', 'from C');
        await fence(c1, all);
        for (const r of all) {
            const want = r === a1 || r === b1 ? [['g-across', 'carol', 'from C']] : [];
            assert.deepEqual(calls(r, 'ReceiveGroupMessage'), want, describe(r));
        }
        await a1.conn.invoke('LeaveGroup', 'g-across');
        await until(() => calls(b1, 'UserLeftGroup', (u) => u === a1.id).length === 1, () => 'b1: UserLeftGroup of a1');
        await c1.conn.invoke('SendMessageToGroup', 'g-across', 'carol', 'after a1 left');
        await fence(c1, all);
        assert.deepEqual(calls(a1, 'ReceiveGroupMessage').map((a) => a[2]), ['from C'], describe(a1));
        assert.deepEqual(calls(b1, 'ReceiveGroupMessage').map((a) => a[2]), ['from C', 'after a1 left'], describe(b1));
        assert.deepEqual(calls(a1, 'UserLeftGroup'), [], `${describe(a1)} left before its notice`);
    },

    // A hub method on C adds a connection of A to a group: the invocation
    // completes once A has acknowledged, so a group send right after reaches
    // it. Removal likewise; an unknown connection times out (no ack).
    async 'remote-group-change-with-ack'() {
        const a1 = await open('a1', 'A');
        const a2 = await open('a2', 'A', { protocol: 'messagepack' });
        const b1 = await open('b1', 'B', { protocol: 'messagepack' });
        const c1 = await open('c1', 'C');
        const all = [a1, a2, b1, c1];
        await c1.conn.invoke('AddToGroupOf', a2.id, 'g-remote');
        await c1.conn.invoke('SendMessageToGroup', 'g-remote', 'carol', 'm1');
        await b1.conn.invoke('SendMessageToGroup', 'g-remote', 'bob', 'm2');
        await fence(c1, all);
        await fence(b1, all);
        for (const r of all) {
            const want = r === a2 ? [['g-remote', 'carol', 'm1'], ['g-remote', 'bob', 'm2']] : [];
            assert.deepEqual(calls(r, 'ReceiveGroupMessage'), want, describe(r));
        }
        await c1.conn.invoke('RemoveFromGroupOf', a2.id, 'g-remote');
        await c1.conn.invoke('SendMessageToGroup', 'g-remote', 'carol', 'm3');
        await fence(c1, all);
        assert.deepEqual(calls(a2, 'ReceiveGroupMessage').map((a) => a[2]), ['m1', 'm2'], describe(a2));

        const msg = await h.rejection(c1.conn.invoke('AddToGroupOf', 'no-such-connection', 'g-remote'), 'AddToGroupOf(unknown)');
        assert.match(msg, /An unexpected error occurred invoking 'AddToGroupOf' on the server/);
    },

    // A user with connections on A and B; another user on C.
    async 'user-on-two-servers'() {
        const alice1 = await open('alice1', 'A', { user: 'alice' });
        const alice2 = await open('alice2', 'B', { user: 'alice', protocol: 'messagepack' });
        const bob = await open('bob', 'C', { user: 'bob', protocol: 'messagepack' });
        const c1 = await open('c1', 'C');
        const all = [alice1, alice2, bob, c1];
        await c1.conn.invoke('SendToUser', 'alice', 'for alice');
        await alice1.conn.invoke('SendToUser', 'bob', 'for bob');
        await fence(c1, all);
        await fence(alice1, all);
        for (const r of all) {
            const want = r === bob ? [['user', 'for bob']] : r === c1 ? [] : [['user', 'for alice']];
            assert.deepEqual(calls(r, 'ReceiveMessage', (u) => u === 'user'), want, describe(r));
        }
    },

    // Clients.Client: one connection on another server (and on the same one,
    // where it stays behind the sender's earlier broadcast).
    async 'single-connection'() {
        const a1 = await open('a1', 'A', { protocol: 'messagepack' });
        const b1 = await open('b1', 'B');
        const c1 = await open('c1', 'C');
        const c2 = await open('c2', 'C', { protocol: 'messagepack' });
        const all = [a1, b1, c1, c2];
        await a1.conn.invoke('SendToConnection', c2.id, 'from A');
        await c1.conn.send('SendMessage', 'c1', 'before');
        await c1.conn.send('SendToConnection', c2.id, 'after');
        await fence(a1, all);
        await fence(c1, all);
        for (const r of all) {
            const want = r === c2 ? [['direct', 'from A'], ['direct', 'after']] : [];
            assert.deepEqual(calls(r, 'ReceiveMessage', (u) => u === 'direct'), want, describe(r));
        }
        const seen = calls(c2, 'ReceiveMessage', (u, m) => m === 'before' || m === 'after').map((a) => a[1]);
        assert.deepEqual(seen, ['before', 'after'], 'c1\'s broadcast, then its direct send');
    },

    // The ChatServer's notices cross servers: connect, join, group message,
    // disconnect of a client on B, seen on A and C.
    async 'chat-notifications'() {
        const a1 = await open('a1', 'A');
        const c1 = await open('c1', 'C', { protocol: 'messagepack' });
        const b1 = await open('b1', 'B', { protocol: 'messagepack', transport: 'LongPolling' });
        for (const r of [a1, c1]) {
            await until(() => calls(r, 'UserConnected', (id) => id === b1.id).length === 1, () => `${describe(r)}: UserConnected of b1`);
        }
        await a1.conn.invoke('JoinGroup', 'room');
        await c1.conn.invoke('JoinGroup', 'room');
        await b1.conn.invoke('JoinGroup', 'room');
        for (const r of [a1, b1, c1]) {
            await until(() => calls(r, 'UserJoinedGroup', (u) => u === b1.id).length === 1, () => `${describe(r)}: UserJoinedGroup of b1`);
            assert.deepEqual(calls(r, 'UserJoinedGroup', (u) => u === b1.id)[0], [b1.id, 'room']);
        }
        await b1.conn.invoke('SendMessageToGroup', 'room', 'bob', 'hi room');
        await b1.conn.invoke('SendMessage', 'bob', 'hi all');
        for (const r of [a1, c1]) {
            await until(() => calls(r, 'ReceiveMessage', (u, m) => m === 'hi all').length === 1, () => `${describe(r)}: hi all`);
            assert.deepEqual(calls(r, 'ReceiveGroupMessage'), [['room', 'bob', 'hi room']], describe(r));
        }
        await b1.conn.stop();
        for (const r of [a1, c1]) {
            await until(() => calls(r, 'UserDisconnected', (id) => id === b1.id).length === 1, () => `${describe(r)}: UserDisconnected of b1`);
        }
        await fence(a1, [a1, c1]);
        for (const r of [a1, c1]) {
            assert.deepEqual(calls(r, 'UserDisconnected', (id) => id === b1.id), [[b1.id]], `${describe(r)}: exactly one UserDisconnected`);
        }
    },
});
