// The generated verifiers in their runtimes, each behind one function that sends it a raw
// request and reports { status, reason, forwarded, originPath }: the CloudFront Function and
// Lambda@Edge in Node with AWS-shaped events, the Cloudflare Worker in workerd, nginx with njs.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cloudFrontEvent, lambdaEvent } from './events.mjs';
import { generate, resolveAsOrigin, rulesOf } from './harness.mjs';

const children = [];
const folders = [];

// Stops every runtime started here.
export function stopAll() {
    for (const c of children.splice(0)) c.kill();
    for (const d of folders.splice(0)) rmSync(d, { recursive: true, force: true });
}

function freePort() {
    return new Promise((ok) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    });
}

async function waitFor(port, child, log) {
    for (let i = 0; ; i++) {
        try { await fetch(`http://127.0.0.1:${port}/`); return; } catch {
            assert.ok(i < 600 && child.exitCode === null, `did not start: ${log()}`);
            await new Promise((ok) => setTimeout(ok, 50));
        }
    }
}

// Sends `c.target` as written (no client normalization) with `c.host` and the test clock, and
// reads the answer of an edge that answers forwarded requests with "origin <target>".
function sendRaw(port, c, clockHeader, originPath) {
    return new Promise((ok, fail) => {
        const socket = net.connect(port, '127.0.0.1', () => {
            socket.write(`GET ${c.target} HTTP/1.1\r\nHost: ${c.host}\r\n${clockHeader}: ${c.now}\r\nConnection: close\r\n\r\n`);
        });
        let data = '';
        socket.on('data', (d) => { data += d; });
        socket.on('end', () => {
            const [head, body = ''] = data.split('\r\n\r\n');
            const status = Number(head.split(' ')[1]);
            const reason = /x-rendorix-reason: *([^\r\n]*)/i.exec(head)?.[1] ?? body.trim();
            const forwarded = body.startsWith('origin ') ? body.slice(7).trim() : null;
            ok({ status, reason, forwarded, originPath: forwarded === null ? undefined : originPath(forwarded) });
        });
        socket.setTimeout(5000, () => { socket.destroy(); fail(new Error(`no answer to ${c.target}`)); });
        socket.on('error', fail);
    });
}

// The CloudFront Function as CloudFront runs it: its imports supplied by the runtime (Node's
// crypto, a stand-in cloudfront module whose KeyValueStore holds `keys` and the `data` of an
// import file (`rendorix revoke`'s cloudfront-kvs.json), and a clock.
export function cloudFront(dir, keys, imported = { data: [] }) {
    const file = join(dir, 'rendorix-cloudfront-function.js');
    let src = readFileSync(file, 'utf8');
    for (const line of ["import crypto from 'crypto';", "import cf from 'cloudfront';"]) {
        assert.ok(src.includes(line), `the function no longer has: ${line}`);
        src = src.replace(line, '');
    }
    return {
        rules: rulesOf(file),
        async send(c) {
            const store = {};
            for (const entry of keys.split(',')) {
                const at = entry.indexOf(':');
                if (at > 0) store[`rendorix:${entry.slice(0, at)}`] = entry.slice(at + 1);
            }
            for (const { key, value } of imported.data) store[key] = value;
            const cf = { kvs: () => ({ async get(name) { if (!(name in store)) throw new Error('not found'); return store[name]; } }) };
            const handler = new Function('crypto', 'cf', 'Date', `${src}\nreturn handler;`)(crypto, cf, { now: () => c.now * 1000 });
            const q = c.target.indexOf('?');
            const event = cloudFrontEvent(q < 0 ? c.target : c.target.slice(0, q), q < 0 ? null : c.target.slice(q + 1), c.host);
            const result = await handler(event);
            if (result.statusCode) {
                assert.equal(result.headers['x-rendorix-reason'].value, result.body.data.trim());
                return { status: result.statusCode, reason: result.body.data.trim(), forwarded: null };
            }
            const query = Object.entries(result.querystring).map(([k, v]) => `${k}=${v.value}`).join('&');
            const forwarded = result.uri + (query ? `?${query}` : '');
            return { status: 200, forwarded, originPath: resolveAsOrigin(result.uri) };
        },
    };
}

// The Lambda@Edge function, imported from its folder with the keys file beside it.
export async function lambda(dir, keys) {
    writeFileSync(join(dir, 'rendorix-keys'), keys);
    const file = join(dir, 'rendorix-lambda-edge.mjs');
    const { handler } = await import(`${pathToFileURL(file)}?keys=${encodeURIComponent(keys)}`);
    return {
        rules: rulesOf(file),
        async send(c) {
            const realNow = Date.now;
            Date.now = () => c.now * 1000;
            try {
                const q = c.target.indexOf('?');
                const event = lambdaEvent(q < 0 ? c.target : c.target.slice(0, q), q < 0 ? '' : c.target.slice(q + 1), c.host);
                const result = await handler(event);
                if (result.status) {
                    return { status: Number(result.status), reason: result.body.trim(), forwarded: null };
                }
                const forwarded = result.uri + (result.querystring ? `?${result.querystring}` : '');
                return { status: 200, forwarded, originPath: resolveAsOrigin(result.uri) };
            } finally {
                Date.now = realNow;
            }
        },
    };
}


const ENTRY = `import worker from './rendorix-worker.js';
export default {
    fetch(request, env, ctx) {
        const now = request.headers.get('x-test-now');
        if (now) Date.now = () => Number(now) * 1000;
        return worker.fetch(request, env, ctx);
    },
};
`;
const ORIGIN = `export default {
    fetch(request) {
        const url = new URL(request.url);
        return new Response('origin ' + url.pathname + url.search);
    },
};
`;

// A KV namespace as workerd's binding reaches it (an HTTP GET per key), holding the entries of
// a `wrangler kv bulk put` file. (KV would also drop an entry at its expiration; the Worker does
// not rely on that, it compares the value, the revocation's end, with its clock.)
const KV = `import bulk from './bulk.json';
export default {
    fetch(request) {
        const url = new URL(request.url);
        const key = decodeURIComponent(url.pathname.slice(1));
        const entry = bulk.find((e) => e.key === key);
        return entry ? new Response(entry.value) : new Response(null, { status: 404 });
    },
};
`;

// Starts one workerd serving a generated Worker per key set (and per config, for `configs`),
// each on its own port, in front of an origin Worker that echoes what reaches it; with `bulk`
// (a Workers KV bulk file), each edge has it bound as RENDORIX_REVOKED. Returns a map from the
// key set (or config) to { send(c), rules }. `originBinding` names the origin's binding: ORIGIN,
// or ASSETS as Cloudflare Pages binds the site's files for a _worker.js.
export async function workerd(keySets, configs = [], bulk = null, originBinding = 'ORIGIN') {
    const WORKERD = resolve(import.meta.dirname, '../node_modules/.bin/workerd');
    const work = mkdtempSync(join(tmpdir(), 'rendorix-workerd-'));
    folders.push(work);
    writeFileSync(join(work, 'origin.js'), ORIGIN);
    const sets = [...keySets.map((keys) => ({ keys, config: undefined })), ...configs.map((config) => ({ keys: '', config }))];
    const services = ['(name = "origin", worker = (modules = [(name = "origin", esModule = embed "origin.js")], compatibilityDate = "2025-01-01"))'];
    let kvBinding = '';
    if (bulk) {
        writeFileSync(join(work, 'kv.js'), KV);
        writeFileSync(join(work, 'bulk.json'), JSON.stringify(bulk));
        services.push('(name = "kv", worker = (modules = [(name = "kv", esModule = embed "kv.js"), (name = "./bulk.json", json = embed "bulk.json")], compatibilityDate = "2025-01-01"))');
        kvBinding = ', (name = "RENDORIX_REVOKED", kvNamespace = "kv")';
    }
    const sockets = [];
    const edges = new Map();
    for (const [i, set] of sets.entries()) {
        const generated = generate('cloudflare-worker', set.config);
        copyFileSync(join(generated, 'rendorix-worker.js'), join(work, `worker${i}.js`));
        writeFileSync(join(work, `entry${i}.js`), ENTRY.replace('./rendorix-worker.js', `./worker${i}.js`));
        const port = await freePort();
        const rules = rulesOf(join(generated, 'rendorix-worker.js'));
        edges.set(set.config ?? set.keys, { port, rules, send: (c) => sendRaw(port, c, 'x-test-now', resolveAsOrigin) });
        services.push(`(name = "edge${i}", worker = (modules = [(name = "entry${i}", esModule = embed "entry${i}.js"), (name = "./worker${i}.js", esModule = embed "worker${i}.js")], compatibilityDate = "2025-01-01", compatibilityFlags = ["nodejs_compat"], bindings = [(name = "RENDORIX_KEYS", text = ${JSON.stringify(set.keys)}), (name = "${originBinding}", service = "origin")${kvBinding}]))`);
        sockets.push(`(name = "s${i}", address = "127.0.0.1:${port}", http = (), service = "edge${i}")`);
    }
    writeFileSync(join(work, 'config.capnp'), `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (services = [${services.join(', ')}], sockets = [${sockets.join(', ')}]);
`);
    const server = spawn(WORKERD, ['serve', join(work, 'config.capnp')], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(server);
    let log = '';
    server.stdout.on('data', (d) => { log += d; });
    server.stderr.on('data', (d) => { log += d; });
    for (const { port } of edges.values()) await waitFor(port, server, () => log);
    return edges;
}

const MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const CLOCK = `import rendorix from 'rendorix.js';
function clock(r) {
    var now = r.headersIn['X-Test-Now'];
    if (now) { var ms = Number(now) * 1000; Date.now = function () { return ms; }; }
}
function verdict(r) { clock(r); return rendorix.verdict(r); }
function args(r) { clock(r); return rendorix.args(r); }
export default { verdict: verdict, args: args };
`;

// Starts an nginx with the generated verifier for `config` (default: the edge tests' site) and
// RENDORIX_KEYS `keys`; returns { send(c), rules }. Its location answers what it would forward:
// nginx's own decoded $uri, from which it serves files, and the query without the signature.
export async function nginx(keys, config) {
    const dir = generate('nginx', config);
    writeFileSync(join(dir, 'test-clock.js'), CLOCK);
    const http = readFileSync(join(dir, 'rendorix-http.conf'), 'utf8');
    const line = 'js_import rendorix from rendorix.js;';
    assert.ok(http.includes(line), `rendorix-http.conf no longer has: ${line}`);
    writeFileSync(join(dir, 'test-http.conf'), http.replace(line, 'js_import rendorix from test-clock.js;'));
    mkdirSync(join(dir, 'logs'));
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), `load_module ${MODULE};
env RENDORIX_KEYS;
daemon off;
master_process off;
error_log ${dir}/logs/error.log;
pid ${dir}/logs/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path ${dir}/logs;
    proxy_temp_path ${dir}/logs;
    fastcgi_temp_path ${dir}/logs;
    uwsgi_temp_path ${dir}/logs;
    scgi_temp_path ${dir}/logs;
    include ${dir}/test-http.conf;
    server {
        listen 127.0.0.1:${port};
        location / {
            include ${dir}/rendorix-location.conf;
            return 200 "origin $uri$is_args$rendorix_args\\n";
        }
    }
}
`);
    const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { env: { ...process.env, RENDORIX_KEYS: keys }, stdio: 'ignore' });
    children.push(child);
    const errors = join(dir, 'logs/error.log');
    await waitFor(port, child, () => (existsSync(errors) ? readFileSync(errors, 'utf8') : ''));
    return { port, rules: rulesOf(join(dir, 'rendorix.js')), send: (c) => sendRaw(port, c, 'X-Test-Now', (f) => f.split('?')[0]) };
}

