// End-to-end: the preview fixture signed by rendorix, served by `rendorix serve`, loaded in
// headless Chromium. The server verifies every image request exactly as an edge does, so an image
// that loads proves the browser requested the very bytes that were signed.
//
// Run with tests/browser/run.sh (installs playwright-core; needs Debian's chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = resolve(ROOT, process.env.RENDORIX_BIN ?? 'target/debug/rendorix');
const OUT = resolve(ROOT, 'target/browser-test');
const KEYS = readFileSync(join(ROOT, 'fixtures/test-key'), 'utf8').trim();
const NOW = 1715000000; // a fixed clock for signing and serving: no test depends on the wall clock
const env = { ...process.env, RENDORIX_KEYS: KEYS };

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

function site() {
  const dir = mkdtempSync(join(tmpdir(), 'rendorix-browser-'));
  cpSync(join(ROOT, 'fixtures/preview'), dir, { recursive: true });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sign(dir, now) {
  execFileSync(BIN, ['sign', '--config', join(dir, 'rendorix.toml'), '--now', String(now)], { env });
  const html = readFileSync(join(dir, 'public/index.html'), 'utf8');
  return Number(/exp=(\d+)/.exec(html)[1]);
}

// Starts `rendorix serve` and resolves once it listens; `log` collects its access-log lines,
// which are also written to OUT/serve-N.log for run.sh to show when a test fails.
let servers = 0;
function serve(dir, now, port = 0) {
  const child = spawn(BIN, ['serve', '--config', join(dir, 'rendorix.toml'), '--now', String(now),
    '--port', String(port)], { env });
  const log = [];
  const logFile = join(OUT, `serve-${++servers}.log`);
  cleanup.push(() => { child.kill(); writeFileSync(logFile, log.join('\n') + '\n'); });
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
      const m = /at (http:\/\/127\.0\.0\.1:(\d+)\/)/.exec(out);
      if (m) ok({ url: m[1], port: Number(m[2]), log, stop: () => stop(child) });
    });
    child.on('exit', (code) => fail(new Error(`rendorix serve exited ${code}: ${log.join('\n')}`)));
  });
}

function stop(child) {
  return new Promise((ok) => {
    child.removeAllListeners('exit');
    child.on('exit', ok);
    child.kill();
  });
}

// Logged verdict for a request target, e.g. "ok" or "expired" (the last one logged).
function verdictOf(log, target) {
  const line = log.filter((l) => l.endsWith(` GET ${target}`)).pop();
  return line?.split(/\s+/)[1];
}

const targetOf = (url) => { const u = new URL(url); return u.pathname + u.search; };

// Waits until every image has loaded or failed (the lazy one only when it was scrolled to).
async function images(page, lazyToo = true) {
  await page.waitForFunction((all) => Array.from(document.images)
    .every((i) => i.complete || (!all && i.loading === 'lazy')), lazyToo);
  return page.$$eval('img', (all) => all.map((i) => ({ id: i.id, src: i.currentSrc, width: i.naturalWidth })));
}

test('every image, srcset candidate and picture source the browser picks loads at 1x and 2x', async () => {
  const dir = site();
  sign(dir, NOW);
  const server = await serve(dir, NOW);
  for (const scale of [1, 2]) {
    const context = await browser.newContext({ deviceScaleFactor: scale, viewport: { width: 800, height: 600 } });
    const page = await context.newPage();
    await page.goto(server.url);
    await page.locator('#end').scrollIntoViewIfNeeded(); // the lazy image too
    const shown = await images(page);
    assert.equal(shown.length, 6);
    for (const img of shown) {
      assert.ok(img.width > 0, `${img.id} did not load at ${scale}x: ${img.src}`);
      assert.match(img.src, /[?&]exp=\d+&kid=k2026a&sig=[\w-]{43}$/, img.id);
      assert.equal(verdictOf(server.log, targetOf(img.src)), 'ok', `${img.id}: ${img.src}`);
    }
    const byId = Object.fromEntries(shown.map((i) => [i.id, new URL(i.src).pathname]));
    assert.equal(byId.density, scale === 1 ? '/media/cat.png' : '/media/cat@2x.png');
    assert.equal(byId.widths, scale === 1 ? '/media/dog-small.png' : '/media/dog-large.png');
    assert.equal(byId.picture, '/media/wide.png'); // the (min-width: 600px) source
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUT, `signed-${scale}x.png`) });
    await context.close();
  }
  assert.deepEqual(server.log.filter((l) => l.startsWith('403')), []);
  await server.stop();
});

test('with the server clock past exp, images fail with 403 expired', async () => {
  const dir = site();
  const exp = sign(dir, NOW);
  const server = await serve(dir, exp + 3600);
  const page = await browser.newPage();
  await page.goto(server.url);
  const shown = await images(page, false);
  for (const img of shown.filter((i) => i.id !== 'lazy')) {
    assert.equal(img.width, 0, `${img.id} loaded although expired`);
    assert.equal(verdictOf(server.log, targetOf(img.src)), 'expired', img.id);
  }
  // The refresh script found no fresher URLs: it fetched the page a bounded number of times.
  await page.waitForTimeout(500);
  const pageFetches = server.log.filter((l) => / GET \/$/.test(l)).length;
  assert.ok(pageFetches >= 1 && pageFetches <= 4, `${pageFetches} page fetches`);
  await page.screenshot({ path: join(OUT, 'expired.png') });
  await page.close();
  await server.stop();
});

test('refresh: a page left open past exp recovers its lazy image after the site is re-signed', async () => {
  const dir = site();
  const oldExp = sign(dir, NOW);
  let server = await serve(dir, NOW);
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  await page.goto(server.url);
  await images(page, false);
  const lazy = () => page.$eval('#lazy', (i) => ({ src: i.currentSrc, width: i.naturalWidth, complete: i.complete }));
  assert.equal((await lazy()).width, 0, 'the lazy image must not load before it is scrolled to');

  // The scheduled job re-signs the site; later the clock passes the old exp.
  const later = oldExp + 3600;
  const newExp = sign(dir, later);
  assert.ok(newExp > later);
  const port = server.port;
  await server.stop();
  server = await serve(dir, later, port);

  await page.locator('#lazy').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('lazy').naturalWidth > 0, null, { timeout: 15000 });
  const recovered = await lazy();
  assert.match(recovered.src, new RegExp(`exp=${newExp}&`));
  const log = server.log.join('\n');
  assert.match(log, new RegExp(`403 expired +GET /media/lazy\\.png\\?exp=${oldExp}&`));
  assert.match(log, / GET \/\n/); // the page fetched again
  assert.equal(verdictOf(server.log, targetOf(recovered.src)), 'ok');
  await page.screenshot({ path: join(OUT, 'refreshed.png') });
  await page.close();
  await server.stop();
});

test('an unsigned or tampered URL gets 403 with the reason in a header and the body', async () => {
  const dir = site();
  sign(dir, NOW);
  const server = await serve(dir, NOW);
  const page = await browser.newPage();
  await page.goto(server.url);
  const signed = await page.$eval('#plain', (i) => i.getAttribute('src'));
  const last = signed.at(-1) === 'A' ? 'B' : 'A';
  const answers = await page.evaluate(async (urls) => Promise.all(urls.map(async (u) => {
    const r = await fetch(u, { cache: 'no-store' });
    return { status: r.status, reason: r.headers.get('x-rendorix-reason'), body: await r.text() };
  })), ['/media/cat.png', signed.slice(0, -1) + last, signed.replace('cat.png', 'cat@2x.png'), signed]);
  assert.deepEqual(answers.map((a) => [a.status, a.reason]), [
    [403, 'unsigned'], [403, 'bad_signature'], [403, 'bad_signature'], [200, null],
  ]);
  assert.match(answers[0].body, /^unsigned: /);
  await page.close();
  await server.stop();
});
