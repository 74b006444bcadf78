//! `rendorix resign` and `rendorix check` over a timeline: which pages are processed and why,
//! stable URLs inside an exp window, key rotation, untrustworthy manifests, and the audit.

mod common;

use std::fs;

use common::{Site, TEST_KEY, text};
use serde_json::Value;

/// 2024-05-06T12:53:20Z. The blog's links signed then expire at E0 = T0 + 37h, rounded up to
/// the hour: 1715133600.
const T0: u64 = 1_715_000_000;
const E0: u64 = 1_715_133_600;
const HOUR: u64 = 3600;
const SECOND_KEY: &str = "k2025b:2yJd3sJQVsfcfk4GgvRpEVHrXZp5fliAzOIWa9GBwb0";

fn json(site: &Site, args: &[&str], keys: &str) -> (Option<i32>, Value) {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let out = site.run_with_keys(&args, Some(keys));
    let value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out).0));
    (out.status.code(), value)
}

fn resign_at(site: &Site, now: u64, extra: &[&str]) -> Value {
    let now = now.to_string();
    let mut args = vec!["resign", "--now", &now];
    args.extend_from_slice(extra);
    let (code, v) = json(site, &args, TEST_KEY);
    assert_eq!(code, Some(0), "{v:#}");
    v
}

fn sign_at(site: &Site, now: u64) {
    let (code, v) = json(site, &["sign", "--now", &now.to_string()], TEST_KEY);
    assert_eq!(code, Some(0), "{v:#}");
}

/// (path, reason) of every page resign processed.
fn reasons(v: &Value) -> Vec<(String, String)> {
    v["resigned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_owned(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn paths(v: &Value) -> Vec<String> {
    reasons(v).into_iter().map(|(p, _)| p).collect()
}

fn manifest(site: &Site) -> Value {
    site.manifest()
}

/// The `exp` the manifest records for the signed URLs of `page` (which has some).
fn page_exp(site: &Site, page: &str) -> u64 {
    let m = manifest(site);
    let entry = m["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"] == page)
        .unwrap()
        .clone();
    assert!(!entry["urls"].as_array().unwrap().is_empty(), "{entry}");
    entry["exp"].as_u64().unwrap()
}

/// Rewrites a page as the generator would (new content, unsigned URLs, new modification time).
fn rebuild(site: &Site, page: &str, extra: &str) {
    let original = fs::read_to_string(common::fixture("blog").join("public").join(page)).unwrap();
    fs::write(
        site.root.join("public").join(page),
        original.replace("</body>", &format!("{extra}</body>")),
    )
    .unwrap();
}

#[test]
fn resign_right_after_sign_has_nothing_to_do() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let before = site.files();
    let v = resign_at(&site, T0, &[]);
    assert_eq!(reasons(&v), Vec::<(String, String)>::new());
    assert_eq!(
        (v["pages_scanned"].as_u64(), v["pages_skipped"].as_u64()),
        (Some(0), Some(8))
    );
    let after = site.files();
    assert_eq!(
        before
            .iter()
            .filter(|(p, _)| p.starts_with("public/"))
            .collect::<Vec<_>>(),
        after
            .iter()
            .filter(|(p, _)| p.starts_with("public/"))
            .collect::<Vec<_>>()
    );
    assert_eq!(v["earliest_exp"], E0);
}

#[test]
fn one_resign_interval_later_every_signed_page_is_due() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let v = resign_at(&site, T0 + 24 * HOUR, &[]);
    let got = reasons(&v);
    assert_eq!(
        paths(&v),
        [
            "404.html",
            "css/style.css",
            "index.html",
            "index.xml",
            "posts/hello/index.html",
            "posts/tide-pools/index.html",
            "site.webmanifest"
        ]
    );
    assert!(
        got.iter()
            .all(|(_, r)| r.starts_with("due: earliest exp 2024-05-08T02:00:00Z is before")),
        "{got:?}"
    );
    assert_eq!(v["pages_skipped"], 1, "tags/index.html has no signed URL");
    let e1 = (T0 + 24 * HOUR + 37 * HOUR).div_ceil(HOUR) * HOUR;
    assert_eq!(page_exp(&site, "index.html"), e1);
    assert_eq!(
        (v["urls_changed"].as_u64(), v["urls_unchanged"].as_u64()),
        (Some(26), Some(0))
    );
    // The re-signed pages verify at the new time with the independent HMAC of the sign tests.
    let html = site.read_text("public/404.html");
    assert!(html.contains(&format!("exp={e1}&amp;kid=k2026a&amp;sig=")));
}

#[test]
fn only_the_pages_that_are_due_are_processed() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    // Five minutes later (the same exp window) the generator rebuilds one page: only it is
    // processed; the others' links still last the full lifetime.
    rebuild(&site, "404.html", "<p>moved</p>");
    let v = resign_at(&site, T0 + 5 * 60, &[]);
    assert_eq!(reasons(&v), [("404.html".to_owned(), "rebuilt".to_owned())]);
    assert_eq!(
        (v["pages_scanned"].as_u64(), v["pages_skipped"].as_u64()),
        (Some(1), Some(7))
    );
    assert_eq!(page_exp(&site, "404.html"), E0);
    // An hour later it is rebuilt again; with a short window only it is processed, with a later exp.
    rebuild(&site, "404.html", "<p>moved again</p>");
    let v = resign_at(&site, T0 + HOUR, &["--within", "1h"]);
    assert_eq!(reasons(&v), [("404.html".to_owned(), "rebuilt".to_owned())]);
    assert_eq!(
        (v["pages_scanned"].as_u64(), v["pages_skipped"].as_u64()),
        (Some(1), Some(7))
    );
    let e1 = E0 + HOUR;
    assert_eq!(page_exp(&site, "404.html"), e1);
    // With a window that ends between the two exps, the older pages are due and 404.html is not.
    let v = resign_at(&site, T0 + HOUR, &["--within", "2170m"]);
    assert_eq!(
        paths(&v),
        [
            "css/style.css",
            "index.html",
            "index.xml",
            "posts/hello/index.html",
            "posts/tide-pools/index.html",
            "site.webmanifest"
        ]
    );
    assert_eq!(page_exp(&site, "404.html"), e1);
    assert_eq!(page_exp(&site, "index.html"), e1);
}

#[test]
fn a_touched_but_unchanged_page_is_hashed_and_skipped() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let page = site.root.join("public/index.html");
    let content = fs::read(&page).unwrap();
    fs::write(&page, &content).unwrap(); // new modification time, same bytes
    let v = resign_at(&site, T0, &[]);
    assert_eq!(reasons(&v), Vec::<(String, String)>::new());
    assert_eq!(v["pages_scanned"], 0);
}

#[test]
fn new_and_deleted_pages() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    fs::remove_file(site.root.join("public/posts/hello/index.html")).unwrap();
    fs::write(
        site.root.join("public/new.html"),
        "<img src=\"/media/new.jpg\">",
    )
    .unwrap();
    let v = resign_at(&site, T0, &[]);
    assert_eq!(reasons(&v), [("new.html".to_owned(), "new".to_owned())]);
    assert_eq!(v["pages_removed"], 1);
    let m = manifest(&site);
    let listed: Vec<&str> = m["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "404.html",
            "css/style.css",
            "index.html",
            "index.xml",
            "new.html",
            "posts/tide-pools/index.html",
            "site.webmanifest",
            "tags/index.html"
        ]
    );
    assert!(
        site.read_text("public/new.html")
            .contains("/media/new.jpg?exp=")
    );
}

#[test]
fn key_rotation_resigns_every_page_with_the_new_key() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let config = site.root.join("rendorix.toml");
    fs::write(
        &config,
        fs::read_to_string(&config)
            .unwrap()
            .replace("key_id = \"k2026a\"", "key_id = \"k2025b\""),
    )
    .unwrap();
    // The old key has been removed from the environment: it is never needed again.
    let (code, v) = json(&site, &["resign", "--now", &T0.to_string()], SECOND_KEY);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(paths(&v).len(), 7);
    assert!(
        reasons(&v)
            .iter()
            .all(|(_, r)| r == "key rotated: signed with k2026a")
    );
    let m = manifest(&site);
    let kids: Vec<&Value> = (m["pages"].as_array().unwrap().iter())
        .filter(|p| !p["urls"].as_array().unwrap().is_empty())
        .map(|p| &p["kid"])
        .collect();
    assert_eq!(kids.len(), 7);
    assert!(kids.iter().all(|k| *k == "k2025b"), "{kids:?}");
    assert!(!site.read_text("public/index.html").contains("kid=k2026a"));
    // And the next run has nothing to do.
    let (_, v) = json(&site, &["resign", "--now", &T0.to_string()], SECOND_KEY);
    assert_eq!(reasons(&v), Vec::<(String, String)>::new());
}

#[test]
fn urls_stay_byte_identical_inside_one_exp_window_and_change_after_it() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let first = site.read("public/index.html");
    // Force every page due; inside the same hour the new signatures are the old ones.
    let v = resign_at(&site, T0 + 5 * 60, &["--within", "100h"]);
    assert_eq!(paths(&v).len(), 7);
    assert_eq!(
        (v["urls_changed"].as_u64(), v["urls_unchanged"].as_u64()),
        (Some(0), Some(26))
    );
    assert_eq!(v["pages_changed"], 0, "identical URLs: no page rewritten");
    assert_eq!(site.read("public/index.html"), first);
    // In the next window the URLs move.
    let v = resign_at(&site, T0 + HOUR, &["--within", "100h"]);
    assert_eq!(
        (v["urls_changed"].as_u64(), v["pages_changed"].as_u64()),
        (Some(26), Some(7))
    );
    assert_ne!(site.read("public/index.html"), first);
}

#[test]
fn an_untrustworthy_manifest_means_every_page_is_processed() {
    for (what, damage) in [
        ("does not exist", None),
        (
            "was changed by hand",
            Some((r#""exp":1715133600"#, r#""exp":9999999999"#)),
        ),
        // A page's line taken out, which would leave the page unlooked-at.
        (
            "was changed by hand",
            Some(("line", r#"    {"path":"index.html","#)),
        ),
        ("is not valid JSON", Some(("", ""))),
        // As left by an older rendorix: read once as a full re-scan, then replaced.
        (
            "has format version 4, and this rendorix reads versions 5 and 6",
            Some((r#""version": 6,"#, r#""version": 4,"#)),
        ),
        // The URL file gone, or not the one the manifest records (a run stopped between
        // writing the two).
        ("rendorix-manifest.json.urls is missing", Some(("urls", ""))),
        (
            "bytes, and the manifest records",
            Some(("urls", "{\"path\":\"x\",\"urls\":[]}\n")),
        ),
    ] {
        let site = Site::copy("blog");
        sign_at(&site, T0);
        let path = site.root.join("rendorix-manifest.json");
        match damage {
            None => fs::remove_file(&path).unwrap(),
            Some(("urls", "")) => {
                fs::remove_file(site.root.join("rendorix-manifest.json.urls")).unwrap();
            }
            Some(("urls", extra)) => {
                let urls = site.root.join("rendorix-manifest.json.urls");
                let text = fs::read_to_string(&urls).unwrap();
                fs::write(&urls, text + extra).unwrap();
            }
            Some(("", _)) => fs::write(&path, "{ truncated").unwrap(),
            Some(("line", start)) => {
                let text = fs::read_to_string(&path).unwrap();
                let kept: Vec<&str> = text
                    .split_inclusive('\n')
                    .filter(|l| !l.starts_with(start))
                    .collect();
                assert_eq!(kept.len() + 1, text.lines().count(), "{text}");
                fs::write(&path, kept.concat()).unwrap();
            }
            Some((from, to)) => {
                let text = fs::read_to_string(&path).unwrap();
                assert!(text.contains(from), "{text}");
                fs::write(&path, text.replacen(from, to, 1)).unwrap();
            }
        }
        let v = resign_at(&site, T0, &[]);
        assert!(
            v["manifest_note"].as_str().unwrap().contains(what),
            "{what}: {}",
            v["manifest_note"]
        );
        assert_eq!(paths(&v).len(), 8, "{what}");
        assert!(reasons(&v).iter().all(|(_, r)| r == "full re-scan"));
        // The rewritten manifest is trusted again.
        assert_eq!(
            reasons(&resign_at(&site, T0, &[])),
            Vec::<(String, String)>::new(),
            "{what}"
        );
    }
}

#[test]
fn a_version_5_manifest_is_read_and_written_as_version_6() {
    // fixtures/manifests/blog-v5.json: the manifest that `sign --now T0` of the blog wrote in
    // format version 5, each page's URL list in its line.
    let (old, new) = (Site::copy("blog"), Site::copy("blog"));
    sign_at(&old, T0);
    sign_at(&new, T0);
    let path = old.root.join("rendorix-manifest.json");
    fs::copy(common::fixture("manifests").join("blog-v5.json"), &path).unwrap();
    fs::remove_file(old.root.join("rendorix-manifest.json.urls")).unwrap();
    let v = resign_at(&old, T0 + 60, &[]);
    assert!(v["manifest_note"].is_null(), "{v:#}");
    assert_eq!((v["pages_skipped"].as_u64(), paths(&v).len()), (Some(8), 0));
    resign_at(&new, T0 + 60, &[]);
    for file in ["rendorix-manifest.json", "rendorix-manifest.json.urls"] {
        assert_eq!(old.read_text(file), new.read_text(file), "{file}");
    }
    assert_eq!(manifest(&old)["version"], 6);
}

#[test]
fn the_url_file_is_left_alone_when_nothing_is_due_and_checked_when_copied() {
    use std::os::unix::fs::MetadataExt;
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let urls = site.root.join("rendorix-manifest.json.urls");
    let inode = || fs::metadata(&urls).unwrap().ino();
    let first = inode();
    let lists = fs::read_to_string(&urls).unwrap();
    // Nothing due: the manifest is written again, its URL file not touched.
    assert!(paths(&resign_at(&site, T0 + 60, &[])).is_empty());
    assert_eq!(inode(), first);
    // A page rebuilt: its list is written anew, the others' copied from the old file.
    rebuild(&site, "posts/hello/index.html", "");
    assert_eq!(
        paths(&resign_at(&site, T0 + 120, &[])),
        ["posts/hello/index.html"]
    );
    assert_ne!(inode(), first);
    assert_eq!(fs::read_to_string(&urls).unwrap(), lists);
    // The old file edited by hand, its size kept: the pages due are signed, the manifest is
    // not written, and the finding says how to write both again.
    fs::write(
        &urls,
        lists.replacen("/media/lost.gif", "/media/lost.giF", 1),
    )
    .unwrap();
    rebuild(&site, "posts/hello/index.html", "<!-- again -->");
    let now = (T0 + 180).to_string();
    let (code, v) = json(&site, &["resign", "--now", &now], TEST_KEY);
    assert_eq!(code, Some(1), "{v:#}");
    let error = &v["errors"][0];
    assert_eq!(error["code"], "manifest_unwritable", "{v:#}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("rendorix-manifest.json.urls is not the one the manifest records")
            && message.contains("run `rendorix sign`"),
        "{message}"
    );
    sign_at(&site, T0 + 180);
    assert!(paths(&resign_at(&site, T0 + 240, &[])).is_empty());
}

#[test]
fn resign_work_is_proportional_to_the_pages_that_need_it() {
    let site = Site::copy("blog");
    for i in 0..200 {
        let dir = site.root.join(format!("public/gen/{i}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("index.html"),
            format!("<p>{i}</p><img src=\"/media/{i}.jpg\" srcset=\"/media/{i}@2x.jpg 2x\">"),
        )
        .unwrap();
    }
    sign_at(&site, T0);
    rebuild(&site, "index.html", "");
    fs::write(
        site.root.join("public/gen/7/index.html"),
        "<img src=\"/media/seven.jpg\">",
    )
    .unwrap();
    let v = resign_at(&site, T0 + 5 * 60, &[]);
    assert_eq!(paths(&v), ["gen/7/index.html", "index.html"]);
    assert_eq!(
        (v["pages_scanned"].as_u64(), v["pages_skipped"].as_u64()),
        (Some(2), Some(206))
    );
}

fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(p, r)| ((*p).to_owned(), (*r).to_owned()))
        .collect()
}

fn folders_listed(v: &Value) -> (u64, u64) {
    (
        v["folders_listed"].as_u64().unwrap(),
        v["folders_unchanged"].as_u64().unwrap(),
    )
}

#[test]
fn only_the_folders_that_changed_are_listed() {
    let site = Site::copy("blog");
    sign_at(&site, T0);
    // Nothing changed: no folder is listed, the pages come from the manifest.
    let v = resign_at(&site, T0 + 60, &[]);
    assert_eq!(folders_listed(&v), (0, 8));
    assert_eq!(v["pages_skipped"], 8);
    // A page added deep down changes only its folder's time; a page rebuilt in place changes
    // no folder's time, and its own time gives it away.
    let public = site.root.join("public");
    fs::write(
        public.join("posts/hello/extra.html"),
        "<img src=\"/media/x.jpg\">",
    )
    .unwrap();
    rebuild(&site, "posts/tide-pools/index.html", "<p>again</p>");
    let v = resign_at(&site, T0 + 120, &[]);
    assert_eq!(
        reasons(&v),
        owned(&[
            ("posts/hello/extra.html", "new"),
            ("posts/tide-pools/index.html", "rebuilt")
        ])
    );
    assert_eq!(folders_listed(&v), (1, 7));
    // A new subfolder, and a page deleted.
    fs::create_dir(public.join("posts/new")).unwrap();
    fs::write(
        public.join("posts/new/index.html"),
        "<img src=\"/media/n.jpg\">",
    )
    .unwrap();
    fs::remove_file(public.join("tags/index.html")).unwrap();
    let v = resign_at(&site, T0 + 180, &[]);
    assert_eq!(reasons(&v), owned(&[("posts/new/index.html", "new")]));
    assert_eq!(v["pages_removed"], 1);
    assert_eq!(folders_listed(&v), (3, 6), "posts, posts/new and tags");
    // Each run leaves every folder with the time its manifest records.
    let v = resign_at(&site, T0 + 240, &[]);
    assert_eq!((reasons(&v).len(), folders_listed(&v)), (0, (0, 9)));
    assert!(
        site.read_text("public/posts/new/index.html")
            .contains("/media/n.jpg?exp=")
    );
    // A folder removed with its pages: its parent is listed, and the pages the manifest
    // records under it are gone, not looked for.
    fs::remove_dir_all(public.join("posts/hello")).unwrap();
    let v = resign_at(&site, T0 + 300, &[]);
    assert_eq!(
        (reasons(&v).len(), v["pages_removed"].as_u64()),
        (0, Some(2))
    );
    assert_eq!(folders_listed(&v), (1, 7), "posts");
    assert_eq!(v["pages_skipped"], 7);
    let m = manifest(&site);
    let recorded = |key: &str| -> Vec<String> {
        (m[key].as_array().unwrap().iter())
            .map(|e| e["path"].as_str().unwrap().to_owned())
            .filter(|p| p.starts_with("posts/hello"))
            .collect()
    };
    assert_eq!((recorded("pages"), recorded("folders")), (vec![], vec![]));
}

#[test]
fn a_folder_whose_time_is_set_back_is_trusted_until_sign() {
    // The limit of the rule, shown: a folder given its recorded time back by hand hides a new
    // page from resign. `sign` lists every folder.
    let site = Site::copy("blog");
    sign_at(&site, T0);
    let folder = site.root.join("public/posts/hello");
    let recorded = fs::metadata(&folder).unwrap().modified().unwrap();
    fs::write(folder.join("hidden.html"), "<img src=\"/media/h.jpg\">").unwrap();
    fs::File::open(&folder)
        .unwrap()
        .set_modified(recorded)
        .unwrap();
    let v = resign_at(&site, T0 + 60, &[]);
    assert_eq!(reasons(&v), Vec::<(String, String)>::new());
    assert_eq!(folders_listed(&v), (0, 8));
    sign_at(&site, T0 + 60);
    assert!(
        site.read_text("public/posts/hello/hidden.html")
            .contains("/media/h.jpg?exp=")
    );
}

#[test]
fn folders_holding_a_failed_page_are_listed_and_reported_every_run() {
    let site = Site::copy("edge-cases");
    let now = T0.to_string();
    for args in [["sign", "--now", &now], ["resign", "--now", &now]] {
        let (code, v) = json(&site, &args, TEST_KEY);
        assert_eq!(code, Some(1), "{v:#}");
        let failed: Vec<&str> = v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["line"].is_null())
            .map(|e| e["path"].as_str().unwrap())
            .collect();
        assert!(
            failed.iter().any(|p| p.ends_with("encodings/utf-16.html")),
            "{v:#}"
        );
    }
    let m = manifest(&site);
    let times: Vec<(&str, bool)> = m["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["mtime_ns"].is_u64()))
        .collect();
    assert!(times.contains(&("encodings", false)), "{times:?}");
    assert!(times.contains(&("cases", true)), "{times:?}");
}

#[test]
fn with_a_future_now_no_folder_time_is_recorded() {
    let site = Site::copy("blog");
    let future = 4_000_000_000; // 2096: later than any clock running these tests
    sign_at(&site, future);
    let m = manifest(&site);
    assert!(
        m["folders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["mtime_ns"].is_null())
    );
    assert_eq!(folders_listed(&resign_at(&site, future, &[])), (8, 0));
}

#[test]
fn check_passes_a_fresh_site_and_fails_an_old_or_unsigned_one() {
    let site = Site::copy("blog");
    let check = |now: u64| json(&site, &["check", "--now", &now.to_string()], TEST_KEY);
    let (code, v) = check(T0);
    assert_eq!(code, Some(1), "unsigned site");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["urls_with_findings"], 26);
    assert_eq!(v["findings"][0]["code"], "not_signed");
    assert!(
        v.get("dry_run").is_none() && v.get("manifest").is_none(),
        "{v:#}"
    );
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("not signed")
    );
    sign_at(&site, T0);
    let (code, v) = check(T0);
    assert_eq!(
        (
            code,
            v["urls_valid"].as_u64(),
            v["urls_with_findings"].as_u64()
        ),
        (Some(0), Some(26), Some(0))
    );
    // 25 hours later the links outlive the page's serving window no more: findings.
    let later = T0 + 25 * HOUR;
    let (code, v) = check(later);
    assert_eq!(code, Some(1));
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("expires at 2024-05-08T02:00:00Z, before"),
        "{v:#}"
    );
    // resign fixes it.
    resign_at(&site, later, &[]);
    assert_eq!(check(later).0, Some(0));
    // After expiry, and after tampering, the findings say so.
    let expired = manifest(&site)["pages"][0]["exp"].as_u64().unwrap() + HOUR;
    assert!(
        check(expired).1["findings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("expired at")
    );
    let page = site.root.join("public/404.html");
    fs::write(
        &page,
        fs::read_to_string(&page)
            .unwrap()
            .replace("lost.gif", "found.gif"),
    )
    .unwrap();
    let (code, v) = check(later);
    assert_eq!(code, Some(1));
    assert_eq!(v["findings"][0]["path"], "public/404.html");
    assert_eq!(v["findings"][0]["code"], "bad_signature");
    assert!(
        v["findings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("bad_signature")
    );
}

#[test]
fn check_writes_nothing_and_prints_findings_with_their_place() {
    let site = Site::copy("blog");
    let before = site.files();
    let out = site.run(&["check", "--now", &T0.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(site.files(), before);
    let (stdout, stderr) = text(&out);
    // Findings go to stderr, grouped by code with their count and the first few.
    assert!(
        stderr.starts_with(
            "error: 26 findings (not_signed), the first 3:\n  public/404.html:3:35: \"/media/lost.gif\": not signed; run `rendorix resign` (or `rendorix sign`)\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("  and 23 more (-v or --format json lists every one)\n"),
        "{stderr}"
    );
    assert_eq!(
        stdout,
        "public: 8 pages checked, 0 unreadable\nURLs: 0 valid, 26 with findings, 4 not protected (not under sign.match)\nexp: no signed URL\n"
    );
    // -v lists every one; -q prints the findings and nothing else.
    let (_, verbose) = text(&site.run(&["check", "-v", "--now", &T0.to_string()]));
    assert_eq!(verbose.lines().count(), 26, "{verbose}");
    let out = site.run(&["check", "-q", "--now", &T0.to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out).0, "");
    assert_eq!(text(&out).1, stderr);
}

#[test]
fn output_stays_short_on_a_large_site() {
    let site = Site::copy("blog");
    let page = site.read_text("public/index.html");
    for i in 0..300 {
        let dir = site.root.join(format!("public/archive/{}", i % 7));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("p{i}.html")), &page).unwrap();
    }
    sign_at(&site, T0);
    // A day later every page is due: counted by reason, a few named.
    let out = site.run(&["resign", "--now", &(T0 + 25 * HOUR).to_string()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("re-signed 307 pages: 307 due\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  and 304 more\n"), "{stdout}");
    assert!(
        stdout.contains("public: 307 pages scanned, 307 changed"),
        "{stdout}"
    );
    assert!(stdout.lines().count() <= 15, "{stdout}");
    let out = site.run(&["resign", "-v", "--now", &(T0 + 50 * HOUR).to_string()]);
    assert!(text(&out).0.lines().count() > 307);
    // Long after, every URL has expired: the findings are one group, on stderr.
    let out = site.run(&["check", "--now", "2027-07-01T00:00:00Z"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("error: 3,026 findings (expired), the first 3:\n"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
    assert!(
        stdout.contains("exp: no valid signed URL; 3,026 signed URLs have expired"),
        "{stdout}"
    );
}
