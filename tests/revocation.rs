//! Per-path lifetimes and revocation (spec §17) over a site: `[[expiry.rule]]` gives its URLs
//! their own `exp`, recorded per URL and honoured by `resign` and `check`; `rendorix revoke`
//! writes a list that `sign` warns about (with file and line), extends, and drops once ended; and a
//! simulated month of revocations and re-signs keeps the list bounded.

mod common;

use std::fs;

use common::{Site, TEST_KEY, text};
use serde_json::Value;

/// 2024-05-06T12:53:20Z; 3200 s past the hour, so `exp`s round up by 400 s.
const T0: u64 = 1_715_000_000;
const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

const RULE: &str = "\n[[expiry.rule]]\nprefix = \"/media/\"\nopen_page_allowance = \"1h\"\n";

fn run(site: &Site, args: &[&str]) -> (Option<i32>, String, String) {
    let out = site.run_with_keys(args, Some(TEST_KEY));
    let (stdout, stderr) = text(&out);
    (out.status.code(), stdout, stderr)
}

fn json(site: &Site, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let (code, stdout, stderr) = run(site, &args);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

fn with_rule() -> Site {
    let site = Site::copy("blog");
    let config = site.root.join("rendorix.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{text}{RULE}")).unwrap();
    site
}

fn manifest(site: &Site) -> Value {
    serde_json::from_slice(&site.read("rendorix-manifest.json")).unwrap()
}

#[test]
fn a_rule_gives_its_urls_their_own_exp_and_resign_and_check_follow_it() {
    let site = with_rule();
    let (code, stdout, stderr) = run(&site, &["sign", "--now", &T0.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    // 24h + 1h + 1h under /media/, 24h + 1h + 12h elsewhere.
    let (rule_exp, default_exp) = (T0 + 26 * HOUR + 400, T0 + 37 * HOUR + 400);
    assert!(
        stdout
            .contains("links under /media/ ([[expiry.rule]]) stay valid for at most 1d 2h 59m 59s"),
        "{stdout}"
    );
    let page = site.read_text("public/index.html");
    assert!(
        page.contains(&format!("/media/favicon.png?exp={rule_exp}&")),
        "{page}"
    );
    assert!(page.contains("https://img.example.com/hero/"), "{page}");
    assert!(page.contains(&format!("exp={default_exp}&")), "{page}");
    let m = manifest(&site);
    assert_eq!(m["expiry"][1]["prefix"], "/media/");
    let index = (m["pages"].as_array().unwrap().iter())
        .find(|p| p["path"] == "index.html")
        .unwrap();
    assert_eq!(index["exp"], rule_exp);
    assert_eq!(index["due"], T0 + 400);
    let own: Vec<&Value> = (index["urls"].as_array().unwrap().iter())
        .filter(|u| u.as_array().unwrap().len() == 3)
        .collect();
    assert!(
        !own.is_empty() && own.iter().all(|u| u[2] == default_exp),
        "{index}"
    );

    // Nothing is due before the window turns; everything after.
    let v = json(&site, &["resign", "--now", &(T0 + 300).to_string()]);
    assert_eq!(v["resigned"].as_array().unwrap().len(), 0, "{v:#}");
    let v = json(&site, &["resign", "--now", &(T0 + 500).to_string()]);
    assert!(!v["resigned"].as_array().unwrap().is_empty());

    // check holds each URL to its own rule: a site signed without it has links that outlive
    // 2h of serving under /media/ but not the default 13h.
    let plain = Site::copy("blog");
    let (code, _, _) = run(&plain, &["sign", "--now", &T0.to_string()]);
    assert_eq!(code, Some(0));
    let now = (T0 + 24 * HOUR + 1000).to_string();
    let (code, stdout, _) = run(&plain, &["check", "--now", &now]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("/media/favicon.png"), "{stdout}");
    let config = plain.root.join("rendorix.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{text}{RULE}")).unwrap();
    let (code, stdout, _) = run(&plain, &["check", "--now", &now]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("https://img.example.com/"), "{stdout}");
    assert!(!stdout.contains("/media/favicon.png"), "{stdout}");

    // Other rules: the manifest's due times no longer hold, every page is signed again.
    let config = site.root.join("rendorix.toml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("\"1h\"", "\"2h\"");
    fs::write(&config, text).unwrap();
    let v = json(&site, &["resign", "--now", &(T0 + 500).to_string()]);
    assert!(
        v["manifest_note"]
            .as_str()
            .unwrap()
            .contains("other [expiry] settings"),
        "{v:#}"
    );
}

#[test]
fn rules_that_decide_nothing_or_outlive_their_guard_are_refused() {
    for (rule, says) in [
        ("prefix = \"/css/\"", "lies under no sign.match prefix"),
        (
            "prefix = \"/media/\"\nmax_link_lifetime = \"1d\"",
            "more than its max_link_lifetime",
        ),
        (
            "prefix = \"/media/\"\n[[expiry.rule]]\nprefix = \"/media/\"",
            "a second [[expiry.rule]]",
        ),
    ] {
        let site = Site::copy("blog");
        let config = site.root.join("rendorix.toml");
        let text = fs::read_to_string(&config).unwrap();
        fs::write(&config, format!("{text}\n[[expiry.rule]]\n{rule}\n")).unwrap();
        let (code, _, stderr) = run(&site, &["sign", "--now", &T0.to_string()]);
        assert_eq!(code, Some(2), "{rule}");
        assert!(
            stderr.contains(says) && stderr.contains("rendorix.toml:"),
            "{stderr}"
        );
    }
}

#[test]
fn sign_warns_of_revoked_references_keeps_them_revoked_and_drops_ended_entries() {
    let site = Site::copy("blog");
    let now = T0.to_string();
    let (code, stdout, stderr) = run(&site, &["revoke", "/media/favicon.png", "--now", &now]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("--paths \"/media/favicon.png\""),
        "{stdout}"
    );
    for refused in [
        "/css/site.css",
        "/media/video.mp4",
        "media/x.png",
        "/media/x.png?v=1",
    ] {
        let (code, _, stderr) = run(&site, &["revoke", refused, "--now", &now]);
        assert_eq!(code, Some(2), "{refused}");
        assert!(
            stderr.contains(&format!("cannot revoke \"{refused}\"")),
            "{stderr}"
        );
    }
    let list = || -> Value {
        serde_json::from_slice(&site.read("rendorix-revoked/revoked.json")).unwrap()
    };
    let until = list()["revoked"][0]["until"].as_u64().unwrap();
    // The longest link a run at T0 can sign, and the grace.
    assert_eq!(until, T0 + 37 * HOUR + HOUR - 1 + 30);

    // A day later the page still references it: a warning with its place, and the entry lasts
    // as long as the link just signed.
    let later = T0 + DAY;
    let (code, _, stderr) = run(&site, &["sign", "--now", &later.to_string()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: public/index.html:")
            && stderr.contains("is revoked (/media/favicon.png)"),
        "{stderr}"
    );
    let until = list()["revoked"][0]["until"].as_u64().unwrap();
    assert_eq!(until, later + 37 * HOUR + 400 + 30);
    let (_, listed, _) = run(&site, &["revoke", "--list", "--now", &later.to_string()]);
    assert!(
        listed.starts_with("/media/favicon.png  revoked 2024-05-06T12:53:20Z, until"),
        "{listed}"
    );

    // Removed: served again, and sign says nothing.
    let (code, stdout, _) = run(
        &site,
        &[
            "revoke",
            "--remove",
            "/media/favicon.png",
            "--now",
            &later.to_string(),
        ],
    );
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("wrangler kv key delete --binding RENDORIX_REVOKED \"/media/favicon.png\""),
        "{stdout}"
    );
    assert_eq!(list()["revoked"], serde_json::json!([]));
    let (_, _, stderr) = run(&site, &["sign", "--now", &later.to_string()]);
    assert!(!stderr.contains("revoked"), "{stderr}");
}

#[test]
fn a_month_of_revocations_and_resigns_keeps_the_list_bounded() {
    let site = Site::copy("blog");
    let mut longest = 0;
    for day in 0..30 {
        let now = T0 + day * DAY;
        // Ten profile photos withdrawn a day, none referenced by a page any more.
        let paths: Vec<String> = (0..10)
            .map(|i| format!("/media/profiles/{day}-{i}.jpg"))
            .collect();
        let mut args = vec!["revoke".to_owned()];
        args.extend(paths);
        args.extend(["--now".to_owned(), now.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, stderr) = run(&site, &args);
        assert_eq!(code, Some(0), "{stderr}");
        let (code, _, stderr) = run(&site, &["resign", "--now", &(now + 12 * HOUR).to_string()]);
        assert_eq!(code, Some(0), "{stderr}");
        let list: Value =
            serde_json::from_slice(&site.read("rendorix-revoked/revoked.json")).unwrap();
        let entries = list["revoked"].as_array().unwrap();
        assert!(
            entries
                .iter()
                .all(|e| e["until"].as_u64().unwrap() > now + 12 * HOUR)
        );
        longest = longest.max(entries.len());
    }
    // An entry lives about 38 hours: never more than two days of revocations are listed.
    assert!(longest <= 20, "{longest} entries");
}
