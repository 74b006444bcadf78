//! The refresh worker of `[refresh]` (spec §14, docs/client-navigation.md): one script at the
//! root of the site, `rendorix-sw.js`, that pages load with the tag this module builds and that
//! registers itself as the site's service worker. Its source is `assets/rendorix-sw.js` with the
//! site's protection rules filled in, so that it asks for signed URLs of exactly the requests
//! the edge protects. It holds no URL and no key: the signed URLs come from the pages.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::core::rules::Protection;
use crate::core::urls::MatchPrefix;
use crate::page::Refresh;
use crate::site::atomic::write_atomically_with;
use crate::site::manifest::RefreshEntry;

/// The worker's file name, at the root of the site folder.
pub const WORKER: &str = "rendorix-sw.js";

const SOURCE: &str = include_str!("assets/rendorix-sw.js");
const RULES_SLOT: &str = "/* rules */";

/// How every worker rendorix writes starts.
const HEADER: &str = "// rendorix refresh worker";

/// The worker that replaces one when `[refresh]` is turned off: browsers that installed the
/// worker check it for updates as they load the site's pages, and this one unregisters itself.
const RETIRED: &str =
    "// rendorix refresh worker, retired: [refresh] is off, and a browser that installed the worker
// replaces it with this one, which unregisters itself.
self.addEventListener('install', function () { self.skipWaiting(); });
self.addEventListener('activate', function () { self.registration.unregister(); });
";

/// Replaces a worker that an earlier run wrote into `site` with one that unregisters itself;
/// whether it did. A file of that name that rendorix did not write is left alone.
pub fn retire(site: &Path) -> io::Result<bool> {
    let path = site.join(WORKER);
    let ours = fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
        && fs::read(&path)
            .is_ok_and(|b| b.starts_with(HEADER.as_bytes()) && b != RETIRED.as_bytes());
    if ours {
        write_atomically_with(&path, |file| file.write_all(RETIRED.as_bytes()))?;
    }
    Ok(ours)
}

/// The worker of a site: its source and the tag that loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The protection rules it carries, as JSON.
    pub rules: String,
    /// The file's content.
    pub source: String,
    /// The `<script>` element pages get.
    pub tag: String,
}

#[derive(Serialize)]
struct Rules<'a> {
    #[serde(rename = "match")]
    matches: Vec<Prefix<'a>>,
    exclude: Vec<Prefix<'a>>,
    extensions: &'a [String],
}

#[derive(Serialize)]
struct Prefix<'a> {
    host: &'a str,
    port: Option<u16>,
    path: &'a str,
    /// On the site's own origin: the worker also matches it on the origin it is served from
    /// (a preview, a staging host).
    site: bool,
}

impl<'a> Prefix<'a> {
    fn of(m: &'a MatchPrefix, base_url: &Url) -> Prefix<'a> {
        Prefix {
            host: m.host(),
            port: m.port(),
            path: m.path(),
            site: Some(m.host()) == base_url.host_str() && m.port() == base_url.port(),
        }
    }
}

impl Worker {
    /// The worker of the site at `base_url` whose protection rules are `protection`.
    pub fn new(protection: &Protection, base_url: &Url) -> Worker {
        let prefix = |m| Prefix::of(m, base_url);
        let rules = Rules {
            matches: protection.matches().iter().map(prefix).collect(),
            exclude: protection.exclude().iter().map(prefix).collect(),
            extensions: protection.extensions(),
        };
        let rules = serde_json::to_string(&rules).expect("the rules serialize");
        // A serialized URL path holds no quote or angle bracket: it needs no escaping here.
        let tag = format!(
            "<script src=\"{}{WORKER}\" async data-rendorix-refresh></script>",
            base_url.path()
        );
        Worker {
            source: SOURCE.replacen(RULES_SLOT, &rules, 1),
            rules,
            tag,
        }
    }

    /// The refresh tag for pages; on every page when `every_page`.
    pub fn refresh(&self, every_page: bool) -> Refresh {
        Refresh {
            tag: self.tag.clone(),
            every_page,
        }
    }

    /// The manifest's record of this worker, given to every page when `every_page`.
    pub fn entry(&self, every_page: bool) -> RefreshEntry {
        RefreshEntry {
            worker: WORKER.to_owned(),
            sha256: hex::encode(Sha256::digest(&self.source)),
            every_page,
        }
    }

    /// Whether the site folder `site` holds this worker, as a file (not a link).
    pub fn is_in(&self, site: &Path) -> bool {
        let path = site.join(WORKER);
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && fs::read(&path).is_ok_and(|b| b == self.source.as_bytes())
    }

    /// Writes the worker into `site` atomically, unless it is there already; whether it wrote.
    pub fn write(&self, site: &Path) -> io::Result<bool> {
        if self.is_in(site) {
            return Ok(false);
        }
        write_atomically_with(&site.join(WORKER), |file| {
            file.write_all(self.source.as_bytes())
        })?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing;

    fn worker(base: &str) -> Worker {
        let base = Url::parse(base).unwrap();
        let matches = ["/media/", "https://img.example.com/p/"]
            .map(|m| MatchPrefix::parse(m, &base).unwrap())
            .to_vec();
        let exclude = testing::prefixes(&["/media/public/"]);
        Worker::new(&Protection::new(matches, exclude, &["png", "jpg"]), &base)
    }

    #[test]
    fn the_worker_carries_the_rules_and_the_tag_the_base_path() {
        let w = worker("https://www.example.com/docs/");
        assert_eq!(
            w.tag,
            r#"<script src="/docs/rendorix-sw.js" async data-rendorix-refresh></script>"#
        );
        assert!(!w.source.contains(RULES_SLOT));
        assert!(w.source.contains(
            r#"{"match":[{"host":"www.example.com","port":null,"path":"/media/","site":true},{"host":"img.example.com","port":null,"path":"/p/","site":false}],"exclude":[{"host":"www.example.com","port":null,"path":"/media/public/","site":true}],"extensions":["png","jpg"]}"#
        ), "{}", w.source);
    }

    #[test]
    fn a_worker_is_retired_once_and_another_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!retire(dir.path()).unwrap());
        worker("https://www.example.com/")
            .write(dir.path())
            .unwrap();
        assert!(retire(dir.path()).unwrap());
        let retired = fs::read_to_string(dir.path().join(WORKER)).unwrap();
        assert!(retired.contains("unregister()"), "{retired}");
        assert!(!retire(dir.path()).unwrap());
        fs::write(dir.path().join(WORKER), "// the site's own worker").unwrap();
        assert!(!retire(dir.path()).unwrap());
        assert!(SOURCE.starts_with(HEADER));
    }

    #[test]
    fn the_worker_is_written_once_and_replaces_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let w = worker("https://www.example.com/");
        assert!(w.write(dir.path()).unwrap());
        assert!(!w.write(dir.path()).unwrap());
        assert!(w.is_in(dir.path()));
        let path = dir.path().join(WORKER);
        fs::remove_file(&path).unwrap();
        let elsewhere = dir.path().join("other.js");
        fs::write(&elsewhere, &w.source).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
            assert!(!w.is_in(dir.path()));
            assert!(w.write(dir.path()).unwrap());
            assert!(fs::symlink_metadata(&path).unwrap().is_file());
        }
    }
}
