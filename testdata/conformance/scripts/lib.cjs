'use strict';
// Runner for the conformance scenarios. The Go test (cmd/conformance) starts
// the conformance server and runs `node scripts/suite.cjs` with:
//
//   BASE_URL     server base URL, e.g. http://127.0.0.1:41234
//   TRANSPORT    WebSockets | ServerSentEvents | LongPolling
//   PROTOCOL     json | messagepack
//   SCENARIOS    comma-separated scenario names to run, in order (required)
//   TIMEOUT_MS   per-scenario deadline (default 5000)
//
// Each scenario prints one JSON line {"name","ok","error"?,"ms"}; the process
// exits 1 if any failed. An unknown scenario name is a failure, so a typo in
// the Go list cannot pass silently.

const signalR = require('@microsoft/signalr');

function env(name, def) {
    const v = process.env[name];
    return v === undefined || v === '' ? def : v;
}

class Deferred {
    constructor() {
        this.promise = new Promise((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
    }
}

function within(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function makeProtocol(name) {
    if (name === 'messagepack') {
        const { MessagePackHubProtocol } = require('@microsoft/signalr-protocol-msgpack');
        return new MessagePackHubProtocol();
    }
    return new signalR.JsonHubProtocol();
}

// Everything a scenario needs; connections built through it are stopped
// after the scenario, whatever happened.
class Ctx {
    constructor() {
        this.base = env('BASE_URL');
        this.transportName = env('TRANSPORT', 'WebSockets');
        this.transport = signalR.HttpTransportType[this.transportName];
        this.protocolName = env('PROTOCOL', 'json');
        this.opened = [];
        if (!this.base) throw new Error('BASE_URL is not set');
        if (this.transport === undefined) throw new Error(`unknown TRANSPORT ${this.transportName}`);
    }

    // builder returns a HubConnectionBuilder for path (default /testhub)
    // with the scenario's transport and protocol unless opts override them.
    builder(path = '/testhub', opts = {}) {
        const httpOptions = { logger: signalR.LogLevel.None, ...opts };
        if (!('transport' in opts)) httpOptions.transport = this.transport;
        if (httpOptions.transport === undefined) delete httpOptions.transport;
        const url = /^https?:/.test(path) ? path : this.base + path;
        return new signalR.HubConnectionBuilder()
            .withUrl(url, httpOptions)
            .withHubProtocol(makeProtocol(opts.protocol || this.protocolName))
            .configureLogging(signalR.LogLevel.None);
    }

    track(conn) {
        this.opened.push(conn);
        return conn;
    }

    build(path, opts) {
        return this.track(this.builder(path, opts).build());
    }

    async get(path) {
        const res = await fetch(this.base + path);
        return { status: res.status, text: await res.text() };
    }

    async cleanup() {
        await Promise.all(this.opened.map(c => c.stop().catch(() => {})));
    }
}

function fail(msg) { throw new Error(msg); }

// canonical is JSON with sorted object keys: eq compares like Jasmine's
// toEqual, where property order does not matter.
function canonical(v) {
    return JSON.stringify(v, (_, x) => (x && typeof x === 'object' && !Array.isArray(x))
        ? Object.fromEntries(Object.keys(x).sort().map(k => [k, x[k]])) : x);
}

function eq(actual, expected, what) {
    const a = canonical(actual), e = canonical(expected);
    if (a !== e) fail(`${what}: got ${a}, want ${e}`);
}

async function rejects(promise, expected, what) {
    let err;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    if (!err) fail(`${what}: succeeded, want error ${JSON.stringify(expected)}`);
    eq(err.message, expected, `${what} error`);
}

async function run(scenarios) {
    const names = env('SCENARIOS', '').split(',').map(s => s.trim()).filter(Boolean);
    if (names.length === 0) throw new Error('SCENARIOS is not set');
    const timeoutMs = Number(env('TIMEOUT_MS', '5000'));
    let failed = 0;
    for (const name of names) {
        const started = Date.now();
        const line = { name, ok: true };
        const fn = scenarios[name];
        let ctx;
        try {
            if (!fn) throw new Error(`unknown scenario '${name}'`);
            ctx = new Ctx();
            await within(fn(ctx), timeoutMs, `scenario ${name}`);
        } catch (e) {
            line.ok = false;
            line.error = (e && e.stack) || String(e);
            failed++;
        } finally {
            if (ctx) await within(ctx.cleanup(), 5000, 'cleanup').catch(() => {});
        }
        line.ms = Date.now() - started;
        process.stdout.write(JSON.stringify(line) + '\n');
    }
    // Exit now rather than when idle keep-alive sockets time out.
    process.stdout.write('', () => process.exit(failed ? 1 : 0));
}

module.exports = { signalR, Deferred, within, eq, fail, rejects, run };
