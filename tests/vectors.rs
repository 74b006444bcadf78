//! `fixtures/vectors.json` (spec §11): generated here from the published test keys, checked in,
//! and run through the library and the CLI. The edge verifiers run the same file
//! (`node --test edge/`).
//!
//! Regenerate after a deliberate change with: `UPDATE_VECTORS=1 cargo test --test vectors`

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use rendorix::core::keys::{Key, Keys};
use rendorix::core::sign::signature;
use rendorix::core::verify::{Limits, verify};
use serde::{Deserialize, Serialize};
use url::Url;

/// base64url's alphabet, in order.
const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The published test keys (never use them for a real site).
const KEYS: [(&str, &str); 2] = [
    ("k2026a", "Xg8oy-8vpFIGYho_tHGU6TkHcWpfgC5OELOzA-zsGjg"),
    ("k2025b", "2yJd3sJQVsfcfk4GgvRpEVHrXZp5fliAzOIWa9GBwb0"),
];
/// A secret no verifier knows, for forged signatures under a known kid.
const FORGER: &str = "D0qIljktX9i9Sb8nXwVyMmAZUrbF4s2099-3ofUnjF0";
const GRACE: u64 = 30;
const MAX_LINK_LIFETIME: u64 = 7 * 86400;
const NOW: u64 = 1_715_000_000;
const EXP: u64 = 1_715_133_600;
const HOST: &str = "https://img.example.com";

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct VectorFile {
    description: String,
    grace: u64,
    max_link_lifetime: u64,
    keys: BTreeMap<String, String>,
    vectors: Vec<Vector>,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Vector {
    name: String,
    /// The absolute URL, already in the form a browser sends (WHATWG-serialized); for a request
    /// target no browser sends (a raw '#'), that raw target.
    url: String,
    /// What an edge receives: the path, and the raw query without '?' (null when no '?').
    uri: String,
    querystring: Option<String>,
    now: u64,
    expected: String,
}

fn key(kid: &str, secret: &str) -> Key {
    Key::from_secret(kid, &URL_SAFE_NO_PAD_INDIFFERENT.decode(secret).unwrap()).unwrap()
}

/// `target` (path and optional query, no triple) signed with `kid`'s secret (or `secret`).
fn signed_with(target: &str, exp: &str, kid: &str, secret: &str) -> String {
    let sep = if target.contains('?') { '&' } else { '?' };
    let unsigned = format!("{target}{sep}exp={exp}&kid={kid}");
    format!(
        "{unsigned}&sig={}",
        signature(&key(kid, secret), unsigned.as_bytes())
    )
}

fn signed(target: &str, kid: &str) -> String {
    let secret = KEYS.iter().find(|(k, _)| *k == kid).unwrap().1;
    signed_with(target, &EXP.to_string(), kid, secret)
}

fn vector(name: &str, url: String, now: u64, expected: &str) -> Vector {
    let parsed = Url::parse(&url).unwrap();
    let mut stable = parsed.clone();
    stable.set_fragment(None);
    let without_fragment = url.split('#').next().unwrap();
    assert_eq!(
        stable.as_str(),
        without_fragment,
        "{name}: the URL must be in the form a browser sends"
    );
    Vector {
        name: name.into(),
        uri: parsed.path().into(),
        querystring: parsed.query().map(str::to_owned),
        url,
        now,
        expected: expected.into(),
    }
}

fn generate() -> VectorFile {
    let mut v = Vec::new();
    let mut add = |name: &str, target: String, now: u64, expected: &str| {
        v.push(vector(name, format!("{HOST}{target}"), now, expected));
    };
    let base = signed("/media/cat.jpg?w=640&h=480", "k2026a");
    let sig = &base[base.len() - 43..];
    let sig = sig.to_owned();
    let ms = format!("{EXP}000");

    // Valid.
    add(
        "plain, no query",
        signed("/media/cat.jpg", "k2026a"),
        NOW,
        "ok",
    );
    add("query-bearing", base.clone(), NOW, "ok");
    add(
        "percent-encoded path",
        signed("/media/caf%C3%A9%20au%20lait.jpg", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "non-ASCII query, UTF-8 percent-encoded",
        signed("/media/a.jpg?t=%E2%82%AC5&name=%E8%A1%A8", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "empty parameter values",
        signed("/media/a.jpg?a=&b", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "plus and encoded ampersand",
        signed("/media/a.jpg?q=a+b%26c%2B", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "commas in the path",
        signed("/media/w_300,h_200,c_fill/a.jpg", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "encoded tilde kept as sent",
        signed("/media/%7Euser/a.jpg", "k2026a"),
        NOW,
        "ok",
    );
    add("folder path", signed("/media/", "k2026a"), NOW, "ok");
    add(
        "deep path",
        signed("/media/2024/05/06/album/originals/IMG_0001.JPG", "k2026a"),
        NOW,
        "ok",
    );
    add(
        "second configured key",
        signed("/media/cat.jpg?w=640", "k2025b"),
        NOW,
        "ok",
    );
    add("now exactly at exp", base.clone(), EXP, "ok");
    add("now at exp + grace", base.clone(), EXP + GRACE, "ok");
    add(
        "largest 10-digit exp",
        signed_with("/media/cat.jpg", "9999999999", "k2026a", KEYS[0].1),
        9_999_999_999 - 86400,
        "ok",
    );
    let cap = NOW + MAX_LINK_LIFETIME + GRACE;
    add(
        "exp at now + max_link_lifetime + grace",
        signed_with("/media/cat.jpg", &cap.to_string(), "k2026a", KEYS[0].1),
        NOW,
        "ok",
    );
    // The longest target accepted: 8192 bytes of path, '?' and query.
    let long_path = |len: usize| format!("/media/{}.jpg", "a".repeat(len - 11));
    let triple_len = format!("?exp={EXP}&kid=k2026a&sig={sig}").len();
    add(
        "request target of 8192 bytes",
        signed(&long_path(8192 - triple_len), "k2026a"),
        NOW,
        "ok",
    );
    v.push(vector(
        "fragment is not sent",
        format!("{HOST}{base}#zoom"),
        NOW,
        "ok",
    ));
    // A raw '#' is never sent by a browser, and an origin may read what follows it as part of
    // the path: wherever a verifier sees the raw target, it is malformed.
    for (name, raw) in [
        ("raw '#' after the signature", format!("{base}#zoom")),
        ("raw '#' in the path", base.replacen(".jpg", "#.jpg", 1)),
    ] {
        let (uri, query) = raw.split_once('?').unwrap();
        v.push(Vector {
            name: name.into(),
            url: raw.clone(),
            uri: uri.into(),
            querystring: Some(query.into()),
            now: NOW,
            expected: "malformed".into(),
        });
    }
    v.push(vector(
        "host is not signed",
        format!("https://cdn.other.example{base}"),
        NOW,
        "ok",
    ));
    v.push(vector(
        "scheme is not signed",
        format!("http://img.example.com{base}"),
        NOW,
        "ok",
    ));
    let mut add = |name: &str, target: String, now: u64, expected: &str| {
        v.push(vector(name, format!("{HOST}{target}"), now, expected));
    };

    // Each component tampered.
    add(
        "path changed",
        base.replace("/media/cat", "/media/cot"),
        NOW,
        "bad_signature",
    );
    add(
        "path letter case changed",
        base.replace("/media/cat", "/media/Cat"),
        NOW,
        "bad_signature",
    );
    add(
        "path prefix changed",
        base.replace("/media/", "/private/"),
        NOW,
        "bad_signature",
    );
    add(
        "trailing slash added to the path",
        base.replace("cat.jpg?", "cat.jpg/?"),
        NOW,
        "bad_signature",
    );
    add(
        "query value changed",
        base.replace("w=640", "w=641"),
        NOW,
        "bad_signature",
    );
    add(
        "parameter added before",
        base.replace("?w=640", "?x=1&w=640"),
        NOW,
        "bad_signature",
    );
    add(
        "parameter removed",
        base.replace("&h=480", ""),
        NOW,
        "bad_signature",
    );
    add(
        "parameters reordered",
        base.replace("w=640&h=480", "h=480&w=640"),
        NOW,
        "bad_signature",
    );
    add(
        "empty parameter inserted",
        base.replace("&exp=", "&&exp="),
        NOW,
        "bad_signature",
    );
    add(
        "exp raised by one second",
        base.replace(&format!("exp={EXP}"), &format!("exp={}", EXP + 1)),
        NOW,
        "bad_signature",
    );
    add(
        "exp raised an hour",
        base.replace(&format!("exp={EXP}"), &format!("exp={}", EXP + 3600)),
        NOW,
        "bad_signature",
    );
    add(
        "kid swapped for the other known key",
        base.replace("kid=k2026a", "kid=k2025b"),
        NOW,
        "bad_signature",
    );
    let flipped = format!(
        "{}{}",
        if sig.starts_with('A') { 'B' } else { 'A' },
        &sig[1..]
    );
    add(
        "sig character changed",
        base.replace(&sig, &flipped),
        NOW,
        "bad_signature",
    );
    let letter = sig.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let swapped: String = sig
        .char_indices()
        .map(|(i, c)| {
            if i == letter {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            } else {
                c
            }
        })
        .collect();
    add(
        "sig letter case changed",
        base.replace(&sig, &swapped),
        NOW,
        "bad_signature",
    );
    // The last character holds 4 bits of the MAC and 2 spare bits; flipping a spare bit gives a
    // string that lenient decoders map to the same bytes. Only the canonical form is accepted.
    let last = ALPHABET.find(sig.chars().last().unwrap()).unwrap();
    let non_canonical = format!("{}{}", &sig[..42], &ALPHABET[(last ^ 1)..=(last ^ 1)]);
    add(
        "sig with a non-canonical last character",
        base.replace(&sig, &non_canonical),
        NOW,
        "bad_signature",
    );
    add(
        "percent-encoding case changed",
        signed("/media/caf%C3%A9.jpg", "k2026a").replace("%C3%A9", "%c3%a9"),
        NOW,
        "bad_signature",
    );
    add(
        "encoded tilde decoded",
        signed("/media/%7Euser/a.jpg", "k2026a").replace("%7E", "~"),
        NOW,
        "bad_signature",
    );
    add(
        "signed with another secret under a known kid",
        signed_with("/media/cat.jpg", &EXP.to_string(), "k2026a", FORGER),
        NOW,
        "bad_signature",
    );

    // Expiry (checked before the MAC).
    add(
        "expired a day ago",
        signed_with(
            "/media/cat.jpg",
            &(NOW - 86400).to_string(),
            "k2026a",
            KEYS[0].1,
        ),
        NOW,
        "expired",
    );
    add(
        "one second past exp + grace",
        base.clone(),
        EXP + GRACE + 1,
        "expired",
    );
    add(
        "exp of zero",
        signed_with("/media/cat.jpg", "0", "k2026a", KEYS[0].1),
        NOW,
        "expired",
    );
    add(
        "exp lowered into the past: expired, not bad_signature",
        base.replace(&format!("exp={EXP}"), "exp=1000000000"),
        NOW,
        "expired",
    );
    add(
        "expired and tampered",
        base.replace("w=640", "w=1")
            .replace(&format!("exp={EXP}"), "exp=1000000000"),
        NOW,
        "expired",
    );

    // Unknown keys (checked before exp digits and expiry).
    add(
        "unknown kid",
        signed_with("/media/cat.jpg", &EXP.to_string(), "k1999z", FORGER),
        NOW,
        "unknown_key",
    );
    add(
        "retired kid",
        base.replace("kid=k2026a", "kid=k2024a"),
        NOW,
        "unknown_key",
    );
    add(
        "unknown kid with exp in milliseconds",
        base.replace(&format!("exp={EXP}"), &format!("exp={ms}"))
            .replace("kid=k2026a", "kid=k1999z"),
        NOW,
        "unknown_key",
    );
    add(
        "unknown kid, expired",
        base.replace(&format!("exp={EXP}"), "exp=1000000000")
            .replace("kid=k2026a", "kid=k1999z"),
        NOW,
        "unknown_key",
    );

    // Unsigned: none of exp, kid, sig.
    add("no query", "/media/cat.jpg".into(), NOW, "unsigned");
    add("empty query", "/media/cat.jpg?".into(), NOW, "unsigned");
    add(
        "a query of its own only",
        "/media/cat.jpg?w=640&h=480".into(),
        NOW,
        "unsigned",
    );

    // Malformed.
    add(
        "exp and kid without sig",
        format!("/media/cat.jpg?w=640&exp={EXP}&kid=k2026a"),
        NOW,
        "malformed",
    );
    add(
        "kid missing",
        base.replace("&kid=k2026a", ""),
        NOW,
        "malformed",
    );
    add(
        "exp missing",
        base.replace(&format!("&exp={EXP}"), ""),
        NOW,
        "malformed",
    );
    add("sig empty", base.replace(&sig, ""), NOW, "malformed");
    add(
        "sig of 42 characters",
        base.replace(&sig, &sig[..42]),
        NOW,
        "malformed",
    );
    add(
        "sig of 44 characters",
        base.replace(&sig, &format!("{sig}A")),
        NOW,
        "malformed",
    );
    add(
        "sig with padding",
        base.replace(&sig, &format!("{sig}=")),
        NOW,
        "malformed",
    );
    add(
        "sig in standard base64",
        base.replace(&sig, &format!("+/{}", &sig[2..])),
        NOW,
        "malformed",
    );
    add(
        "sig with an encoded space",
        base.replace(&sig, &format!("%20{}", &sig[3..])),
        NOW,
        "malformed",
    );
    add(
        "parameter after sig",
        format!("{base}&w=1"),
        NOW,
        "malformed",
    );
    add("second sig", format!("{base}&sig={sig}"), NOW, "malformed");
    add(
        "kid before exp",
        base.replace(
            &format!("exp={EXP}&kid=k2026a"),
            &format!("kid=k2026a&exp={EXP}"),
        ),
        NOW,
        "malformed",
    );
    add(
        "sig alone",
        format!("/media/cat.jpg?sig={sig}"),
        NOW,
        "malformed",
    );
    add(
        "exp with a leading zero",
        base.replace(&format!("exp={EXP}"), &format!("exp=0{EXP}")),
        NOW,
        "malformed",
    );
    add(
        "exp negative",
        base.replace(&format!("exp={EXP}"), "exp=-1"),
        NOW,
        "malformed",
    );
    add(
        "exp with a plus sign",
        base.replace(&format!("exp={EXP}"), &format!("exp=+{EXP}")),
        NOW,
        "malformed",
    );
    add(
        "exp in scientific notation",
        base.replace(&format!("exp={EXP}"), "exp=2e9"),
        NOW,
        "malformed",
    );
    add(
        "exp in hex",
        base.replace(&format!("exp={EXP}"), "exp=0x6639A6A0"),
        NOW,
        "malformed",
    );
    add(
        "exp empty",
        base.replace(&format!("exp={EXP}"), "exp="),
        NOW,
        "malformed",
    );
    add(
        "exp in milliseconds",
        base.replace(&format!("exp={EXP}"), &format!("exp={ms}")),
        NOW,
        "malformed",
    );
    add(
        "exp of 11 digits",
        base.replace(&format!("exp={EXP}"), "exp=17150000000"),
        NOW,
        "malformed",
    );
    add(
        "kid empty",
        base.replace("kid=k2026a", "kid="),
        NOW,
        "malformed",
    );
    add(
        "kid with a dot",
        base.replace("kid=k2026a", "kid=k.2026a"),
        NOW,
        "malformed",
    );
    add(
        "exp raised a year: beyond max_link_lifetime, refused before the MAC",
        base.replace(&format!("exp={EXP}"), &format!("exp={}", EXP + 365 * 86400)),
        NOW,
        "malformed",
    );
    add(
        "exp one second beyond now + max_link_lifetime + grace, validly signed",
        signed_with(
            "/media/cat.jpg",
            &(cap + 1).to_string(),
            "k2026a",
            KEYS[0].1,
        ),
        NOW,
        "malformed",
    );
    add(
        "largest 10-digit exp, validly signed, years ahead",
        signed_with("/media/cat.jpg", "9999999999", "k2026a", KEYS[0].1),
        NOW,
        "malformed",
    );
    add(
        "request target of 8193 bytes, validly signed",
        signed(&long_path(8193 - triple_len), "k2026a"),
        NOW,
        "malformed",
    );
    add(
        "query of 64 KiB",
        signed(&format!("/media/cat.jpg?q={}", "x".repeat(65536)), "k2026a"),
        NOW,
        "malformed",
    );
    add(
        "kid with an encoded space",
        base.replace("kid=k2026a", "kid=k%202026a"),
        NOW,
        "malformed",
    );
    add(
        "kid with a plus",
        base.replace("kid=k2026a", "kid=k+2026a"),
        NOW,
        "malformed",
    );
    add(
        "kid percent-encoded",
        base.replace("kid=k2026a", "kid=%6B2026a"),
        NOW,
        "malformed",
    );
    add(
        "kid non-ASCII",
        base.replace("kid=k2026a", "kid=k%C3%A92026a"),
        NOW,
        "malformed",
    );
    add(
        "kid with an encoded ampersand",
        base.replace("kid=k2026a", "kid=k2026a%26x"),
        NOW,
        "malformed",
    );
    add(
        "kid of 32 characters, not configured",
        base.replace("kid=k2026a", &format!("kid={}", "k".repeat(32))),
        NOW,
        "unknown_key",
    );
    add(
        "kid of 33 characters",
        base.replace("kid=k2026a", &format!("kid={}", "k".repeat(33))),
        NOW,
        "malformed",
    );
    add(
        "exp repeated earlier in the query",
        base.replace("?w=640", "?exp=9999999999&w=640"),
        NOW,
        "malformed",
    );
    add(
        "kid repeated, percent-encoded",
        base.replace("?w=640", "?%6Bid=k2026a&w=640"),
        NOW,
        "malformed",
    );
    // Names are compared exactly, so these carry no exp, kid or sig: unsigned.
    add(
        "upper-case parameter names",
        base.replace("&exp=", "&EXP=")
            .replace("&kid=", "&KID=")
            .replace("&sig=", "&SIG="),
        NOW,
        "unsigned",
    );
    add(
        "ampersands HTML-escaped",
        base.replace('&', "&amp;"),
        NOW,
        "unsigned",
    );

    VectorFile {
        description: "rendorix signed-URL test vectors (spec §11). Published TEST keys: never use them for a real site. \
                      Regenerate with: UPDATE_VECTORS=1 cargo test --test vectors"
            .into(),
        grace: GRACE,
        max_link_lifetime: MAX_LINK_LIFETIME,
        keys: KEYS.iter().map(|(k, s)| (k.to_string(), s.to_string())).collect(),
        vectors: v,
    }
}

fn path() -> std::path::PathBuf {
    common::fixture("vectors.json")
}

fn load() -> VectorFile {
    serde_json::from_slice(&std::fs::read(path()).unwrap()).unwrap()
}

#[test]
fn vectors_file_matches_its_generator() {
    let generated = serde_json::to_string_pretty(&generate()).unwrap() + "\n";
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(path(), &generated).unwrap();
    }
    let on_disk = std::fs::read_to_string(path()).unwrap();
    assert!(
        on_disk == generated,
        "fixtures/vectors.json is stale; run UPDATE_VECTORS=1 cargo test --test vectors"
    );
}

#[test]
fn vectors_cover_every_verdict_and_enough_cases() {
    let file = load();
    assert!(file.vectors.len() >= 60, "{}", file.vectors.len());
    let mut per_verdict = BTreeMap::new();
    for v in &file.vectors {
        *per_verdict.entry(v.expected.as_str()).or_insert(0) += 1;
    }
    assert_eq!(
        per_verdict.keys().copied().collect::<Vec<_>>(),
        [
            "bad_signature",
            "expired",
            "malformed",
            "ok",
            "unknown_key",
            "unsigned"
        ]
    );
    let names: std::collections::BTreeSet<_> = file.vectors.iter().map(|v| &v.name).collect();
    assert_eq!(names.len(), file.vectors.len(), "vector names are unique");
}

fn limits(file: &VectorFile) -> Limits {
    Limits {
        grace: file.grace,
        max_lifetime: file.max_link_lifetime,
    }
}

fn keys(file: &VectorFile) -> Keys {
    Keys::from_keys(file.keys.iter().map(|(k, s)| key(k, s)).collect())
}

fn verdict(input: &str, now: u64, keys: &Keys, limits: Limits) -> String {
    match verify(input, now, keys, limits) {
        Ok(_) => "ok".into(),
        Err(r) => r.code().into(),
    }
}

#[test]
fn every_vector_passes_in_the_library_as_url_and_as_request_target() {
    let file = load();
    let keys = keys(&file);
    for v in &file.vectors {
        assert_eq!(
            verdict(&v.url, v.now, &keys, limits(&file)),
            v.expected,
            "{} (url)",
            v.name
        );
        let target = match &v.querystring {
            Some(q) => format!("{}?{q}", v.uri),
            None => v.uri.clone(),
        };
        assert_eq!(
            verdict(&target, v.now, &keys, limits(&file)),
            v.expected,
            "{} (target)",
            v.name
        );
    }
}

#[test]
fn every_vector_passes_in_the_cli() {
    let file = load();
    let env_keys: Vec<String> = file.keys.iter().map(|(k, s)| format!("{k}:{s}")).collect();
    let mut by_now: BTreeMap<u64, Vec<&Vector>> = BTreeMap::new();
    for v in &file.vectors {
        by_now.entry(v.now).or_default().push(v);
    }
    let dir = tempfile::tempdir().unwrap(); // no rendorix.toml here: RENDORIX_KEYS and 30 s grace
    for (now, vectors) in by_now {
        let out = Command::new(env!("CARGO_BIN_EXE_rendorix"))
            .arg("verify")
            .args(vectors.iter().map(|v| &v.url))
            .args(["--now", &now.to_string()])
            .env("RENDORIX_KEYS", env_keys.join(","))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let verdicts: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        let expected: Vec<&str> = vectors.iter().map(|v| v.expected.as_str()).collect();
        assert_eq!(verdicts, expected, "now={now}\n{stdout}");
        let all_ok = expected.iter().all(|e| *e == "ok");
        assert_eq!(out.status.code(), Some(i32::from(!all_ok)));
    }
}

#[test]
fn verify_takes_keys_env_and_grace_from_the_config() {
    let file = load();
    let v = file
        .vectors
        .iter()
        .find(|v| v.name == "now at exp + grace")
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = "[site]\nbase_url = \"https://www.example.com/\"\n[sign]\nmatch = [\"/media/\"]\nkey_id = \"k2026a\"\nkeys_env = \"EDGE_KEYS\"\n[expiry]\ngrace = \"0s\"\n";
    std::fs::write(dir.path().join("rendorix.toml"), config).unwrap();
    let run = |env: &[(&str, String)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rendorix"));
        cmd.args(["verify", &v.url, "--now", &v.now.to_string()])
            .current_dir(dir.path())
            .env_remove("RENDORIX_KEYS");
        for (k, val) in env {
            cmd.env(k, val);
        }
        cmd.output().unwrap()
    };
    let keys = file
        .keys
        .iter()
        .map(|(k, s)| format!("{k}:{s}"))
        .collect::<Vec<_>>()
        .join(",");
    // With a grace of 0 s, 30 s past exp is expired.
    let out = run(&[("EDGE_KEYS", keys.clone())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("expired"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Keys are read from the variable the config names, not RENDORIX_KEYS.
    let out = run(&[("RENDORIX_KEYS", keys)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("environment variable EDGE_KEYS is not set")
    );
}
