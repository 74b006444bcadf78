//! The manifest of a run (SPEC §7): every page with its hash and earliest `exp`, and every
//! signed URL. It lets a later run find the pages that need work without parsing the others.
//!
//! It is deterministic (fields in a fixed order, pages sorted by path, URLs in page order): two
//! runs over the same input with the same `--now` write the same bytes. It holds no secret.
//!
//! Each page's size and modification time let a later run trust the recorded hash without reading
//! the page, as git's index does; rendorix sets the modification time of every page it rewrites
//! to the run's `now`, so these fields are deterministic too. A checksum over the content detects
//! hand edits, which could otherwise make `resign` skip a page that needs work.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::walk::{PageReport, hex};

/// Value of the `format` field.
pub const FORMAT: &str = "rendorix-manifest";
/// Value of the `version` field.
pub const VERSION: u32 = 1;

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version, [`VERSION`].
    pub version: u32,
    /// `now` of the run, Unix seconds.
    pub generated_at: u64,
    /// The id of the key that signed.
    pub kid: String,
    /// The site's `base_url`.
    pub base_url: String,
    /// Every page processed, sorted by path.
    pub pages: Vec<PageEntry>,
    /// SHA-256 (hex) of this manifest as written with an empty checksum.
    pub checksum: String,
}

/// One page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageEntry {
    /// Path relative to the site folder, with `/` separators.
    pub path: String,
    /// SHA-256 of the file as written (hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// The earliest `exp` of its signed URLs; `null` when it has none.
    pub earliest_exp: Option<u64>,
    /// Its signed URLs, in page order.
    pub urls: Vec<UrlEntry>,
}

/// One signed URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlEntry {
    /// The reference as found, character references decoded, without signature.
    pub original: String,
    /// The resolved request target that was signed, without the `exp`/`kid`/`sig` triple.
    pub target: String,
    /// Its `exp`.
    pub exp: u64,
    /// The key that signed it.
    pub kid: String,
}

impl PageEntry {
    /// The entry of a processed page; `None` for a page that failed (left out, so that a later
    /// run treats it as new).
    pub fn from_report(report: &PageReport) -> Option<PageEntry> {
        let done = report.result.as_ref().ok()?;
        let urls: Vec<UrlEntry> = done
            .scan
            .signed
            .iter()
            .map(|s| UrlEntry {
                original: s.original.clone(),
                target: s.target.clone(),
                exp: s.exp,
                kid: s.kid.clone(),
            })
            .collect();
        Some(PageEntry {
            path: slash_path(&report.page.rel),
            sha256: done.sha256.clone(),
            size: done.size,
            mtime_ns: done.mtime_ns,
            earliest_exp: urls.iter().map(|u| u.exp).min(),
            urls,
        })
    }
}

impl Manifest {
    /// A manifest of `pages` (sorted here) for a run at `now` signing with `kid`.
    pub fn new(now: u64, kid: &str, base_url: &str, mut pages: Vec<PageEntry>) -> Manifest {
        pages.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: now,
            kid: kid.to_owned(),
            base_url: base_url.to_owned(),
            pages,
            checksum: String::new(),
        }
    }

    fn content_checksum(&self) -> String {
        let unsummed = Manifest {
            checksum: String::new(),
            ..self.clone()
        };
        hex(&Sha256::digest(
            serde_json::to_string_pretty(&unsummed).expect("a manifest serializes"),
        ))
    }

    /// Pretty JSON with its checksum and a final newline.
    pub fn to_json(&self) -> String {
        let summed = Manifest {
            checksum: self.content_checksum(),
            ..self.clone()
        };
        serde_json::to_string_pretty(&summed).expect("a manifest serializes") + "\n"
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::walk::write_file_atomically(path, self.to_json().as_bytes())
    }

    /// Reads the manifest at `path`: `Ok(None)` when there is none; otherwise an error that says
    /// why it cannot be trusted (unreadable, not a manifest, another version, edited by hand).
    pub fn load(path: &Path) -> Result<Option<Manifest>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot be read ({e})")),
        };
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("is not valid JSON ({e})"))?;
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err("is not a rendorix manifest".into());
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            other => {
                let found = other.map_or_else(|| "no".to_owned(), |v| v.to_string());
                return Err(format!(
                    "has format version {found}, and this rendorix reads version {VERSION}"
                ));
            }
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| format!("does not have the expected fields ({e})"))?;
        if manifest.checksum != manifest.content_checksum() {
            return Err("was changed by hand (its checksum does not match its content)".into());
        }
        Ok(Some(manifest))
    }
}

/// A relative path with `/` separators, whatever the platform.
pub fn slash_path(rel: &Path) -> String {
    rel.iter()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest::new(
            5,
            "k",
            "https://x.org/",
            vec![PageEntry {
                path: "a/b.html".into(),
                sha256: "00".into(),
                size: 3,
                mtime_ns: 7,
                earliest_exp: Some(9),
                urls: vec![UrlEntry {
                    original: "/m/a.jpg".into(),
                    target: "/m/a.jpg".into(),
                    exp: 9,
                    kid: "k".into(),
                }],
            }],
        )
    }

    #[test]
    fn round_trips_with_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let m = sample();
        m.write(&path).unwrap();
        let json = std::fs::read_to_string(&path).unwrap();
        assert!(json.find("\"format\"").unwrap() < json.find("\"pages\"").unwrap());
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(
            Manifest {
                checksum: String::new(),
                ..back
            },
            m
        );
    }

    #[test]
    fn untrustworthy_manifests_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        assert_eq!(Manifest::load(&path), Ok(None));
        let cases = [
            ("{", "is not valid JSON"),
            ("{\"format\": \"other\"}", "is not a rendorix manifest"),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 2}",
                "has format version 2",
            ),
            (
                "{\"format\": \"rendorix-manifest\", \"version\": 1}",
                "does not have the expected fields",
            ),
        ];
        for (text, why) in cases {
            std::fs::write(&path, text).unwrap();
            assert!(
                Manifest::load(&path).unwrap_err().starts_with(why),
                "{text}"
            );
        }
        sample().write(&path).unwrap();
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"earliest_exp\": 9", "\"earliest_exp\": 99");
        std::fs::write(&path, edited).unwrap();
        assert!(
            Manifest::load(&path)
                .unwrap_err()
                .contains("changed by hand")
        );
    }

    #[test]
    fn slash_paths() {
        assert_eq!(slash_path(Path::new("a/b/c.html")), "a/b/c.html");
    }
}
