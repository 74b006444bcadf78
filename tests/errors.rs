//! Config, key and usage errors: exit status 2, a message that names the file and the fix,
//! nothing written, no secret shown. And `keygen` and `--help`.

mod common;

use common::{Site, TEST_KEY, TEST_SECRET, text};

fn assert_refused(site: &Site, out: &std::process::Output, expected: &str) {
    let before = Site::copy("blog").files();
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in {stderr:?}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    // Nothing was written: the site and the folder are as copied.
    assert_eq!(site.files(), before);
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let site = Site::copy("blog");
    let out = site.run(&["sign", "--config", "nope.toml"]);
    assert_refused(&site, &out, "error: nope.toml: no config file at ");
}

#[test]
fn config_error_names_file_line_and_key() {
    let site = Site::copy("blog");
    let path = site.root.join("rendorix.toml");
    let text_before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text_before.replace("key_id = \"k2026a\"", "key_id = \"k2026a\"\nkeyid = \"x\""),
    )
    .unwrap();
    let out = site.sign(&[]);
    std::fs::write(&path, &text_before).unwrap();
    assert_refused(
        &site,
        &out,
        "error: rendorix.toml:12:1: unknown key `keyid`",
    );
}

#[test]
fn missing_keys_variable_is_refused() {
    let site = Site::copy("blog");
    let out = site.run_with_keys(&["sign", "--now", "1715000000"], None);
    assert_refused(&site, &out, "environment variable RENDORIX_KEYS is not set");
}

#[test]
fn weak_key_is_refused_without_showing_it() {
    let site = Site::copy("blog");
    let weak = "k2026a:c2hvcnQtc2VjcmV0";
    let out = site.run_with_keys(&["sign", "--now", "1715000000"], Some(weak));
    assert_refused(
        &site,
        &out,
        "the secret of entry 1 of RENDORIX_KEYS has 12 bytes; at least 32",
    );
    assert!(!text(&out).1.contains("c2hvcnQtc2VjcmV0"));
}

#[test]
fn a_pair_written_secret_first_is_refused_without_showing_the_secret() {
    let site = Site::copy("blog");
    let swapped = format!("{TEST_SECRET}:k2026a");
    for command in ["sign", "resign", "check", "verify"] {
        let args: &[&str] = if command == "verify" {
            &["verify", "/media/a.jpg"]
        } else {
            &[command, "--now", "1715000000"]
        };
        let out = site.run_with_keys(args, Some(&swapped));
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("the key id of entry 1 of RENDORIX_KEYS"),
            "{command}: {stderr}"
        );
        for half in [&TEST_SECRET[..21], &TEST_SECRET[21..]] {
            assert!(
                !stderr.contains(half) && !stdout.contains(half),
                "{command}: {stderr}"
            );
        }
    }
}

#[test]
fn signing_key_missing_from_the_list_is_refused() {
    let site = Site::copy("blog");
    let other = TEST_KEY.replace("k2026a", "other");
    let out = site.run_with_keys(&["sign", "--now", "1715000000"], Some(&other));
    assert_refused(
        &site,
        &out,
        "sign.key_id is \"k2026a\" but RENDORIX_KEYS holds no key with that id",
    );
    assert!(!text(&out).1.contains(TEST_SECRET));
}

#[test]
fn milliseconds_for_now_are_refused() {
    let site = Site::copy("blog");
    let out = site.run(&["sign", "--now", "1715000000000"]);
    assert_refused(
        &site,
        &out,
        "more than 10 digits; pass Unix seconds, not milliseconds",
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let site = Site::copy("blog");
    let out = site.run(&["sign", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let out = site.run(&["sign", "--jobs", "0"]);
    assert_refused(&site, &out, "--jobs must be at least 1");
}

#[test]
fn no_output_of_any_command_contains_the_secret() {
    let site = Site::copy("edge-cases");
    let signed_url =
        "/media/a.jpg?exp=1715133600&kid=k2026a&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let runs: [&[&str]; 9] = [
        &["sign", "--now", "1715000000"],
        &["sign", "--now", "1715000000", "--format", "json"],
        &["sign", "--dry-run"],
        &["resign", "--now", "1715090000"],
        &["resign", "--now", "1715090000", "--format", "json"],
        &["check", "--now", "1715000000"],
        &["check", "--now", "1815000000", "--format", "json"],
        &[
            "verify",
            signed_url,
            "https://x.org/a.jpg",
            "--now",
            "1715000000",
        ],
        &["sign", "--config", "missing.toml"],
    ];
    for args in runs {
        let out = site.run(args);
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(TEST_SECRET) && !stderr.contains(TEST_SECRET),
            "{args:?}"
        );
    }
    // Key errors: a weak key, a malformed entry and a missing signing key name no secret.
    for keys in [
        format!("k2026a:{}", &TEST_SECRET[..20]),
        TEST_SECRET.to_string(),
        format!("other:{TEST_SECRET}"),
    ] {
        let out = site.run_with_keys(&["sign", "--now", "1715000000"], Some(&keys));
        assert_eq!(out.status.code(), Some(2));
        let (stdout, stderr) = text(&out);
        assert!(
            !stdout.contains(&TEST_SECRET[..20]) && !stderr.contains(&TEST_SECRET[..20]),
            "{keys}: {stderr}"
        );
    }
    let manifest = site.read_text("rendorix-manifest.json");
    assert!(!manifest.contains(TEST_SECRET));
}

#[test]
fn keygen_prints_a_usable_key() {
    let site = Site::copy("blog");
    let out = site.run(&["keygen", "--kid", "k2027"]);
    assert_eq!(out.status.code(), Some(0));
    let line = String::from_utf8(out.stdout).unwrap();
    let line = line.trim_end();
    assert!(line.starts_with("k2027:") && line.len() == 6 + 43, "{line}");
    // The new key signs the site.
    std::fs::write(
        site.root.join("rendorix.toml"),
        std::fs::read_to_string(site.root.join("rendorix.toml"))
            .unwrap()
            .replace("k2026a", "k2027"),
    )
    .unwrap();
    let out = site.run_with_keys(
        &["sign", "--now", "1715000000"],
        Some(&format!("{TEST_KEY},{line}")),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(
        site.read_text("public/404.html")
            .contains("kid=k2027&amp;sig=")
    );
    let out = site.run(&["keygen", "--kid", "not valid"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_texts() {
    let site = Site::copy("blog");
    insta::assert_snapshot!("help", text(&site.run(&["--help"])).0);
    insta::assert_snapshot!("sign_help", text(&site.run(&["sign", "--help"])).0);
    insta::assert_snapshot!("verify_help", text(&site.run(&["verify", "--help"])).0);
    insta::assert_snapshot!("resign_help", text(&site.run(&["resign", "--help"])).0);
    insta::assert_snapshot!("check_help", text(&site.run(&["check", "--help"])).0);
    insta::assert_snapshot!("serve_help", text(&site.run(&["serve", "--help"])).0);
    insta::assert_snapshot!("keygen_help", text(&site.run(&["keygen", "--help"])).0);
    insta::assert_snapshot!("edge_help", text(&site.run(&["edge", "--help"])).0);
}

#[test]
fn the_command_line_runs_in_process_with_its_exit_statuses() {
    use std::process::ExitCode;
    let run =
        |args: &[&str]| rendorix::cli::run(std::iter::once("rendorix").chain(args.iter().copied()));
    assert_eq!(run(&["keygen", "--kid", "k2027"]), ExitCode::SUCCESS);
    assert_eq!(run(&["keygen", "--kid", "not valid"]), ExitCode::from(2));
    assert_eq!(run(&["sign", "--jobs", "0"]), ExitCode::from(2));
    assert_eq!(run(&["sign", "--no-such-flag"]), ExitCode::from(2));
    assert_eq!(run(&["--version"]), ExitCode::SUCCESS);
}

/// Every finding code a run can print is in docs/json.md, for the pipelines that match on it.
#[test]
fn finding_codes_are_documented() {
    use rendorix::core::policy::Refusal;
    use rendorix::core::verify::Rejection;
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).unwrap();
    let refusals = [
        Refusal::ReservedParameter { name: "sig".into() },
        Refusal::Nul,
        Refusal::Undecodable { encoding: "UTF-8" },
        Refusal::Unencodable { encoding: "UTF-8" },
        Refusal::TooLong { len: 9000 },
        Refusal::ByteOrderMark,
        Refusal::NotSigned,
        Refusal::Expired { exp: 0 },
        Refusal::ExpiresTooSoon {
            exp: 0,
            must_outlive: 1,
        },
        Refusal::UnknownKey { kid: "k".into() },
        Refusal::Rejected(Rejection::BadSignature),
        Refusal::Rejected(Rejection::Malformed("x")),
        Refusal::Rejected(Rejection::Unsigned),
        Refusal::Unsignable { why: "x" },
        Refusal::AmbiguousPlus,
        Refusal::Revoked {
            entry: "/a".into(),
            until: 0,
        },
        Refusal::UnsignedReference {
            target: "/a".into(),
        },
    ];
    for r in refusals {
        assert!(doc.contains(&format!("`{}`", r.code())), "{}", r.code());
    }
    let site_errors = rendorix::site::SiteError::Panicked;
    assert!(doc.contains(&format!("`{}`", site_errors.code())));
}

/// Completions and the man page come from the parser's own definitions: every command is in
/// them, and bash accepts its script.
#[test]
fn completions_and_the_man_page_name_every_command() {
    let site = Site::copy("blog");
    let commands = [
        "init", "sign", "resign", "check", "verify", "serve", "edge", "revoke", "keygen",
    ];
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = site.run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out).0;
        for c in commands {
            assert!(script.contains(c), "{shell}: {c}");
        }
    }
    let script = site.root.join("rendorix.bash");
    std::fs::write(&script, site.run(&["completions", "bash"]).stdout).unwrap();
    let bash = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .unwrap();
    assert!(bash.success());
    let man = text(&site.run(&["man"])).0;
    assert!(
        man.starts_with(".ie") && man.contains(".TH rendorix 1"),
        "{man}"
    );
    for c in commands {
        assert!(
            man.contains(&format!("rendorix\\-{c}")) || man.contains(c),
            "{c}"
        );
    }
}
