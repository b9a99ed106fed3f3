'use strict';
// Streaming, client results and protocol-limit scenarios against the interop
// test hub (detailed errors on).
//
//   SIGNALR_URL          the hub
//   SIGNALR_CONTROL_URL  GET <it>/clientresult/<connectionId> makes the server
//                        invoke the client's 'Result' handler and answers with
//                        the result, or the error text
const h = require('../lib/harness.cjs');
const { assert } = h;

/** collect subscribes to a stream and resolves with its items, or rejects with its error. */
function collect(stream) {
    const items = [];
    const d = h.deferred();
    stream.subscribe({
        next: (v) => items.push(v),
        complete: () => d.resolve(items),
        error: (e) => d.reject(Object.assign(e, { items })),
    });
    return h.within(d.promise, h.DEFAULT_TIMEOUT_MS, 'the end of the stream');
}

async function clientResult(id) {
    const res = await fetch(`${h.url('SIGNALR_CONTROL_URL')}/clientresult/${encodeURIComponent(id)}`);
    return [res.status, await res.text()];
}

h.run({
    async 'server-stream'() {
        const c = await h.connect(h.url());
        assert.deepEqual(await collect(c.stream('Counter', 5)), [0, 1, 2, 3, 4]);
        assert.deepEqual(await collect(c.stream('counter', 0)), [], 'an empty stream completes');
        // A Go iterator works as well as a channel.
        assert.deepEqual(await collect(c.stream('Letters')), ['a', 'b', 'c']);
    },

    // Disposing the subscription sends CancelInvocation: the hub method's
    // context ends, and the hub tells the caller.
    async 'stream-cancel'() {
        const c = await h.connect(h.url());
        const canceled = h.record(c, 'StreamCanceled');
        const first = h.deferred();
        const sub = c.stream('Infinite').subscribe({
            next: (v) => first.resolve(v),
            complete: () => {},
            error: (e) => first.reject(e),
        });
        assert.equal(await h.within(first.promise, h.DEFAULT_TIMEOUT_MS, 'the first item'), 0);
        sub.dispose();
        await canceled.wait(1);
        assert.equal(await c.invoke('Echo', 'after cancel'), 'after cancel');
    },

    async 'upload-stream'() {
        const c = await h.connect(h.url());
        const subject = new h.signalR.Subject();
        const result = c.invoke('Concat', subject);
        for (const part of ['a', 'b', 'c']) {
            subject.next(part);
        }
        subject.complete();
        assert.equal(await h.within(result, h.DEFAULT_TIMEOUT_MS, 'Concat'), 'abc');

        // The client ends its stream with an error: the hub method sees it as
        // a HubException with that text.
        const failing = new h.signalR.Subject();
        const rejected = h.rejection(c.invoke('Concat', failing), 'Concat with a failing stream');
        failing.next('x');
        failing.error(new Error('Something bad'));
        assert.equal(await rejected,
            "An unexpected error occurred invoking 'Concat' on the server. HubException: Something bad");
    },

    async 'stream-errors'() {
        const c = await h.connect(h.url());
        assert.equal(await h.rejection(c.invoke('Counter', 3), 'invoke of a streaming method'),
            "The client attempted to invoke the streaming 'Counter' method with a non-streaming invocation.");
        assert.equal(await h.rejection(collect(c.stream('Echo', 'x')), 'stream of a non-streaming method'),
            "The client attempted to invoke the non-streaming 'Echo' method with a streaming invocation.");
        assert.equal(await h.rejection(collect(c.stream('StreamThrow', 'An error occurred.')), 'StreamThrow'),
            "An unexpected error occurred invoking 'StreamThrow' on the server. InvalidOperationException: An error occurred.");
        try {
            await collect(c.stream('FailAfter', 2));
            assert.fail('FailAfter completed without error');
        } catch (e) {
            assert.equal(e.message, 'An error occurred on the server while streaming results. InvalidOperationException: broken after 2');
            assert.deepEqual(e.items, [0, 1], 'items sent before the error stay delivered');
        }
        assert.equal(await h.rejection(collect(c.stream('NilStream')), 'NilStream'),
            "The value returned by the streaming method 'NilStream' is not a ChannelReader<> or IAsyncEnumerable<>.");
        assert.equal(await h.rejection(c.invoke('Concat'), 'Concat without a stream'),
            "An unexpected error occurred invoking 'Concat' on the server. HubException: Client sent 0 stream(s), Hub method expects 1.");
        assert.equal(await c.invoke('Echo', 'still here'), 'still here');
    },

    // The server invokes a client handler and waits for its result.
    async 'client-results'() {
        const c = await h.connect(h.url());
        let answer = () => 10;
        c.on('Result', () => answer());
        assert.deepEqual(await clientResult(c.connectionId), [200, '10']);
        answer = () => { throw new Error('from callback'); };
        assert.deepEqual(await clientResult(c.connectionId), [200, 'Error: from callback']);
        c.off('Result');
        assert.deepEqual(await clientResult(c.connectionId), [200, "Client didn't provide a result."]);
    },

    // A record over MaximumReceiveMessageSize (32 KiB) closes the connection
    // with the exact detailed .NET text.
    async 'message-too-large'() {
        const c = await h.connect(h.url());
        const done = h.closed(c);
        const invoked = c.invoke('Echo', 'x'.repeat(40000)).catch((e) => e);
        const err = await h.within(done, h.DEFAULT_TIMEOUT_MS, 'onclose');
        assert.ok(err, 'onclose got an error');
        assert.equal(err.message, 'Server returned an error on close: Connection closed with an error. ' +
            'InvalidDataException: The maximum message size of 32768B was exceeded. The message size can be configured in AddHubOptions.');
        assert.ok((await invoked) instanceof Error, 'the pending invoke fails');
    },
});
