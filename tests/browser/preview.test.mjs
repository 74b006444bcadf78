// End-to-end: the preview fixture signed by rendorix, served by `rendorix serve`, loaded in
// headless Chromium. The server verifies every image request exactly as an edge does, so an image
// that loads proves the browser requested the very bytes that were signed.
//
// Run with tests/browser/run.sh (installs playwright-core; needs Debian's chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  NOW, OUT, cleanUp, copy, launch, refreshWorker, requestsFor, run, serve, targetOf, verdictOf,
} from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); cleanUp(); });

const site = () => copy('preview');

// Signs the site at `now`; the exp of its links.
function sign(dir, now) {
  run('sign', dir, now);
  const html = readFileSync(join(dir, 'public/index.html'), 'utf8');
  return Number(/exp=(\d+)/.exec(html)[1]);
}

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
    await page.goto(server.origin);
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

test('with the server clock past exp, images fail with 403 expired, after a bounded number of tries', async () => {
  const dir = site();
  const exp = sign(dir, NOW);
  const server = await serve(dir, exp + 3600);
  const page = await browser.newPage();
  await page.goto(server.origin);
  // Once the refresh worker is in control, the page asks once more for the images that failed:
  // read them after that, not while they are being requested again.
  await refreshWorker(page);
  await page.waitForLoadState('networkidle');
  await page.waitForTimeout(1500);
  const shown = await images(page, false);
  for (const img of shown.filter((i) => i.id !== 'lazy')) {
    assert.equal(img.width, 0, `${img.id} loaded although expired`);
    assert.equal(verdictOf(server.log, targetOf(img.src)), 'expired', img.id);
  }
  // The refresh worker found no fresher links in the page: it read it a bounded number of
  // times, and asked for each image at most twice more.
  const pageReads = server.log.filter((l) => / GET \/$/.test(l)).length;
  assert.ok(pageReads >= 1 && pageReads <= 3, `${pageReads} page reads`);
  for (const img of shown.filter((i) => i.id !== 'lazy')) {
    const path = new URL(img.src).pathname;
    assert.ok(requestsFor(server.log, path).length <= 3, `${path}: ${server.log.join('\n')}`);
  }
  await page.screenshot({ path: join(OUT, 'expired.png') });
  await page.close();
  await server.stop();
});

// Loads PATH, lets the refresh worker take control, re-signs the site past the first links' exp
// and moves the server's clock there, then scrolls to the lazy image: it must load with the new
// link, which the worker found in the page read again.
async function recoversTheLazyImage(path, shot) {
  const dir = site();
  const oldExp = sign(dir, NOW);
  let server = await serve(dir, NOW);
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const blocked = [];
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) blocked.push(m.text()); });
  await page.goto(server.origin + path);
  await images(page, false);
  await refreshWorker(page);
  const lazy = () => page.$eval('#lazy', (i) => i.naturalWidth);
  assert.equal(await lazy(), 0, 'the lazy image must not load before it is scrolled to');

  const later = oldExp + 3600;
  const newExp = sign(dir, later);
  assert.ok(newExp > later);
  const port = server.port;
  await server.stop();
  server = await serve(dir, later, port);

  await page.locator('#lazy').scrollIntoViewIfNeeded();
  await page.waitForFunction(() => document.getElementById('lazy').naturalWidth > 0, null, { timeout: 15000 });
  const log = server.log.join('\n');
  assert.match(log, new RegExp(`403 expired +GET /media/lazy\\.png\\?exp=${oldExp}&`));
  assert.match(log, new RegExp(`200 ok +GET /media/lazy\\.png\\?exp=${newExp}&`));
  assert.match(log, new RegExp(`^200 - +GET ${path}$`, 'm')); // the page read again
  assert.deepEqual(blocked, []);
  await page.screenshot({ path: join(OUT, shot) });
  await page.close();
  await server.stop();
}

test('refresh: a page left open past exp recovers its lazy image after the site is re-signed', async () => {
  await recoversTheLazyImage('/', 'refreshed.png');
});

test('refresh: the same under Content-Security-Policy script-src \'self\'', async () => {
  await recoversTheLazyImage('/csp', 'refreshed-csp.png');
});

test('refresh: a page whose first signed image is in SVG shows it; the tag is in the head, none in the template', async () => {
  const dir = site();
  sign(dir, NOW);
  const server = await serve(dir, NOW);
  const page = await browser.newPage();
  await page.goto(server.origin + '/svg');
  await refreshWorker(page);
  const seen = await page.evaluate(() => ({
    tag: document.querySelector('script[data-rendorix-refresh]')?.parentElement.tagName,
    inTemplate: document.getElementById('later').content.querySelectorAll('script').length,
    image: document.getElementById('svg-image').getBBox().width,
    inSvg: document.getElementById('svg-image').parentElement.id,
  }));
  assert.deepEqual(seen, { tag: 'HEAD', inTemplate: 0, image: 160, inSvg: 'drawing' });
  assert.ok(requestsFor(server.log, '/media/cat.png').some((l) => /^200 ok /.test(l)), server.log.join('\n'));
  assert.deepEqual(server.log.filter((l) => l.startsWith('403')), []);
  await page.screenshot({ path: join(OUT, 'svg.png') });
  await page.close();
  await server.stop();
});

test('an unsigned or tampered URL gets 403 with the reason in a header and the body', async () => {
  const dir = site();
  sign(dir, NOW);
  const server = await serve(dir, NOW);
  // The server's answers, not the refresh worker's (which would load the unsigned URL).
  const context = await browser.newContext({ serviceWorkers: 'block' });
  const page = await context.newPage();
  await page.goto(server.origin);
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
  await context.close();
  await server.stop();
});
