//! Hostile and broken files: each gets a clear message naming the file (or is handled), the
//! other pages are still signed, nothing is lost, and the exit status follows spec §9.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

use common::{Site, text};

/// A copy of the blog with `setup` applied to its `public/` folder, then signed.
fn sign_with(setup: impl FnOnce(&Path)) -> (Site, Output) {
    let site = Site::copy("blog");
    setup(&site.root.join("public"));
    let out = site.sign(&[]);
    (site, out)
}

fn normal_page_signed(site: &Site) -> bool {
    site.read_text("public/404.html")
        .contains("/media/lost.gif?exp=")
}

#[test]
fn binary_empty_and_nul_files_named_html_are_handled() {
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (site, out) = sign_with(|p| {
        fs::write(p.join("binary.html"), &noise).unwrap();
        fs::write(p.join("empty.html"), b"").unwrap();
        fs::write(
            p.join("nul.html"),
            b"<p>\0\0</p><img src=\"/media/a\0b.jpg\"><img src=\"/media/ok.jpg\">\0",
        )
        .unwrap();
    });
    // A browser reads the NUL in the URL as U+FFFD: that URL is reported, not signed.
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("public/nul.html:1:20: \"/media/a\\0b.jpg\": the URL holds a NUL"),
        "{stderr}"
    );
    assert_eq!(site.read("public/binary.html"), noise);
    assert_eq!(site.read("public/empty.html"), b"");
    let nul = site.read("public/nul.html");
    assert!(
        nul.starts_with(b"<p>\0\0</p><img src=\"/media/a\0b.jpg\"><img src=\"/media/ok.jpg?exp="),
        "{}",
        String::from_utf8_lossy(&nul)
    );
    assert!(nul.ends_with(b"\">\0"));
    assert!(normal_page_signed(&site));
}

#[test]
fn symlinks_are_not_followed_in_or_out_of_the_site() {
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join("secret.html"),
        "<img src=\"/media/outside.jpg\">",
    )
    .unwrap();
    let (site, out) = sign_with(|p| {
        symlink(outside.path(), p.join("linked-folder")).unwrap();
        symlink(outside.path().join("secret.html"), p.join("linked.html")).unwrap();
        symlink("loop", p.join("loop")).unwrap();
        symlink(p.join("posts"), p.join("posts/cycle")).unwrap();
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert_eq!(
        fs::read_to_string(outside.path().join("secret.html")).unwrap(),
        "<img src=\"/media/outside.jpg\">"
    );
    assert!(
        text(&out)
            .0
            .contains("skipped 1 HTML symlink (not followed"),
        "{}",
        text(&out).0
    );
    assert!(normal_page_signed(&site));
}

#[test]
fn a_fifo_named_html_is_skipped_not_waited_on() {
    let (site, out) = sign_with(|p| {
        let status = std::process::Command::new("mkfifo")
            .arg(p.join("pipe.html"))
            .status()
            .unwrap();
        assert!(status.success());
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    assert!(normal_page_signed(&site));
}

#[test]
fn a_folder_that_cannot_be_written_fails_its_pages_only() {
    // Root ignores permission bits, so make the folder immutable instead (ext4 and others).
    let site = Site::copy("blog");
    let folder = site.root.join("public/posts/hello");
    let locked = std::process::Command::new("chattr")
        .arg("+i")
        .arg(&folder)
        .status()
        .is_ok_and(|s| s.success());
    if !locked {
        // Without root or chattr, permission bits do the same job.
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
    }
    let before = site.read("public/posts/hello/index.html");
    let out = site.sign(&[]);
    let _ = std::process::Command::new("chattr")
        .arg("-i")
        .arg(&folder)
        .status();
    let (_, stderr) = text(&out);
    if !locked && std::fs::File::create(folder.join("probe")).is_ok() {
        eprintln!("skipped: this user can write to a read-only folder and chattr is unavailable");
        return;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "public/posts/hello/index.html: cannot create a temporary file beside the page"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("is the folder writable?"), "{stderr}");
    assert_eq!(site.read("public/posts/hello/index.html"), before);
    assert!(normal_page_signed(&site));
}

#[test]
fn huge_values_many_images_and_deep_nesting() {
    let long = "a".repeat(1 << 20);
    let many: String = (0..100_000).fold(String::new(), |mut s, i| {
        let _ = write!(s, "<img src=\"/media/{i}.jpg\">");
        s
    });
    let deep = format!(
        "{}<img src=\"/media/deep.jpg\">{}",
        "<div>".repeat(100_000),
        "</div>".repeat(100_000)
    );
    let (site, out) = sign_with(|p| {
        fs::write(
            p.join("long.html"),
            format!(
                "<img src=\"/media/{long}.jpg\" srcset=\"/media/{long}.jpg 1x, /media/b.jpg 2x\">"
            ),
        )
        .unwrap();
        fs::write(p.join("many.html"), &many).unwrap();
        fs::write(p.join("deep.html"), &deep).unwrap();
    });
    let (stdout, stderr) = text(&out);
    // The two 1 MB URLs are over the edge's 8192-byte limit: reported, shortly, not signed.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("URLs: 100,028 signed"), "{stdout}");
    let reported: Vec<&str> = stderr.lines().filter(|l| l.contains("long.html")).collect();
    assert_eq!(reported.len(), 2, "{stderr}");
    for line in reported {
        assert!(line.len() < 600, "{line}");
        assert!(
            line.contains("(1048587 bytes)") && line.contains("8192"),
            "{line}"
        );
    }
    let many_out = site.read_text("public/many.html");
    assert_eq!(many_out.matches("&amp;sig=").count(), 100_000);
    assert!(
        site.read_text("public/deep.html")
            .contains("/media/deep.jpg?exp=")
    );
    let long_out = site.read_text("public/long.html");
    assert_eq!(long_out.matches("&amp;sig=").count(), 1);
    assert!(long_out.contains("/media/b.jpg?exp="));
}

#[test]
fn a_page_larger_than_the_in_memory_limit_is_streamed_to_the_same_result() {
    // 9 MiB: past the 8 MiB in-memory limit, so read in chunks in two passes.
    let chunk = "<p>tide harbour lantern</p><img src=\"/media/x.jpg?a=1&amp;b=2\" srcset=\"/media/x.jpg 1x, /media/x@2x.jpg 2x\">\n<noscript><img src=\"/media/n.jpg\"></noscript>\n";
    let big = chunk.repeat((9 << 20) / chunk.len());
    let small = chunk.repeat(100);
    let (site, out) = sign_with(|p| {
        fs::write(p.join("big.html"), &big).unwrap();
        fs::write(p.join("small.html"), &small).unwrap();
    });
    assert_eq!(out.status.code(), Some(0), "{}", text(&out).1);
    let signed_small = site.read_text("public/small.html");
    let signed_chunk = &signed_small[..signed_small.len() / 100];
    let signed_big = site.read_text("public/big.html");
    assert_eq!(signed_big, signed_chunk.repeat((9 << 20) / chunk.len()));
}
