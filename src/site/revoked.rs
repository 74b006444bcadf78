//! The revocation list on disk (`revoke.dir`, spec §17) and the deny-lists written from it in
//! each edge's store format. Every file is written atomically; the list is the one `revoke`,
//! `sign` and `resign` read, the others are derived from it on every write.
//!
//! The list lives in a file of its own rather than in the manifest: `sign` starts from a freshly
//! built site and writes a new manifest, and a revocation must survive every rebuild.

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::revocation::{Revocation, Revocations};
use crate::site::atomic::write_atomically_with;

/// The list: every entry with its end.
pub const LIST: &str = "revoked.json";
/// CloudFront KeyValueStore import file (`{"data": [{"key", "value"}]}`), for a new store.
pub const CLOUDFRONT_IMPORT: &str = "cloudfront-kvs.json";
/// The same entries for `aws cloudfront-keyvaluestore update-keys --puts`, for the store the
/// function already uses.
pub const CLOUDFRONT_PUTS: &str = "cloudfront-kvs-puts.json";
/// Workers KV bulk file (`wrangler kv bulk put`).
pub const WORKERS_KV: &str = "workers-kv.json";
/// nginx `map` include.
pub const NGINX_MAP: &str = "nginx-revoked.map";
/// The CloudFront KeyValueStore holds the keys too: revocations are its `revoked:` entries.
pub const CLOUDFRONT_KEY_PREFIX: &str = "revoked:";
/// The longest path an entry may have: the stores' key limit (512 bytes) less the prefix.
pub const MAX_PATH_LEN: usize = 512 - CLOUDFRONT_KEY_PREFIX.len();

const FORMAT: &str = "rendorix-revoked";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    format: String,
    version: u32,
    revoked: Vec<Revocation>,
}

/// Why the list could not be read. The text completes "the revocation list PATH".
#[derive(Debug)]
pub enum ListError {
    /// It could not be read.
    Unreadable(io::Error),
    /// It is not a revocation list rendorix can read.
    Invalid(String),
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::Unreadable(e) => write!(f, "cannot be read ({e})"),
            ListError::Invalid(why) => write!(
                f,
                "is not a rendorix revocation list ({why}); restore it from version control, or remove it and revoke again"
            ),
        }
    }
}

impl std::error::Error for ListError {}

/// The list in `dir`; empty when there is none.
pub fn load(dir: &Path) -> Result<Revocations, ListError> {
    let bytes = match std::fs::read(dir.join(LIST)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Revocations::default()),
        Err(e) => return Err(ListError::Unreadable(e)),
    };
    let file: ListFile =
        serde_json::from_slice(&bytes).map_err(|e| ListError::Invalid(e.to_string()))?;
    if file.format != FORMAT || file.version != VERSION {
        return Err(ListError::Invalid(format!(
            "format {:?} version {}, expected {FORMAT:?} version {VERSION}",
            file.format, file.version
        )));
    }
    Ok(Revocations::new(file.revoked))
}

/// Writes the list and every store's deny-list into `dir` (created if needed); returns the
/// files written. `now` decides which Workers KV entries get an expiration (it must lie at least
/// 60 s ahead).
pub fn write(dir: &Path, list: &Revocations, now: u64) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files: [(&str, String); 5] = [
        (LIST, list_json(list)),
        (CLOUDFRONT_IMPORT, cloudfront_import(list)),
        (CLOUDFRONT_PUTS, cloudfront_puts(list)),
        (WORKERS_KV, workers_kv(list, now)),
        (NGINX_MAP, nginx_map(list)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        write_atomically_with(&path, |f| f.write_all(text.as_bytes()))?;
        written.push(path);
    }
    Ok(written)
}

/// One entry per line, so that a diff shows which paths came and went.
fn json_lines<T: Serialize>(items: impl Iterator<Item = T>) -> String {
    let lines: Vec<String> = items
        .map(|i| format!("    {}", serde_json::to_string(&i).expect("serializes")))
        .collect();
    if lines.is_empty() {
        "[]".into()
    } else {
        format!("[\n{}\n  ]", lines.join(",\n"))
    }
}

fn list_json(list: &Revocations) -> String {
    format!(
        "{{\n  \"format\": \"{FORMAT}\",\n  \"version\": {VERSION},\n  \"revoked\": {}\n}}\n",
        json_lines(list.entries())
    )
}

fn cloudfront_import(list: &Revocations) -> String {
    #[derive(Serialize)]
    struct Pair {
        key: String,
        value: String,
    }
    let pairs = list.entries().map(|e| Pair {
        key: format!("{CLOUDFRONT_KEY_PREFIX}{}", e.path),
        value: e.until.to_string(),
    });
    format!("{{\n  \"data\": {}\n}}\n", json_lines(pairs))
}

fn cloudfront_puts(list: &Revocations) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Put {
        key: String,
        value: String,
    }
    let puts = list.entries().map(|e| Put {
        key: format!("{CLOUDFRONT_KEY_PREFIX}{}", e.path),
        value: e.until.to_string(),
    });
    let mut text = json_lines(puts)
        .replace("\n  ]", "\n]")
        .replace("\n    ", "\n  ");
    text.push('\n');
    text
}

fn workers_kv(list: &Revocations, now: u64) -> String {
    #[derive(Serialize)]
    struct Pair<'a> {
        key: &'a str,
        value: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        expiration: Option<u64>,
    }
    let pairs = list.entries().map(|e| Pair {
        key: &e.path,
        value: e.until.to_string(),
        // KV drops the entry itself at its end; it refuses an expiration under 60 s away.
        expiration: (e.until >= now + 60).then_some(e.until),
    });
    let mut text = json_lines(pairs)
        .replace("\n  ]", "\n]")
        .replace("\n    ", "\n  ");
    text.push('\n');
    text
}

/// The nginx `map` include for `list`: one `"path" end;` line per entry.
pub fn nginx_map(list: &Revocations) -> String {
    let mut text = String::from(
        "# rendorix revocations: included by the map in rendorix-http.conf (`rendorix edge nginx`).\n# Written by `rendorix revoke`; apply with `nginx -s reload`.\n",
    );
    for e in list.entries() {
        let key = e.path.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(text, "\"{key}\" {};", e.until);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> Revocations {
        Revocations::new([
            Revocation {
                path: "/media/profiles/42/".into(),
                revoked_at: 1000,
                until: 5000,
            },
            Revocation {
                path: "/media/a \"b\".jpg".into(),
                revoked_at: 1000,
                until: 1030,
            },
        ])
    }

    #[test]
    fn the_list_and_the_deny_lists_are_written_and_the_list_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &list(), 1000).unwrap();
        assert_eq!(written.len(), 5);
        assert_eq!(load(dir.path()).unwrap(), list());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        let import: serde_json::Value = serde_json::from_str(&read(CLOUDFRONT_IMPORT)).unwrap();
        assert_eq!(import["data"][1]["key"], "revoked:/media/profiles/42/");
        assert_eq!(import["data"][1]["value"], "5000");
        let puts: serde_json::Value = serde_json::from_str(&read(CLOUDFRONT_PUTS)).unwrap();
        assert_eq!(puts[0]["Key"], "revoked:/media/a \"b\".jpg");
        let kv: serde_json::Value = serde_json::from_str(&read(WORKERS_KV)).unwrap();
        assert_eq!(kv[1]["expiration"], 5000);
        assert!(kv[0].get("expiration").is_none(), "less than 60 s ahead");
        assert!(read(NGINX_MAP).contains("\"/media/a \\\"b\\\".jpg\" 1030;\n"));
    }

    #[test]
    fn a_missing_list_is_empty_and_a_damaged_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).unwrap().is_empty());
        std::fs::write(dir.path().join(LIST), "{\"format\": \"x\"}").unwrap();
        assert!(
            load(dir.path())
                .unwrap_err()
                .to_string()
                .starts_with("is not a rendorix revocation list")
        );
    }
}
