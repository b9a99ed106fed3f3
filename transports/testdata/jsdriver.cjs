'use strict';
// jsdriver drives the official @microsoft/signalr client (HubConnection) for
// the transports tests (js_test.go). The Go test keeps the assertions: it
// writes one JSON request per line on stdin and reads one JSON reply per line
// on stdout, so it can act between client steps (kill this process, switch a
// load balancer, wait for the server to expire a connection).
//
//   request: {"id":1,"op":"start","conn":"a","url":"http://...","transport":"LongPolling"}
//   reply:   {"id":1,"value":...}  or  {"id":1,"error":"<the error's message>"}
//
// Ops (conn names a connection of this process):
//   start   {conn, url, transport?, protocol?, skipNegotiation?, record?: [method]}
//           -> {connectionId, transport}; no transport means the client's
//           default (try every transport the server offers, in order)
//   invoke  {conn, method, args?} -> the result (null for void)
//   send    {conn, method, args?} -> null once the client's send resolved
//   invokeStart {conn, key, method, args?} -> null at once; invokeResult
//           {conn, key} -> that invocation's result
//   wait    {conn, method, args} -> waits for a call of a recorded client
//           method with exactly these arguments
//   calls   {conn, method} -> every recorded call's arguments so far
//   stop    {conn} -> stop(); the onclose error message or null
//   startStop {url, transport?, protocol?, delayMs} -> starts a connection
//           and stops it delayMs later; start's error message or null
//   closed  {conn} -> waits for onclose; its error message or null
// EOF on stdin stops every connection and exits. NODE_PATH must point at the
// node_modules of testdata/interop (the pinned client).
const readline = require('node:readline');
const util = require('node:util');
const signalR = require('@microsoft/signalr');

const OP_TIMEOUT_MS = Number(process.env.JS_OP_TIMEOUT_MS || 20000);
const logLevel = signalR.LogLevel[process.env.JS_LOG_LEVEL || 'None'];

const transportNames = {
    WebSocketTransport: 'WebSockets',
    ServerSentEventsTransport: 'ServerSentEvents',
    LongPollingTransport: 'LongPolling',
};

const conns = new Map(); // name -> state

function makeProtocol(name) {
    if (name === 'messagepack') {
        const { MessagePackHubProtocol } = require('@microsoft/signalr-protocol-msgpack');
        return new MessagePackHubProtocol();
    }
    return new signalR.JsonHubProtocol();
}

function state(req) {
    const st = conns.get(req.conn);
    if (!st) {
        throw new Error(`no connection named '${req.conn}'`);
    }
    return st;
}

// until resolves once cond() holds (checked after every event of st), or
// rejects after OP_TIMEOUT_MS with what() describing the state.
function until(st, cond, what) {
    if (cond()) {
        return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
        const w = { cond, resolve };
        st.waiters.add(w);
        setTimeout(() => {
            st.waiters.delete(w);
            reject(new Error(`timed out after ${OP_TIMEOUT_MS} ms waiting for ${what()}`));
        }, OP_TIMEOUT_MS).unref();
    });
}

function wake(st) {
    for (const w of st.waiters) {
        if (w.cond()) {
            st.waiters.delete(w);
            w.resolve();
        }
    }
}

const ops = {
    async start(req) {
        const opts = { logger: logLevel };
        if (req.transport) {
            opts.transport = signalR.HttpTransportType[req.transport];
        }
        if (req.skipNegotiation) {
            opts.skipNegotiation = true;
        }
        const conn = new signalR.HubConnectionBuilder()
            .withUrl(req.url, opts)
            .withHubProtocol(makeProtocol(req.protocol))
            .configureLogging(logLevel)
            .build();
        const st = { conn, calls: new Map(), waiters: new Set(), closed: false, closeError: null };
        for (const m of req.record || []) {
            st.calls.set(m, []);
            conn.on(m, (...args) => {
                st.calls.get(m).push(args);
                wake(st);
            });
        }
        conn.onclose((err) => {
            st.closed = true;
            st.closeError = err ? err.message : null;
            wake(st);
        });
        conns.set(req.conn, st);
        await conn.start();
        const t = conn.connection.transport;
        return { connectionId: conn.connectionId, transport: t ? transportNames[t.constructor.name] : null };
    },
    // startStop starts a connection and stops it after delayMs, whatever
    // phase the start is in; it returns start's error message or null.
    async startStop(req) {
        const conn = new signalR.HubConnectionBuilder()
            .withUrl(req.url, { logger: logLevel, transport: req.transport ? signalR.HttpTransportType[req.transport] : undefined })
            .withHubProtocol(makeProtocol(req.protocol))
            .configureLogging(logLevel)
            .build();
        const started = conn.start().then(() => null, (e) => e.message);
        await new Promise((r) => setTimeout(r, req.delayMs || 0));
        await conn.stop();
        return started;
    },
    async invoke(req) {
        return state(req).conn.invoke(req.method, ...(req.args || []));
    },
    async send(req) {
        await state(req).conn.send(req.method, ...(req.args || []));
        return null;
    },
    // invokeStart starts an invocation and returns at once; invokeResult
    // {conn, key} waits for its result.
    async invokeStart(req) {
        const st = state(req);
        st.invocations = st.invocations || new Map();
        const p = st.conn.invoke(req.method, ...(req.args || []));
        p.catch(() => {}); // reported by invokeResult
        st.invocations.set(req.key, p);
        return null;
    },
    async invokeResult(req) {
        const st = state(req);
        const p = st.invocations && st.invocations.get(req.key);
        if (!p) {
            throw new Error(`no invocation '${req.key}' on '${req.conn}'`);
        }
        return p;
    },
    async wait(req) {
        const st = state(req);
        const calls = st.calls.get(req.method);
        if (!calls) {
            throw new Error(`'${req.method}' is not recorded on '${req.conn}'`);
        }
        await until(st, () => calls.some((c) => util.isDeepStrictEqual(c, req.args)),
            () => `${req.conn}: ${req.method}(${JSON.stringify(req.args)}); got ${JSON.stringify(calls)}`);
        return null;
    },
    async calls(req) {
        return state(req).calls.get(req.method) || [];
    },
    async stop(req) {
        const st = state(req);
        await st.conn.stop();
        return st.closeError;
    },
    async closed(req) {
        const st = state(req);
        await until(st, () => st.closed, () => `${req.conn} to close`);
        return st.closeError;
    },
};

function reply(msg) {
    process.stdout.write(JSON.stringify(msg) + '\n');
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
    let req;
    try {
        req = JSON.parse(line);
    } catch (e) {
        reply({ id: 0, error: `bad request line: ${e.message}` });
        return;
    }
    const op = ops[req.op];
    if (!op) {
        reply({ id: req.id, error: `unknown op '${req.op}'` });
        return;
    }
    // Requests run concurrently; replies carry the request id. Each has a
    // deadline (after the waits' own, which say what they waited for), so a
    // hang is reported with what hung.
    let timer;
    const deadline = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${OP_TIMEOUT_MS} ms: ${line}`)), OP_TIMEOUT_MS + 1000);
    });
    Promise.race([Promise.resolve().then(() => op(req)), deadline])
        .finally(() => clearTimeout(timer))
        .then((v) => reply({ id: req.id, value: v === undefined ? null : v }),
            (e) => reply({ id: req.id, error: e && e.message !== undefined ? String(e.message) : String(e) }));
});
rl.on('close', async () => {
    const stops = [...conns.values()].map((st) => st.conn.stop().catch(() => {}));
    const bound = new Promise((r) => setTimeout(r, 5000).unref());
    await Promise.race([Promise.all(stops), bound]);
    // Exit explicitly: a leaked timer or socket must not keep the process alive.
    process.exit(0);
});
