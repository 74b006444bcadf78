//! Writes a deterministic synthetic static site for benchmarks: the same arguments give
//! byte-identical output.
//!
//!     cargo run --release --example gen-site -- --pages 2000 --out /tmp/bench [--seed 1] [--huge-page-mb 0] [--page-kb K]
//!
//! `OUT/site/` gets nested folders of ~30 KB pages (head, inline style and script, text, a table)
//! with 13 image references each in a realistic mix: image-host URLs with `&amp;` in the query,
//! root- and page-relative paths, `srcset` with 3-5 candidates, `<picture>` sources, a preload
//! link, and a foreign host and a `data:` URI that must not be signed; plus non-HTML files.
//! `OUT/rendorix.toml` is the matching config. `--huge-page-mb M` adds one page of M MiB.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// splitmix64: a fixed, seedable stream, so the site is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: [&str; 24] = [
    "harbour", "tide", "lantern", "granite", "meadow", "orbit", "signal", "cedar", "drift",
    "ember", "quarry", "lattice", "summit", "willow", "copper", "marsh", "beacon", "fjord",
    "thistle", "amber", "canyon", "pebble", "glacier", "ridge",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(&WORDS));
    }
    s.push('.');
    s
}

fn images(rng: &mut Rng, n: usize, depth: usize) -> Vec<String> {
    let up = "../".repeat(depth);
    let w = [320, 480, 640, 800, 1024, 1280, 1600];
    let srcset = |rng: &mut Rng, base: &str, ext: &str| {
        let count = 3 + rng.below(3) as usize;
        (0..count)
            .map(|i| format!("{base}-{}.{ext} {}w", w[i], w[i]))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = vec![
        format!(r#"<img src="https://img.example.com/photos/{n}/a.jpg?w=800&amp;h=600&amp;fit=crop" alt="{}" loading="lazy">"#, rng.pick(&WORDS)),
        format!(r#"<img src="https://img.example.com/photos/{n}/b.jpg?w=400&amp;q=75" alt="">"#),
        format!(r#"<img src="/media/{}/{n}-c.png" width="640" height="480" alt="">"#, n % 20),
        format!(r#"<img src="/media/{}/{n}-d.png" alt="">"#, n % 20),
        format!(r#"<img src="{up}media/{}/{n}-e.jpg" alt="relative">"#, n % 20),
        format!(r#"<img src="/media/{n}/f-640.jpg" srcset="{}" sizes="(max-width: 700px) 100vw, 700px" alt="">"#, srcset(rng, &format!("/media/{n}/f"), "jpg")),
        format!(r#"<img src="https://img.example.com/c/w_640,h_480/{n}/g.jpg" srcset="{}" alt="">"#, srcset(rng, &format!("https://img.example.com/c/w_x/{n}/g"), "jpg")),
        format!(
            r#"<picture><source type="image/avif" srcset="{}"><source type="image/webp" srcset="/media/{n}/h.webp 1x, /media/{n}/h@2x.webp 2x"><img src="/media/{n}/h.jpg" alt=""></picture>"#,
            srcset(rng, &format!("/media/{n}/h"), "avif")
        ),
        format!(r#"<img src="https://cdn.other.net/badges/{n}.svg" alt="badge">"#),
        r#"<img src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==" alt="">"#.to_owned(),
    ];
    // Shuffle so the images fall at different places in the text.
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

fn page(rng: &mut Rng, n: usize, depth: usize, target_bytes: usize) -> String {
    let mut p = String::with_capacity(target_bytes + 4096);
    let title = sentence(rng, 4);
    let _ = write!(
        p,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/css/site.css">
<link rel="preload" as="image" href="https://img.example.com/hero/{n}.jpg?w=1600&amp;q=80">
<style>
"#
    );
    for i in 0..40 {
        let _ = writeln!(
            p,
            ".c{i} {{ margin: {}px {}px; color: #{:06x}; }}",
            i % 7,
            i % 11,
            rng.below(0xFF_FFFF)
        );
    }
    p.push_str("</style>\n<script>\n");
    for i in 0..40 {
        let _ = writeln!(
            p,
            "window.cfg{i} = {{ id: {}, label: \"{}\", on: {} }};",
            rng.below(100_000),
            rng.pick(&WORDS),
            i % 2 == 0
        );
    }
    let _ = write!(
        p,
        "</script>\n</head>\n<body>\n<header><a href=\"/\">Home</a> <nav><a href=\"/s/\">Sections</a></nav></header>\n<main><article>\n<h1>{title}</h1>\n"
    );
    let imgs = images(rng, n, depth);
    let mut next_img = 0;
    while p.len() < target_bytes * 2 / 3 {
        let _ = writeln!(
            p,
            "<p>{} {} <a href=\"/s/{}/\">{}</a> {}</p>",
            sentence(rng, 12),
            sentence(rng, 9),
            rng.below(500),
            rng.pick(&WORDS),
            sentence(rng, 14)
        );
        if next_img < imgs.len() && rng.below(3) == 0 {
            let _ = writeln!(
                p,
                "<figure>{}<figcaption>{}</figcaption></figure>",
                imgs[next_img],
                sentence(rng, 5)
            );
            next_img += 1;
        }
    }
    for img in &imgs[next_img..] {
        let _ = writeln!(p, "<figure>{img}</figure>");
    }
    p.push_str("<table>\n<thead><tr><th>Item</th><th>Place</th><th>Count</th><th>Note</th></tr></thead>\n<tbody>\n");
    while p.len() < target_bytes.saturating_sub(200) {
        let _ = writeln!(
            p,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rng.pick(&WORDS),
            rng.pick(&WORDS),
            rng.below(10_000),
            sentence(rng, 5)
        );
    }
    p.push_str("</tbody>\n</table>\n</article></main>\n<footer><p>&copy; 2026</p></footer>\n<script src=\"/js/site.js\"></script>\n</body>\n</html>\n");
    p
}

/// Writes a deterministic synthetic static site for benchmarks.
#[derive(clap::Parser)]
struct Args {
    /// Pages to write.
    #[arg(long, default_value_t = 2000)]
    pages: usize,
    /// The folder to write site/ and rendorix.toml into.
    #[arg(long, default_value = "bench-site")]
    out: PathBuf,
    /// The random stream's seed: the same seed, the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Add one page of this many MiB.
    #[arg(long = "huge-page-mb", default_value_t = 0)]
    huge_mb: usize,
    /// Make every page about this many kB instead of 24-36 kB (a million-page site on a
    /// machine's disk).
    #[arg(long = "page-kb")]
    page_kb: Option<usize>,
}

fn main() -> std::io::Result<()> {
    let Args {
        pages,
        out,
        seed,
        huge_mb,
        page_kb,
    } = clap::Parser::parse();
    let site = out.join("site");
    if site.exists() {
        fs::remove_dir_all(&site)?;
    }
    let mut rng = Rng(seed);
    for n in 0..pages {
        // site/s{0..20}/t{..}/p{n}/index.html: three levels, like generator sections and slugs.
        let dir = site.join(format!("s{}/t{}/p{n}", n % 20, (n / 20) % 50));
        fs::create_dir_all(&dir)?;
        let size = 24_000 + rng.below(12_000) as usize;
        let size = page_kb.map_or(size, |kb| kb * 1000);
        fs::write(dir.join("index.html"), page(&mut rng, n, 3, size))?;
        fs::write(
            dir.join("data.json"),
            format!("{{\"id\":{n},\"tags\":[\"{}\"]}}\n", rng.pick(&WORDS)),
        )?;
        if n % 10 == 0 {
            fs::write(
                dir.join("feed.xml"),
                format!("<rss><item><link>/s/{n}/</link></item></rss>\n"),
            )?;
        }
    }
    fs::create_dir_all(site.join("css"))?;
    fs::create_dir_all(site.join("js"))?;
    fs::write(
        site.join("css/site.css"),
        "body { font: 16px/1.5 serif; }\n".repeat(200),
    )?;
    fs::write(
        site.join("js/site.js"),
        "document.documentElement.className = 'js';\n".repeat(100),
    )?;
    if huge_mb > 0 {
        write_huge(&site.join("huge/index.html"), huge_mb, &mut rng)?;
    }
    fs::write(
        out.join("rendorix.toml"),
        "[site]\nbase_url = \"https://www.example.com/\"\ndir = \"site\"\n\n[sign]\nmatch = [\"https://img.example.com/\", \"/media/\"]\nkey_id = \"k2026a\"\n",
    )?;
    Ok(())
}

/// One page of `mb` MiB, written in pieces so the generator's own memory stays small.
fn write_huge(path: &Path, mb: usize, rng: &mut Rng) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().expect("has a folder"))?;
    let mut f = std::io::BufWriter::new(fs::File::create(path)?);
    f.write_all(
        b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>huge</title></head><body>\n",
    )?;
    let mut written = 0;
    let mut n = 0;
    while written < mb << 20 {
        let chunk = page(rng, n, 1, 30_000);
        let body =
            &chunk[chunk.find("<main>").unwrap_or(0)..chunk.find("</main>").unwrap_or(chunk.len())];
        f.write_all(body.as_bytes())?;
        written += body.len();
        n += 1;
    }
    f.write_all(b"</body></html>\n")
}
