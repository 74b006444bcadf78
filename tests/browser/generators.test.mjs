// Every page of every generator fixture (fixtures/generators/), signed by rendorix, served by
// `rendorix serve`, loaded in headless Chromium: no request is refused, every image shows. Then,
// on the sites with client-side navigation, a click renders the next page from the router's
// data: its images load through the refresh worker, also once the site was re-signed past the
// first links' exp; without a re-sign they stay broken, with a bounded number of requests.
//
// Run with tests/browser/run.sh (installs playwright-core; needs Debian's chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import {
  NOW, OUT, brokenImages, cleanUp, copy, launch, refreshWorker, requestsFor, run, serve, settle,
} from './harness.mjs';

const GENERATORS = ['hugo', 'mkdocs', 'sphinx', 'eleventy', 'astro', 'vitepress', 'docusaurus', 'nextjs'];

// The sites with client-side navigation: the link on the home page to the guide, and the
// guide's URL. Astro's view transitions fetch the guide's signed HTML; the others render it
// from JavaScript or JSON.
const ROUTERS = {
  vitepress: { link: '.VPNavBarMenuLink[href="/guide"]', back: '.VPNavBarTitle a', to: '/guide' },
  docusaurus: { link: 'main a[href="/guide"]', back: 'main a[href="/"]', to: '/guide' },
  nextjs: { link: 'main a[href="/guide"]', back: 'main a[href="/"]', to: '/guide' },
  astro: { link: 'main a[href="/guide/"]', back: 'header a[href="/"]', to: '/guide/' },
};

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); cleanUp(); });

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

const refusedIn = (log) => log.filter((l) => /^403 /.test(l));
const exps = (log) => [...new Set(log.map((l) => /[?&]exp=(\d+)/.exec(l)?.[1]).filter(Boolean))];

for (const name of GENERATORS) {
  test(`${name}: every page loads through the verifying server with no refusal and every image shown`, async () => {
    const dir = copy(`generators/${name}`);
    run('sign', dir, NOW);
    const server = await serve(dir, NOW, 0, name);
    const site = join(dir, 'site');
    const paths = [...htmlFiles(site)].map((f) => pathOf(site, f)).sort();
    assert.ok(paths.length >= 2, `${name}: ${paths}`);
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    for (const path of paths) {
      const page = await context.newPage();
      const answers = [];
      page.on('response', (r) => answers.push([r.status(), r.url()]));
      const first = await page.goto(server.origin + path, { waitUntil: 'networkidle' });
      assert.ok(first.status() < 400 || /^\/(404|_not-found)$/.test(path), `${name} ${path}: ${first.status()}`);
      await settle(page);
      assert.deepEqual(answers.filter(([status]) => status === 403), [], `${name} ${path}: refused requests`);
      assert.deepEqual(await brokenImages(page), [], `${name} ${path}: images that did not load`);
      if (path === '/') await page.screenshot({ path: join(OUT, `generator-${name}.png`) });
      await page.close();
    }
    await context.close();
    // The server saw every protected request verify: no refusal of any kind.
    assert.deepEqual(refusedIn(server.log), [], `${name}: the server refused`);
    assert.ok(server.log.some((l) => /^200 ok /.test(l)), `${name}: no protected request at all`);
    await server.stop();
  });
}

// Loads the home page until the refresh worker controls it; marks the document, so that a
// router's navigation (same document) can be told from a page load.
async function home(context, server) {
  const page = await context.newPage();
  await page.goto(server.origin + '/', { waitUntil: 'networkidle' });
  await refreshWorker(page);
  await page.evaluate(() => { window.rendorixTest = 'same document'; });
  return page;
}

// Clicks `link` and waits for the router to show `to`, in the same document.
async function follow(page, server, link, to) {
  await page.click(link);
  await page.waitForURL(server.origin + to);
  await settle(page);
  assert.equal(await page.evaluate(() => window.rendorixTest), 'same document', `${to}: not rendered by the router`);
}

// The protected images the page shows (same origin, not data: URLs), by path.
const shownPaths = (page) => page.$$eval('img', (all) => [...new Set(all
  .filter((i) => i.getClientRects().length > 0 && i.currentSrc.startsWith(location.origin))
  .map((i) => new URL(i.currentSrc).pathname))]);

for (const [name, { link, back, to }] of Object.entries(ROUTERS)) {
  test(`${name}: the page a click renders shows every protected image, and again after a re-sign past exp`, async () => {
    const dir = copy(`generators/${name}`);
    run('sign', dir, NOW);
    let server = await serve(dir, NOW, 0, `${name}-router`);
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const page = await home(context, server);
    const answers = [];
    page.on('response', (r) => answers.push([r.status(), r.url()]));
    await follow(page, server, link, to);
    assert.deepEqual(await brokenImages(page), [], `${name}: images that did not load`);
    assert.deepEqual(answers.filter(([status]) => status === 403), [], `${name}: refused requests`);
    const shown = await shownPaths(page);
    assert.ok(shown.length >= 1, `${name}: no image on ${to}`);
    for (const path of shown) {
      assert.ok(requestsFor(server.log, path).some((l) => /^200 ok /.test(l)), `${name}: ${path} was not verified: ${server.log.join('\n')}`);
    }
    await page.screenshot({ path: join(OUT, `generator-${name}-clicked.png`) });

    // The scheduled job re-signs the site; the clock passes the first links' exp. The tab stays
    // open: back home and to the guide again, both rendered by the router, with the browser's
    // cache off so that every image is requested again.
    const [exp] = exps(server.log);
    const later = Number(exp) + 3600;
    run('resign', dir, later);
    const port = server.port;
    await server.stop();
    server = await serve(dir, later, port, `${name}-resigned`);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    await follow(page, server, back, '/');
    await follow(page, server, link, to);
    assert.deepEqual(await brokenImages(page), [], `${name}: images that did not load after the re-sign`);
    // Each image requested again (those the router rendered again) ended with a fresh link.
    const again = (await shownPaths(page)).filter((path) => requestsFor(server.log, path).length > 0);
    assert.ok(again.length >= 1, `${name}: no image requested after the re-sign: ${server.log.join('\n')}`);
    for (const path of again) {
      const last = requestsFor(server.log, path).pop();
      assert.match(last, /^200 ok /, `${name}: ${path}: ${server.log.join('\n')}`);
      assert.ok(!last.includes(`exp=${exp}&`), `${name}: ${path}: ${last}`);
    }
    await context.close();
    await server.stop();
  });

  test(`${name}: past exp without a re-sign, the clicked page's images stay broken after a bounded number of requests`, async () => {
    const dir = copy(`generators/${name}`);
    run('sign', dir, NOW);
    let server = await serve(dir, NOW, 0, `${name}-expired`);
    const context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    const page = await home(context, server);
    const [exp] = exps(server.log);
    const port = server.port;
    await server.stop();
    server = await serve(dir, Number(exp) + 3600, port, `${name}-expired-later`);
    await follow(page, server, link, to);
    // A router may insert the page's images after the load settles, and the refresh worker's
    // one retry takes a round trip: give the refusals time to land before judging.
    await page.waitForFunction(() => Array.from(document.images)
      .some((i) => i.getClientRects().length > 0 && i.complete && i.naturalWidth === 0), null, { timeout: 10000 })
      .catch(() => {});
    const broken = await brokenImages(page);
    assert.ok(broken.length >= 1, `${name}: expired images loaded`);
    await page.waitForTimeout(3000);
    const settled = server.log.length;
    for (const url of broken) {
      const path = new URL(url).pathname;
      assert.ok(requestsFor(server.log, path).length <= 4, `${name}: ${path}: ${server.log.join('\n')}`);
    }
    // The page read once for its map, and once more for the refusal (redirects aside).
    const pageReads = server.log.filter((l) => /^200 /.test(l) && (l.endsWith(` GET ${to}`) || l.endsWith(` GET ${to}/`)));
    assert.ok(pageReads.length <= 2, `${name}: ${pageReads.length} reads of ${to}`);
    // Nothing is requested in a loop.
    await page.waitForTimeout(3000);
    assert.equal(server.log.length, settled, `${name}: ${server.log.slice(settled).join('\n')}`);
    await context.close();
    await server.stop();
  });
}
