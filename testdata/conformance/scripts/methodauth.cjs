'use strict';
// Per-method authorization ([Authorize] on hub methods in ASP.NET Core)
// with the real client, run by cmd/conformance's TestMethodAuthorization
// against a gosignalr server (not the functional-test app) whose
// /authhub is behind the JWT middleware with AllowAnonymous:
//
//   Kick, Secrets, Upload  policy: role "admin"        (MethodPolicies)
//   Whoami                 policy: authenticated
//   Purge                  policy: role "admin" AND the hub's own
//                          MethodAuthorizer: claim scope=purge
//   Echo, Kicks            open
//
// Besides lib.cjs's variables it reads USER_TOKEN (role user), ADMIN_TOKEN
// (role admin, scope purge) and OPERATOR_TOKEN (role admin, no scope).
// A refused invocation is answered with a Completion whose error the client
// reports verbatim as the Error's message, as against ASP.NET Core.

const { signalR, Deferred, eq, fail, rejects, run } = require('./lib.cjs');

const refused = m => `Failed to invoke '${m}' because user is unauthorized`;

function token(name) {
    const t = process.env[name];
    if (!t) throw new Error(`${name} is not set`);
    return t;
}

// connect opens /authhub with the token (none: anonymous).
async function connect(ctx, tok) {
    const opts = tok ? { accessTokenFactory: () => tok } : {};
    const conn = ctx.build('/authhub', opts);
    const closed = new Deferred();
    conn.onclose(err => closed.resolve(err));
    await conn.start();
    conn.closed = closed.promise;
    return conn;
}

// stopsClean proves refusals left the connection alone: it still works and
// closes without an error.
async function stopsClean(conn) {
    eq(await conn.invoke('Echo', 'still here'), 'still here', 'Echo after refusals');
    await conn.stop();
    const err = await conn.closed;
    if (err !== undefined) fail(`onclose error: ${err}`);
}

function collect(stream) {
    const d = new Deferred();
    const items = [];
    stream.subscribe({ next: x => items.push(x), error: e => d.reject(e), complete: () => d.resolve(items) });
    return d.promise;
}

// refusedAll checks every guarded way in for a caller without the role.
async function refusedAll(conn) {
    const before = await conn.invoke('Kicks');
    await rejects(conn.invoke('Kick', 'bob'), refused('Kick'), 'Kick');
    // The text names the method as the caller spelled it (.NET's Target).
    await rejects(conn.invoke('kICK', 'bob'), refused('kICK'), 'kICK');
    await rejects(conn.invoke('Purge'), refused('Purge'), 'Purge');
    await rejects(collect(conn.stream('Secrets')), refused('Secrets'), 'stream Secrets');
    // The refusal comes without waiting for the upload stream. The stream
    // sends nothing: the client chains its items behind the invocation's
    // send and leaves their promises unhandled, so items still queued when
    // the connection stops would crash node (against any server).
    await rejects(conn.invoke('Upload', new signalR.Subject()), refused('Upload'), 'Upload');
    // A send expects no answer and gets none; the method must not run.
    await conn.send('Kick', 'bob');
    eq(await conn.invoke('Kicks'), before, 'Kicks after refused calls');
}

const scenarios = {
    async 'user-refused'(ctx) {
        const conn = await connect(ctx, token('USER_TOKEN'));
        eq(await conn.invoke('Whoami'), 'bob', 'Whoami');
        await refusedAll(conn);
        await stopsClean(conn);
    },

    async 'anonymous-refused'(ctx) {
        const conn = await connect(ctx);
        eq(await conn.invoke('Echo', 'hi'), 'hi', 'Echo');
        await rejects(conn.invoke('Whoami'), refused('Whoami'), 'Whoami');
        await refusedAll(conn);
        await stopsClean(conn);
    },

    async 'bad-token-is-anonymous'(ctx) {
        // AllowAnonymous: an invalid token is ignored, not rejected.
        const conn = await connect(ctx, 'not-a-token');
        await rejects(conn.invoke('Whoami'), refused('Whoami'), 'Whoami');
        await rejects(conn.invoke('Kick', 'bob'), refused('Kick'), 'Kick');
        await stopsClean(conn);
    },

    async 'admin-allowed'(ctx) {
        const conn = await connect(ctx, token('ADMIN_TOKEN'));
        const before = await conn.invoke('Kicks');
        eq(await conn.invoke('Whoami'), 'alice', 'Whoami');
        eq(await conn.invoke('Kick', 'bob'), 'kicked bob', 'Kick');
        eq(await conn.invoke('kick', 'eve'), 'kicked eve', 'kick');
        eq(await conn.invoke('Purge'), 'purged', 'Purge');
        eq(await collect(conn.stream('Secrets')), ['s1', 's2'], 'stream Secrets');
        const upload = new signalR.Subject();
        const up = conn.invoke('Upload', upload);
        upload.next('a');
        upload.next('b');
        upload.complete();
        eq(await up, 'ab', 'Upload');
        eq(await conn.invoke('Kicks'), before + 2, 'Kicks');
        await stopsClean(conn);
    },

    async 'hub-authorizer-refuses-policy-allowed'(ctx) {
        // The operator passes the Purge policy (admin) but not the hub's
        // MethodAuthorizer (scope=purge): both must allow.
        const conn = await connect(ctx, token('OPERATOR_TOKEN'));
        eq(await conn.invoke('Kick', 'bob'), 'kicked bob', 'Kick');
        await rejects(conn.invoke('Purge'), refused('Purge'), 'Purge');
        await stopsClean(conn);
    },
};

run(scenarios);
