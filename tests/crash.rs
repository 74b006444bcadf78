//! Crash safety: `sign` and `resign` killed with SIGKILL at many points never leave a page that
//! is neither the old one nor the fully signed one, and the next run completes the site.
//!
//! Signing is deterministic for a given `--now`, so "fully signed" is checked byte for byte
//! against a reference copy signed without interruption.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TEST_KEY, files_under};

const NOW: u64 = 1_715_000_000;
const PAGES: usize = 2500;
const KILLS: u32 = 25;

/// A generated site of `PAGES` pages of ~12 KB with a dozen protected images each, one folder
/// per page as generators write them.
fn generate(root: &Path) {
    let filler: String = (0..60).fold(String::new(), |mut s, i| {
        let _ = writeln!(
            s,
            "<tr><td>row {i}</td><td>tide harbour lantern granite meadow</td></tr>"
        );
        s
    });
    for n in 0..PAGES {
        let dir = root.join(format!("site/s{}/p{n}", n % 25));
        fs::create_dir_all(&dir).unwrap();
        let mut page = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{n}</title></head><body>\n"
        );
        for k in 0..6 {
            let _ = writeln!(
                page,
                "<img src=\"/media/{n}/{k}.jpg?w=640&amp;h=480\" srcset=\"/media/{n}/{k}.jpg 1x, /media/{n}/{k}@2x.jpg 2x\">"
            );
        }
        let _ = writeln!(page, "<table>{filler}</table></body></html>");
        fs::write(dir.join("index.html"), page).unwrap();
        fs::write(dir.join("data.json"), format!("{{\"n\":{n}}}")).unwrap();
    }
    fs::write(
        root.join("rendorix.toml"),
        "[site]\nbase_url = \"https://www.example.com/\"\ndir = \"site\"\n[sign]\nmatch = [\"/media/\"]\nkey_id = \"k2026a\"\n",
    )
    .unwrap();
}

fn copy(from: &Path, to: &Path) {
    for (rel, bytes) in files_under(from) {
        let dest = to.join(rel);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::write(dest, bytes).unwrap();
    }
}

fn command(root: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rendorix"));
    cmd.args(args)
        .current_dir(root)
        .env("RENDORIX_KEYS", TEST_KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

fn run_to_end(root: &Path, args: &[&str]) {
    let status = command(root, args).status().unwrap();
    assert!(status.success(), "{args:?}: {status}");
}

type Files = BTreeMap<String, Vec<u8>>;

fn site_files(root: &Path) -> Files {
    files_under(&root.join("site")).into_iter().collect()
}

/// Every HTML page is `before` or `after` byte for byte; every other file is untouched;
/// leftover temporary files are counted (a killed run may leave one per worker).
fn check_state(root: &Path, before: &Files, after: &Files, when: &str) -> usize {
    let mut leftovers = 0;
    let now = site_files(root);
    for (rel, bytes) in &now {
        if rel.ends_with(rendorix::site::TEMP_SUFFIX) {
            leftovers += 1;
            continue;
        }
        let old = before
            .get(rel)
            .unwrap_or_else(|| panic!("{when}: unexpected file {rel}"));
        if rendorix::site::is_html(Path::new(rel)) {
            assert!(
                bytes == old || Some(bytes) == after.get(rel),
                "{when}: {rel} is neither the old page nor the signed one"
            );
        } else {
            assert_eq!(bytes, old, "{when}: {rel} changed");
        }
    }
    for rel in before.keys() {
        assert!(now.contains_key(rel), "{when}: {rel} disappeared");
    }
    leftovers
}

/// Kills `args` at `KILLS` points spread over a full run's duration, checking the site after
/// each, then lets a run complete and checks that the site is exactly `after` with no temporary
/// file left; returns how many kills interrupted a run.
fn kill_repeatedly_then_finish(
    root: &Path,
    args: &[&str],
    before: &Files,
    after: &Files,
    full_run: Duration,
) -> u32 {
    let mut interrupted = 0;
    for k in 0..KILLS {
        let delay = full_run.mul_f64(f64::from(k + 1) / f64::from(KILLS + 2));
        let mut child = command(root, args).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if status.code().is_none() {
            interrupted += 1;
        }
        check_state(
            root,
            before,
            after,
            &format!("{args:?} killed after {delay:?}"),
        );
    }
    run_to_end(root, args);
    assert_eq!(
        check_state(
            root,
            before,
            after,
            &format!("after a complete {}", args[0])
        ),
        0,
        "leftover temporary files"
    );
    assert_eq!(&site_files(root), after);
    interrupted
}

fn timed(root: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    run_to_end(root, args);
    start.elapsed()
}

#[test]
fn sign_and_resign_killed_at_any_point_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pristine = dir.path().join("pristine");
    generate(&pristine);
    let original = site_files(&pristine);

    // References: signed at NOW, and re-signed 25 hours later (every page due).
    let later = (NOW + 25 * 3600).to_string();
    let now = NOW.to_string();
    let reference = dir.path().join("reference");
    copy(&pristine, &reference);
    let sign_time = timed(&reference, &["sign", "--now", &now]);
    let signed = site_files(&reference);
    let resign_time = timed(&reference, &["resign", "--now", &later]);
    let resigned = site_files(&reference);
    assert_ne!(signed, resigned);

    let work = dir.path().join("work");
    copy(&pristine, &work);
    let sign_args = ["sign", "--now", now.as_str()];
    let interrupted = kill_repeatedly_then_finish(&work, &sign_args, &original, &signed, sign_time);
    let resign_args = ["resign", "--now", later.as_str()];
    let interrupted_resign =
        kill_repeatedly_then_finish(&work, &resign_args, &signed, &resigned, resign_time);
    let beside_config: Vec<String> = fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        beside_config
            .iter()
            .all(|f| !f.ends_with(rendorix::site::TEMP_SUFFIX)),
        "{beside_config:?}"
    );
    rendorix::site::manifest::Manifest::load(&work.join("rendorix-manifest.json"))
        .unwrap()
        .unwrap();

    // Kill points are spread over a measured run, so many land mid-run even on a loaded machine
    // (seen: 15 and 12 of 25); the guard only makes sure the test did not degenerate.
    eprintln!(
        "sign: {interrupted} of {KILLS} kills interrupted a run; resign: {interrupted_resign}"
    );
    assert!(
        interrupted >= KILLS / 4 && interrupted_resign >= KILLS / 4,
        "{interrupted} {interrupted_resign}"
    );
}
