'use strict';
// The ChatServer (cmd/server) with two JS clients: the chat hub contract of
// internal/chat. SIGNALR_URL is the server's /chathub URL; the second client
// connects to SIGNALR_URL_2 when set (another server sharing a backplane).
const h = require('../lib/harness.cjs');
const { assert } = h;

const events = ['UserConnected', 'UserDisconnected', 'ReceiveMessage', 'UserJoinedGroup', 'UserLeftGroup', 'ReceiveGroupMessage'];

async function open(url = h.url()) {
    const conn = h.build(url);
    const rec = {};
    for (const e of events) {
        rec[e] = h.record(conn, e);
    }
    await h.within(conn.start(), h.DEFAULT_TIMEOUT_MS, 'start()');
    return { conn, id: conn.connectionId, rec };
}

h.run({
    async chat() {
        const a = await open();
        // Every client hears of every connection, its own included.
        await a.rec.UserConnected.waitFor((id) => id === a.id);
        const b = await open(h.env('SIGNALR_URL_2', h.url()));
        await a.rec.UserConnected.waitFor((id) => id === b.id);
        await b.rec.UserConnected.waitFor((id) => id === b.id);

        await a.conn.invoke('SendMessage', 'alice', 'hello, everyone');
        for (const x of [a, b]) {
            assert.deepEqual(await x.rec.ReceiveMessage.waitFor((u, m) => m === 'hello, everyone'), ['alice', 'hello, everyone']);
        }

        // Groups: joining is announced to the group (joiner included) by user
        // name, which is the connection id for anonymous users.
        await a.conn.invoke('JoinGroup', 'room');
        assert.deepEqual(await a.rec.UserJoinedGroup.waitFor((u) => u === a.id), [a.id, 'room']);
        await b.conn.invoke('JoinGroup', 'room');
        for (const x of [a, b]) {
            assert.deepEqual(await x.rec.UserJoinedGroup.waitFor((u) => u === b.id), [b.id, 'room']);
        }
        await b.conn.invoke('SendMessageToGroup', 'room', 'bob', 'hi room');
        for (const x of [a, b]) {
            assert.deepEqual(await x.rec.ReceiveGroupMessage.waitFor((g, u, m) => m === 'hi room'), ['room', 'bob', 'hi room']);
        }

        // After leaving, a hears neither its own leave nor the group's messages.
        await a.conn.invoke('LeaveGroup', 'room');
        assert.deepEqual(await b.rec.UserLeftGroup.waitFor((u) => u === a.id), [a.id, 'room']);
        await b.conn.invoke('SendMessageToGroup', 'room', 'bob', 'a has gone');
        await b.conn.invoke('SendMessage', 'bob', 'fence');
        await a.rec.ReceiveMessage.waitFor((u, m) => m === 'fence');
        assert.deepEqual(a.rec.UserLeftGroup.calls, []);
        assert.deepEqual(a.rec.ReceiveGroupMessage.calls.map((c) => c[2]), ['hi room']);

        // Disconnects are announced to the clients that remain.
        await b.conn.stop();
        assert.deepEqual(await a.rec.UserDisconnected.waitFor((id) => id === b.id), [b.id]);
    },
});
