// Event objects shaped as AWS documents them, and the shared test vectors.
import { readFileSync } from 'node:fs';

export const vectors = JSON.parse(readFileSync(new URL('../../fixtures/vectors.json', import.meta.url), 'utf8'));

// CloudFront Functions: lower-case header names; querystring an object of { value } with
// multiValue for repeated names; rawQueryString() returns the query as received, without '?'
// ('' for a bare '?', undefined without one).
export function cloudFrontEvent(uri, rawQuery, host = 'img.example.com') {
    const querystring = {};
    for (const pair of rawQuery ? rawQuery.split('&') : []) {
        const eq = pair.indexOf('=');
        const name = eq < 0 ? pair : pair.slice(0, eq);
        const value = eq < 0 ? '' : pair.slice(eq + 1);
        const entry = querystring[name];
        if (!entry) querystring[name] = { value };
        else (entry.multiValue ??= [{ value: entry.value }]).push({ value });
    }
    return {
        version: '1.0',
        context: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'rendorix-test' },
        viewer: { ip: '198.51.100.11' },
        request: {
            method: 'GET',
            uri,
            querystring,
            headers: { host: { value: host }, accept: { value: 'image/avif,image/webp,*/*' } },
            cookies: {},
            rawQueryString() { return rawQuery === null ? undefined : rawQuery; },
        },
    };
}

// Lambda@Edge viewer request: querystring is the raw query without '?' ('' when none); headers
// map lower-case names to [{ key, value }].
export function lambdaEvent(uri, rawQuery, host = 'img.example.com') {
    return {
        Records: [{
            cf: {
                config: { distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'EDFDVBD6EXAMPLE', eventType: 'viewer-request', requestId: 'rendorix-test' },
                request: {
                    clientIp: '203.0.113.178',
                    headers: { host: [{ key: 'Host', value: host }], 'user-agent': [{ key: 'User-Agent', value: 'Mozilla/5.0' }] },
                    method: 'GET',
                    querystring: rawQuery ?? '',
                    uri,
                },
            },
        }],
    };
}

// Image URLs that `rendorix sign` wrote into the blog fixture (the reviewed snapshots of
// tests/sign.rs, signed at --now 1715000000), resolved as the browser requests them.
export function signedFixtureUrls() {
    const pages = { 'index.html': '/', 'posts__hello__index.html': '/posts/hello/', 'posts__tide-pools__index.html': '/posts/tide-pools/', '404.html': '/404.html' };
    const urls = [];
    for (const [file, path] of Object.entries(pages)) {
        const html = readFileSync(new URL(`../../tests/snapshots/sign__blog__${file}.snap`, import.meta.url), 'utf8');
        for (const [, value] of html.matchAll(/(?:src|srcset|href|poster)="([^"]*&amp;sig=[^"]*)"/g)) {
            for (const candidate of value.split(/,\s+/)) {
                const ref = candidate.trim().split(/\s+/)[0].replaceAll('&amp;', '&');
                urls.push(new URL(ref, `https://www.example.com${path}`));
            }
        }
    }
    return urls;
}
