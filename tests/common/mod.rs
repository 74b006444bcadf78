//! Helpers shared by the integration tests: fixture copies, running the binary, reading pages.

#![allow(dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The published test key (fixtures/test-key): `kid:secret`.
pub const TEST_KEY: &str = "k2026a:Xg8oy-8vpFIGYho_tHGU6TkHcWpfgC5OELOzA-zsGjg";
/// The secret of [`TEST_KEY`].
pub const TEST_SECRET: &str = "Xg8oy-8vpFIGYho_tHGU6TkHcWpfgC5OELOzA-zsGjg";
/// `--now` of every test run: 2024-05-06T12:53:20Z.
pub const NOW: &str = "1715000000";
/// Modification time given to every copied fixture file, as if a generator wrote it then.
pub const GENERATED_AT: u64 = 1_714_990_000;

/// A fixture copied into a temporary folder.
pub struct Site {
    _dir: tempfile::TempDir,
    /// The copy's root (holds rendorix.toml).
    pub root: PathBuf,
}

impl Site {
    /// Copies `fixtures/<name>`.
    pub fn copy(name: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(name);
        copy_dir(&fixture(name), &root);
        Site { _dir: dir, root }
    }

    /// Runs `rendorix <args>` in the copy's root with the test key.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_keys(args, Some(TEST_KEY))
    }

    /// Runs `rendorix <args>` in the copy's root with `RENDORIX_KEYS` set to `keys` (or unset).
    pub fn run_with_keys(&self, args: &[&str], keys: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rendorix"));
        cmd.args(args)
            .current_dir(&self.root)
            .env_remove("RENDORIX_KEYS");
        if let Some(k) = keys {
            cmd.env("RENDORIX_KEYS", k);
        }
        cmd.output().unwrap()
    }

    /// `rendorix sign --now NOW` plus `extra` arguments.
    pub fn sign(&self, extra: &[&str]) -> Output {
        let mut args = vec!["sign", "--now", NOW];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Every file under the copy's root, relative path to bytes, sorted.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        files_under(&self.root)
    }

    /// A file of the copy.
    pub fn read(&self, rel: &str) -> Vec<u8> {
        fs::read(self.root.join(rel)).unwrap()
    }

    /// A file of the copy, as UTF-8 text.
    pub fn read_text(&self, rel: &str) -> String {
        String::from_utf8(self.read(rel)).unwrap()
    }

    /// The manifest (`rendorix-manifest.json`) as JSON, each page with its `urls` from the URL
    /// file beside it, whose lines are in the same order and name the same pages.
    pub fn manifest(&self) -> serde_json::Value {
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&self.read("rendorix-manifest.json")).unwrap();
        let urls = self.read_text("rendorix-manifest.json.urls");
        let pages = manifest["pages"].as_array_mut().unwrap();
        assert_eq!(urls.lines().count(), pages.len());
        for (page, line) in pages.iter_mut().zip(urls.lines()) {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(line["path"], page["path"]);
            page["urls"] = line["urls"].clone();
        }
        manifest
    }
}

/// `fixtures/<name>` in the repository.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Every file under `root`, as (relative path with '/', bytes), sorted by path.
pub fn files_under(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry.path().strip_prefix(root).unwrap();
            let rel = rel
                .iter()
                .map(|p| p.to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, fs::read(entry.path()).unwrap()));
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), &dest).unwrap();
            // Pages the generator wrote keep their time in the manifest: make it the same on
            // every machine and checkout.
            let built = std::time::UNIX_EPOCH + std::time::Duration::from_secs(GENERATED_AT);
            fs::File::options()
                .write(true)
                .open(&dest)
                .unwrap()
                .set_modified(built)
                .unwrap();
        }
    }
}

/// stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `page` without the refresh tag of a site served at the root.
pub fn strip_refresh(page: &[u8]) -> Vec<u8> {
    const TAG: &[u8] = br#"<script src="/rendorix-sw.js" async data-rendorix-refresh></script>"#;
    let mut out = Vec::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.windows(TAG.len()).position(|w| w == TAG) {
        out.extend_from_slice(&rest[..at]);
        rest = &rest[at + TAG.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// Removes every signature triple (`?exp=…&amp;kid=…&amp;sig=…` or `&amp;exp=…` in HTML,
/// `?exp=…&kid=…&sig=…` or `&exp=…` in CSS) from a file's bytes: what is left must be the file
/// as it was before signing.
pub fn strip_signatures(page: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(page.len());
    let mut i = 0;
    while i < page.len() {
        let rest = &page[i..];
        let sep = [
            (&b"&amp;amp;exp="[..], 9),
            (b"&amp;exp=", 5),
            (b"?exp=", 1),
            (b"&exp=", 1),
        ]
        .iter()
        .find(|(p, _)| rest.starts_with(p))
        .map_or(0, |(_, n)| *n);
        if sep > 0
            && let Some(len) = triple_len(&rest[sep..])
        {
            // "?exp=…" after a query of its own cannot occur; keep '?' only when a query follows.
            i += sep + len;
            continue;
        }
        out.push(page[i]);
        i += 1;
    }
    out
}

// Length of "exp=<digits>&amp;kid=<kid>&amp;sig=<43>" (or with '&amp;amp;' or a bare '&') at
// the start of `s`.
fn triple_len(s: &[u8]) -> Option<usize> {
    let mut i = 4; // "exp="
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    i += digits;
    // HTML and XML escape the '&', HTML carried as XML text twice; CSS and JSON do not.
    let amp: &[u8] = [&b"&amp;amp;"[..], b"&amp;", b"&"]
        .into_iter()
        .find(|a| s[i..].starts_with(a))?;
    let sep = |name: &str| [amp, name.as_bytes()].concat();
    i += s[i..].starts_with(&sep("kid=")).then_some(amp.len() + 4)?;
    let kid = s[i..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count();
    i += kid;
    i += s[i..].starts_with(&sep("sig=")).then_some(amp.len() + 4)?;
    let sig = s[i..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-')
        .count();
    (sig == 43).then_some(i + 43)
}
