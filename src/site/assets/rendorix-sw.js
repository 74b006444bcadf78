// rendorix refresh worker, written by `rendorix sign` with the site's protection rules: do not
// edit, the next run replaces it (docs/client-navigation.md).
//
// Loaded by a page, it registers itself as the site's service worker (never over another one)
// and asks once more for the images that failed before it was in control. As the service
// worker, it answers a protected image requested without a signature (a client-side router
// rendered it from unsigned data) or refused after its signature expired (a page left open, the
// site re-signed since) with the signed URL that the page being shown (or else the home page)
// publishes for it, read from that page's own HTML. It never computes a signature, never uses a
// URL that the site's pages do not publish, and gives up after one more try: an image it cannot
// recover stays broken.
(function (rules) {
  'use strict';

  // A signature triple at the end of a URL's query (spec §2).
  var TRIPLE = /[?&]exp=\d{1,10}&kid=[A-Za-z0-9_-]{1,32}&sig=[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
  var SIGNED = new RegExp(TRIPLE.source + '$');
  // A page's map is read again for a refusal at most this often.
  var REREAD_MS = 10000;
  // How long the worker waits for a page to say which URL it shows.
  var ASK_MS = 2000;
  // How long it waits for a router that renders a page before it updates the address.
  var SETTLE_MS = 300;
  // How many pages' maps it keeps.
  var PAGES = 32;
  // How many places before a signature are tried as the start of its URL.
  var STARTS = 64;

  function lowerAscii(s) {
    return s.replace(/[A-Z]/g, function (c) { return c.toLowerCase(); });
  }

  // Percent-decodes a serialized path segment (ASCII) as UTF-8, invalid bytes as U+FFFD.
  function percentDecode(s) {
    var bytes = [];
    for (var i = 0; i < s.length; i++) {
      if (s[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(s.charCodeAt(i) & 0xff);
      }
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }

  function underPath(path, prefix) {
    if (path.slice(0, prefix.length) !== prefix) return false;
    var rest = path.slice(prefix.length);
    return prefix.slice(-1) === '/' || rest === '' || rest[0] === '/';
  }

  // Whether `url` is under prefix `p`: its host and port (http and https alike), or, for a
  // prefix on the site's own origin, the origin the site is served from (`here`).
  function under(p, url, here) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    var port = url.port === '' ? null : Number(url.port);
    var host = (url.hostname === p.host && port === p.port) || (p.site && url.host === here);
    return host && underPath(url.pathname, p.path);
  }

  function hasExtension(path) {
    if (rules.extensions.length === 0) return true;
    var last = percentDecode(path.slice(path.lastIndexOf('/') + 1));
    var dot = last.lastIndexOf('.');
    return dot > 0 && rules.extensions.indexOf(lowerAscii(last.slice(dot + 1))) >= 0;
  }

  // The protection rules of spec §12, as `rendorix` applies them.
  function protects(url, here) {
    return rules.match.some(function (p) { return under(p, url, here); })
      && !rules.exclude.some(function (p) { return under(p, url, here); })
      && hasExtension(url.pathname);
  }

  // `href` (serialized) without its fragment, its signature and a query left empty.
  function unsigned(href) {
    var u = href.split('#')[0].replace(SIGNED, '');
    return u.slice(-1) === '?' ? u.slice(0, -1) : u;
  }

  // The signed URLs that a page rendorix signed publishes, by their unsigned URL. rendorix writes
  // attribute values with `&`, `"` and `'` escaped, and only those. A URL starts after a quote
  // or markup, after a space or comma (srcset) or a parenthesis (CSS), so each such place
  // before a signature is tried, nearest first: a wrong start only gives a key that no request
  // asks for, and the signature is bound to its own URL.
  function pageMap(html, pageUrl) {
    var text = html.replace(/&(amp|quot|#39);/g, function (_, e) {
      return e === 'amp' ? '&' : e === 'quot' ? '"' : "'";
    });
    var base = pageUrl;
    var b = /<base\s[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i.exec(text);
    if (b) {
      try { base = new URL((b[1] || b[2] || b[3]).trim(), pageUrl).href; } catch (_) { /* kept */ }
    }
    var map = new Map();
    var m;
    TRIPLE.lastIndex = 0;
    while ((m = TRIPLE.exec(text)) !== null) {
      var end = m.index + m[0].length;
      var starts = [];
      for (var i = m.index; i > 0 && i > m.index - 8192 && starts.length < STARTS; i--) {
        var c = text[i - 1];
        if ('"\'<>`{}'.indexOf(c) >= 0) break;
        if (/[\s,(]/.test(c)) starts.push(i);
      }
      starts.push(i);
      starts.forEach(function (s) {
        var url;
        try { url = new URL(text.slice(s, end).trim(), base); } catch (_) { return; }
        var signed = url.href.split('#')[0];
        var key = unsigned(signed);
        if (key !== signed && !map.has(key)) map.set(key, signed);
      });
    }
    return map;
  }

  function worker() {
    var here = self.location.host;
    var pages = new Map(); // page URL -> { at, refused, map: Promise<Map|null> }

    self.addEventListener('install', function () { self.skipWaiting(); });
    self.addEventListener('activate', function (e) { e.waitUntil(self.clients.claim()); });
    self.addEventListener('fetch', function (e) {
      var r = e.request;
      if (r.method !== 'GET' || r.mode === 'navigate') return;
      var url;
      try { url = new URL(r.url); } catch (_) { return; }
      if (!protects(url, here)) return;
      e.respondWith(answer(e));
    });

    // 403 is the edge's answer to an unsigned, expired or forged link. A cross-origin image
    // comes back opaque: its status cannot be read, so it is passed on as it is.
    function refused(res) {
      return res.type !== 'opaque' && res.status === 403;
    }

    function fetchLike(url, r) {
      return fetch(url, { mode: r.mode, credentials: r.credentials, cache: r.cache === 'only-if-cached' ? 'default' : r.cache });
    }

    async function answer(e) {
      var r = e.request;
      var started = Date.now();
      var href = r.url.split('#')[0];
      var key = unsigned(href);
      var first = null;
      if (key !== href) {
        first = await fetch(r);
        if (!refused(first)) return first;
      }
      var page = await shownPage(e.clientId);
      var found = page && await lookup(page, key, first ? started : 0);
      if (!found && !first) {
        // Some routers render the next page before they put its URL in the address bar.
        await new Promise(function (done) { setTimeout(done, SETTLE_MS); });
        var later = await shownPage(e.clientId);
        if (later && later !== page) {
          page = later;
          found = await lookup(page, key, 0);
        }
      }
      var home = self.registration.scope;
      if (!found && page !== home) {
        // A page that renders all it shows from data (a 404 page) publishes nothing signed;
        // the site's own images (a logo) are on its home page.
        page = home;
        found = await lookup(page, key, first ? started : 0);
      }
      if (!found || found === href) return first || fetch(r);
      var res = await fetchLike(found, r);
      if (refused(res)) {
        // The map was read before this page was re-signed: read it again, once.
        var fresh = await lookup(page, key, started);
        if (fresh && fresh !== found && fresh !== href) res = await fetchLike(fresh, r);
      }
      return res;
    }

    // The URL of the page that client `id` shows now: asked of the page itself, since a router's
    // address changes are not seen from here; else where the client was opened.
    async function shownPage(id) {
      var client = id ? await self.clients.get(id) : null;
      if (!client) return null;
      var said = await new Promise(function (done) {
        var channel = new MessageChannel();
        var timer = setTimeout(function () { done(null); }, ASK_MS);
        channel.port1.onmessage = function (m) {
          clearTimeout(timer);
          done(typeof m.data === 'string' ? m.data : null);
        };
        client.postMessage({ rendorix: 'page' }, [channel.port2]);
      });
      var url;
      try { url = new URL(said || client.url); } catch (_) { return null; }
      return url.origin === self.location.origin ? url.href.split('#')[0] : null;
    }

    // The signed URL for `key` that `page` publishes. The page is read once; a refusal of a URL
    // requested at `refusedSince` reads it again if the map is older, but a map read for a
    // refusal is not read again for REREAD_MS, so a site that was not re-signed costs one page
    // request per page per REREAD_MS, never a loop.
    async function lookup(page, key, refusedSince) {
      var entry = pages.get(page);
      var stale = entry && refusedSince && entry.at < refusedSince
        && (!entry.refused || Date.now() - entry.at > REREAD_MS);
      if (!entry || stale) {
        entry = { at: Date.now(), refused: !!refusedSince, map: read(page, !!refusedSince) };
        pages.delete(page);
        pages.set(page, entry);
        if (pages.size > PAGES) pages.delete(pages.keys().next().value);
      }
      var map = await entry.map;
      return (map && map.get(key)) || null;
    }

    async function read(page, fresh) {
      try {
        var res = await fetch(page, { credentials: 'same-origin', cache: fresh ? 'no-store' : 'no-cache', headers: { Accept: 'text/html' } });
        if (!res.ok || !/html/i.test(res.headers.get('Content-Type') || '')) return null;
        return pageMap(await res.text(), res.url || page);
      } catch (_) {
        return null;
      }
    }
  }

  function page() {
    var sw = navigator.serviceWorker;
    var me = document.currentScript;
    if (!sw || !me) return;
    sw.addEventListener('message', function (e) {
      if (e.data && e.data.rendorix === 'page' && e.ports[0]) e.ports[0].postMessage(location.href);
    });
    sw.startMessages();
    // Scripts that render the page again from unsigned data (hydration, a head manager) put the
    // unsigned form of a URL where the page was served a signed one, in an attribute or a new
    // element. The signed values the page holds are remembered as the parser and scripts add
    // them, and such an unsigned value gets its signed one back before the browser requests it
    // (mutation observers run before image and icon loads start).
    var ATTRIBUTES = ['src', 'srcset', 'href', 'poster', 'imagesrcset', 'style'];
    var served = new Map(); // value without signatures -> the signed value the page held
    function learn(value) {
      if (value && value.search(TRIPLE) >= 0) served.set(value.replace(TRIPLE, ''), value);
    }
    function elements(node) {
      if (node.nodeType !== 1) return [];
      var all = [node];
      if (node.firstElementChild) all.push.apply(all, node.querySelectorAll('*'));
      return all;
    }
    function each(node, f) {
      elements(node).forEach(function (el) {
        ATTRIBUTES.forEach(function (a) { f(el, a, el.getAttribute(a)); });
      });
    }
    function restore(el, a, value) {
      var signed = value && served.get(value);
      if (signed && signed !== value) el.setAttribute(a, signed);
    }
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === 'attributes') learn(r.oldValue);
        [r.addedNodes, r.removedNodes].forEach(function (nodes) {
          Array.prototype.forEach.call(nodes, function (n) {
            each(n, function (el, a, v) { learn(v); });
          });
        });
      });
      records.forEach(function (r) {
        if (r.type === 'attributes') restore(r.target, r.attributeName, r.target.getAttribute(r.attributeName));
        Array.prototype.forEach.call(r.addedNodes, function (n) { each(n, restore); });
      });
    }).observe(document, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeOldValue: true,
      attributeFilter: ATTRIBUTES,
    });
    var tried = new WeakSet();
    // Setting an attribute, even to the value it has, makes the browser choose and request the
    // image again, through the worker now. Once per image.
    function retry(img) {
      if (tried.has(img)) return;
      tried.add(img);
      ['srcset', 'src'].forEach(function (a) {
        var v = img.getAttribute(a);
        if (v !== null) img.setAttribute(a, v);
      });
    }
    sw.addEventListener('controllerchange', function () {
      Array.prototype.forEach.call(document.images, function (img) {
        if (img.complete && img.naturalWidth === 0 && img.currentSrc) retry(img);
      });
    });
    document.addEventListener('error', function (e) {
      if (e.target && e.target.tagName === 'IMG' && sw.controller) retry(e.target);
    }, true);
    var src = me.src;
    sw.getRegistration(location.href).then(function (existing) {
      var worker = existing && (existing.active || existing.waiting || existing.installing);
      if (worker && worker.scriptURL !== src) {
        console.warn('rendorix: another service worker controls this site, so images are not refreshed');
        return null;
      }
      return sw.register(src);
    }).catch(function () { /* no worker: signed images load as they are */ });
  }

  if (typeof document !== 'undefined') {
    page();
  } else if (typeof ServiceWorkerGlobalScope !== 'undefined' && self instanceof ServiceWorkerGlobalScope) {
    worker();
  } else if (typeof module !== 'undefined') {
    module.exports = { protects: protects, pageMap: pageMap, unsigned: unsigned };
  }
})(/* rules */);
