'use strict';
// Helpers shared by the interop scripts. The Go tests (package interop) start a
// server, then run one script with node, passing everything in env vars:
//
//   SIGNALR_URL        hub URL, e.g. http://127.0.0.1:41234/testhub
//   SIGNALR_TRANSPORT  WebSockets | ServerSentEvents | LongPolling (default WebSockets)
//   SIGNALR_PROTOCOL   json | messagepack (default json)
//   SIGNALR_SCENARIO   comma-separated scenarios to run, in that order (default: all)
//   SIGNALR_LOG_LEVEL  client log level name (default Warning)
//   SIGNALR_TIMEOUT_MS per-scenario deadline (default 45000)
//   SIGNALR_LIST       if set, print the scenario names as a JSON array and exit
//   SIGNALR_KEEPALIVE_MS, SIGNALR_SERVER_TIMEOUT_MS
//                      client keep-alive interval and server timeout of every
//                      connection (default: the client's, 15 s and 30 s); set
//                      them for servers with short keep-alive settings
//
// A script calls run({ name: async () => {...}, ... }). Every scenario gets a
// hard deadline so a hang fails fast with a message instead of a stuck test,
// and every connection it opened is stopped afterwards.

const signalR = require('@microsoft/signalr');
const assert = require('node:assert/strict');

// Generous: CI machines are small and run every package's tests at once.
const DEFAULT_TIMEOUT_MS = 10000;

function env(name, def) {
    const v = process.env[name];
    return v === undefined || v === '' ? def : v;
}

/** The hub URL the Go test passed in (or the given variable). */
function url(name = 'SIGNALR_URL') {
    const u = env(name, undefined);
    if (!u) {
        throw new Error(`environment variable ${name} is not set`);
    }
    return u;
}

/** Transport name from SIGNALR_TRANSPORT. */
function transportName() {
    const name = env('SIGNALR_TRANSPORT', 'WebSockets');
    if (signalR.HttpTransportType[name] === undefined) {
        throw new Error(`unknown SIGNALR_TRANSPORT '${name}'`);
    }
    return name;
}

/** Protocol name from SIGNALR_PROTOCOL. */
function protocolName() {
    const name = env('SIGNALR_PROTOCOL', 'json');
    if (name !== 'json' && name !== 'messagepack') {
        throw new Error(`unknown SIGNALR_PROTOCOL '${name}'`);
    }
    return name;
}

function makeProtocol(name) {
    if (name === 'messagepack') {
        const { MessagePackHubProtocol } = require('@microsoft/signalr-protocol-msgpack');
        return new MessagePackHubProtocol();
    }
    return new signalR.JsonHubProtocol();
}

function logLevel() {
    const name = env('SIGNALR_LOG_LEVEL', 'Warning');
    const level = signalR.LogLevel[name];
    if (level === undefined) {
        throw new Error(`unknown SIGNALR_LOG_LEVEL '${name}'`);
    }
    return level;
}

// Connections opened through build() in the current scenario; stopped at its end.
let opened = [];

/**
 * build returns a HubConnection (not started) for hubUrl, configured from the
 * environment unless opts override it:
 *   transport: 'WebSockets' | 'ServerSentEvents' | 'LongPolling'
 *   protocol: 'json' | 'messagepack'
 *   skipNegotiation, headers, accessTokenFactory: passed to withUrl
 *   reconnectDelays: array of ms for withAutomaticReconnect
 *   statefulReconnect: true (or {bufferSize}) for withStatefulReconnect
 *   serverTimeoutMs, keepAliveMs: withServerTimeout / withKeepAliveInterval
 *     (default: SIGNALR_SERVER_TIMEOUT_MS / SIGNALR_KEEPALIVE_MS if set)
 */
function build(hubUrl, opts = {}) {
    const transport = opts.transport || transportName();
    const httpOptions = {
        transport: signalR.HttpTransportType[transport],
        logger: opts.logLevel !== undefined ? opts.logLevel : logLevel(),
    };
    for (const k of ['skipNegotiation', 'headers', 'accessTokenFactory', 'withCredentials', 'timeout']) {
        if (opts[k] !== undefined) {
            httpOptions[k] = opts[k];
        }
    }
    let b = new signalR.HubConnectionBuilder()
        .withUrl(hubUrl, httpOptions)
        .withHubProtocol(makeProtocol(opts.protocol || protocolName()))
        .configureLogging(httpOptions.logger);
    if (opts.reconnectDelays) {
        b = b.withAutomaticReconnect(opts.reconnectDelays);
    }
    if (opts.statefulReconnect) {
        b = b.withStatefulReconnect(opts.statefulReconnect === true ? undefined : opts.statefulReconnect);
    }
    const serverTimeoutMs = opts.serverTimeoutMs !== undefined ? opts.serverTimeoutMs : env('SIGNALR_SERVER_TIMEOUT_MS', undefined);
    if (serverTimeoutMs !== undefined) {
        b = b.withServerTimeout(Number(serverTimeoutMs));
    }
    const keepAliveMs = opts.keepAliveMs !== undefined ? opts.keepAliveMs : env('SIGNALR_KEEPALIVE_MS', undefined);
    if (keepAliveMs !== undefined) {
        b = b.withKeepAliveInterval(Number(keepAliveMs));
    }
    const conn = b.build();
    opened.push(conn);
    return conn;
}

/** connect builds a connection (see build), registers handlers, and starts it. */
async function connect(hubUrl, opts = {}) {
    const conn = build(hubUrl, opts);
    for (const [method, fn] of Object.entries(opts.handlers || {})) {
        conn.on(method, fn);
    }
    await within(conn.start(), opts.startTimeoutMs || DEFAULT_TIMEOUT_MS, `start() of ${hubUrl}`);
    return conn;
}

/** deferred returns {promise, resolve, reject, settled}. */
function deferred() {
    const d = { settled: false };
    d.promise = new Promise((resolve, reject) => {
        d.resolve = (v) => { d.settled = true; resolve(v); };
        d.reject = (e) => { d.settled = true; reject(e); };
    });
    return d;
}

/** within rejects when promise does not settle in ms, naming what it waited for. */
function within(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** sleep resolves after ms. */
function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * record registers a handler for method on conn that stores the argument lists
 * of every call. rec.calls is the list; rec.wait(n, ms) resolves once n calls
 * arrived (rejecting after ms with what was seen).
 */
function record(conn, method) {
    const rec = { calls: [], waiters: [] };
    conn.on(method, (...args) => {
        rec.calls.push(args);
        rec.waiters = rec.waiters.filter((w) => {
            if (rec.calls.length >= w.n) {
                w.d.resolve(rec.calls.slice());
                return false;
            }
            return true;
        });
    });
    // waitFor resolves with the first call whose argument list matches pred.
    rec.waitFor = async (pred, ms = DEFAULT_TIMEOUT_MS) => {
        const deadline = Date.now() + ms;
        for (let n = 1; ; n++) {
            const calls = await rec.wait(n, Math.max(1, deadline - Date.now()));
            if (pred(...calls[n - 1])) {
                return calls[n - 1];
            }
        }
    };
    rec.wait = (n, ms = DEFAULT_TIMEOUT_MS) => {
        if (rec.calls.length >= n) {
            return Promise.resolve(rec.calls.slice());
        }
        const d = deferred();
        rec.waiters.push({ n, d });
        return within(d.promise, ms, `${n} call(s) of '${method}' (got ${rec.calls.length}: ${JSON.stringify(rec.calls)})`);
    };
    return rec;
}

/** closed returns a promise of the error (or undefined) passed to conn's onclose. */
function closed(conn) {
    const d = deferred();
    conn.onclose((err) => d.resolve(err));
    return d.promise;
}

/** rejection awaits promise, expecting it to reject, and returns the error message. */
async function rejection(promise, what) {
    try {
        const v = await promise;
        throw new assert.AssertionError({ message: `${what}: expected an error, got result ${JSON.stringify(v)}` });
    } catch (e) {
        if (e instanceof assert.AssertionError) {
            throw e;
        }
        return e && e.message !== undefined ? e.message : String(e);
    }
}

async function stopAll() {
    const conns = opened;
    opened = [];
    await Promise.all(conns.map((c) => c.stop().catch(() => {})));
}

/**
 * run executes the scenarios (an object of name -> async function) one after
 * another, or those named in SIGNALR_SCENARIO, and sets the exit code. Each
 * scenario's output starts with "# begin <name>" and ends with
 * "ok - <name> (...)" or "not ok - <name> (...): <error>"; each has
 * SIGNALR_TIMEOUT_MS to finish.
 */
async function run(scenarios) {
    if (env('SIGNALR_LIST', '') !== '') {
        // The Go side asks for the names to run each as its own subtest.
        console.log(JSON.stringify(Object.keys(scenarios)));
        process.exit(0);
    }
    const only = env('SIGNALR_SCENARIO', '').split(',').filter((n) => n !== '');
    const limit = Number(env('SIGNALR_TIMEOUT_MS', '45000'));
    const unknown = only.filter((n) => !(n in scenarios));
    if (unknown.length > 0) {
        console.error(`no scenario named '${unknown.join("', '")}' (have: ${Object.keys(scenarios).join(', ')})`);
        process.exit(2);
    }
    const names = only.length > 0 ? only : Object.keys(scenarios);
    const ctx = `transport=${transportName()} protocol=${protocolName()}`;
    let failed = 0;
    for (const name of names) {
        const started = Date.now();
        // Marks where this scenario's output starts (the Go side splits on it).
        console.log(`# begin ${name}`);
        try {
            await within(Promise.resolve().then(() => scenarios[name]()), limit, `scenario '${name}' to finish`);
            console.log(`ok - ${name} (${ctx}, ${Date.now() - started} ms)`);
        } catch (e) {
            failed++;
            console.log(`not ok - ${name} (${ctx}): ${e && e.stack ? e.stack : e}`);
        } finally {
            await within(stopAll(), 5000, 'stopping connections').catch((e) => console.log(`warning: ${e.message}`));
        }
    }
    console.log(`node: ${names.length - failed} of ${names.length} scenario(s) passed`);
    // Exit explicitly: a leaked timer or socket must not keep the process alive.
    process.exit(failed === 0 ? 0 : 1);
}

module.exports = {
    signalR,
    assert,
    env,
    url,
    transportName,
    protocolName,
    build,
    connect,
    deferred,
    within,
    sleep,
    record,
    closed,
    rejection,
    run,
    DEFAULT_TIMEOUT_MS,
};
