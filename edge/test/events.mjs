// Event objects shaped as AWS documents them.



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
