// What the browser tests share: headless Chromium, fixture sites copied to temporary folders
// and signed by rendorix, and `rendorix serve` (which verifies every protected request as an
// edge does) with its access log. No test depends on the wall clock: every run passes --now.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = resolve(ROOT, process.env.RENDORIX_BIN ?? 'target/debug/rendorix');
export const OUT = resolve(ROOT, 'target/browser-test');
export const NOW = 1715000000;
const KEYS = readFileSync(join(ROOT, 'fixtures/test-key'), 'utf8').trim();
const env = { ...process.env, RENDORIX_KEYS: KEYS };
const cleanup = [];

// Headless Chromium from Debian, started as the machine allows (no network, no sandbox as root).
export async function launch() {
  mkdirSync(OUT, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// Stops the servers and removes the folders the tests made.
export function cleanUp() {
  for (const f of cleanup.splice(0)) f();
}

// A copy of fixtures/NAME in a temporary folder.
export function copy(name) {
  const dir = mkdtempSync(join(tmpdir(), `rendorix-${name.replaceAll('/', '-')}-`));
  cpSync(join(ROOT, 'fixtures', name), dir, { recursive: true });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// `rendorix COMMAND --config DIR/rendorix.toml --now NOW`; its stdout.
export function run(command, dir, now, ...args) {
  return execFileSync(BIN, [command, '--config', join(dir, 'rendorix.toml'), '--now', String(now), ...args],
    { env, encoding: 'utf8' });
}

// Starts `rendorix serve` (on `port`, or any) and resolves once it listens. `log` collects its
// access-log lines ("status verdict method target"), also written to OUT/serve-NAME.log.
let servers = 0;
export function serve(dir, now, port = 0, name = String(++servers)) {
  const child = spawn(BIN, ['serve', '--config', join(dir, 'rendorix.toml'), '--now', String(now),
    '--port', String(port)], { env });
  const log = [];
  const save = () => writeFileSync(join(OUT, `serve-${name}.log`), log.join('\n') + '\n');
  cleanup.push(() => { child.kill(); save(); });
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
      const m = /at (http:\/\/127\.0\.0\.1:(\d+))\//.exec(out);
      if (m) ok({ origin: m[1], port: Number(m[2]), log, stop: () => stop(child, save) });
    });
    child.on('exit', (code) => fail(new Error(`rendorix serve exited ${code}: ${log.join('\n')}`)));
  });
}

function stop(child, save) {
  return new Promise((ok) => {
    child.removeAllListeners('exit');
    child.on('exit', () => { save(); ok(); });
    child.kill();
  });
}

// The request target of a URL: path and query.
export const targetOf = (url) => { const u = new URL(url); return u.pathname + u.search; };

// The verdict the server logged last for `target` ("ok", "expired", "unsigned", …).
export function verdictOf(log, target) {
  const line = log.filter((l) => l.endsWith(` GET ${target}`)).pop();
  return line?.split(/\s+/)[1];
}

// The access-log lines of requests for `path`, with or without a query.
export function requestsFor(log, path) {
  return log.filter((l) => { const t = l.split(' ').pop(); return t === path || t.startsWith(`${path}?`); });
}

// Resolves once the page is controlled by the refresh worker.
export function refreshWorker(page) {
  return page.waitForFunction(() => navigator.serviceWorker?.controller !== null, null, { timeout: 10000 });
}

// Scrolls through the page (lazy images load once scrolled to) and waits until every image that
// is displayed has loaded or failed, and the network is idle.
export async function settle(page) {
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.waitForFunction(() => Array.from(document.images)
    .filter((i) => i.getClientRects().length > 0)
    .every((i) => i.complete), null, { timeout: 10000 });
  await page.waitForLoadState('networkidle');
  await page.evaluate(() => window.scrollTo(0, 0));
}

// The displayed images that did not load: their URLs.
export function brokenImages(page) {
  return page.$$eval('img', (all) => all
    .filter((i) => i.getClientRects().length > 0 && i.complete && i.naturalWidth === 0)
    .map((i) => i.currentSrc || i.src));
}
