'use strict';
// Request/response scenarios against the interop test hub (interop/hubs_test.go).
// SIGNALR_URL is a server with detailed errors on, SIGNALR_URL_PLAIN the same
// hub with detailed errors off.
const h = require('../lib/harness.cjs');
const { assert } = h;

const idPattern = /^[A-Za-z0-9_-]{22}$/;

h.run({
    // negotiate v1: the client gets a connection id and the hub sees the same one.
    async negotiate() {
        const c = await h.connect(h.url());
        assert.match(c.connectionId, idPattern, 'connectionId from negotiate');
        assert.equal(await c.invoke('GetConnectionID'), c.connectionId);
        assert.equal(await c.invoke('GetTransport'), h.transportName());
        assert.equal(c.state, h.signalR.HubConnectionState.Connected);
    },

    // skipNegotiation (WebSockets only): no negotiate, the server makes up an id.
    async 'skip-negotiation'() {
        const c = await h.connect(h.url(), { skipNegotiation: true });
        assert.equal(c.connectionId ?? null, null, 'client has no connectionId without negotiate');
        const id = await c.invoke('GetConnectionID');
        assert.match(id, idPattern, 'server-side connection id');
        assert.equal(await c.invoke('Echo', 'skipped'), 'skipped');
    },

    async 'invoke-result'() {
        const c = await h.connect(h.url());
        assert.equal(await c.invoke('Echo', 'hello'), 'hello');
        assert.equal(await c.invoke('echo', 'case-insensitive'), 'case-insensitive');
        assert.equal(await c.invoke('Add', 40, 2), 42);
        assert.deepEqual(await c.invoke('Describe', { name: 'widget', tags: ['a', 'b'], count: 3 }),
            { name: 'widget', tags: ['a', 'b'], count: 3, summary: 'widget:3:a,b' });
        const big = 'x'.repeat(20000);
        assert.equal(await c.invoke('Echo', big), big, '20 kB round trip');
        // Several invocations in flight at once all complete, in order.
        const results = await Promise.all([1, 2, 3, 4, 5].map((i) => c.invoke('Add', i, i)));
        assert.deepEqual(results, [2, 4, 6, 8, 10]);
    },

    // A void hub method completes with "result":null, which the client gives as null.
    async 'invoke-void'() {
        const c = await h.connect(h.url());
        assert.equal(await c.invoke('Nothing'), null);
    },

    // send() is non-blocking: no completion; the hub answers by calling the client.
    async send() {
        const c = await h.connect(h.url());
        const rec = h.record(c, 'Echoed');
        await c.send('EchoToCaller', 'one');
        await c.send('EchoToCaller', 'two');
        // send of an unknown method gets no answer and does not break the connection.
        await c.send('NoSuchMethod', 1, 2, 3);
        const calls = await rec.wait(2);
        assert.deepEqual(calls, [['one'], ['two']]);
        assert.equal(await c.invoke('Echo', 'still here'), 'still here');
    },

    // Server-to-client calls with several arguments of different types.
    async 'server-to-client'() {
        const c = await h.connect(h.url());
        const rec = h.record(c, 'Many');
        const upper = h.record(c, 'manyupper'); // client handler names are case-insensitive
        await c.invoke('SendMany');
        const [args] = await rec.wait(1);
        assert.deepEqual(args, ['text', 42, 3.5, true, null, [1, 2, 3], { name: 'x', n: 1 }]);
        assert.equal((await upper.wait(1))[0].length, 0, 'ManyUpper has no arguments');
    },

    async errors() {
        const detailed = await h.connect(h.url());
        const plain = await h.connect(h.url('SIGNALR_URL_PLAIN'));
        const cases = [
            // [method, args, detailed message, plain message]
            ['NoSuchMethod', [],
                "Failed to invoke 'NoSuchMethod' due to an error on the server. HubException: Method does not exist.",
                "Failed to invoke 'NoSuchMethod' due to an error on the server. HubException: Method does not exist."],
            ['Add', [1],
                "Failed to invoke 'Add' due to an error on the server. InvalidDataException: Invocation provides 1 argument(s) but target expects 2.",
                "Failed to invoke 'Add' due to an error on the server."],
            ['add', [1, 2, 3],
                "Failed to invoke 'add' due to an error on the server. InvalidDataException: Invocation provides 3 argument(s) but target expects 2.",
                "Failed to invoke 'add' due to an error on the server."],
            ['Add', ['one', 2],
                "Failed to invoke 'Add' due to an error on the server. InvalidDataException: Error binding arguments. Make sure that the types of the provided values match the types of the hub method being invoked.",
                "Failed to invoke 'Add' due to an error on the server."],
            ['ThrowHubError', ['Something bad'],
                "An unexpected error occurred invoking 'ThrowHubError' on the server. HubException: Something bad",
                "An unexpected error occurred invoking 'ThrowHubError' on the server. HubException: Something bad"],
            ['ThrowTypedError', ['An error occurred.'],
                "An unexpected error occurred invoking 'ThrowTypedError' on the server. InvalidOperationException: An error occurred.",
                "An unexpected error occurred invoking 'ThrowTypedError' on the server."],
            ['ThrowError', ['plain failure'],
                "An unexpected error occurred invoking 'ThrowError' on the server. Exception: plain failure",
                "An unexpected error occurred invoking 'ThrowError' on the server."],
        ];
        for (const [method, args, wantDetailed, wantPlain] of cases) {
            assert.equal(await h.rejection(detailed.invoke(method, ...args), `${method} (detailed)`), wantDetailed);
            assert.equal(await h.rejection(plain.invoke(method, ...args), `${method} (plain)`), wantPlain);
        }
        // An error completes that invocation only: the connections still work.
        assert.equal(await detailed.invoke('Echo', 'alive'), 'alive');
        assert.equal(await plain.invoke('Echo', 'alive'), 'alive');
    },
});
