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
    site.manifest()
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
    let (code, _, stderr) = run(&plain, &["check", "-v", "--now", &now]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("/media/favicon.png"), "{stderr}");
    let config = plain.root.join("rendorix.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{text}{RULE}")).unwrap();
    let (code, _, stderr) = run(&plain, &["check", "-v", "--now", &now]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("https://img.example.com/"), "{stderr}");
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

/// The hide-a-profile timeline, simulated with the library over three days: the scheduled job
/// re-signs every 12 hours (`resign_interval` 24h), pages are cached for an hour, profile photos
/// have a 1-hour allowance and everything else 12 hours. Every visit, from the freshest or the
/// most stale copy of the page, loads every image it shows at once and at the end of that
/// image's allowance. At `HIDE` the profile is hidden: the photo is revoked (the store applies
/// it `PROPAGATION` later) and the next run no longer publishes it.
#[test]
fn after_a_hide_the_photo_never_loads_once_the_store_has_it_and_nothing_else_breaks() {
    use rendorix::core::duration::Duration;
    use rendorix::core::expiry::{Expiry, ExpiryRule, Lifetimes};
    use rendorix::core::keys::{Key, Keys};
    use rendorix::core::policy::Outcome;
    use rendorix::core::revocation::{Revocation, Revocations};
    use rendorix::core::sign::Signer;
    use rendorix::core::urls::MatchPrefix;
    use rendorix::core::verify::{Limits, verify_target};
    use url::Url;

    const PERIOD: u64 = 12 * HOUR;
    const HIDE: u64 = T0 + 30 * HOUR + 17 * 60;
    const PROPAGATION: u64 = 60;
    let site = Url::parse("https://www.example.com/").unwrap();
    let prefix = |p: &str| MatchPrefix::parse(p, &site).unwrap();
    let lifetimes = Lifetimes::new(
        Expiry::default(),
        vec![ExpiryRule {
            text: "/media/profiles/".into(),
            prefix: prefix("/media/profiles/"),
            open_page_allowance: Duration(HOUR),
            max_link_lifetime: Duration(7 * DAY),
        }],
    );
    let key = Key::from_secret("k2026a", &[7; 32]).unwrap();
    let keys = Keys::from_keys(vec![key.clone()]);
    let limits = Limits::default();
    let photo = "/media/profiles/42.jpg";
    let others = ["/media/profiles/7.jpg", "/media/hero.jpg"];
    let allowance = |path: &str| {
        if path.starts_with("/media/profiles/") {
            HOUR
        } else {
            12 * HOUR
        }
    };

    // The page a run at `run` writes: each image it shows, signed.
    let page_of = |run: u64| -> Vec<(&str, String)> {
        let signer = Signer::for_run(key.clone(), &lifetimes, run, vec![prefix("/media/")]);
        let shown = others.iter().copied().chain((run < HIDE).then_some(photo));
        shown
            .map(|path| match signer.sign(path, &site, encoding_rs::UTF_8) {
                Outcome::Signed(s) => (path, s.text),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let revoked = Revocations::new([Revocation {
        path: photo.into(),
        revoked_at: HIDE,
        until: HIDE + lifetimes.expiry(Some(0)).longest_lifetime() + limits.grace,
    }]);
    // What the edge answers at `at`: the signature, then the list once the store has it.
    let loads = |url: &str, at: u64| -> bool {
        let (path, query) = url.split_once('?').unwrap();
        verify_target(path, Some(query), at, &keys, limits).is_ok()
            && (at < HIDE + PROPAGATION || revoked.refuses(path, at).is_none())
    };

    let (mut photo_loads_after, mut photo_loads_before, mut checked) = (0, 0, 0);
    for visit in (T0..T0 + 3 * DAY).step_by(15 * 60) {
        for cached in [0, HOUR] {
            // The copy served: the last run before the visit, `cached` ago at most.
            let written = visit - cached;
            if written < T0 {
                continue;
            }
            let run = T0 + (written - T0) / PERIOD * PERIOD;
            for (path, url) in page_of(run) {
                for at in [visit, visit + allowance(path)] {
                    let ok = loads(&url, at);
                    checked += 1;
                    if path != photo {
                        assert!(ok, "{path} signed at +{}s fails at +{}s", run - T0, at - T0);
                    } else if at >= HIDE + PROPAGATION {
                        photo_loads_after += usize::from(ok);
                    } else {
                        photo_loads_before += usize::from(ok);
                    }
                }
            }
        }
    }
    assert_eq!(
        photo_loads_after, 0,
        "the hidden photo loaded after the store applied it"
    );
    assert!(
        photo_loads_before > 0 && checked > 2000,
        "{photo_loads_before} of {checked}"
    );
    // Without the list, a link handed out just before the hide would have kept working for a
    // day: what revocation saves.
    let last = page_of(HIDE - 1)
        .into_iter()
        .find(|(p, _)| *p == photo)
        .unwrap()
        .1;
    let (path, query) = last.split_once('?').unwrap();
    assert!(verify_target(path, Some(query), HIDE + 20 * HOUR, &keys, limits).is_ok());
    assert!(!loads(&last, HIDE + PROPAGATION));
}
