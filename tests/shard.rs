//! Sharded runs (spec §18, docs/scale.md): `sign --shard K/N` and `resign --shard K/N` on N
//! machines (each its own copy, outputs synced back) or at once on one folder, then
//! `rendorix manifest merge`, give the pages, the manifest, the refresh worker and the revocation
//! list of one run, byte for byte; and the merge refuses parts that are not one run's.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{NOW, Site, TEST_KEY, files_under, text};

/// Every generator fixture and the hand-made sites with refresh, revocations and feeds.
const SITES: [&str; 10] = [
    "generators/hugo",
    "generators/mkdocs",
    "generators/sphinx",
    "generators/eleventy",
    "generators/astro",
    "generators/vitepress",
    "generators/docusaurus",
    "generators/nextjs",
    "blog",
    "gallery",
];

fn rendorix(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(args)
        .current_dir(root)
        .env("RENDORIX_KEYS", TEST_KEY)
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    let (stdout, stderr) = text(out);
    assert_eq!(out.status.code(), Some(0), "{what}: {stdout}{stderr}");
    stdout
}

fn shard_args<'a>(command: &'a str, now: &'a str, shard: &'a str) -> Vec<&'a str> {
    vec![command, "--now", now, "--shard", shard, "-q"]
}

/// Runs `command` as `count` shards on `count` copies of `root` (machines), copies what each
/// wrote (its pages, shard 1's site files, the parts) back into `root`, and merges there.
fn on_machines(root: &Path, command: &str, now: &str, count: u32) {
    let before = files_under(root);
    let machines: Vec<tempfile::TempDir> = (1..=count)
        .map(|k| {
            let machine = copy_of(root);
            let shard = format!("{k}/{count}");
            ok(
                &rendorix(machine.path(), &shard_args(command, now, &shard)),
                &shard,
            );
            machine
        })
        .collect();
    for machine in &machines {
        for (rel, bytes) in files_under(machine.path()) {
            let unchanged = before.iter().any(|(r, b)| *r == rel && *b == bytes);
            if !unchanged {
                copy_file(&machine.path().join(&rel), &root.join(&rel));
            }
        }
    }
    ok(&rendorix(root, &["manifest", "merge", "-q"]), "merge");
}

/// Runs `command` as `count` shards at once on `root` itself, then merges.
fn at_once(root: &Path, command: &str, now: &str, count: u32) {
    let children: Vec<_> = (1..=count)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_rendorix"))
                .args(shard_args(command, now, &format!("{k}/{count}")))
                .current_dir(root)
                .env("RENDORIX_KEYS", TEST_KEY)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (k, child) in children.into_iter().enumerate() {
        ok(
            &child.wait_with_output().unwrap(),
            &format!("shard {}", k + 1),
        );
    }
    ok(&rendorix(root, &["manifest", "merge", "-q"]), "merge");
}

/// A copy of the folder `from` as `tar` or `rsync -a` makes it: files and folders with their
/// modification times, which the manifest records and `resign` compares.
fn copy_of(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    for (rel, _) in files_under(from) {
        copy_file(&from.join(&rel), &to.path().join(&rel));
    }
    // Folders last, deepest first: creating their entries changed their times.
    let mut folders: Vec<_> = walkdir::WalkDir::new(from)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(from).unwrap().to_owned())
        .collect();
    folders.sort_by_key(|f| std::cmp::Reverse(f.components().count()));
    for folder in folders {
        let time = fs::metadata(from.join(&folder))
            .unwrap()
            .modified()
            .unwrap();
        let dir = fs::File::open(to.path().join(&folder)).unwrap();
        dir.set_modified(time).unwrap();
    }
    to
}

fn copy_file(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to).unwrap();
    let time = fs::metadata(from).unwrap().modified().unwrap();
    let file = fs::File::options().write(true).open(to).unwrap();
    file.set_modified(time).unwrap();
}

/// The first path where the files of two folders differ, if any.
fn first_difference(a: &Path, b: &Path) -> Option<String> {
    let (a, b) = (files_under(a), files_under(b));
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(&a) != names(&b) {
        return Some(format!("files: {:?} vs {:?}", names(&a), names(&b)));
    }
    (a.iter().zip(&b))
        .find(|(x, y)| x.1 != y.1)
        .map(|(x, _)| x.0.clone())
}

/// A site to run on, with a revocation in force for the blog (which pages reference).
fn prepared(name: &str) -> Site {
    let site = Site::copy(name);
    if name == "blog" {
        let now = (1_715_000_000 - 60).to_string();
        ok(
            &rendorix(&site.root, &["revoke", "/media/favicon.png", "--now", &now]),
            "revoke",
        );
    }
    site
}

/// Runs `command` at `now` on copies of `start`: once whole, as 3 shards on 3 machines, as 4
/// shards at once; each must give the same files. Returns the copy run whole.
fn compare(start: &Path, command: &str, now: &str, what: &str) -> tempfile::TempDir {
    let (one, machines, shared) = (copy_of(start), copy_of(start), copy_of(start));
    ok(&rendorix(one.path(), &[command, "--now", now, "-q"]), what);
    on_machines(machines.path(), command, now, 3);
    at_once(shared.path(), command, now, 4);
    let diff = first_difference(one.path(), machines.path());
    assert_eq!(diff, None, "{what}: {command}, 3 machines");
    let diff = first_difference(one.path(), shared.path());
    assert_eq!(diff, None, "{what}: {command}, 4 at once");
    one
}

#[test]
fn shards_and_a_merge_give_the_bytes_of_one_run() {
    // Two days later, every page is due for `resign`.
    let later = (1_715_000_000 + 2 * 86_400).to_string();
    for name in SITES {
        let site = prepared(name);
        let signed = compare(&site.root, "sign", NOW, name);
        compare(signed.path(), "resign", &later, name);
    }
}

/// A generated site of `pages` pages in nested folders, three protected images each.
fn generated(pages: usize) -> Site {
    let site = Site::copy("blog");
    let public = site.root.join("public");
    fs::remove_dir_all(&public).unwrap();
    for i in 0..pages {
        let folder = public.join(format!("s{}/p{i}", i % 37));
        fs::create_dir_all(&folder).unwrap();
        let page = format!(
            "<!doctype html><title>{i}</title><img src=\"/media/{i}.jpg\" alt=\"\">\
             <img srcset=\"../a{i}.png 1x, https://img.example.com/b/{i}.webp 2x\" src=\"x.png\">\
             <a href=\"../../s{}/p{}/\">next</a>\n",
            (i + 1) % 37,
            i + 1
        );
        fs::write(folder.join("index.html"), page).unwrap();
    }
    site
}

#[test]
fn a_generated_site_of_2000_pages_is_the_same_in_shards() {
    let later = (1_715_000_000 + 2 * 86_400).to_string();
    let site = generated(2000);
    let signed = compare(&site.root, "sign", NOW, "2000 pages");
    // Some pages rebuilt, one removed, one added: resign picks them (and the due ones) up the
    // same way in shards.
    let root = signed.path();
    fs::write(
        root.join("public/s3/p3/index.html"),
        "<img src=/media/new.jpg>",
    )
    .unwrap();
    fs::remove_dir_all(root.join("public/s4/p4")).unwrap();
    fs::create_dir_all(root.join("public/added")).unwrap();
    fs::write(
        root.join("public/added/index.html"),
        "<img src=/media/a.jpg>",
    )
    .unwrap();
    // A minute later only those need work, the others are kept; two days later all are due.
    let soon = (1_715_000_000 + 60).to_string();
    let resigned = compare(root, "resign", &soon, "2000 pages");
    compare(resigned.path(), "resign", &later, "2000 pages");
}

#[test]
fn the_merge_refuses_parts_that_are_not_one_run() {
    let site = Site::copy("blog");
    let root = &site.root;
    let part = |k: u32, n: u32| format!("rendorix-manifest.json.shard-{k}-of-{n}");
    let merge = |args: &[&str]| {
        let mut all = vec!["manifest", "merge"];
        all.extend_from_slice(args);
        let out = rendorix(root, &all);
        let (_, stderr) = text(&out);
        (out.status.code(), stderr)
    };
    for k in 1..=2 {
        ok(
            &rendorix(root, &shard_args("sign", NOW, &format!("{k}/3"))),
            "sign",
        );
    }
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no part for shard 3/3"), "{stderr}");
    // Shard 3 at another time.
    ok(
        &rendorix(root, &shard_args("sign", "1715000001", "3/3")),
        "sign",
    );
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("comes from another run than") && stderr.contains("another --now"),
        "{stderr}"
    );
    ok(&rendorix(root, &shard_args("sign", NOW, "3/3")), "sign");
    // Another config than the shards read.
    let config = root.join("rendorix.toml");
    let original = fs::read_to_string(&config).unwrap();
    fs::write(&config, format!("{original}\n# edited\n")).unwrap();
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("written with another config file"),
        "{stderr}"
    );
    fs::write(&config, &original).unwrap();
    // A repeated shard, a part of another split, a manifest given as a part.
    let (code, stderr) = merge(&[&part(1, 3), &part(1, 3), &part(2, 3), &part(3, 3)]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("shard 1/3 is given twice"), "{stderr}");
    ok(&rendorix(root, &shard_args("sign", NOW, "1/2")), "sign");
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("split in 3 shards, and the first part of one split in 2"),
        "{stderr}"
    );
    fs::remove_file(root.join(part(1, 2))).unwrap();
    // A merged run, then its manifest given as a part.
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!root.join(part(1, 3)).exists(), "merged parts are removed");
    let (code, stderr) = merge(&["rendorix-manifest.json"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("is a manifest, not the part of a shard"),
        "{stderr}"
    );
    // A part that is not a manifest at all, or edited.
    fs::write(root.join("junk"), "{").unwrap();
    let (code, stderr) = merge(&["junk"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("the manifest part junk is not valid JSON"),
        "{stderr}"
    );
    // A part whose page lines were edited: refused once they are read, nothing written.
    for shard in ["1/2", "2/2"] {
        ok(&rendorix(root, &shard_args("sign", NOW, shard)), "sign");
    }
    let manifest = fs::read(root.join("rendorix-manifest.json")).unwrap();
    let edited = fs::read_to_string(root.join(part(2, 2))).unwrap();
    let pages = edited.find("\"pages\"").unwrap();
    let exp = pages + edited[pages..].find("\"exp\":1").unwrap() + "\"exp\":".len();
    let edited = format!("{}2{}", &edited[..exp], &edited[exp + 1..]);
    fs::write(root.join(part(2, 2)), edited).unwrap();
    let (code, stderr) = merge(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&part(2, 2)) && stderr.contains("was changed by hand"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(root.join("rendorix-manifest.json")).unwrap(),
        manifest
    );
    // A part whose URL file was edited (its size kept), or is gone: refused, nothing written.
    for shard in ["1/2", "2/2"] {
        ok(&rendorix(root, &shard_args("sign", NOW, shard)), "sign");
    }
    let urls = root.join(format!("{}.urls", part(2, 2)));
    let mut lists = fs::read(&urls).unwrap();
    let first = lists
        .windows(10)
        .position(|w| w == b"\"urls\":[[\"")
        .unwrap()
        + 10;
    lists[first] = if lists[first] == b'X' { b'Y' } else { b'X' };
    fs::write(&urls, &lists).unwrap();
    for why in ["was changed by hand", "is missing"] {
        let (code, stderr) = merge(&[]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("{}.urls", part(2, 2))) && stderr.contains(why),
            "{stderr}"
        );
        assert_eq!(
            fs::read(root.join("rendorix-manifest.json")).unwrap(),
            manifest
        );
        fs::remove_file(&urls).unwrap_or(());
    }
    for k in [1, 2] {
        fs::remove_file(root.join(part(k, 2))).unwrap();
        fs::remove_file(root.join(format!("{}.urls", part(k, 2)))).unwrap_or(());
    }
    // `resign` does not take a part for the manifest.
    ok(&rendorix(root, &shard_args("sign", NOW, "1/1")), "sign");
    let copy = root.join("rendorix-manifest.json");
    fs::copy(root.join(part(1, 1)), &copy).unwrap();
    let out = rendorix(root, &["resign", "--now", NOW]);
    assert!(
        text(&out)
            .0
            .contains("is the part of shard 1/1, not a manifest"),
        "{}",
        text(&out).0
    );
}

#[test]
fn shards_need_one_instant_and_a_valid_k_of_n() {
    let site = Site::copy("blog");
    for (args, why) in [
        (
            vec!["sign", "--shard", "1/2"],
            "--shard 1/2 needs --now as an instant",
        ),
        (
            vec!["sign", "--shard", "1/2", "--now", "+1d"],
            "needs --now as an instant",
        ),
        (
            vec!["sign", "--shard", "3/2", "--now", NOW],
            "\"3/2\" is not a shard",
        ),
        (
            vec!["resign", "--shard", "0/2", "--now", NOW],
            "is not a shard",
        ),
    ] {
        let out = rendorix(&site.root, &args);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
}

#[test]
fn the_merge_judges_the_whole_site() {
    // Nothing under sign.match: no shard can tell, the merge fails as one run would.
    let site = Site::copy("blog");
    let config = site.root.join("rendorix.toml");
    let text_of = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text_of.replace(
            "match = [\"https://img.example.com/\", \"/media/\"]",
            "match = [\"/nowhere/\"]",
        ),
    )
    .unwrap();
    let one = rendorix(&site.root, &["sign", "--now", NOW, "--dry-run"]);
    assert_eq!(one.status.code(), Some(1));
    for k in 1..=2 {
        ok(
            &rendorix(&site.root, &shard_args("sign", NOW, &format!("{k}/2"))),
            "shard",
        );
    }
    let merged = rendorix(&site.root, &["manifest", "merge"]);
    let (_, stderr) = text(&merged);
    assert_eq!(merged.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing_protected") || stderr.contains("no URL was signed"),
        "{stderr}"
    );

    // Unsigned references in scripts that pages of other shards publish signed are recovered
    // (refresh on); the same verdict and counts as one run, in JSON.
    let one = Site::copy("generators/docusaurus");
    let single = rendorix(&one.root, &["sign", "--now", NOW, "--format", "json"]);
    let single: serde_json::Value = serde_json::from_slice(&single.stdout).unwrap();
    let sharded = Site::copy("generators/docusaurus");
    for k in 1..=3 {
        ok(
            &rendorix(&sharded.root, &shard_args("sign", NOW, &format!("{k}/3"))),
            "shard",
        );
    }
    let merged = rendorix(&sharded.root, &["manifest", "merge", "--format", "json"]);
    let stdout = ok(&merged, "merge");
    let merged: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for field in ["unsigned_references", "unsigned_recovered", "urls_signed"] {
        assert_eq!(merged[field], single[field], "{field}: {stdout}");
    }
    assert!(single["unsigned_recovered"].as_u64().unwrap() > 0);
    assert_eq!(merged["errors"], single["errors"]);
    assert_eq!(merged["shards"], 3);
    // `check` in shards: each audits its pages, the references in scripts count as recovered
    // through the pages the manifest records, and together they check every page once.
    let mut checked = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let args = ["check", "--now", NOW, "--shard", &shard, "--format", "json"];
        let out = rendorix(&sharded.root, &args);
        let stdout = ok(&out, &shard);
        let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        checked += json["pages_checked"].as_u64().unwrap();
    }
    let whole = rendorix(&sharded.root, &["check", "--now", NOW, "--format", "json"]);
    let whole: serde_json::Value = serde_json::from_str(&ok(&whole, "check")).unwrap();
    assert_eq!(checked, whole["pages_checked"].as_u64().unwrap());
}
