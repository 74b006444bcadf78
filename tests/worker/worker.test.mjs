// The refresh worker's logic in Node, without a browser: its protection rules give the verdicts
// of fixtures/protection.json (the Rust rules give them too: tests/protection.rs), and the map it
// reads from a signed page finds, for every URL rendorix signed in it, that signed URL.
//
// Run with `node --test tests/worker/` after `cargo build` (RENDORIX_BIN overrides the binary).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import vm from 'node:vm';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = resolve(ROOT, process.env.RENDORIX_BIN ?? 'target/debug/rendorix');
const TEMPLATE = readFileSync(join(ROOT, 'src/site/assets/rendorix-sw.js'), 'utf8');
const KEYS = readFileSync(join(ROOT, 'fixtures/test-key'), 'utf8').trim();

// The worker's functions, as a page or a service worker would run them with `rules`.
function worker(rules) {
  const module = { exports: null };
  const source = TEMPLATE.replace('/* rules */', JSON.stringify(rules));
  vm.runInNewContext(source, { module, URL, TextDecoder, Map });
  return module.exports;
}

test('the worker protects what the rules protect, on the site and where it is served', () => {
  const fixture = JSON.parse(readFileSync(join(ROOT, 'fixtures/protection.json'), 'utf8'));
  let n = 0;
  for (const set of fixture.sets) {
    const w = worker(set.worker);
    for (const [url, expected] of set.cases) {
      assert.equal(w.protects(new URL(url), set.served_at), expected === true || expected === 'served', url);
      n++;
    }
  }
  assert.ok(n > 30);
});

const MEDIA = { match: [{ host: 'www.example.com', port: null, path: '/media/', site: true }], exclude: [], extensions: [] };
const SIG = 'A'.repeat(43);
const signed = (u) => `${u}${u.includes('?') ? '&' : '?'}exp=1715133600&kid=k1&sig=${SIG}`;

test('the unsigned form of a URL drops its fragment, its signature and an empty query', () => {
  const w = worker(MEDIA);
  assert.equal(w.unsigned(signed('https://h/a.jpg') + '#x'), 'https://h/a.jpg');
  assert.equal(w.unsigned(signed('https://h/a.jpg?w=1')), 'https://h/a.jpg?w=1');
  assert.equal(w.unsigned('https://h/a.jpg?'), 'https://h/a.jpg');
  assert.equal(w.unsigned('https://h/a.jpg?exp=1&kid=k&sig=short'), 'https://h/a.jpg?exp=1&kid=k&sig=short');
});

test('a page map finds each signed URL however the page writes it', () => {
  const w = worker(MEDIA);
  const esc = (u) => u.replaceAll('&', '&amp;');
  const page = 'https://www.example.com/blog/post/';
  const html = `<!doctype html><html><head>
    <link rel=icon href="${esc(signed('/media/icon.png'))}">
    <style>.a{background:url("${signed('/media/a b.png')}")} .b{background:url(${signed('../c.png')})}</style>
  </head><body>
    <img src="${esc(signed('/media/w_300,h_200/cat.jpg?q=1&copy=2'))}" srcset="${esc(signed('/media/s1.jpg'))} 1x,${esc(signed('/media/s,2.jpg'))} 2x,
      ${esc(signed('/media/s3.jpg'))} 3x">
    <img src='${esc(signed('/media/photo (1).jpg'))}'>
    <div style="background-image:url(&quot;${esc(signed('/media/bg.png'))}&quot;)"></div>
    <img src="${esc(signed('https://img.example.com/p/x.png'))}#frag">
  </body></html>`;
  const map = w.pageMap(html, page);
  const expect = {
    'https://www.example.com/media/icon.png': signed('https://www.example.com/media/icon.png'),
    'https://www.example.com/media/a%20b.png': signed('https://www.example.com/media/a%20b.png'),
    'https://www.example.com/blog/c.png': signed('https://www.example.com/blog/c.png'),
    'https://www.example.com/media/w_300,h_200/cat.jpg?q=1&copy=2': signed('https://www.example.com/media/w_300,h_200/cat.jpg?q=1&copy=2'),
    'https://www.example.com/media/s1.jpg': signed('https://www.example.com/media/s1.jpg'),
    'https://www.example.com/media/s,2.jpg': signed('https://www.example.com/media/s,2.jpg'),
    'https://www.example.com/media/s3.jpg': signed('https://www.example.com/media/s3.jpg'),
    'https://www.example.com/media/photo%20(1).jpg': signed('https://www.example.com/media/photo%20(1).jpg'),
    'https://www.example.com/media/bg.png': signed('https://www.example.com/media/bg.png'),
    'https://img.example.com/p/x.png': signed('https://img.example.com/p/x.png'),
  };
  for (const [key, value] of Object.entries(expect)) assert.equal(map.get(key), value, key);
  // Every other key is a wrong start of one of these URLs, whose signature names another URL.
  for (const [key, value] of map) assert.equal(w.unsigned(value), key);
});

test('a page map follows the page\'s <base href>', () => {
  const w = worker(MEDIA);
  const html = `<head><base href="https://www.example.com/media/"></head><img src="${signed('a.png')}">`;
  assert.equal(w.pageMap(html, 'https://www.example.com/x/').get('https://www.example.com/media/a.png'),
    signed('https://www.example.com/media/a.png'));
});

function* files(dir, pattern) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p, pattern);
    else if (pattern.test(e.name)) yield p;
  }
}

// The URL a page is served at, as rendorix resolves its references (spec §5).
function pageUrl(base, site, file) {
  const rel = relative(site, file).split(sep).join('/');
  return new URL(rel.replace(/(^|\/)index\.html?$/i, '$1'), base).href;
}

test('on the signed generator sites, every URL a page signs is in its map', () => {
  const generators = readdirSync(join(ROOT, 'fixtures/generators'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'images').map((e) => e.name);
  assert.ok(generators.length >= 8, generators.join());
  let checked = 0;
  for (const name of generators) {
    const dir = mkdtempSync(join(tmpdir(), `rendorix-worker-${name}-`));
    try {
      cpSync(join(ROOT, 'fixtures/generators', name), dir, { recursive: true });
      execFileSync(BIN, ['sign', '--config', join(dir, 'rendorix.toml'), '--now', '1715000000', '--allow-unsigned'],
        { env: { ...process.env, RENDORIX_KEYS: KEYS }, stdio: 'pipe' });
      const config = readFileSync(join(dir, 'rendorix.toml'), 'utf8');
      const base = /base_url\s*=\s*"([^"]+)"/.exec(config)[1];
      // Each page's signed URLs: the manifest's URL file, one JSON line per page.
      const pages = readFileSync(join(dir, 'rendorix-manifest.json.urls'), 'utf8')
        .split('\n').filter(Boolean).map((line) => JSON.parse(line));
      const site = join(dir, 'site');
      const w = worker(MEDIA);
      for (const entry of pages.filter((p) => /\.html$/.test(p.path) && p.urls.length > 0)) {
        const file = join(site, entry.path);
        const url = pageUrl(base, site, file);
        const map = w.pageMap(readFileSync(file, 'utf8'), url);
        for (const [original, target = original] of entry.urls) {
          const key = w.unsigned(new URL(original.trim(), url).href);
          const value = map.get(key);
          assert.ok(value, `${name} ${entry.path}: ${original} is not in the map`);
          const u = new URL(value);
          assert.equal(w.unsigned(u.pathname + u.search), target, `${name} ${entry.path}: ${original}`);
          checked++;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(checked > 50, `${checked} URLs`);
});
