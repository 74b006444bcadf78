'use strict';
// rendorix edge verifier: Lambda@Edge (Node.js runtime), viewer-request trigger.
//
// Checks the signed image URL (rendorix spec §8) before any cache lookup or origin work. On
// success it strips exp, kid and sig, so the cache key is the unsigned URL; otherwise it answers
// 403 with the reason. See edge/README.md to deploy.
const crypto = require('crypto');

// Lambda@Edge functions have no environment variables: inline the keys, "kid": "base64url
// secret", when you build the deployment package, and keep that package private.
const KEYS = {};
const GRACE = 30; // seconds of clock skew allowed between the signer and the edge
const MAX_LIFETIME = 7 * 86400; // [expiry] max_link_lifetime: no rendorix link lives longer
const MAX_TARGET = 8192; // bytes of path + '?' + query; rendorix never signs a longer one

exports.handler = async (event) => {
    const request = event.Records[0].cf.request;
    // request.querystring is the raw query as received, without '?': the bytes that were signed.
    const result = verify(request.uri, request.querystring, Math.floor(Date.now() / 1000));
    if (result.verdict !== 'ok') {
        return {
            status: '403',
            statusDescription: 'Forbidden',
            headers: {
                'content-type': [{ key: 'Content-Type', value: 'text/plain' }],
                'cache-control': [{ key: 'Cache-Control', value: 'no-store' }],
                'x-rendorix-reason': [{ key: 'X-Rendorix-Reason', value: result.verdict }],
            },
            body: result.verdict + '\n',
        };
    }
    request.querystring = result.unsigned;
    return request;
};

// The checks of spec §8, in order. Returns { verdict, unsigned } where unsigned is the query
// without the exp/kid/sig triple.
function verify(uri, query, now) {
    const fail = (verdict) => ({ verdict, unsigned: query });
    if (Buffer.byteLength(uri) + 1 + Buffer.byteLength(query) > MAX_TARGET) return fail('malformed');
    if (!query.split('&').some(reserved)) return fail('unsigned'); // no exp, kid or sig at all
    const at = query.lastIndexOf('&sig=');
    const sig = query.slice(at + 5);
    if (at < 0 || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return fail('malformed');
    const signed = query.slice(0, at);
    const params = signed.split('&');
    const kidParam = params.pop();
    const expParam = params.pop();
    if (expParam === undefined || !kidParam.startsWith('kid=') || !expParam.startsWith('exp=')) return fail('malformed');
    const kid = kidParam.slice(4);
    const exp = expParam.slice(4);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid) || !/^(0|[1-9][0-9]*)$/.test(exp)) return fail('malformed');
    if (params.some(reserved)) return fail('malformed');
    if (!Object.prototype.hasOwnProperty.call(KEYS, kid)) return fail('unknown_key');
    if (exp.length > 10) return fail('malformed'); // milliseconds, not seconds
    if (Number(exp) > now + MAX_LIFETIME + GRACE) return fail('malformed'); // minted to outlive any real link
    if (now > Number(exp) + GRACE) return fail('expired'); // before the MAC: costs nothing, reveals nothing
    // Compare the canonical text, not decoded bytes: a lenient decoder maps several 43-character
    // strings (differing in the last character's spare bits) to the same MAC.
    const expected = crypto.createHmac('sha256', Buffer.from(KEYS[kid], 'base64url')).update(uri + '?' + signed).digest('base64url');
    if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(sig))) return fail('bad_signature');
    return { verdict: 'ok', unsigned: params.join('&') };
}

// Whether a parameter is named exp, kid or sig, also percent-encoded.
function reserved(param) {
    let name = param.split('=')[0];
    try { name = decodeURIComponent(name); } catch { /* not valid UTF-8: keep as written */ }
    return name === 'exp' || name === 'kid' || name === 'sig';
}

exports.verify = verify;
exports.KEYS = KEYS; // for tests and for build scripts that fill in the keys
