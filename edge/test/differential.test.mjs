// Differential fuzzing, bounded: the same mutated request targets go to every generated edge (in
// its runtime), to `rendorix serve` and to `rendorix verify`, and every answer must agree: the
// same refusal, or all let it through; `verify` gives the edges' verdict wherever they verify.
// Any request let through must not resolve, at the origin, to a protected object unless it was
// verified (harness.mjs's origin model). RENDORIX_FUZZ_TARGETS sets how many targets (default
// 600), RENDORIX_FUZZ_SEED the seed (default fixed, so a failure can be replayed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { BIN, KEYS, ROOT, cleanUp, generate, originProtects, vectors } from './harness.mjs';
import { cloudFront, lambda, nginx, stopAll, workerd } from './runtimes.mjs';

const NOW = 1715000000;
const COUNT = Number(process.env.RENDORIX_FUZZ_TARGETS ?? 600);
const SEED = Number(process.env.RENDORIX_FUZZ_SEED ?? 20261206);
const CONFIG = join(ROOT, 'fixtures/edge/rendorix.toml');
let runtimes;
let serve;

// splitmix32: the same targets for the same seed.
function rng(seed) {
    let s = seed >>> 0;
    return (n) => {
        s = (s + 0x9e3779b9) >>> 0;
        let z = s;
        z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        return ((z ^ (z >>> 16)) >>> 0) % n;
    };
}

// Pieces that change what a target means to a parser or an origin.
const TOKENS = ['%2F', '%2f', '%5C', '%00', '%2e', '%2E', '%6D', '%25', '%zz', '%', '.', '..', '/', '//', '\\', '#',
    '?', '&', '=', 'exp=', 'kid=', 'sig=', '&sig=', 'a', 'A', '0', '9', '-', '_', '~', ';', '+', 'é'];

function mutate(target, pick) {
    let t = target;
    for (let n = 1 + pick(3); n > 0; n--) {
        const at = pick(t.length + 1);
        switch (pick(4)) {
            case 0: t = t.slice(0, at) + TOKENS[pick(TOKENS.length)] + t.slice(at); break;
            case 1: t = t.slice(0, at) + t.slice(at + 1); break;
            case 2: t = t.slice(0, at) + TOKENS[pick(TOKENS.length)] + t.slice(at + 1); break;
            default: { const seg = t.split('/'); seg.splice(1 + pick(seg.length), 0, seg[1 + pick(seg.length - 1)] ?? 'x'); t = seg.join('/'); }
        }
    }
    // What an HTTP request line can carry: visible ASCII, a '/' first.
    t = t.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
    return t.startsWith('/') ? t : `/${t}`;
}

function targets() {
    const pick = rng(SEED);
    const seeds = vectors.vectors.filter((v) => v.now === NOW && v.uri.length + (v.querystring ?? "").length < 2000)
        .map((v) => v.uri + (v.querystring === '' ? '' : `?${v.querystring}`));
    seeds.push('/media/cat.jpg', '/site.css', '/x/y.png?w=1');
    const out = [];
    for (let i = 0; i < COUNT; i++) out.push(mutate(seeds[pick(seeds.length)], pick));
    return out;
}

before(async () => {
    const started = await workerd([KEYS]);
    runtimes = {
        'cloudfront-function': cloudFront(generate('cloudfront-function'), KEYS),
        'lambda-edge': await lambda(generate('lambda-edge'), KEYS),
        'cloudflare-worker': started.get(KEYS),
        nginx: await nginx(KEYS),
    };
    // Its access log is not read: stderr is dropped, not left to fill a pipe.
    const child = spawn(BIN, ['serve', '--config', CONFIG, '--now', String(NOW), '--port', '0'],
        { env: { ...process.env, RENDORIX_KEYS: KEYS }, stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise((ok, fail) => {
        let out = '';
        child.stdout.on('data', (d) => { out += d; const m = /127\.0\.0\.1:(\d+)/.exec(out); if (m) ok(Number(m[1])); });
        child.on('exit', (code) => fail(new Error(`rendorix serve exited ${code}`)));
    });
    serve = { child, port };
});

after(() => { serve?.child.kill(); stopAll(); cleanUp(); });

// `rendorix serve`'s answer to a raw target, as a class: a refusal with its reason, or 'through'.
function askServe(target, host) {
    return new Promise((ok, fail) => {
        const socket = net.connect(serve.port, '127.0.0.1', () => {
            socket.write(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
        });
        let data = '';
        socket.on('data', (d) => { data += d; });
        socket.on('end', () => {
            const head = data.split('\r\n\r\n')[0];
            const status = Number(head.split(' ')[1]);
            const reason = /x-rendorix-reason: *([^\r\n]*)/i.exec(head)?.[1];
            ok(status === 400 ? 'bad_path' : status === 403 ? reason : 'through');
        });
        socket.setTimeout(5000, () => { socket.destroy(); fail(new Error(`no answer to ${target}`)); });
        socket.on('error', fail);
    });
}

// An edge's answer as a class.
const classOf = (a) => (a.status === 400 ? 'bad_path' : a.status === 403 ? a.reason : a.status === 414 ? 'malformed' : 'through');

test(`${COUNT} mutated targets: every edge, serve and verify agree, and nothing protected passes unverified`, async () => {
    const list = targets();
    const disagreements = [];
    const verified = new Map();
    for (const target of list) {
        for (const host of ['img.example.com', 'www.example.com']) {
            const c = { group: 'fuzz', name: target, host, target, now: NOW, keys: KEYS };
            const answers = {};
            for (const [name, edge] of Object.entries(runtimes)) {
                const a = await edge.send(c).catch((e) => { throw new Error(`${name}: ${e.message} (host ${host})`); });
                answers[name] = classOf(a);
                if (a.forwarded !== null && a.forwarded !== undefined && answers[name] === 'through') {
                    const signed = /[?&]sig=/.test(target);
                    if (!signed && originProtects(edge.rules, host, a.originPath)) {
                        disagreements.push(`${name} lets ${target} (host ${host}) reach protected ${a.originPath} unverified`);
                    }
                }
            }
            answers.serve = await askServe(target, host);
            // Workers receive the URL parsed (dot segments resolved, '#' dropped): compare them
            // only on targets that parsing leaves as they are.
            let same = false;
            try {
                const parsed = new URL(target, 'http://h');
                same = parsed.pathname + parsed.search === target && !target.includes('#');
            } catch { /* not a URL a Worker could be asked for: workerd refuses it itself */ }
            const compared = Object.entries(answers).filter(([name]) => name !== 'cloudflare-worker' || same);
            const classes = new Set(compared.map(([, v]) => v));
            if (classes.size > 1) disagreements.push(`${target} (host ${host}): ${JSON.stringify(answers)}`);
            const reference = answers['cloudfront-function'];
            if (reference !== 'through' && reference !== 'bad_path' && host === 'img.example.com') verified.set(target, reference);
        }
    }
    // `rendorix verify` checks what the edges verified (it applies no protection rules).
    const batch = [...verified.keys()].filter((t) => !t.startsWith('//'));
    for (let from = 0; from < batch.length; from += 100) {
        const part = batch.slice(from, from + 100);
        let stdout;
        try {
            stdout = execFileSync(BIN, ['verify', '--now', String(NOW), ...part], { env: { ...process.env, RENDORIX_KEYS: KEYS }, encoding: 'utf8', cwd: ROOT });
        } catch (e) {
            // Exit 1: some did not verify. Anything else is a failure of its own.
            assert.equal(e.status, 1, `rendorix verify: ${e.message}`);
            stdout = e.stdout;
        }
        const verdicts = stdout.split('\n').filter((l) => l && !l.startsWith(' ')).map((l) => l.split(/\s+/)[0]);
        assert.equal(verdicts.length, part.length);
        part.forEach((t, i) => {
            if (verdicts[i] !== verified.get(t)) disagreements.push(`verify ${t}: ${verdicts[i]}, the edges: ${verified.get(t)}`);
        });
    }
    assert.deepEqual(disagreements, [], `seed ${SEED}`);
    assert.ok(verified.size > 50, `${verified.size} targets reached verification`);
});
