//! The manifest of a run (SPEC §7): every page with its hash and earliest `exp`, and every
//! signed URL. It lets a later run find the pages that need work without parsing the others.
//!
//! It is deterministic (fields in a fixed order, pages sorted by path, URLs in page order): two
//! runs over the same input with the same `--now` write the same bytes. It holds no secret.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::walk::PageReport;

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
}

/// One page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageEntry {
    /// Path relative to the site folder, with `/` separators.
    pub path: String,
    /// SHA-256 of the file as written (hex).
    pub sha256: String,
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

impl Manifest {
    /// The manifest of a sign run from its page reports. Failed pages are left out, so that a
    /// later run treats them as new.
    pub fn from_reports(
        reports: &[PageReport],
        now: u64,
        kid: &str,
        exp: u64,
        base_url: &str,
    ) -> Manifest {
        let mut pages: Vec<PageEntry> = reports
            .iter()
            .filter_map(|r| {
                let done = r.result.as_ref().ok()?;
                let urls: Vec<UrlEntry> = done
                    .scan
                    .signed
                    .iter()
                    .map(|s| UrlEntry {
                        original: s.original.clone(),
                        target: s.target.clone(),
                        exp,
                        kid: kid.to_owned(),
                    })
                    .collect();
                Some(PageEntry {
                    path: slash_path(&r.page.rel),
                    sha256: done.sha256.clone(),
                    earliest_exp: urls.iter().map(|u| u.exp).min(),
                    urls,
                })
            })
            .collect();
        pages.sort_by(|a, b| a.path.cmp(&b.path));
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: now,
            kid: kid.to_owned(),
            base_url: base_url.to_owned(),
            pages,
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest serializes");
        s.push('\n');
        s
    }

    /// Writes the manifest atomically.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::walk::write_file_atomically(path, self.to_json().as_bytes())
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

    #[test]
    fn round_trips_and_keeps_field_order() {
        let m = Manifest {
            format: FORMAT.into(),
            version: VERSION,
            generated_at: 5,
            kid: "k".into(),
            base_url: "https://x.org/".into(),
            pages: vec![PageEntry {
                path: "a/b.html".into(),
                sha256: "00".into(),
                earliest_exp: Some(9),
                urls: vec![UrlEntry {
                    original: "/m/a.jpg".into(),
                    target: "/m/a.jpg".into(),
                    exp: 9,
                    kid: "k".into(),
                }],
            }],
        };
        let json = m.to_json();
        assert!(json.find("\"format\"").unwrap() < json.find("\"pages\"").unwrap());
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }

    #[test]
    fn slash_paths() {
        assert_eq!(slash_path(Path::new("a/b/c.html")), "a/b/c.html");
    }
}
