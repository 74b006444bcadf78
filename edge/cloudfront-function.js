// rendorix edge verifier: CloudFront Functions, JavaScript runtime 2.0, viewer-request event.
//
// Checks the signed image URL (rendorix spec §8) before any cache lookup or origin work. On
// success it strips exp, kid and sig, so the cache key is the unsigned URL and every build shares
// cached images; otherwise it answers 403 with the reason. See edge/README.md to deploy.
import crypto from 'crypto';
import cf from 'cloudfront';

// Keys, "kid": "base64url secret". Leave empty to read each key from the KeyValueStore
// associated with this function instead, stored under the name "rendorix:<kid>".
var KEYS = {};
var GRACE = 30; // seconds of clock skew allowed between the signer and the edge
var MAX_LIFETIME = 7 * 86400; // [expiry] max_link_lifetime: no rendorix link lives longer
var MAX_TARGET = 8192; // bytes of path + '?' + query; rendorix never signs a longer one

async function handler(event) {
    var request = event.request;
    // The raw query: the parsed querystring object has lost the order and encoding that was signed.
    var verdict = await verify(request.uri, request.rawQueryString(), Math.floor(Date.now() / 1000));
    if (verdict !== 'ok') {
        return {
            statusCode: 403,
            statusDescription: 'Forbidden',
            headers: {
                'content-type': { value: 'text/plain' },
                'cache-control': { value: 'no-store' },
                'x-rendorix-reason': { value: verdict }
            },
            body: { encoding: 'text', data: verdict + '\n' }
        };
    }
    delete request.querystring.exp;
    delete request.querystring.kid;
    delete request.querystring.sig;
    return request;
}

// The checks of spec §8, in order. `query` is the raw query without '?', undefined if none.
async function verify(uri, query, now) {
    if (typeof query !== 'string') query = '';
    if (Buffer.byteLength(uri) + 1 + Buffer.byteLength(query) > MAX_TARGET) return 'malformed';
    if (!query.split('&').some(reserved)) return 'unsigned'; // no exp, kid or sig at all
    var at = query.lastIndexOf('&sig=');
    var sig = query.slice(at + 5);
    if (at < 0 || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'malformed';
    var signed = query.slice(0, at);
    var params = signed.split('&');
    var kid = params.pop();
    var exp = params.pop();
    if (exp === undefined || kid.slice(0, 4) !== 'kid=' || exp.slice(0, 4) !== 'exp=') return 'malformed';
    kid = kid.slice(4);
    exp = exp.slice(4);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid) || !/^(0|[1-9][0-9]*)$/.test(exp)) return 'malformed';
    if (params.some(reserved)) return 'malformed';
    var secret = await secretOf(kid);
    if (secret === undefined) return 'unknown_key';
    if (exp.length > 10) return 'malformed'; // milliseconds, not seconds
    if (Number(exp) > now + MAX_LIFETIME + GRACE) return 'malformed'; // minted to outlive any real link
    if (now > Number(exp) + GRACE) return 'expired'; // before the MAC: costs nothing, reveals nothing
    var key = Buffer.from(secret.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    var expected = crypto.createHmac('sha256', key).update(uri + '?' + signed).digest('base64')
        .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    var diff = 0; // constant time: look at every character whatever the first difference
    for (var j = 0; j < 43; j++) diff |= expected.charCodeAt(j) ^ sig.charCodeAt(j);
    return diff === 0 ? 'ok' : 'bad_signature';
}

// Whether a parameter is named exp, kid or sig, also percent-encoded.
function reserved(param) {
    var name = param.split('=')[0];
    try { name = decodeURIComponent(name); } catch (e) { /* not valid UTF-8: keep as written */ }
    return name === 'exp' || name === 'kid' || name === 'sig';
}

async function secretOf(kid) {
    if (Object.keys(KEYS).length > 0) {
        return Object.prototype.hasOwnProperty.call(KEYS, kid) ? KEYS[kid] : undefined;
    }
    try {
        return await cf.kvs().get('rendorix:' + kid);
    } catch (e) {
        return undefined; // no such key in the store
    }
}
