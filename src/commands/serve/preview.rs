//! What the preview edge answers to one request.
//!
//! Pages and other files come from the site folder. A request under a protected prefix is
//! verified first, by [`verify_target`] on the raw request target exactly as an edge receives
//! it, and answered 403 with the reason (header `X-Rendorix-Reason` and the body) when it fails;
//! when it passes, the image comes from the origin folder. Every request is logged with its
//! verdict. File paths are built from decoded path segments under a fixed root: `..`, encoded
//! slashes and symbolic links that leave the root are refused, so no request reaches a file
//! outside the site or origin folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use url::Url;

use crate::core::keys::Keys;
use crate::core::native::NativeVerifier;
use crate::core::revocation::Revocations;
use crate::core::rules::Protection;
use crate::core::schemes::NativeRejection;
use crate::core::time::utc;
use crate::core::verify::{Limits, verify_target};
use crate::site::revoked;

/// What the preview serves and how it verifies.
#[derive(Debug, Clone)]
pub(crate) struct Preview {
    /// The site folder, canonical.
    pub site: PathBuf,
    /// Where protected images come from, canonical: `ORIGIN/<path>` for paths on the site's
    /// origin, `ORIGIN/<host>/<path>` for an image host named by a `match` prefix.
    pub origin: PathBuf,
    /// The site's `base_url`: which origin protected paths belong to.
    pub base_url: Url,
    /// The protection rules: which requests must carry a signature.
    pub protection: Protection,
    /// The verifying keys.
    pub keys: Keys,
    /// Grace and lifetime cap.
    pub limits: Limits,
    /// The revocation list, read again whenever it changes.
    pub revoked: Arc<RevocationFile>,
    /// With a native scheme (`sign.scheme`): its verifier, to verify as the CDN does.
    pub native: Option<NativeVerifier>,
}

/// The revocation list of `revoke.dir`, as the preview applies it: read again when its file
/// changes, as an edge's store is updated; a list that cannot be read leaves the last one in
/// force, with a message.
#[derive(Debug)]
pub(crate) struct RevocationFile {
    dir: PathBuf,
    loaded: Mutex<(Option<SystemTime>, Revocations)>,
}

impl RevocationFile {
    /// The list in `dir` (none yet is an empty list).
    pub(crate) fn new(dir: PathBuf) -> RevocationFile {
        RevocationFile {
            dir,
            loaded: Mutex::new((None, Revocations::default())),
        }
    }

    /// The end of the revocation that refuses decoded `path` at `now`, if any.
    fn refuses(&self, path: &str, now: u64) -> Option<u64> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let modified = fs::metadata(self.dir.join(revoked::LIST))
            .and_then(|m| m.modified())
            .ok();
        if modified != loaded.0 {
            match revoked::load(&self.dir) {
                Ok(list) => *loaded = (modified, list),
                Err(e) => eprintln!(
                    "the revocation list {} {e}; the last one read stays in force",
                    self.dir.join(revoked::LIST).display()
                ),
            }
        }
        loaded.1.refuses(path, now).map(|e| e.until)
    }
}

/// The answer to one request, before it is written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 200 with this file.
    File {
        /// The file.
        path: PathBuf,
        /// Whether it was a protected, verified request (`ok` in the log).
        verified: bool,
    },
    /// 301 to this location (a folder asked for without its trailing slash).
    Redirect(String),
    /// 403: the edge's verdict code and its reason.
    Forbidden {
        /// `unsigned`, `malformed`, `unknown_key`, `expired`, `bad_signature` or `revoked`.
        code: &'static str,
        /// The reason in words.
        reason: String,
    },
    /// 400: a path that tries to leave the served folders or cannot name a file.
    BadRequest(&'static str),
    /// 404.
    NotFound,
}

impl Answer {
    /// The HTTP status.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Answer::File { .. } => 200,
            Answer::Redirect(_) => 301,
            Answer::Forbidden { .. } => 403,
            Answer::BadRequest(_) => 400,
            Answer::NotFound => 404,
        }
    }

    /// The verdict shown in the access log: `ok` or the rejection code for protected requests,
    /// `-` for the site's own files.
    pub(crate) fn verdict(&self) -> &'static str {
        match self {
            Answer::File { verified: true, .. } => "ok",
            Answer::Forbidden { code, .. } => code,
            Answer::BadRequest(_) => "bad_path",
            _ => "-",
        }
    }
}

impl Preview {
    /// Decides the answer for a request with raw target `target` (as in the request line) and
    /// `Host` header `host`, at time `now`.
    pub(crate) fn answer(&self, host: Option<&str>, target: &str, now: u64) -> Answer {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (target, None),
        };
        let Some(segments) = decoded_segments(path) else {
            return Answer::BadRequest("the path leaves the site or names no file");
        };
        // As every edge answers it: no browser sends a '#', and an origin may read what follows
        // it as part of the path.
        if target.contains('#') {
            return Answer::Forbidden {
                code: "malformed",
                reason: "a request target holds no '#': browsers never send the fragment".into(),
            };
        }
        // The request is for an image host when its Host header names one; otherwise for the
        // site itself, whatever host and port it was reached on.
        let host = host.map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
        let image_host = host.filter(|h| {
            Some(h.as_str()) != self.base_url.host_str()
                && self.protection.matches().iter().any(|m| m.host() == h)
        });
        let origin = match &image_host {
            Some(h) => Url::parse(&format!("https://{h}/")).ok(),
            None => Some(self.base_url.clone()),
        };
        // Protected if the path as sent or as decoded (what the file lookup uses) is under a
        // prefix: "/%6Dedia/a.jpg" must not reach /media/a.jpg unverified.
        let decoded = format!("/{}", segments.join("/"));
        let under = |p: &str| {
            origin
                .as_ref()
                .and_then(|o| o.join(p).ok())
                .is_some_and(|u| self.protection.protects(&u))
        };
        let protected = under(path) || under(&decoded);
        if protected {
            if let Some(verifier) = &self.native {
                // The host is part of what these schemes sign: the one the request names.
                let signed_host = image_host
                    .clone()
                    .or_else(|| self.base_url.host_str().map(str::to_owned))
                    .unwrap_or_default();
                let url = Url::parse(&format!("https://{signed_host}{target}"));
                let verdict = url
                    .map_err(|_| NativeRejection::Malformed("not a URL on this host"))
                    .and_then(|url| verifier.verify(&url, now));
                if let Err(r) = verdict {
                    let (code, reason) = (r.code(), r.reason());
                    return Answer::Forbidden { code, reason };
                }
            } else if let Err(rejection) = verify_target(path, query, now, &self.keys, self.limits)
            {
                return Answer::Forbidden {
                    code: rejection.code(),
                    reason: rejection.reason(),
                };
            }
            // Spec §8 step 7: a valid signature, for a path withdrawn since.
            if let Some(until) = self.revoked.refuses(&decoded, now) {
                return Answer::Forbidden {
                    code: "revoked",
                    reason: format!("the image is revoked until {}", utc(until)),
                };
            }
            let root = match &image_host {
                Some(h) => self.origin.join(h),
                None => self.origin.clone(),
            };
            return match lookup(&root, &segments, false) {
                Some(path) => Answer::File {
                    path,
                    verified: true,
                },
                None => Answer::NotFound,
            };
        }
        if image_host.is_some() {
            return Answer::NotFound;
        }
        // The site folder is served at the path of `base_url`, as it is deployed.
        let base: Vec<String> = decoded_segments(self.base_url.path())
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let Some(rest) = segments.strip_prefix(base.as_slice()) else {
            return if segments.is_empty() {
                Answer::Redirect(self.base_url.path().to_owned())
            } else {
                Answer::NotFound
            };
        };
        if rest.is_empty() && !base.is_empty() {
            return Answer::Redirect(folder_location(&segments));
        }
        match lookup(&self.site, rest, true) {
            Some(file) if file.is_dir() => Answer::Redirect(folder_location(&segments)),
            // Reached by another name (a symbolic link, a folder named after an image host): the
            // file is protected all the same, and only its own signed URL may fetch it.
            Some(file) if self.file_is_protected(&file) => Answer::Forbidden {
                code: "unsigned",
                reason: "the file is a protected image reached by another path; request it by its own URL, signed".to_owned(),
            },
            Some(file) => Answer::File {
                path: file,
                verified: false,
            },
            None => Answer::NotFound,
        }
    }

    /// Whether `file` (canonical) is a protected image under its own URLs: as a file of the site
    /// (`base_url` + its path) and as a file of the origin folder (its path on the site's
    /// origin, or on the image host its first folder is named after).
    fn file_is_protected(&self, file: &Path) -> bool {
        // `root`'s files as URLs: under `base_url`'s path for the site; for the origin, from the
        // root of the site's origin, or of the image host a first folder is named after.
        let url_of = |root: &Path, site: bool| -> Option<Url> {
            let mut parts: Vec<String> = (file.strip_prefix(root).ok()?.iter())
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let mut url = self.base_url.clone();
            if site {
                let base = url.path_segments()?.filter(|s| !s.is_empty());
                let base: Vec<String> = base.map(str::to_owned).collect();
                parts.splice(0..0, base);
            } else if let Some(first) = parts.first()
                && self.protection.matches().iter().any(|m| m.host() == first)
            {
                url = Url::parse(&format!("https://{first}/")).ok()?;
                parts.remove(0);
            }
            url.path_segments_mut().ok()?.clear().extend(&parts);
            Some(url)
        };
        [url_of(&self.site, true), url_of(&self.origin, false)]
            .into_iter()
            .flatten()
            .any(|u| self.protection.protects(&u))
    }
}

/// The location of a folder's `/`-terminated URL: its decoded segments encoded again, so that a
/// request such as `//evil.example` is redirected to `/evil.example/`, never to another host.
fn folder_location(segments: &[String]) -> String {
    let mut location = String::from("/");
    for s in segments.iter().filter(|s| !s.is_empty()) {
        location.extend(percent_encoding::utf8_percent_encode(s, SEGMENT));
        location.push('/');
    }
    location
}

/// What a path segment must encode: the WHATWG path percent-encode set, `/`, `%` and `\`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\');

/// The decoded path segments, or `None` when one is `.`/`..`, empty (`//`), badly
/// percent-encoded, or holds `/`, `\` or NUL: it could name another file than the URL shows. A
/// trailing `/` is kept as an empty last segment.
fn decoded_segments(path: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix('/')?;
    let mut out = Vec::new();
    let count = rest.split('/').count();
    for (i, raw) in rest.split('/').enumerate() {
        // As the edges decode: "//" and a '%' without two hex digits could name another object.
        if (raw.is_empty() && i + 1 < count) || !percent_encoded_well(raw) {
            return None;
        }
        let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
        let segment = String::from_utf8(bytes).ok()?;
        if segment == "." || segment == ".." || segment.contains(['/', '\\', '\0']) {
            return None;
        }
        if !segment.is_empty() {
            out.push(segment);
        }
    }
    // A trailing slash asks for the folder's index.
    if path.ends_with('/') && path.len() > 1 {
        out.push(String::new());
    }
    Some(out)
}

/// Whether every `%` of `raw` starts two hex digits.
fn percent_encoded_well(raw: &str) -> bool {
    let b = raw.as_bytes();
    (0..b.len()).filter(|&i| b[i] == b'%').all(|i| {
        b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    })
}

/// The file `segments` names under `root`, resolved through symbolic links and required to stay
/// inside `root`. With `pages`, as static hosts resolve pretty URLs: a path ending in `/` (or
/// the root) yields the folder's `index.html`; any other path the file itself, else the same
/// name with `.html` added, else the folder (so the caller can redirect to its `/`).
fn lookup(root: &Path, segments: &[String], pages: bool) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    let wants_index = segments.is_empty() || segments.last().is_some_and(String::is_empty);
    for s in segments.iter().filter(|s| !s.is_empty()) {
        path.push(s);
    }
    let root = fs::canonicalize(root).ok()?;
    let inside = |p: &Path| {
        fs::canonicalize(p)
            .ok()
            .filter(|real| real.starts_with(&root))
    };
    let exact = inside(&path);
    let real = match exact {
        Some(real) if real.is_file() || !pages || wants_index => real,
        None if !pages || wants_index => return None,
        folder => {
            let mut html = path.clone().into_os_string();
            html.push(".html");
            match inside(Path::new(&html)).filter(|p| p.is_file()) {
                Some(page) => return Some(page),
                None => folder?,
            }
        }
    };
    if real.is_dir() {
        if !pages {
            return None;
        }
        if !wants_index {
            return Some(real);
        }
        let index = fs::canonicalize(real.join("index.html")).ok()?;
        return (index.starts_with(&root) && index.is_file()).then_some(index);
    }
    (real.is_file() && !wants_index).then_some(real)
}

/// The Content-Type for a file, by extension.
pub(crate) fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" | "rss" | "atom" => "application/xml",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::Key;
    use crate::core::sign::signature;
    use crate::core::testing;

    const NOW: u64 = 1_715_000_000;

    struct Fixture {
        _dir: tempfile::TempDir,
        preview: Preview,
        outside: PathBuf,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let site = root.join("site");
        let origin = root.join("origin");
        for d in [
            "site/blog",
            "site/media",
            "origin/media",
            "origin/img.example.com/p",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::write(site.join("index.html"), "home").unwrap();
        fs::write(site.join("blog/index.html"), "blog").unwrap();
        fs::write(site.join("style.css"), "css").unwrap();
        fs::write(site.join("media/a.png"), "site copy").unwrap();
        fs::write(origin.join("media/a.png"), "origin copy").unwrap();
        fs::write(origin.join("img.example.com/p/b.png"), "host copy").unwrap();
        fs::write(root.join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), site.join("leak.txt")).unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), origin.join("media/leak.png")).unwrap();
        let preview = Preview {
            site: fs::canonicalize(&site).unwrap(),
            origin: fs::canonicalize(&origin).unwrap(),
            base_url: testing::site(),
            protection: testing::prefixes(&["/media/", "https://img.example.com/"]).into(),
            keys: Keys::from_keys(vec![key()]),
            limits: Limits::default(),
            revoked: Arc::new(RevocationFile::new(root.join("revoked"))),
            native: None,
        };
        Fixture {
            outside: root.join("secret.txt"),
            _dir: dir,
            preview,
        }
    }

    fn key() -> Key {
        testing::key("k1")
    }

    fn signed(path: &str) -> String {
        let unsigned = format!("{path}?exp={}&kid=k1", NOW + 3600);
        let sig = signature(&key(), unsigned.as_bytes());
        format!("{unsigned}&sig={sig}")
    }

    fn body(answer: &Answer) -> String {
        match answer {
            Answer::File { path, .. } => fs::read_to_string(path).unwrap(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn a_revoked_path_is_refused_from_the_moment_the_list_names_it() {
        use crate::core::revocation::Revocation;
        let f = fixture();
        let answer = |target: &str, now| f.preview.answer(None, target, now).verdict();
        assert_eq!(answer(&signed("/media/a.png"), NOW), "ok");
        let writes = std::cell::Cell::new(0);
        let list = |entries: &[(&str, u64)]| {
            let list = Revocations::new(entries.iter().map(|&(path, until)| Revocation {
                path: path.into(),
                revoked_at: NOW,
                until,
            }));
            revoked::write(&f._dir.path().join("revoked"), &list, NOW).unwrap();
            // Each list with a time of its own, as lists written a second apart have.
            writes.set(writes.get() + 1);
            let file = f._dir.path().join("revoked").join(revoked::LIST);
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(writes.get());
            fs::File::options()
                .write(true)
                .open(file)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        list(&[("/media/", NOW + 60)]);
        assert_eq!(answer(&signed("/media/a.png"), NOW), "revoked");
        assert_eq!(
            answer("/media/a.png", NOW),
            "unsigned",
            "the signature comes first"
        );
        assert_eq!(answer(&signed("/media/a.png"), NOW + 60), "ok", "ended");
        // Encoded spellings of the path are the same path.
        list(&[("/media/a.png", NOW + 60)]);
        assert_eq!(answer(&signed("/media/%61.png"), NOW), "revoked");
        list(&[]);
        assert_eq!(answer(&signed("/media/a.png"), NOW), "ok");
        // On an image host, the path on that host.
        list(&[("/p/b.png", NOW + 60)]);
        let host = f
            .preview
            .answer(Some("img.example.com"), &signed("/p/b.png"), NOW);
        assert_eq!(host.verdict(), "revoked");
    }

    #[test]
    fn protected_requests_are_verified_and_served_from_the_origin() {
        let f = fixture();
        let ok = f
            .preview
            .answer(Some("127.0.0.1:8080"), &signed("/media/a.png"), NOW);
        assert_eq!(ok.verdict(), "ok");
        assert_eq!(body(&ok), "origin copy");
        let host = f
            .preview
            .answer(Some("img.example.com"), &signed("/p/b.png"), NOW);
        assert_eq!(body(&host), "host copy");
        for (target, code) in [
            ("/media/a.png".to_owned(), "unsigned"),
            (
                signed("/media/a.png").replace("a.png", "b.png"),
                "bad_signature",
            ),
            (
                signed("/media/a.png").replace("kid=k1", "kid=k9"),
                "unknown_key",
            ),
        ] {
            let a = f.preview.answer(None, &target, NOW);
            assert_eq!((a.status(), a.verdict()), (403, code), "{target}");
        }
        let late = f
            .preview
            .answer(None, &signed("/media/a.png"), NOW + 3600 + 31);
        assert_eq!(late.verdict(), "expired");
        // The site's own files need no signature.
        assert_eq!(body(&f.preview.answer(None, "/", NOW)), "home");
        assert_eq!(body(&f.preview.answer(None, "/blog/", NOW)), "blog");
        assert_eq!(body(&f.preview.answer(None, "/style.css?v=1", NOW)), "css");
        assert_eq!(
            f.preview.answer(None, "/blog", NOW),
            Answer::Redirect("/blog/".into())
        );
        assert_eq!(f.preview.answer(None, "/nope.html", NOW), Answer::NotFound);
    }

    #[test]
    fn pretty_urls_resolve_as_static_hosts_do() {
        let f = fixture();
        fs::write(f.preview.site.join("about.html"), "about page").unwrap();
        fs::create_dir(f.preview.site.join("about")).unwrap();
        fs::write(f.preview.site.join("about/index.html"), "about folder").unwrap();
        fs::write(f.preview.site.join("notes.html"), "notes").unwrap();
        fs::write(f.preview.site.join("LICENSE"), "license").unwrap();
        let get = |t: &str| f.preview.answer(None, t, NOW);
        // The file itself, then NAME.html, then the folder (redirected to its slash).
        assert_eq!(body(&get("/LICENSE")), "license");
        assert_eq!(body(&get("/notes")), "notes");
        assert_eq!(body(&get("/notes.html")), "notes");
        assert_eq!(body(&get("/about")), "about page");
        assert_eq!(body(&get("/about/")), "about folder");
        assert_eq!(get("/blog"), Answer::Redirect("/blog/".into()));
        assert_eq!(get("/notes/"), Answer::NotFound);
        assert_eq!(get("/blog.html"), Answer::NotFound);
    }

    #[test]
    fn the_site_is_served_under_the_path_of_its_base_url() {
        let mut f = fixture();
        f.preview.base_url = Url::parse("https://www.example.com/docs/").unwrap();
        let get = |t: &str| f.preview.answer(None, t, NOW);
        assert_eq!(body(&get("/docs/")), "home");
        assert_eq!(body(&get("/docs/blog/")), "blog");
        assert_eq!(body(&get("/docs/style.css")), "css");
        assert_eq!(get("/"), Answer::Redirect("/docs/".into()));
        assert_eq!(get("/docs"), Answer::Redirect("/docs/".into()));
        assert_eq!(get("/style.css"), Answer::NotFound);
        assert_eq!(get("/documents/style.css"), Answer::NotFound);
        // Protected paths are the rules' and stay where they are: /media/ on the origin.
        assert_eq!(get(&signed("/media/a.png")).verdict(), "ok");
        assert_eq!(get("/docs/media/a.png").verdict(), "-", "not under /media/");
    }

    #[test]
    fn no_request_reaches_a_file_outside_the_site_or_origin() {
        let f = fixture();
        let secret = fs::read_to_string(&f.outside).unwrap();
        for target in [
            "/../secret.txt",
            "/blog/../../secret.txt",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/.%2e/secret.txt",
            "/blog%2f..%2f..%2fsecret.txt",
            "/..%5csecret.txt",
            "/blog/%00/index.html",
            "/leak.txt",
            "//secret.txt",
            "/media/../../secret.txt",
        ] {
            let a = f.preview.answer(None, target, NOW);
            assert!(
                matches!(
                    a,
                    Answer::BadRequest(_) | Answer::NotFound | Answer::Forbidden { .. }
                ),
                "{target}: {a:?}"
            );
            assert_ne!(body(&a), secret, "{target}");
        }
        // A verified request for a symlink out of the origin is not served either.
        let a = f.preview.answer(None, &signed("/media/leak.png"), NOW);
        assert_eq!(a, Answer::NotFound);
        // Nor is a protected file reachable unverified through an encoded prefix.
        let a = f.preview.answer(None, "/%6Dedia/a.png", NOW);
        assert_eq!((a.status(), a.verdict()), (403, "unsigned"));
    }

    #[test]
    fn a_protected_file_reached_by_another_path_is_not_served_unverified() {
        let mut f = fixture();
        // The default preview: images come from the site folder itself.
        f.preview.origin = f.preview.site.clone();
        let site = f.preview.site.clone();
        fs::create_dir_all(site.join("img.example.com/p")).unwrap();
        fs::write(site.join("img.example.com/p/b.png"), "host copy").unwrap();
        std::os::unix::fs::symlink(site.join("media"), site.join("alias")).unwrap();
        std::os::unix::fs::symlink(site.join("media/a.png"), site.join("a.png")).unwrap();
        for target in [
            "/alias/a.png",
            "/a.png",
            "/img.example.com/p/b.png",
            "/ALIAS/../alias/a.png",
        ] {
            let a = f.preview.answer(None, target, NOW);
            assert!(
                matches!(a, Answer::Forbidden { .. } | Answer::BadRequest(_)),
                "{target}: {a:?}"
            );
        }
        // By their own URLs, signed, they are served.
        assert_eq!(
            f.preview
                .answer(None, &signed("/media/a.png"), NOW)
                .verdict(),
            "ok"
        );
        let host = f
            .preview
            .answer(Some("img.example.com"), &signed("/p/b.png"), NOW);
        assert_eq!(body(&host), "host copy");
        // Unprotected files of the site are served as before.
        assert_eq!(body(&f.preview.answer(None, "/style.css", NOW)), "css");
    }

    #[test]
    fn a_folder_is_redirected_on_the_same_host() {
        let f = fixture();
        fs::create_dir_all(f.preview.site.join("evil.example")).unwrap();
        fs::create_dir_all(f.preview.site.join("a b")).unwrap();
        for (target, location) in [
            ("//evil.example", ""),
            ("///evil.example", ""),
            ("/%2Fevil.example", ""),
            ("/evil.example", "/evil.example/"),
            ("/a%20b", "/a%20b/"),
            ("/blog", "/blog/"),
        ] {
            let a = f.preview.answer(None, target, NOW);
            if location.is_empty() {
                assert!(matches!(a, Answer::BadRequest(_)), "{target}: {a:?}");
            } else {
                assert_eq!(a, Answer::Redirect(location.into()), "{target}");
            }
        }
    }

    #[test]
    fn the_protection_rules_decide_what_is_verified() {
        let mut f = fixture();
        fs::write(f.preview.site.join("media/style.css"), "css").unwrap();
        fs::write(f.preview.origin.join("media/style.css"), "css").unwrap();
        f.preview.protection =
            Protection::new(testing::prefixes(&["/media/"]), Vec::new(), &["png", "jpg"]);
        // A stylesheet in the image folder is not protected: served as a site file.
        let css = f.preview.answer(None, "/media/style.css", NOW);
        assert_eq!(
            (css.status(), css.verdict(), body(&css)),
            (200, "-", "css".into())
        );
        // An image there is, whatever the case of its extension.
        let png = f.preview.answer(None, "/media/a.PNG", NOW);
        assert_eq!((png.status(), png.verdict()), (403, "unsigned"));
        assert_eq!(
            f.preview
                .answer(None, &signed("/media/a.png"), NOW)
                .verdict(),
            "ok"
        );
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type(Path::new("a/b.PNG")), "image/png");
        assert_eq!(
            content_type(Path::new("index.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("x")), "application/octet-stream");
    }
}
