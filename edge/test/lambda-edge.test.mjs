import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { lambdaEvent, signedFixtureUrls, vectors } from './events.mjs';

const lambda = createRequire(import.meta.url)('../lambda-edge.js');
const realNow = Date.now;
let now = 0;
beforeEach(() => {
    Object.assign(lambda.KEYS, vectors.keys);
    Date.now = () => now * 1000;
});
afterEach(() => {
    Date.now = realNow;
});

async function run(v) {
    now = v.now;
    const event = lambdaEvent(v.uri, v.querystring);
    const result = await lambda.handler(event);
    if (result.status === '403') {
        assert.equal(result.headers['x-rendorix-reason'][0].value, result.body.trim());
        return { verdict: result.body.trim(), result };
    }
    assert.equal(result, event.Records[0].cf.request, 'a verified request is passed on');
    return { verdict: 'ok', result };
}

test('every shared vector gets its verdict', async () => {
    for (const v of vectors.vectors) {
        const { verdict, result } = await run(v);
        assert.equal(verdict, v.expected, v.name);
        if (verdict === 'ok') assert.doesNotMatch(result.querystring, /(^|&)(exp|kid|sig)=/, v.name);
    }
});

test('a verified request keeps the rest of its query, byte for byte', async () => {
    const v = vectors.vectors.find((x) => x.name === 'non-ASCII query, UTF-8 percent-encoded');
    const { result } = await run(v);
    assert.equal(result.querystring, 't=%E2%82%AC5&name=%E8%A1%A8');
    const plain = await run(vectors.vectors.find((x) => x.name === 'plain, no query'));
    assert.equal(plain.result.querystring, '');
});

test('URLs signed by `rendorix sign` on a fixture site verify as real Lambda@Edge events', async () => {
    for (const url of signedFixtureUrls()) {
        now = 1715000000;
        const result = await lambda.handler(lambdaEvent(url.pathname, url.search.slice(1), url.host));
        assert.equal(result.status, undefined, `${url}: ${result.body}`);
    }
});
