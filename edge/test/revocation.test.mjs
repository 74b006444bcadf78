// Revocation (spec §17) in every generated edge, in its runtime: `rendorix revoke` writes the
// list and the deny-lists; each edge, given its store's file as the vendor's tool would load it
// (CloudFront KeyValueStore import JSON, Workers KV bulk JSON, the nginx map include, the list
// built into Lambda@Edge), answers 403 `revoked` for a validly signed URL of a revoked path or
// of a path under a revoked prefix, whatever its spelling, until the revocation ends, and keeps
// serving every other signed URL.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, ROOT, cleanUp, generate, vectors } from './harness.mjs';
import { cloudFront, lambda, nginx, stopAll, workerd } from './runtimes.mjs';

after(() => { stopAll(); cleanUp(); });

const NOW = 1715000000;
const UNTIL = NOW + 600;
const [kid, secret] = Object.entries(vectors.keys)[0];
const KEYS = `${kid}:${secret}`;

// The edge fixture's config in a folder of its own, with the revocations made at NOW.
function revokedSite() {
    const dir = mkdtempSync(join(tmpdir(), 'rendorix-revoke-'));
    const config = join(dir, 'rendorix.toml');
    copyFileSync(join(ROOT, 'fixtures/edge/rendorix.toml'), config);
    execFileSync(BIN, ['revoke', '/media/profiles/', '/media/Zoë.jpg', '--until', String(UNTIL), '--config', config, '--now', String(NOW)], { stdio: 'pipe' });
    const file = (name) => JSON.parse(readFileSync(join(dir, 'rendorix-revoked', name), 'utf8'));
    return { config, dir, file };
}

function signed(path, exp = NOW + 3600) {
    const unsigned = `${path}?exp=${exp}&kid=${kid}`;
    const key = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return `${unsigned}&sig=${crypto.createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

// [target, host, now, expected verdict]
const CASES = [
    [signed('/media/profiles/42.jpg'), 'www.example.com', NOW, 'revoked'],
    [signed('/media/profiles/42/a.jpg'), 'img.example.com', NOW + 599, 'revoked'],
    [signed('/media/Zo%C3%AB.jpg'), 'www.example.com', NOW, 'revoked'],
    [signed('/media/Zo%c3%ab.jpg'), 'www.example.com', NOW, 'revoked'],
    [signed('/media/profiles/42.jpg'), 'www.example.com', UNTIL, 'ok'],
    [signed('/media/profilesx/42.jpg'), 'www.example.com', NOW, 'ok'],
    [signed('/media/Zoë.jpg.webp'.replace('ë', '%C3%AB')), 'www.example.com', NOW, 'ok'],
    [signed('/media/cat.jpg'), 'www.example.com', NOW, 'ok'],
    // The signature is checked first: a bad one is still bad_signature.
    [signed('/media/profiles/42.jpg').replace(/sig=./, 'sig=A'), 'www.example.com', NOW, 'bad_signature'],
];

async function edgeOf(name, site) {
    if (name === 'cloudfront-function') return cloudFront(generate(name, site.config), KEYS, site.file('cloudfront-kvs.json'));
    if (name === 'lambda-edge') return lambda(generate(name, site.config), KEYS);
    if (name === 'cloudflare-worker') return (await workerd([KEYS], [], site.file('workers-kv.json'))).get(KEYS);
    return nginx(KEYS, site.config);
}

for (const name of ['cloudfront-function', 'lambda-edge', 'cloudflare-worker', 'nginx']) {
    test(`${name}: revoked paths and prefixes get 403 revoked until their end, the others pass`, async () => {
        const site = revokedSite();
        const edge = await edgeOf(name, site);
        for (const [target, host, now, expected] of CASES) {
            const answer = await edge.send({ target, host, now });
            const label = `${target} at +${now - NOW}s`;
            if (expected === 'ok') {
                assert.equal(answer.status, 200, `${label}: ${answer.status} ${answer.reason}`);
            } else {
                assert.equal(answer.status, 403, label);
                assert.equal(answer.reason, expected, label);
            }
        }
    });
}

test('the deny-lists follow each store\'s documented format', () => {
    const site = revokedSite();
    const entries = [['/media/Zoë.jpg', String(UNTIL)], ['/media/profiles/', String(UNTIL)]];
    // CloudFront KeyValueStore import: {"data": [{"key", "value"}]}, keys up to 512 bytes.
    assert.deepEqual(site.file('cloudfront-kvs.json'), { data: entries.map(([k, v]) => ({ key: `revoked:${k}`, value: v })) });
    // aws cloudfront-keyvaluestore update-keys --puts: [{"Key", "Value"}].
    assert.deepEqual(site.file('cloudfront-kvs-puts.json'), entries.map(([k, v]) => ({ Key: `revoked:${k}`, Value: v })));
    // wrangler kv bulk put: [{"key", "value", "expiration"}], expiration in Unix seconds.
    assert.deepEqual(site.file('workers-kv.json'), entries.map(([k, v]) => ({ key: k, value: v, expiration: UNTIL })));
    const map = readFileSync(join(site.dir, 'rendorix-revoked', 'nginx-revoked.map'), 'utf8');
    assert.match(map, new RegExp(`^"/media/profiles/" ${UNTIL};$`, 'm'));
    // Revoking again changes nothing.
    const before = readFileSync(join(site.dir, 'rendorix-revoked', 'revoked.json'), 'utf8');
    execFileSync(BIN, ['revoke', '/media/profiles/', '--until', String(UNTIL), '--config', site.config, '--now', String(NOW)], { stdio: 'pipe' });
    assert.equal(readFileSync(join(site.dir, 'rendorix-revoked', 'revoked.json'), 'utf8'), before);
});
