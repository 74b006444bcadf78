// Every generated verifier in its runtime (runtimes.mjs) answers every case of harness.mjs: the
// shared vectors, path confusion, weak keys, raw '#', and the protection rules of a config; and
// no request it lets through resolves, at the origin, to a protected object unverified.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
    cases, cleanUp, fragmentCases, generate, judge, protectionCases, protectionConfig,
} from './harness.mjs';
import { cloudFront, lambda, nginx, stopAll, workerd } from './runtimes.mjs';

after(() => { stopAll(); cleanUp(); });

const all = () => [...cases(), ...fragmentCases()];
const keySets = () => [...new Set(all().map((c) => c.keys))];

// One edge per key set, and one for the protection config.
async function edges(name) {
    const byKeys = new Map();
    let rules;
    if (name === 'cloudfront-function') {
        // The KeyValueStore holds each case's keys: one function serves them all.
        for (const keys of keySets()) byKeys.set(keys, cloudFront(generate(name), keys));
        rules = cloudFront(generate(name, protectionConfig()), '');
    } else if (name === 'lambda-edge') {
        for (const keys of keySets()) byKeys.set(keys, await lambda(generate(name), keys));
        rules = await lambda(generate(name, protectionConfig()), '');
    } else if (name === 'cloudflare-worker') {
        const config = protectionConfig();
        const started = await workerd(keySets(), [config]);
        for (const keys of keySets()) byKeys.set(keys, started.get(keys));
        rules = started.get(config);
    } else {
        for (const keys of keySets()) byKeys.set(keys, await nginx(keys));
        rules = await nginx('', protectionConfig());
    }
    return { byKeys, rules };
}

for (const name of ['cloudfront-function', 'lambda-edge', 'cloudflare-worker', 'nginx']) {
    test(`${name}: every vector, path confusion, weak key, '#' and protection case`, async () => {
        const { byKeys, rules } = await edges(name);
        for (const c of all()) {
            const edge = byKeys.get(c.keys);
            // workerd hands the Worker the URL already parsed: a raw '#' is not there to see.
            // What it does with one: no '#' forwarded, nothing protected let through.
            const expect = name === 'cloudflare-worker' && c.target.includes('#') ? (c.parsed ?? 'refused') : c.expect;
            const answer = await edge.send(c);
            judge({ ...c, expect }, answer, edge.rules);
            if (answer.forwarded) assert.ok(!answer.forwarded.includes('#'), `${c.name}: ${answer.forwarded}`);
        }
        for (const c of protectionCases()) judge(c, await rules.send(c), rules.rules);
    });
}

// Cloudflare Pages runs the Worker as the site's _worker.js, with the site's files bound as
// ASSETS: what verifies reaches them without its signature, the rest is refused.
test('cloudflare-worker as Cloudflare Pages\' _worker.js: forwards to ASSETS', async () => {
    const vector = cases().find((c) => c.group === 'vectors' && c.expect === 'ok' && c.parsed === undefined);
    const edge = (await workerd([vector.keys], [], null, 'ASSETS')).get(vector.keys);
    const answer = await edge.send(vector);
    assert.equal(answer.status, 200, `${vector.name}: ${answer.reason}`);
    assert.ok(answer.forwarded !== null && !/[?&](exp|kid|sig)=/.test(answer.forwarded), answer.forwarded);
    const unsigned = await edge.send({ ...vector, target: vector.target.split('?')[0] });
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.reason, 'unsigned');
});

test('cloudfront-function: under CloudFront\'s 10 KB limit', () => {
    const dir = generate('cloudfront-function');
    const size = readFileSync(join(dir, 'rendorix-cloudfront-function.js')).length;
    assert.ok(size < 10 * 1024, `${size} bytes`);
});
