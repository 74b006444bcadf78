// The checks every rendorix edge runs (spec §8, §12, §15), the same in each target. ES5, so that
// CloudFront Functions and njs run it as they are.

// Decodes a raw request path as an origin resolves it (S3, a file system): null when it could
// name another object than it shows: an encoded '/', '\' or NUL, a dot segment, an empty
// segment ('//'), or percent-encoding that is not UTF-8.
function rxDecodePath(uri) {
    if (uri.charAt(0) !== '/' || /\\/.test(uri)) return null;
    var raw = uri.split('/');
    var out = [];
    for (var i = 1; i < raw.length; i++) {
        if (raw[i] === '') {
            if (i === raw.length - 1) { out.push(''); continue; }
            return null;
        }
        var s;
        try { s = decodeURIComponent(raw[i]); } catch (e) { return null; }
        if (s === '.' || s === '..' || /[\/\\\u0000]/.test(s)) return null;
        out.push(s);
    }
    return '/' + out.join('/');
}

function rxLower(s) {
    return s.replace(/[A-Z]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) + 32); });
}

// Whether decoded `path` on `host` lies under prefix `p`: a prefix of the site's own origin on
// any host this edge serves, an image host's only on that host; at a segment boundary.
function rxUnder(p, host, path) {
    if (!p.site && host !== p.host) return false;
    if (path.slice(0, p.path.length) !== p.path) return false;
    var rest = path.slice(p.path.length);
    return p.path.slice(-1) === '/' || rest === '' || rest.charAt(0) === '/';
}

// The protection rules of the site's rendorix.toml (spec §12), on the decoded path.
function rxProtects(host, path) {
    var inside = function (p) { return rxUnder(p, host, path); };
    if (!RX.match.some(inside) || RX.exclude.some(inside)) return false;
    if (RX.extensions.length === 0) return true;
    var last = path.slice(path.lastIndexOf('/') + 1);
    var dot = last.lastIndexOf('.');
    return dot > 0 && RX.extensions.indexOf(rxLower(last.slice(dot + 1))) >= 0;
}

// UTF-8 length of a string.
function rxBytes(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
        var c = s.charCodeAt(i);
        n += c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xd800 && c < 0xdc00) ? (i++, 4) : 3;
    }
    return n;
}

// Whether a query parameter is named exp, kid or sig, also percent-encoded.
function rxReserved(param) {
    var name = param.split('=')[0];
    try { name = decodeURIComponent(name); } catch (e) { /* not UTF-8: as written */ }
    return name === 'exp' || name === 'kid' || name === 'sig';
}

// A secret as the edge accepts it (spec §6): base64url, padding optional, at least 32 bytes.
// Anything else (a placeholder, "TODO", an empty value) is no key at all, so every request
// signed with it is refused rather than verified against a key anyone can compute.
function rxValidSecret(secret) {
    if (typeof secret !== 'string') return false;
    var s = secret.trim().replace(/=+$/, '');
    return /^[A-Za-z0-9_-]+$/.test(s) && s.length >= 43 && s.length % 4 !== 1;
}

// The secret of `kid` in parsed `keys`, if any.
function rxSecret(keys, kid) {
    return Object.prototype.hasOwnProperty.call(keys, kid) ? keys[kid] : undefined;
}

// "kid:secret,kid:secret" as in RENDORIX_KEYS; entries that are not well formed are left out.
function rxParseKeys(text) {
    var keys = {};
    (text || '').split(',').forEach(function (entry) {
        var at = entry.indexOf(':');
        var kid = entry.slice(0, at).trim();
        if (at > 0 && /^[A-Za-z0-9_-]{1,32}$/.test(kid)) keys[kid] = entry.slice(at + 1).trim();
    });
    return keys;
}

// The verdict for a raw request (`query` without '?', null without one) to `host` at `now`
// (Unix seconds), up to the key: 'pass' (not protected), 'bad_path', a refusal, or an object
// whose finish(secret) gives the verdict once the secret of its `kid` is known (in some edges
// that takes a lookup). `createHmac` is the runtime's (Node's API: all four have it).
function rxCheck(host, uri, query, now, createHmac) {
    host = rxLower(host || '').replace(/:(80|443)$/, '');
    var path = rxDecodePath(uri);
    if (path === null) return { verdict: 'bad_path' };
    // No browser sends a '#', and an origin may read what follows it as part of the path.
    if (/#/.test(uri) || /#/.test(query || '')) return { verdict: 'malformed' };
    if (!rxProtects(host, path)) return { verdict: 'pass' };
    if (typeof query !== 'string') query = null;
    if (rxBytes(uri) + 1 + rxBytes(query || '') > RX.maxTarget) return { verdict: 'malformed' };
    if (query === null || !query.split('&').some(rxReserved)) return { verdict: 'unsigned' };
    var at = query.lastIndexOf('&sig=');
    var sig = query.slice(at + 5);
    if (at < 0 || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return { verdict: 'malformed' };
    var signed = query.slice(0, at);
    var params = signed.split('&');
    var kid = params.pop();
    var exp = params.pop();
    if (exp === undefined || kid.slice(0, 4) !== 'kid=' || exp.slice(0, 4) !== 'exp=') return { verdict: 'malformed' };
    kid = kid.slice(4);
    exp = exp.slice(4);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid) || !/^(0|[1-9][0-9]*)$/.test(exp)) return { verdict: 'malformed' };
    if (params.some(rxReserved)) return { verdict: 'malformed' };
    return {
        kid: kid,
        // The rest of spec §8, in order, once the key's secret is known.
        finish: function (secret) {
            if (!rxValidSecret(secret)) return { verdict: 'unknown_key' };
            if (exp.length > 10) return { verdict: 'malformed' }; // milliseconds, not seconds
            if (Number(exp) > now + RX.maxLifetime + RX.grace) return { verdict: 'malformed' };
            if (now > Number(exp) + RX.grace) return { verdict: 'expired' }; // before the MAC
            var key = Buffer.from(rxBase64(secret.trim()), 'base64');
            var expected = rxUrlSafe(createHmac('sha256', key).update(uri + '?' + signed).digest('base64'));
            var diff = expected.length ^ 43; // constant time: every character is compared
            for (var j = 0; j < 43; j++) diff |= expected.charCodeAt(j) ^ sig.charCodeAt(j);
            if (diff !== 0) return { verdict: 'bad_signature' };
            return { verdict: 'ok', query: params.length > 0 ? params.join('&') : null, path: path };
        }
    };
}

// The revocation list's keys for decoded `path` (spec §17), most specific first: the path, then
// each prefix of it that ends in '/'. One store lookup each.
function rxRevocationKeys(path) {
    var keys = [path];
    for (var i = path.length - 2; i >= 0; i--) if (path.charAt(i) === '/') keys.push(path.slice(0, i + 1));
    return keys;
}

// Whether a revocation list value (its end, Unix seconds) still refuses at `now`.
function rxRevokedAt(value, now) {
    return value !== undefined && value !== null && value !== '' && now < Number(value);
}

// The secret as bytes for the edge's crypto: base64url to base64.
function rxBase64(secret) {
    var s = secret.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4 !== 0) s += '=';
    return s;
}

// A base64 digest as base64url without padding.
function rxUrlSafe(b64) {
    return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
