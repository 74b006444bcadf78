// Re-verifies a site signed by rendorix with code that shares nothing with it:
// parse5 (the HTML standard's tree builder, scripting disabled so <noscript> is markup),
// css-tree (a CSS parser), saxes (a namespace-aware XML parser), JSON.parse, Node's own
// WHATWG URL parser, its own srcset splitter and node:crypto's HMAC.
//
// Every image URL a browser (or a feed reader) would request from every page, stylesheet, feed,
// sitemap and web manifest is resolved (spec §5 and §13); each one under a protected prefix
// with a protected extension must carry a valid signature (spec §8 order), and no other URL may
// carry one of ours. URLs listed in --expect-unsigned FILE (lines "file<TAB>url") are the known
// exceptions and must be exactly the ones found unsigned.
//
//   node check-site.mjs --site DIR --base URL --match PREFIX... --keys kid:secret[,..]
//                       --now SECS [--ext EXT...] [--exclude PREFIX...] [--extra ATTR...] [--social]
//                       [--expect-unsigned FILE]

import { createHmac, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import * as csstree from "css-tree";
import { parse, parseFragment } from "parse5";
import { SaxesParser } from "saxes";

const args = { match: [], exclude: [], extra: [], ext: [], social: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const next = () => process.argv[++i];
  if (a === "--site") args.site = next();
  else if (a === "--base") args.base = next();
  else if (a === "--match") args.match.push(next());
  else if (a === "--exclude") args.exclude.push(next());
  else if (a === "--keys") args.keys = next();
  else if (a === "--now") args.now = Number(next());
  else if (a === "--extra") args.extra.push(next());
  else if (a === "--ext") args.ext.push(next().toLowerCase());
  else if (a === "--social") args.social = true;
  else if (a === "--expect-unsigned") args.expect = next();
  else throw new Error(`unknown argument ${a}`);
}

const GRACE = 30;
const SVG = "http://www.w3.org/2000/svg";
const base = new URL(args.base.endsWith("/") ? args.base : args.base + "/");
const keys = new Map(
  args.keys.split(",").map((pair) => {
    const [kid, secret] = pair.split(":");
    return [kid, Buffer.from(secret.replace(/=+$/, ""), "base64url")];
  }),
);
const prefix = (m) => {
  const u = m.startsWith("/") ? new URL(m, base) : new URL(m);
  return { host: u.hostname, port: u.port, path: u.pathname };
};
const prefixes = args.match.map(prefix);
const excluded = args.exclude.map(prefix);

function isProtected(u) {
  if (u.protocol !== "http:" && u.protocol !== "https:") return false;
  const last = u.pathname.split("/").pop();
  const dot = last.lastIndexOf(".");
  if (args.ext.length && (dot < 0 || !args.ext.includes(decodeURIComponent(last.slice(dot + 1)).toLowerCase())))
    return false;
  const under = (p) =>
    u.hostname === p.host &&
    u.port === p.port &&
    u.pathname.startsWith(p.path) &&
    (p.path.endsWith("/") || u.pathname.length === p.path.length || u.pathname[p.path.length] === "/");
  return prefixes.some(under) && !excluded.some(under);
}

// spec §8, in order, on the request target the browser sends.
function verify(target) {
  const m = /^(.*[?&]exp=([^&]*)&kid=([^&]*))&sig=([A-Za-z0-9_-]{43})$/.exec(target);
  if (!m) return "malformed";
  const [, message, exp, kid, sig] = m;
  if (!/^(0|[1-9][0-9]*)$/.test(exp) || !/^[A-Za-z0-9_-]{1,32}$/.test(kid)) return "malformed";
  if (!keys.has(kid)) return "unknown_key";
  if (exp.length > 10) return "malformed";
  if (args.now > Number(exp) + GRACE) return "expired";
  const want = createHmac("sha256", keys.get(kid)).update(message, "latin1").digest();
  const got = Buffer.from(sig, "base64url");
  return got.length === want.length && timingSafeEqual(got, want) ? "ok" : "bad_signature";
}

// The HTML standard's srcset splitting loop; descriptors are skipped, URLs kept.
function srcsetUrls(value) {
  const ws = /[\t\n\f\r ]/;
  const urls = [];
  let i = 0;
  while (i < value.length) {
    while (i < value.length && (ws.test(value[i]) || value[i] === ",")) i++;
    if (i >= value.length) break;
    let start = i;
    while (i < value.length && !ws.test(value[i])) i++;
    let url = value.slice(start, i);
    if (url.endsWith(",")) {
      url = url.replace(/,+$/, "");
    } else {
      let parens = false;
      for (; i < value.length; i++) {
        const c = value[i];
        if (c === "(") parens = true;
        else if (c === ")") parens = false;
        else if (c === "," && !parens) {
          i++;
          break;
        }
      }
    }
    if (url) urls.push(url);
  }
  return urls;
}

function attr(el, name) {
  const a = el.attrs?.find((a) => (a.prefix ? `${a.prefix}:${a.name}` : a.name) === name);
  return a?.value;
}

const relTokens = (el) => (attr(el, "rel") ?? "").split(/[\t\n\f\r ]+/).map((t) => t.toLowerCase());

// Every [attribute, isSrcset] a browser would fetch an image for, per spec §5 and §13, and links.
function imageAttributes(el) {
  const out = [];
  const tag = el.tagName;
  const has = (n) => attr(el, n) !== undefined;
  if (tag === "img") out.push(["src", false], ["srcset", true]);
  if (tag === "source" && el.parentNode?.tagName === "picture") out.push(["srcset", true]);
  if (tag === "link" && /^image$/i.test(attr(el, "as")?.trim() ?? "") && relTokens(el).includes("preload"))
    out.push(["href", false], ["imagesrcset", true]);
  else if (tag === "link" && relTokens(el).some((t) => ["icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon"].includes(t)))
    out.push(["href", false]);
  if (tag === "video") out.push(["poster", false]);
  if (tag === "a" || tag === "area") out.push(["href", false]); // followed: a fetch like any other
  if (tag === "input" && /^image$/i.test(attr(el, "type")?.trim() ?? "")) out.push(["src", false]);
  if (["image", "use", "feImage"].includes(tag) && el.namespaceURI === SVG) out.push(["href", false], ["xlink:href", false]);
  if (tag === "meta" && args.social && /^(og:image(:url|:secure_url)?|twitter:image(:src)?)$/i.test((attr(el, "property") ?? attr(el, "name") ?? "").trim()))
    out.push(["content", false]);
  for (const x of args.extra) out.push([x, x.endsWith("srcset")]);
  return out.filter(([n]) => has(n));
}

function* elements(node) {
  for (const child of node.childNodes ?? []) {
    if (child.tagName) yield child;
    yield* elements(child);
    if (child.content) yield* elements(child.content); // <template>
  }
}

// The URLs of url() and of image-set()'s strings, as css-tree decodes them.
function cssUrls(text, context) {
  const urls = [];
  let ast;
  try {
    ast = csstree.parse(text, { context, parseValue: true, parseCustomProperty: false });
  } catch {
    return urls;
  }
  csstree.walk(ast, (node) => {
    if (node.type === "Url") urls.push(node.value);
    else if (node.type === "Function" && /^(-webkit-)?image-set$/i.test(node.name))
      node.children.forEach((c) => c.type === "String" && urls.push(c.value));
  });
  return urls;
}

function encodingOf(bytes) {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return "utf-8";
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  const head = bytes.subarray(0, 1024).toString("latin1");
  const m = /<meta[^>]*charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)/i.exec(head);
  return m ? m[1].toLowerCase() : "utf-8";
}

function* files(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

const counts = { passed: 0, failed: 0, skipped: 0 };
const unsigned = new Set();
const failures = [];

// Judges one reference found in file `rel`, resolved against `docBase`.
function check(rel, ref, docBase, legacy = false) {
  if (!ref.trim()) return;
  let u;
  try {
    u = new URL(ref, docBase);
  } catch {
    return;
  }
  const target = u.pathname + u.search;
  const ours = /&kid=[A-Za-z0-9_-]+&sig=[A-Za-z0-9_-]{43}$/.test(u.search) && [...keys.keys()].some((k) => u.search.includes(`&kid=${k}&sig=`));
  if (!isProtected(u)) {
    if (ours) {
      counts.failed++;
      failures.push(`${rel}: ${ref}: signed but not protected by the rules`);
    }
    return;
  }
  // Node's URL always encodes a query as UTF-8; a legacy page's browser does not.
  if (legacy && /[^\x00-\x7f]/.test(ref.split("#")[0].split("?").slice(1).join("?"))) {
    counts.skipped++;
    return;
  }
  const verdict = verify(target);
  if (verdict === "ok") counts.passed++;
  else if (verdict === "malformed" && !ours) unsigned.add(`${rel}\t${ref}`);
  else {
    counts.failed++;
    failures.push(`${rel}: ${ref}: ${verdict} (request target ${target})`);
  }
}

// The image references of an HTML document or fragment (a parse5 tree), against `docBase`.
function checkHtml(rel, tree, docBase, legacy) {
  const all = [...elements(tree)];
  const baseEl = all.find((el) => el.tagName === "base" && attr(el, "href") !== undefined);
  if (baseEl) {
    try {
      docBase = new URL(attr(baseEl, "href"), docBase);
    } catch {}
  }
  for (const el of all) {
    for (const [name, isSrcset] of imageAttributes(el)) {
      const value = attr(el, name);
      for (const ref of isSrcset ? srcsetUrls(value) : [value]) check(rel, ref, docBase, legacy);
    }
    const style = attr(el, "style");
    if (style !== undefined) for (const ref of cssUrls(style, "declarationList")) check(rel, ref, docBase, legacy);
    if (el.tagName === "style") {
      const text = el.childNodes.map((n) => n.value ?? "").join("");
      for (const ref of cssUrls(text, "stylesheet")) check(rel, ref, docBase, legacy);
    }
  }
}

// Feeds and sitemaps: media elements' URLs, and the HTML carried in descriptions and contents.
const NS = {
  atom: "http://www.w3.org/2005/Atom",
  media: "http://search.yahoo.com/mrss/",
  image: "http://www.google.com/schemas/sitemap-image/1.1",
  content: "http://purl.org/rss/1.0/modules/content/",
  itunes: "http://www.itunes.com/dtds/podcast-1.0.dtd",
};
function checkXml(rel, text, fileUrl) {
  const parser = new SaxesParser({ xmlns: true });
  const stack = [];
  let capture = null;
  const a = (node, name) => node.attributes[name]?.value;
  parser.on("opentag", (node) => {
    const [uri, local] = [node.uri, node.local];
    const parent = stack.at(-1);
    stack.push({ uri, local });
    capture = null;
    const url =
      (uri === "" && local === "enclosure" && a(node, "url")) ||
      (uri === NS.media && ["content", "thumbnail"].includes(local) && a(node, "url")) ||
      (uri === NS.itunes && local === "image" && a(node, "href")) ||
      (uri === NS.atom && local === "link" && a(node, "rel") === "enclosure" && a(node, "href"));
    if (url) check(rel, url.trim(), fileUrl);
    const holds =
      (uri === NS.image && local === "loc") || (uri === NS.atom && ["icon", "logo"].includes(local)) ||
      (uri === "" && local === "url" && parent?.uri === "" && parent?.local === "image")
        ? "url"
        : (uri === "" && local === "description") || (uri === NS.content && local === "encoded") ||
            (uri === NS.atom && ["content", "summary"].includes(local) && a(node, "type") === "html")
          ? "html"
          : null;
    if (holds) capture = { holds, depth: stack.length, text: "" };
  });
  const onText = (t) => capture && (capture.text += t);
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("closetag", () => {
    if (capture && capture.depth === stack.length) {
      if (capture.holds === "url") check(rel, capture.text.trim(), fileUrl);
      else checkHtml(rel, parseFragment(capture.text, { scriptingEnabled: false }), fileUrl, false);
      capture = null;
    }
    stack.pop();
  });
  parser.write(text).close();
}

// Web app manifests: every image resource's src, against the manifest's URL.
function checkManifest(rel, text, fileUrl) {
  const m = JSON.parse(text);
  const resources = [...(m.icons ?? []), ...(m.screenshots ?? []), ...(m.shortcuts ?? []).flatMap((s) => s.icons ?? [])];
  for (const r of resources) if (typeof r.src === "string") check(rel, r.src, fileUrl);
}

for (const file of files(args.site)) {
  const rel = relative(args.site, file).split(sep).join("/");
  const bytes = readFileSync(file);
  const path = rel.split("/").map(encodeURIComponent).join("/");
  const fileUrl = new URL(path, base);
  try {
    if (/\.html?$/i.test(rel)) {
      const encoding = encodingOf(bytes);
      const legacy = !/^utf-?8$/.test(encoding) && !encoding.startsWith("utf-16");
      const html = new TextDecoder(encoding).decode(bytes);
      const pageUrl = new URL(path.replace(/(^|\/)index\.html?$/i, "$1"), base);
      checkHtml(rel, parse(html, { scriptingEnabled: false }), pageUrl, legacy);
    } else if (/\.css$/i.test(rel)) {
      for (const ref of cssUrls(bytes.toString("utf8"), "stylesheet")) check(rel, ref, fileUrl);
    } else if (/\.(xml|rss|atom)$/i.test(rel)) {
      checkXml(rel, bytes.toString("utf8"), fileUrl);
    } else if (/(\.webmanifest|(^|\/)manifest\.json)$/i.test(rel)) {
      checkManifest(rel, bytes.toString("utf8"), fileUrl);
    }
  } catch (e) {
    // A file rendorix refuses (and reports) is not signed; its references are listed as expected.
    console.log(`note: ${rel}: not parsed (${e.message.split("\n")[0]})`);
  }
}

const expected = new Set(
  args.expect ? readFileSync(args.expect, "utf8").split("\n").filter((l) => l && !l.startsWith("#")) : [],
);
for (const u of unsigned) {
  if (!expected.has(u)) {
    counts.failed++;
    failures.push(`${u.replace("\t", ": ")}: protected but not signed`);
  }
}
for (const u of expected) {
  if (!unsigned.has(u)) {
    counts.failed++;
    failures.push(`${u.replace("\t", ": ")}: expected to stay unsigned, but was not found unsigned`);
  }
}
for (const f of failures) console.log(`FAIL ${f}`);
console.log(`independent check of ${args.site}: ${unsigned.size} known-unsigned URLs, ${counts.skipped} skipped (legacy-encoded query)`);
console.log(`${counts.passed} passed, ${counts.failed} failed`);
process.exit(counts.failed === 0 && counts.passed > 0 ? 0 : 1);
