// Every page of every generator fixture (fixtures/generators/), signed by rendorix, served by
// `rendorix serve` (which verifies every protected request as an edge does), loaded in headless
// Chromium: no request is refused, every image shows. One screenshot per site.
//
// Run with tests/browser/run.sh (installs playwright-core; needs Debian's chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = resolve(ROOT, process.env.RENDORIX_BIN ?? 'target/debug/rendorix');
const OUT = resolve(ROOT, 'target/browser-test');
const KEYS = readFileSync(join(ROOT, 'fixtures/test-key'), 'utf8').trim();
const NOW = 1715000000;
const env = { ...process.env, RENDORIX_KEYS: KEYS };

// Each fixture, the extra arguments its signing needs, and the requests known to be refused.
// VitePress is not here: its hydration renders the logo again from its router data, where the
// URL is unsigned (rendorix reports that reference), so the logo is refused and does not show.
const GENERATORS = {
  hugo: [[], []], mkdocs: [[], []], sphinx: [[], []], eleventy: [[], []], astro: [[], []],
};

let browser;
const cleanup = [];

before(async () => {
  mkdirSync(OUT, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  for (const f of cleanup) f();
});

function* htmlFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* htmlFiles(p);
    else if (/\.html$/.test(e.name)) yield p;
  }
}

// The URL path a visitor uses for a page: its folder for index.html, else without .html (the
// pretty URL that `rendorix serve` resolves as static hosts do).
function pathOf(site, file) {
  const rel = relative(site, file).split(sep).join('/');
  return '/' + rel.replace(/(^|\/)index\.html$/, '$1').replace(/\.html$/, '');
}

function serve(dir, name) {
  const child = spawn(BIN, ['serve', '--config', join(dir, 'rendorix.toml'), '--now', String(NOW), '--port', '0'], { env });
  const log = [];
  cleanup.push(() => { child.kill(); writeFileSync(join(OUT, `serve-${name}.log`), log.join('\n') + '\n'); });
  let buffered = '';
  child.stderr.on('data', (d) => {
    buffered += d;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    log.push(...lines);
  });
  return new Promise((ok, fail) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) ok({ origin: m[1], log });
    });
    child.on('exit', (code) => fail(new Error(`rendorix serve exited ${code}: ${log.join('\n')}`)));
  });
}

for (const [name, [signArgs, known]] of Object.entries(GENERATORS)) {
  test(`${name}: every page loads through the verifying server with no refusal and every image shown`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `rendorix-${name}-`));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    cpSync(join(ROOT, 'fixtures/generators', name), dir, { recursive: true });
    execFileSync(BIN, ['sign', '--config', join(dir, 'rendorix.toml'), '--now', String(NOW), ...signArgs], { env });
    const server = await serve(dir, name);
    const site = join(dir, 'site');
    const paths = [...htmlFiles(site)].map((f) => pathOf(site, f)).sort();
    assert.ok(paths.length >= 2, `${name}: ${paths}`);
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    for (const path of paths) {
      const page = await context.newPage();
      const answers = [];
      page.on('response', (r) => answers.push([r.status(), r.url()]));
      const first = await page.goto(server.origin + path, { waitUntil: 'networkidle' });
      assert.ok(first.status() < 400 || path === '/404', `${name} ${path}: ${first.status()}`);
      // Lazy images load once scrolled to.
      await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
      await page.waitForFunction(() => Array.from(document.images).every((i) => i.complete), null, { timeout: 10000 });
      await page.waitForLoadState('networkidle');
      const refused = answers.filter(([status, url]) => status === 403 && !known.includes(new URL(url).pathname));
      assert.deepEqual(refused, [], `${name} ${path}: refused requests`);
      const broken = await page.$$eval('img', (all) => all
        .filter((i) => i.getClientRects().length > 0 && i.naturalWidth === 0)
        .map((i) => i.currentSrc || i.src));
      assert.deepEqual(broken, [], `${name} ${path}: images that did not load`);
      if (path === '/') {
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(OUT, `generator-${name}.png`) });
      }
      await page.close();
    }
    await context.close();
    // The server saw every protected request verify: no refusal of any kind.
    const refusals = server.log.filter((l) => /^403 /.test(l) && !known.includes(l.split(' ').pop().split('?')[0]));
    assert.deepEqual(refusals, [], `${name}: the server refused`);
    assert.ok(server.log.some((l) => /^200 ok /.test(l)), `${name}: no protected request at all`);
  });
}
