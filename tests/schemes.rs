//! Native CDN schemes (spec §16) over a site: `s3`, `cloudfront`, `google`, `bunny` and `akamai`
//! write URLs that the CDN verifies itself (reviewed snapshots; the vendors' SDKs or published
//! algorithms reproduce them in CI, `tests/vendors/`), stable in an `exp_granularity` window,
//! re-signed in place, audited by `check`, verified by `verify` and `serve`; and the config, key
//! and environment errors a user can make with them.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};

use common::{NOW, Site, text};

/// AWS's own documentation example key: not a real credential.
const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn run(site: &Site, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(args)
        .current_dir(&site.root)
        .env_remove("RENDORIX_KEYS")
        .env("AWS_ACCESS_KEY_ID", AKID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .output()
        .unwrap()
}

#[test]
fn s3_presigned_urls_are_written_stable_and_audited() {
    let site = Site::copy("s3");
    let out = run(&site, &["sign", "--now", NOW]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    insta::assert_snapshot!("s3__index", site.read_text("public/index.html"));
    insta::assert_snapshot!("s3__manifest", site.read_text("rendorix-manifest.json"));
    insta::assert_snapshot!("s3__urls", site.read_text("rendorix-manifest.json.urls"));
    // The same window writes the same bytes; a later one moves X-Amz-Date and Expires only.
    let first = site.read_text("public/index.html");
    let out = run(&site, &["sign", "--now", "1715000300"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(site.read_text("public/index.html"), first);
    let out = run(&site, &["check", "--now", "1715000300"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = run(&site, &["sign", "--now", "1715004000"]);
    assert_eq!(out.status.code(), Some(0));
    let later = site.read_text("public/index.html");
    assert_ne!(later, first);
    assert_eq!(
        later.matches("X-Amz-Signature=").count(),
        first.matches("X-Amz-Signature=").count(),
        "replaced, not added"
    );
    assert!(later.contains("X-Amz-Date=20240506T140000Z"), "{later}");
    // An audit with another access key finds every URL.
    let out = Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(["check", "--now", "1715004000"])
        .current_dir(&site.root)
        .env("AWS_ACCESS_KEY_ID", "AKIAOTHEREXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("signed with key \"AKIAIOSFODNN7EXAMPLE\""),
        "{:?}",
        text(&out)
    );
}

/// The first presigned `src` of `page` for `object`, as the browser requests it.
fn presigned(site: &Site, page: &str, object: &str) -> String {
    let html = site.read_text(page);
    let at = html.find(&format!("{object}?X-Amz")).unwrap();
    let start = html[..at].rfind('"').unwrap() + 1;
    let end = at + html[at..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

#[test]
fn verify_and_serve_check_s3_urls_as_s3_does() {
    let site = Site::copy("s3");
    assert_eq!(run(&site, &["sign", "--now", NOW]).status.code(), Some(0));
    let url = presigned(&site, "public/index.html", "/2024/harbour.jpg");
    let out = run(
        &site,
        &[
            "verify",
            &url,
            &url.replace("harbour", "harbor"),
            "--now",
            NOW,
        ],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.starts_with("ok            https://rendorix-photos"),
        "{stdout}"
    );
    assert!(stdout.contains("\nbad_signature https://"), "{stdout}");

    // serve, asked for the bucket's host (as a hosts entry or a proxy would send it).
    fs::create_dir_all(
        site.root
            .join("origin/rendorix-photos.s3.eu-west-1.amazonaws.com/2024"),
    )
    .unwrap();
    fs::write(
        site.root
            .join("origin/rendorix-photos.s3.eu-west-1.amazonaws.com/2024/harbour.jpg"),
        "jpeg",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(["serve", "--port", "0", "--now", NOW, "--origin", "origin"])
        .current_dir(&site.root)
        .env("AWS_ACCESS_KEY_ID", AKID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port: u16 = first
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().trim_end_matches('/').parse().ok())
        .unwrap();
    let get = |target: &str| -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: rendorix-photos.s3.eu-west-1.amazonaws.com\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    let target = &url["https://rendorix-photos.s3.eu-west-1.amazonaws.com".len()..];
    let ok = get(target);
    let tampered = get(&target.replace("X-Amz-Expires=1", "X-Amz-Expires=2"));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok.starts_with("HTTP/1.1 200") && ok.ends_with("jpeg"),
        "{ok}"
    );
    assert!(
        tampered.starts_with("HTTP/1.1 403") && tampered.contains("bad_signature"),
        "{tampered}"
    );
}

#[test]
fn s3_configs_that_cannot_work_are_refused_with_their_place() {
    for (from, to, says) in [
        (
            "https://s3.eu-west-1.amazonaws.com/rendorix-archive/",
            "/media/",
            "is not an S3 endpoint",
        ),
        (
            "https://s3.eu-west-1.amazonaws.com/rendorix-archive/",
            "https://s3.us-east-2.amazonaws.com/b/",
            "is in region us-east-2",
        ),
        (
            "https://s3.eu-west-1.amazonaws.com/rendorix-archive/",
            "https://s3.eu-west-1.amazonaws.com/",
            "a path-style prefix names its bucket",
        ),
        (
            "https://s3.eu-west-1.amazonaws.com/rendorix-archive/",
            "https://b.s3-website.eu-west-1.amazonaws.com/",
            "website endpoints take no signature",
        ),
        (
            "region = \"eu-west-1\"",
            "region = \"Ireland\"",
            "is not an AWS region",
        ),
        (
            "\nscheme = \"s3\"",
            "\nscheme = \"fastly\"",
            "is not a scheme; write \"rendorix\", \"s3\", \"cloudfront\", \"google\", \"bunny\" or \"akamai\"",
        ),
        (
            "[site]",
            "[expiry]\nresign_interval = \"164h\"\nmax_link_lifetime = \"30d\"\n[site]",
            "more than the 7 days S3 accepts",
        ),
    ] {
        let site = Site::copy("s3");
        let config = site.root.join("rendorix.toml");
        let text_before = fs::read_to_string(&config).unwrap();
        assert!(text_before.contains(from), "{from}");
        fs::write(&config, text_before.replacen(from, to, 1)).unwrap();
        let out = run(&site, &["sign", "--now", NOW]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{to}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("rendorix.toml:"),
            "{to}: {stderr}"
        );
    }
    let site = Site::copy("s3");
    let out = Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(["sign", "--now", NOW])
        .current_dir(&site.root)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("AWS_ACCESS_KEY_ID is not set") && !stderr.contains(SECRET),
        "{stderr}"
    );
    let out = run(&site, &["edge", "nginx", "--out", "edge"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("there is no edge to generate"));
    let out = run(&site, &["revoke", "/x.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("delete the object or make it private")
    );
}

/// `rendorix ARGS` in `site` with the scheme's credential variable `var` set to `key` (or
/// unset), and no rendorix keys.
fn with_secret(site: &Site, var: &str, args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rendorix"));
    cmd.args(args)
        .current_dir(&site.root)
        .env_remove("RENDORIX_KEYS")
        .env_remove(var);
    if let Some(key) = key {
        cmd.env(var, key);
    }
    cmd.output().unwrap()
}

/// Signs `site` with `key` in `var` at NOW, signs again in the same `exp` window and requires the
/// same bytes, and requires `check` to pass with `key` and fail with `wrong` (the same key name,
/// another secret). Returns the signed home page.
fn signs_stably_and_audits(site: &Site, var: &str, key: &str, wrong: &str) -> String {
    let run = |args: &[&str], key: &str| with_secret(site, var, args, Some(key));
    let out = run(&["sign", "--now", NOW], key);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let first = site.read_text("public/index.html");
    let out = run(&["sign", "--now", "1715000300"], key);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        site.read_text("public/index.html"),
        first,
        "same window, same bytes"
    );
    let out = run(&["check", "--now", "1715000300"], key);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = run(&["check", "--now", "1715000300"], wrong);
    assert_eq!(out.status.code(), Some(1));
    first
}

fn cloudfront(site: &Site, args: &[&str], key: Option<&str>) -> Output {
    with_secret(site, "RENDORIX_CLOUDFRONT_KEY", args, key)
}

#[test]
fn cloudfront_signed_urls_are_written_stable_and_audited() {
    let site = Site::copy("cloudfront");
    let key = site.read_text("test-key.pem");
    let out = cloudfront(&site, &["sign", "--now", NOW], Some(&key));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    insta::assert_snapshot!("cloudfront__index", site.read_text("public/index.html"));
    let first = site.read_text("public/index.html");
    // A profile photo expires with its rule; the others with [expiry].
    assert!(
        first.contains("/media/profiles/42.jpg?Expires=1715094000&amp;"),
        "{first}"
    );
    assert!(
        first.contains("/media/harbour.jpg?Expires=1715133600&amp;"),
        "{first}"
    );
    let out = cloudfront(&site, &["sign", "--now", "1715000300"], Some(&key));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        site.read_text("public/index.html"),
        first,
        "same window, same bytes"
    );
    let out = cloudfront(&site, &["check", "--now", "1715000300"], Some(&key));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let out = cloudfront(&site, &["sign", "--now", "1715004000"], Some(&key));
    assert_eq!(out.status.code(), Some(0));
    let later = site.read_text("public/index.html");
    assert_eq!(
        later.matches("Key-Pair-Id=").count(),
        first.matches("Key-Pair-Id=").count()
    );
    assert!(
        later.contains("/media/harbour.jpg?Expires=1715137200&amp;"),
        "{later}"
    );

    // verify, whole URLs: the signed one, a tampered path, another key's.
    let html = later.replace("&amp;", "&");
    let at = html
        .find("https://d111111abcdef8.cloudfront.net/private/")
        .unwrap();
    let url = &html[at..at + html[at..].find('"').unwrap()];
    let out = cloudfront(
        &site,
        &[
            "verify",
            url,
            &url.replace("caf", "cab"),
            "--now",
            "1715004000",
        ],
        Some(&key),
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.starts_with("ok ") && stdout.contains("\nbad_signature "),
        "{stdout}"
    );
}

#[test]
fn cloudfront_ecdsa_keys_sign_stable_urls_that_verify() {
    let site = Site::copy("cloudfront");
    let key = site.read_text("test-key-ec.pem");
    let out = cloudfront(&site, &["sign", "--now", NOW], Some(&key));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let first = site.read_text("public/index.html");
    let urls = first.matches("Key-Pair-Id=K2JCJMDEHXQW5F").count();
    assert!(urls > 3, "{first}");
    // A DER signature of P-256 is 70 to 72 bytes: 96 characters of base64, against RSA's 344.
    let sig = first.split("Signature=").nth(1).unwrap();
    let sig = &sig[..sig.find("&amp;").unwrap()];
    assert!((94..=96).contains(&sig.len()), "{sig}");
    let out = cloudfront(&site, &["sign", "--now", "1715000300"], Some(&key));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        site.read_text("public/index.html"),
        first,
        "deterministic signatures: same window, same bytes"
    );
    let out = cloudfront(&site, &["check", "--now", "1715000300"], Some(&key));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    // The RSA key of the same id finds every signature bad.
    let rsa = site.read_text("test-key.pem");
    let out = cloudfront(&site, &["check", "--now", "1715000300"], Some(&rsa));
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
}

#[test]
fn cloudfront_configs_and_keys_that_cannot_work_are_refused() {
    let site = Site::copy("cloudfront");
    let key = site.read_text("test-key.pem");
    for (from, to, says) in [
        (
            "key_pair_id = \"K2JCJMDEHXQW5F\"",
            "key_pair_id = \"K2JCJMDEHXQW5F\"\npolicy = \"prefix\"",
            "an [[expiry.rule]] needs each URL signed on its own",
        ),
        (
            "key_pair_id = \"K2JCJMDEHXQW5F\"",
            "key_pair_id = \"K2JCJMDEHXQW5F\"\npolicy = \"wildcard\"",
            "is \"canned\"",
        ),
        (
            "key_pair_id = \"K2JCJMDEHXQW5F\"",
            "key_pair_id = \"K2JCJMDEHXQW5F\"\nhash_algorithm = \"MD5\"",
            "is \"SHA1\" or \"SHA256\"",
        ),
        (
            "key_pair_id = \"K2JCJMDEHXQW5F\"",
            "key_pair_id = \"<id>\"",
            "is not a CloudFront public key id",
        ),
        (
            "[sign.cloudfront]\nkey_pair_id = \"K2JCJMDEHXQW5F\"",
            "",
            "needs a [sign.cloudfront] table",
        ),
    ] {
        let config = site.root.join("rendorix.toml");
        let before = fs::read_to_string(&config).unwrap();
        assert!(before.contains(from), "{from}");
        fs::write(&config, before.replacen(from, to, 1)).unwrap();
        let out = cloudfront(&site, &["sign", "--now", NOW], Some(&key));
        fs::write(&config, before).unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{to}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("rendorix.toml:"),
            "{to}: {stderr}"
        );
    }
    for (pem, says) in [
        (None, "RENDORIX_CLOUDFRONT_KEY is not set"),
        (Some("TODO"), "not an RSA or ECDSA P-256 private key in PEM"),
        (
            Some(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
            ),
            "protected by a passphrase",
        ),
        (
            Some("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"),
            "not an RSA or ECDSA P-256 private key",
        ),
        (
            // secp384r1: CloudFront trusts P-256 only.
            Some(concat!(
                "-----BEGIN EC PRIVATE KEY-----\n",
                "MIGkAgEBBDAqQ9e13s/l0brDmA9h1jLfzYfEizTdXVFbNzsk3Gj7cvTR/BUYCcs9\n",
                "y3DTW0Z/c/agBwYFK4EEACKhZANiAARqmtyy1XBk0KmwjS6XXAnaXiRohK9w0ABe\n",
                "6uS6LZxMHqg+pAQl/zmTg+Yy77DF2PXZvoJAc3M1p1OSsKRWITCxTuMp4UblvXEA\n",
                "r6IJ2pY7BGrM4N8IPErpWElQAc8IKlk=\n",
                "-----END EC PRIVATE KEY-----\n"
            )),
            "another curve than P-256",
        ),
    ] {
        let out = cloudfront(&site, &["sign", "--now", NOW], pem);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            !stderr.contains("MII"),
            "no key material is echoed: {stderr}"
        );
    }
}

#[test]
fn google_cloud_cdn_signed_urls_are_written_and_audited() {
    const KEY: &str = "nZtRohdNF9m3cKM24IcK4w==";
    let site = Site::copy("google");
    let run =
        |args: &[&str], key: Option<&str>| with_secret(&site, "RENDORIX_GOOGLE_KEY", args, key);
    // Another key of the same name finds every URL.
    let first = signs_stably_and_audits(
        &site,
        "RENDORIX_GOOGLE_KEY",
        KEY,
        "AAAAAAAAAAAAAAAAAAAAAA==",
    );
    insta::assert_snapshot!("google__index", first);
    for (key, says) in [
        (None, "RENDORIX_GOOGLE_KEY is not set"),
        (Some("TODO!"), "not base64url"),
        (Some("AAAA"), "decodes to 3 bytes"),
    ] {
        let out = run(&["sign", "--now", NOW], key);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
    let config = site.root.join("rendorix.toml");
    let before = fs::read_to_string(&config).unwrap();
    fs::write(&config, before.replace("\"rendorix-2026\"", "\"Key_1\"")).unwrap();
    let (_, stderr) = text(&run(&["sign", "--now", NOW], Some(KEY)));
    assert!(
        stderr.contains("is not a Cloud CDN key name") && stderr.contains("rendorix.toml:"),
        "{stderr}"
    );
    fs::write(&config, format!("{before}\n[refresh]\nenabled = true\n")).unwrap();
    let (_, stderr) = text(&run(&["sign", "--now", NOW], Some(KEY)));
    assert!(
        stderr.contains("[refresh] works with sign.scheme = \"rendorix\" only"),
        "{stderr}"
    );
}

#[test]
fn akamai_tokens_are_written_and_audited() {
    const KEY: &str = "52a152a152a152a152a152a152a152a1";
    let site = Site::copy("akamai");
    let run =
        |args: &[&str], key: Option<&str>| with_secret(&site, "RENDORIX_AKAMAI_KEY", args, key);
    let first = signs_stably_and_audits(&site, "RENDORIX_AKAMAI_KEY", KEY, &KEY.replace('5', "6"));
    insta::assert_snapshot!("akamai__index", &first);
    assert_eq!(first.matches("__token__=").count(), 5);
    for (key, says) in [
        (None, "RENDORIX_AKAMAI_KEY is not set"),
        (Some("not hex"), "not hexadecimal"),
        (Some("abcd"), "at least 16"),
    ] {
        let (_, stderr) = text(&run(&["sign", "--now", NOW], key));
        assert!(stderr.contains(says), "{stderr}");
    }
    let config = site.root.join("rendorix.toml");
    let before = fs::read_to_string(&config).unwrap();
    let with_rule = format!(
        "{}\n[[expiry.rule]]\nprefix = \"/media/p/\"\nopen_page_allowance = \"1h\"\n",
        before.replace("token = \"url\"", "token = \"acl\"")
    );
    fs::write(&config, with_rule).unwrap();
    let (_, stderr) = text(&run(&["sign", "--now", NOW], Some(KEY)));
    assert!(
        stderr.contains("an [[expiry.rule]] needs each URL signed on its own"),
        "{stderr}"
    );
}

#[test]
fn bunny_tokens_are_written_and_audited() {
    const KEY: &str = "229248f0-f007-4bf9-ba1f-bbf1b4ad9d40";
    let site = Site::copy("bunny");
    let run =
        |args: &[&str], key: Option<&str>| with_secret(&site, "RENDORIX_BUNNY_KEY", args, key);
    let first = signs_stably_and_audits(&site, "RENDORIX_BUNNY_KEY", KEY, &KEY.replace('2', "3"));
    insta::assert_snapshot!("bunny__index", &first);
    assert_eq!(first.matches("&amp;expires=1715133600").count(), 5);

    // A file name Bunny's libraries sign differently: a finding with its place, the rest signed;
    // a directory token signs it.
    let html = site.root.join("public/market.html");
    fs::write(
        &html,
        "<p>\n<img src=\"/media/night%20market.jpg\" alt=\"\">\n",
    )
    .unwrap();
    let out = run(&["sign", "--now", NOW], Some(KEY));
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("market.html:2:") && stderr.contains("percent-escapes"),
        "{stderr}"
    );
    let config = site.root.join("rendorix.toml");
    let before = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        before.replace("token = \"url\"", "token = \"directory\""),
    )
    .unwrap();
    let out = run(&["sign", "--now", NOW], Some(KEY));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(
        fs::read_to_string(&html)
            .unwrap()
            .contains("/media/night%20market.jpg?token=")
    );
    let out = run(&["check", "--now", "1715000300"], Some(KEY));
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));

    for (key, says) in [
        (None, "RENDORIX_BUNNY_KEY is not set"),
        (Some("TODO"), "the key is 4 characters"),
    ] {
        let (_, stderr) = text(&run(&["sign", "--now", NOW], key));
        assert!(stderr.contains(says), "{stderr}");
    }
    for (to, says) in [
        ("algorithm = \"md5\"", "is \"sha256\""),
        ("token = \"path\"", "is \"url\""),
    ] {
        let edited = before
            .replace("algorithm = \"sha256\"", "")
            .replace("token = \"url\"", to);
        fs::write(&config, edited).unwrap();
        let (_, stderr) = text(&run(&["sign", "--now", NOW], Some(KEY)));
        assert!(
            stderr.contains(says) && stderr.contains("rendorix.toml:"),
            "{stderr}"
        );
    }
}
