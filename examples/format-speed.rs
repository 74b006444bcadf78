//! How fast each kind of file is signed, in memory (no I/O): a page, a stylesheet, a feed and a
//! web app manifest of about the same size, each with a URL to sign every ~2.3 KB (as the
//! benchmark site's pages have), scanned and spliced the way `rendorix sign` does. Prints MB/s
//! and each format's time as a ratio to the page's, from the median of `--rounds` rounds in
//! which every format runs once. Run by `bench/formats`.
//!
//!     cargo run --release --example format-speed -- [--mb 32] [--rounds 5]

use std::fmt::Write as _;
use std::io::Cursor;
use std::time::{Duration, Instant};

use rendorix::core::keys::Key;
use rendorix::core::sign::Signer;
use rendorix::core::urls::MatchPrefix;
use rendorix::page::{Format, Options, Rewriter, Scratch, splice};
use url::Url;

/// Filler between URLs: prose in the page and the feed, declarations in the stylesheet.
const WORDS: &str = "the harbour lantern drifts over granite meadows toward the copper beacon ";

/// About 2.3 KB of filler.
fn filler(out: &mut String) {
    for _ in 0..2300 / WORDS.len() {
        out.push_str(WORDS);
    }
}

/// About `mb` MiB of `format`, a URL every ~2.3 KB.
fn input(format: Format, mb: usize) -> String {
    let mut s = String::with_capacity(mb << 20);
    let mut i = 0;
    let url = |i: usize| format!("/media/{}/photo-{i}.jpg?w=640", i % 97);
    match format {
        Format::Html => s.push_str("<!doctype html><html><head><title>t</title></head><body>"),
        Format::Xml => {
            s.push_str("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>");
        }
        Format::WebManifest => s.push_str("{\"name\":\"t\",\"icons\":["),
        Format::Css => {}
    }
    while s.len() < mb << 20 {
        let u = url(i);
        match format {
            Format::Html => {
                s.push_str("<p>");
                filler(&mut s);
                let _ = write!(s, "</p><img src=\"{u}&amp;h=480\" alt=\"photo {i}\">");
            }
            Format::Css => {
                let _ = write!(s, ".c{i} {{ color: #333; /* ");
                filler(&mut s);
                let _ = writeln!(s, " */ background: url(\"{u}\") no-repeat; }}");
            }
            Format::Xml => {
                s.push_str("<item><title>");
                filler(&mut s);
                let _ = write!(
                    s,
                    "</title><enclosure url=\"{u}&amp;h=480\" type=\"image/jpeg\"/></item>"
                );
            }
            Format::WebManifest => {
                let _ = write!(s, "{{\"src\":\"{u}\",\"purpose\":\"");
                filler(&mut s);
                let _ = write!(s, "\",\"sizes\":\"{i}x{i}\"}},");
            }
        }
        i += 1;
    }
    match format {
        Format::Html => s.push_str("</body></html>"),
        Format::Xml => s.push_str("</channel></rss>"),
        Format::WebManifest => s.push_str("{\"src\":\"/x.png\"}]}"),
        Format::Css => {}
    }
    s
}

fn main() {
    let mut mb = 32;
    let mut rounds = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--mb" => mb = value,
            "--rounds" => rounds = value,
            _ => panic!("usage: format-speed [--mb N] [--rounds N]"),
        }
    }
    let site = Url::parse("https://www.example.com/").unwrap();
    let signer = Signer::new(
        Key::from_secret("k2026a", &[7u8; 32]).unwrap(),
        1_715_133_600,
        vec![MatchPrefix::parse("/media/", &site).unwrap()],
    );
    let rewriter = Rewriter::new(signer, Options::default());
    let formats = [
        ("page (HTML)", Format::Html, "index.html"),
        ("stylesheet (CSS)", Format::Css, "site.css"),
        ("feed (XML)", Format::Xml, "feed.xml"),
        (
            "web app manifest (JSON)",
            Format::WebManifest,
            "site.webmanifest",
        ),
    ];
    let inputs: Vec<String> = formats.iter().map(|(_, f, _)| input(*f, mb)).collect();
    let mut times = vec![Vec::new(); formats.len()];
    let mut signed = vec![0; formats.len()];
    let mut scratch = Scratch::new();
    for _ in 0..rounds {
        for (i, (_, format, name)) in formats.iter().enumerate() {
            let url = site.join(name).unwrap();
            let start = Instant::now();
            let scan = rewriter
                .scan_as(
                    *format,
                    &mut Cursor::new(inputs[i].as_bytes()),
                    &url,
                    &mut scratch,
                )
                .expect("scans");
            let mut out = Vec::with_capacity(inputs[i].len() + scan.edits.len() * 80);
            let encoding = scan.encoding.unwrap_or(encoding_rs::UTF_8);
            splice(
                inputs[i].as_bytes(),
                &scan.edits,
                encoding,
                &mut out,
                &mut scratch,
            )
            .expect("splices");
            times[i].push(start.elapsed());
            signed[i] = scan.signed.len();
        }
    }
    let median = |t: &mut Vec<Duration>| {
        t.sort();
        t[t.len() / 2]
    };
    let medians: Vec<Duration> = times.iter_mut().map(median).collect();
    println!("format                     MiB    URLs  median    MB/s  x page");
    for (i, (label, _, _)) in formats.iter().enumerate() {
        let mib = inputs[i].len() as f64 / f64::from(1 << 20);
        let secs = medians[i].as_secs_f64();
        println!(
            "{label:<24} {mib:>5.1} {:>7} {:>6.0}ms {:>7.1} {:>7.2}",
            signed[i],
            secs * 1000.0,
            inputs[i].len() as f64 / secs / 1e6,
            secs / medians[0].as_secs_f64() * (inputs[0].len() as f64 / inputs[i].len() as f64)
        );
    }
}
