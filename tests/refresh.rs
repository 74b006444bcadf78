//! `[refresh]` over whole runs: the worker and the tags that `sign` writes, what `resign` and
//! `check` do with them, and turning refresh off. (Their behaviour in a browser:
//! `tests/browser/`.)

mod common;

use std::fs;

use common::{NOW, Site, text};
use serde_json::Value;
use sha2::{Digest, Sha256};

const TAG: &str = r#"<script src="/rendorix-sw.js" async data-rendorix-refresh></script>"#;
const PAGES: [&str; 3] = ["site/index.html", "site/guide.html", "site/404.html"];

fn vitepress() -> Site {
    let site = Site::copy("generators/vitepress");
    let out = site.run(&["sign", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    site
}

fn manifest(site: &Site) -> Value {
    site.manifest()
}

fn set_refresh(site: &Site, on: bool) {
    let path = site.root.join("rendorix.toml");
    let config = fs::read_to_string(&path).unwrap();
    let (from, to) = if on {
        ("enabled = false", "enabled = true")
    } else {
        ("enabled = true", "enabled = false")
    };
    assert!(config.contains(from), "{config}");
    fs::write(&path, config.replace(from, to)).unwrap();
}

#[test]
fn sign_writes_the_worker_and_one_tag_per_page_and_a_second_run_changes_nothing() {
    let site = vitepress();
    let worker = site.read("site/rendorix-sw.js");
    assert!(worker.starts_with(b"// rendorix refresh worker"));
    // The site's scripts render protected images: every page gets the tag, at the end of its head.
    for page in PAGES {
        let html = site.read_text(page);
        assert_eq!(html.matches("data-rendorix-refresh").count(), 1, "{page}");
        assert!(html.contains(&format!("{TAG}</head>")), "{page}");
    }
    let refresh = &manifest(&site)["refresh"];
    assert_eq!(refresh["worker"], "rendorix-sw.js");
    assert_eq!(refresh["every_page"], true);
    assert_eq!(refresh["sha256"], hex::encode(Sha256::digest(&worker)));
    let before = site.files();
    site.run(&["sign", "--now", NOW]);
    assert_eq!(site.files(), before);
}

#[test]
fn without_scripts_that_render_images_only_pages_with_signed_urls_get_the_tag() {
    let site = Site::copy("blog");
    let path = site.root.join("rendorix.toml");
    let config = fs::read_to_string(&path).unwrap();
    fs::write(&path, format!("{config}\n[refresh]\nenabled = true\n")).unwrap();
    site.run(&["sign", "--now", NOW]);
    assert!(site.read_text("public/index.html").contains(TAG));
    assert!(!site.read_text("public/tags/index.html").contains("<script"));
    assert_eq!(manifest(&site)["refresh"]["every_page"], false);
}

#[test]
fn resign_puts_back_a_deleted_worker_and_leaves_the_pages() {
    let site = vitepress();
    let worker = site.read("site/rendorix-sw.js");
    let pages: Vec<Vec<u8>> = PAGES.iter().map(|p| site.read(p)).collect();
    fs::remove_file(site.root.join("site/rendorix-sw.js")).unwrap();
    let out = site.run(&["resign", "--now", NOW, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resigned"], Value::Array(Vec::new()), "{v:#}");
    assert_eq!(site.read("site/rendorix-sw.js"), worker);
    assert_eq!(PAGES.map(|p| site.read(p)).to_vec(), pages);
}

#[test]
fn resign_counts_a_reference_as_recovered_when_a_kept_page_publishes_it_signed() {
    let site = vitepress();
    // index.html rebuilt with a script that names the photo only guide.html shows, signed.
    let fixture = common::fixture("generators/vitepress").join("site/index.html");
    let script = r#"<script>const photo = "/assets/photo.BbyGaaUm.jpg";</script></body>"#;
    let rebuilt = fs::read_to_string(fixture)
        .unwrap()
        .replace("</body>", script);
    fs::write(site.root.join("site/index.html"), rebuilt).unwrap();
    let out = site.run(&["resign", "--now", NOW, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let resigned: Vec<&Value> = (v["resigned"].as_array().unwrap().iter())
        .map(|r| &r["path"])
        .collect();
    assert_eq!(resigned, ["index.html"], "{v:#}");
    // guide.html was kept: its URL list, in the manifest's URL file, says the photo is
    // published signed, so the refresh worker loads it.
    assert!(v["unsigned_references"].as_u64().unwrap() >= 1, "{v:#}");
    assert_eq!(v["unsigned_recovered"], v["unsigned_references"], "{v:#}");
}

#[test]
fn turning_refresh_off_removes_the_tags_and_retires_the_worker() {
    let site = vitepress();
    set_refresh(&site, false);
    let out = site.run(&["resign", "--now", NOW, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let note = v["manifest_note"].as_str().unwrap();
    assert!(note.contains("was written with [refresh] on"), "{note}");
    for page in PAGES {
        assert!(
            !site
                .read_text(page)
                .contains("<script src=\"/rendorix-sw.js\""),
            "{page}"
        );
    }
    // Browsers that installed the worker replace it with one that unregisters itself.
    assert!(
        site.read_text("site/rendorix-sw.js")
            .contains("unregister()")
    );
    assert_eq!(manifest(&site)["refresh"], Value::Null);
    // And on again: the worker and the tags are back.
    set_refresh(&site, true);
    site.run(&["resign", "--now", NOW]);
    assert!(site.read_text("site/index.html").contains(TAG));
    assert!(
        !site
            .read_text("site/rendorix-sw.js")
            .contains("unregister()")
    );
}

#[test]
fn check_reports_a_missing_worker_and_a_page_without_the_tag() {
    let site = vitepress();
    let check = || site.run(&["check", "--now", NOW]);
    assert_eq!(check().status.code(), Some(0), "{:?}", text(&check()));
    fs::remove_file(site.root.join("site/rendorix-sw.js")).unwrap();
    let index = site.root.join("site/index.html");
    fs::write(&index, site.read_text("site/index.html").replace(TAG, "")).unwrap();
    let out = check();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rendorix-sw.js: the refresh worker is missing or out of date"),
        "{stderr}"
    );
    assert!(
        stderr.contains("index.html: the page lacks the refresh tag"),
        "{stderr}"
    );
}

#[test]
fn a_service_worker_of_the_site_s_own_is_warned_about() {
    let site = vitepress();
    fs::write(
        site.root.join("site/assets/pwa.js"),
        "// the site's own\nif ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js');\n",
    )
    .unwrap();
    let out = site.run(&["sign", "--now", NOW]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("assets/pwa.js:2:45: the site registers a service worker of its own"),
        "{stderr}"
    );
}

#[test]
fn a_protected_worker_url_is_a_config_error_and_nothing_is_written() {
    let site = Site::copy("generators/vitepress");
    // Every path protected, whatever its extension: the worker's too.
    let config = "[site]\nbase_url = \"https://docs.example.dev/\"\ndir = \"site\"\n\
                  [sign]\nmatch = [\"/\"]\nkey_id = \"k2026a\"\n[refresh]\nenabled = true\n";
    fs::write(site.root.join("rendorix.toml"), config).unwrap();
    let before = site.files();
    let out = site.run(&["sign", "--now", NOW]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("https://docs.example.dev/rendorix-sw.js is protected by sign.match"),
        "{stderr}"
    );
    assert_eq!(site.files(), before);
}

/// A protected icon that the router's data names unsigned (Next.js renders the icon link again
/// from its RSC payload) is a warning: browsers fetch icons past the worker. Excluded, as the
/// fixture's config has it, it is not.
#[test]
fn an_icon_that_scripts_name_unsigned_is_warned_about() {
    let site = Site::copy("generators/nextjs");
    let out = site.run(&["sign", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !text(&out).1.contains("icon_in_scripts"),
        "{:?}",
        text(&out)
    );
    let site = Site::copy("generators/nextjs");
    let config = site.root.join("rendorix.toml");
    let text_before = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text_before.replace("exclude = [\"/icons/favicon.png\"]\n", ""),
    )
    .unwrap();
    let out = site.run(&["sign", "--now", NOW]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "a warning: {stderr}");
    assert!(
        stderr.starts_with("warning: 10 findings (icon_in_scripts), the first 3:\n")
            && stderr
                .contains("\"/icons/favicon.png\": an icon that scripts or data name unsigned"),
        "{stderr}"
    );
    let out = site.run(&["check", "--now", NOW, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["warnings"][0]["code"], "icon_in_scripts", "{v:#}");
}
