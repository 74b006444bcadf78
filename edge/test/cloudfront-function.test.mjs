import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { cloudFrontEvent, signedFixtureUrls, vectors } from './events.mjs';

const FILE = new URL('../cloudfront-function.js', import.meta.url);

// Loads the function as CloudFront runs it: its two module imports are supplied by the runtime
// (here: Node's crypto and a stand-in cloudfront module), and Date gives the injected clock.
function load({ keys = {}, store = null, now }) {
    let src = readFileSync(FILE, 'utf8');
    for (const line of ["import crypto from 'crypto';", "import cf from 'cloudfront';", 'var KEYS = {};']) {
        assert.ok(src.includes(line), `the function no longer has: ${line}`);
    }
    src = src.replace("import crypto from 'crypto';", '').replace("import cf from 'cloudfront';", '')
        .replace('var KEYS = {};', `var KEYS = ${JSON.stringify(keys)};`);
    const cf = {
        kvs() {
            if (!store) throw new Error('no key value store is associated with this function');
            return { async get(name) { if (!(name in store)) throw new Error(`key not found: ${name}`); return store[name]; } };
        },
    };
    const clock = { now: () => now * 1000 };
    return new Function('crypto', 'cf', 'Date', `${src}\nreturn handler;`)(crypto, cf, clock);
}

async function run(handler, v) {
    const event = cloudFrontEvent(v.uri, v.querystring);
    const result = await handler(event);
    if (result.statusCode === 403) {
        assert.equal(result.headers['x-rendorix-reason'].value, result.body.data.trim());
        return { verdict: result.body.data.trim(), result };
    }
    assert.equal(result, event.request, 'a verified request is passed on');
    return { verdict: 'ok', result };
}

test('every shared vector gets its verdict, keys inlined', async () => {
    for (const v of vectors.vectors) {
        const { verdict, result } = await run(load({ keys: vectors.keys, now: v.now }), v);
        assert.equal(verdict, v.expected, v.name);
        if (verdict === 'ok') {
            for (const name of ['exp', 'kid', 'sig']) assert.ok(!(name in result.querystring), `${v.name}: ${name} stripped`);
        }
    }
});

test('every shared vector gets its verdict, keys in the KeyValueStore', async () => {
    const store = Object.fromEntries(Object.entries(vectors.keys).map(([kid, secret]) => [`rendorix:${kid}`, secret]));
    for (const v of vectors.vectors) {
        const { verdict } = await run(load({ store, now: v.now }), v);
        assert.equal(verdict, v.expected, v.name);
    }
});

test('a verified request keeps its other parameters, the cache key is the unsigned URL', async () => {
    const v = vectors.vectors.find((x) => x.name === 'query-bearing');
    const { result } = await run(load({ keys: vectors.keys, now: v.now }), v);
    assert.deepEqual(result.querystring, { w: { value: '640' }, h: { value: '480' } });
});

test('the raw query is verified, not one rebuilt from the parsed querystring object', async () => {
    const v = vectors.vectors.find((x) => x.name === 'query-bearing');
    const event = cloudFrontEvent(v.uri, v.querystring);
    // CloudFront's parsed object has no defined order; reversing it must not matter.
    event.request.querystring = Object.fromEntries(Object.entries(event.request.querystring).reverse());
    const result = await load({ keys: vectors.keys, now: v.now })(event);
    assert.equal(result, event.request);
});

test('a kid named like an Object property is unknown', async () => {
    const v = vectors.vectors.find((x) => x.name === 'query-bearing');
    const { verdict } = await run(load({ keys: vectors.keys, now: v.now }), { ...v, querystring: v.querystring.replace('kid=k2026a', 'kid=__proto__') });
    assert.equal(verdict, 'unknown_key');
});

test('URLs signed by `rendorix sign` on a fixture site verify as real CloudFront events', async () => {
    const urls = signedFixtureUrls();
    assert.ok(urls.length >= 10, `${urls.length} URLs`);
    const handler = load({ keys: vectors.keys, now: 1715000000 });
    for (const url of urls) {
        const event = cloudFrontEvent(url.pathname, url.search.slice(1), url.host);
        const result = await handler(event);
        assert.equal(result.statusCode, undefined, `${url}: ${result.body?.data}`);
        assert.ok(!('sig' in result.querystring));
    }
});

test('the function fits the 10 KB code size limit', () => {
    assert.ok(statSync(FILE).size <= 10 * 1024, `${statSync(FILE).size} bytes`);
});
