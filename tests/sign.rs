//! `rendorix sign` over the fixture sites: rewritten pages and manifests (snapshots), the
//! summary, exit statuses, idempotence, byte preservation and independent re-verification.

mod common;

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE_NO_PAD, URL_SAFE_NO_PAD_INDIFFERENT};
use common::{NOW, Site, TEST_SECRET, files_under, fixture, strip_signatures, text};
use hmac::{Hmac, KeyInit, Mac};
use rendorix::site::manifest::Manifest;
use sha2::{Digest, Sha256};

/// Snapshots every page and stylesheet of a signed fixture (decoded from its encoding), and the
/// manifest.
fn snapshot_site(name: &str, site_dir: &str) {
    let site = Site::copy(name);
    let out = site.sign(&[]);
    let (stdout, stderr) = text(&out);
    insta::assert_snapshot!(
        format!("{name}__summary"),
        format!(
            "exit: {:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            out.status.code()
        )
    );
    for (rel, bytes) in site.files() {
        if let Some(page) = rel
            .strip_prefix(&format!("{site_dir}/"))
            .filter(|r| rendorix::site::is_signed(std::path::Path::new(r)))
        {
            let encoding = match rendorix::core::charset::detect(&bytes) {
                rendorix::core::charset::Charset::Supported(e)
                | rendorix::core::charset::Charset::Unsupported(e) => e,
            };
            let (decoded, _, _) = encoding.decode(&bytes);
            insta::assert_snapshot!(format!("{name}__{}", page.replace('/', "__")), decoded);
        }
    }
    insta::assert_snapshot!(
        format!("{name}__manifest"),
        site.read_text("rendorix-manifest.json")
    );
    insta::assert_snapshot!(
        format!("{name}__urls"),
        site.read_text("rendorix-manifest.json.urls")
    );
}

#[test]
fn blog_is_signed_as_snapshotted() {
    snapshot_site("blog", "public");
}

#[test]
fn gallery_is_signed_as_snapshotted() {
    snapshot_site("gallery", "dist");
}

#[test]
fn edge_cases_are_signed_as_snapshotted() {
    snapshot_site("edge-cases", "site");
}

/// Paths whose bytes differ between two listings of the same site.
fn differing(a: &[(String, Vec<u8>)], b: &[(String, Vec<u8>)]) -> Vec<String> {
    let b: BTreeMap<_, _> = b.iter().map(|(p, c)| (p, c)).collect();
    a.iter()
        .filter(|(p, c)| b.get(p) != Some(&c))
        .map(|(p, _)| p.clone())
        .collect()
}

#[test]
fn signing_twice_equals_signing_once() {
    for name in ["blog", "gallery", "edge-cases"] {
        let site = Site::copy(name);
        site.sign(&[]);
        let once = site.files();
        site.sign(&[]);
        assert_eq!(
            differing(&site.files(), &once),
            Vec::<String>::new(),
            "{name}: a second run changed something"
        );
        // A later run inside the same exp_granularity window writes the same pages; only the
        // manifest's generated_at moves.
        site.run(&["sign", "--now", "1715000100"]);
        assert_eq!(
            differing(&site.files(), &once),
            ["rendorix-manifest.json"],
            "{name}: a run in the same hour"
        );
    }
}

#[test]
fn a_run_in_the_next_window_moves_exp_only() {
    let site = Site::copy("blog");
    site.sign(&[]);
    let first = site.read("public/index.html");
    site.run(&["sign", "--now", "1715004000"]);
    let second = site.read("public/index.html");
    assert_ne!(first, second);
    assert_eq!(strip_signatures(&first), strip_signatures(&second));
    assert!(
        String::from_utf8(second)
            .unwrap()
            .contains("exp=1715137200&amp;")
    );
}

#[test]
fn bytes_outside_signatures_are_unchanged() {
    // These fixtures write '&' as "&amp;" and quote every value, so removing the appended
    // triples must give back the original bytes exactly, legacy encodings included.
    for (name, dir) in [
        ("blog", "public"),
        ("gallery", "dist"),
        ("edge-cases", "site/encodings"),
    ] {
        let site = Site::copy(name);
        site.sign(&[]);
        let before = files_under(&fixture(name).join(dir));
        let after = files_under(&site.root.join(dir));
        assert_eq!(before.len(), after.len());
        let mut changed = 0;
        for ((rel, old), (rel2, new)) in before.iter().zip(&after) {
            assert_eq!(rel, rel2);
            assert_eq!(
                String::from_utf8_lossy(&strip_signatures(new)),
                String::from_utf8_lossy(old),
                "{name}/{rel}"
            );
            changed += usize::from(old != new);
        }
        assert!(changed > 0, "{name}: nothing was signed");
    }
}

#[test]
fn files_rendorix_does_not_sign_in_are_never_touched() {
    let site = Site::copy("blog");
    site.sign(&[]);
    for rel in [
        "public/js/site.js",
        "public/images/logo.svg",
        "public/tags/index.html",
    ] {
        assert_eq!(
            site.read(rel),
            std::fs::read(fixture("blog").join(rel)).unwrap(),
            "{rel}"
        );
    }
}

#[test]
fn unsupported_pages_are_left_unchanged_and_others_signed() {
    let site = Site::copy("edge-cases");
    let out = site.sign(&[]);
    assert_eq!(out.status.code(), Some(1));
    let original = std::fs::read(fixture("edge-cases").join("site/encodings/utf-16.html")).unwrap();
    assert_eq!(site.read("site/encodings/utf-16.html"), original);
    assert!(
        site.read_text("site/cases/problems.html")
            .contains("/media/good.jpg?exp=")
    );
}

/// Recomputes every signature in the manifest and in the pages with the hmac crate directly,
/// from the spec §3 message, without any of rendorix's signing code.
#[test]
fn every_signed_url_verifies_with_an_independent_hmac() {
    let secret = URL_SAFE_NO_PAD_INDIFFERENT.decode(TEST_SECRET).unwrap();
    for name in ["blog", "gallery", "edge-cases"] {
        let site = Site::copy(name);
        site.sign(&[]);
        let manifest = Manifest::load(&site.root.join("rendorix-manifest.json"))
            .unwrap()
            .unwrap();
        let mut checked = 0;
        for page in &manifest.pages {
            let dir = toml::from_str::<toml::Table>(
                &site.read_text("rendorix.toml"),
            )
            .unwrap()["site"]["dir"]
                .as_str()
                .unwrap()
                .to_owned();
            let bytes = site.read(&format!("{dir}/{}", page.path));
            assert_eq!(
                hex::encode(Sha256::digest(&bytes)),
                page.sha256,
                "{name}/{}: manifest hash",
                page.path
            );
            let html = String::from_utf8_lossy(&bytes);
            for url in &page.url_entries().unwrap() {
                let sep = if url.target.contains('?') { '&' } else { '?' };
                let message = format!("{}{sep}exp={}&kid={}", url.target, url.exp, url.kid);
                let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
                mac.update(message.as_bytes());
                let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
                // HTML attributes and XML escape the '&', HTML carried as XML text twice; CSS
                // (a stylesheet, a <style>) and JSON do not.
                let triple =
                    |amp: &str| format!("exp={}{amp}kid={}{amp}sig={sig}", url.exp, url.kid);
                let written = triple("&amp;");
                assert!(
                    ["&amp;", "&amp;amp;", "&"]
                        .iter()
                        .any(|amp| html.contains(&triple(amp))),
                    "{name}/{}: no {written} for {}",
                    page.path,
                    url.original
                );
                checked += 1;
            }
        }
        assert!(checked >= 10, "{name}: only {checked} URLs");
    }
}

#[test]
fn manifests_are_deterministic() {
    let a = Site::copy("gallery");
    let b = Site::copy("gallery");
    a.sign(&["--jobs", "1"]);
    b.sign(&["--jobs", "2"]);
    assert_eq!(
        a.read("rendorix-manifest.json"),
        b.read("rendorix-manifest.json")
    );
    assert_eq!(differing(&a.files(), &b.files()), Vec::<String>::new());
}

#[test]
fn dry_run_writes_nothing() {
    let site = Site::copy("blog");
    let before = site.files();
    let out = site.sign(&["--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(site.files(), before);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("8 pages scanned, 7 would change, 0 failed"),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: no file written"), "{stdout}");
}

#[test]
fn json_summary_has_every_figure() {
    let site = Site::copy("edge-cases");
    let out = site.sign(&["--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: BTreeMap<&str, &serde_json::Value> = summary
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    assert_eq!(keys["pages_scanned"], 15);
    assert_eq!(keys["pages_failed"], 2);
    assert_eq!(keys["urls_failed"], 4);
    assert_eq!(keys["earliest_exp"], 1_715_133_600);
    assert_eq!(keys["latest_exp_utc"], "2024-05-08T02:00:00Z");
    assert_eq!(
        keys["longest_link_lifetime_secs"],
        1_715_133_600 - NOW.parse::<u64>().unwrap()
    );
    assert_eq!(keys["unsigned_references"], 3);
    let errors = keys["errors"].as_array().unwrap();
    // Four URLs that could not be signed, two files that failed, three unsigned references.
    assert_eq!(errors.len(), 9);
    assert_eq!(errors[0]["path"], "site/cases/problems.html");
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(5), Some(11))
    );
}

#[test]
fn site_dir_argument_overrides_the_config() {
    let site = Site::copy("blog");
    std::fs::rename(site.root.join("public"), site.root.join("elsewhere")).unwrap();
    let out = site.sign(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("public: no such folder"),
        "{}",
        text(&out).1
    );
    let out = site.sign(&["elsewhere"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(site.read_text("elsewhere/404.html").contains("?exp="));
}

/// One documented shape per command (docs/json.md): sign, resign (with its own fields) and
/// check (valid URLs and findings, no signing fields), each with `schema_version` and a code
/// on every finding.
#[test]
fn json_summaries_keep_their_documented_shape() {
    let site = Site::copy("blog");
    let json = |args: &[&str]| {
        let mut args = args.to_vec();
        args.extend(["--format", "json"]);
        text(&site.run(&args)).0
    };
    insta::assert_snapshot!("json__sign", json(&["sign", "--now", NOW]));
    insta::assert_snapshot!("json__resign", json(&["resign", "--now", "1715090000"]));
    insta::assert_snapshot!("json__check", json(&["check", "--now", "1715300000"]));
}
