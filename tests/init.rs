//! `rendorix init` over the committed output of real generators: the config it writes signs
//! each site with no finding and `check` passes; it recognises the generator, reads `base_url`
//! from the pages, keeps CSS, scripts and page folders public, and refuses to overwrite.

mod common;

use std::fs;
use std::process::Command;

use common::{NOW, Site, TEST_KEY, text};

/// Each generator fixture, what `init` should recognise, the `base_url` its pages give (or the
/// placeholder), and a `sign.match` entry it should propose.
const GENERATORS: [(&str, &str, &str, &str); 8] = [
    ("hugo", "Hugo", "https://www.example.com/", "\"/posts/\""),
    (
        "mkdocs",
        "MkDocs",
        "https://docs.example.com/",
        "\"/images/\"",
    ),
    (
        "sphinx",
        "Sphinx",
        "https://docs.example.org/",
        "\"/_images/\"",
    ),
    (
        "eleventy",
        "the site",
        "https://www.example.com/",
        "\"/img/\"",
    ),
    ("astro", "Astro", "https://www.example.com/", "\"/_astro/\""),
    (
        "vitepress",
        "VitePress",
        "https://www.example.com/",
        "\"/images/\"",
    ),
    (
        "docusaurus",
        "Docusaurus",
        "https://docs.example.io/",
        "\"/assets/images/\"",
    ),
    (
        "nextjs",
        "Next.js",
        "https://www.example.com/",
        "\"/_next/static/media/\"",
    ),
];

fn rendorix(site: &Site, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rendorix"))
        .args(args)
        .current_dir(&site.root)
        .env("RENDORIX_KEYS", TEST_KEY)
        .output()
        .unwrap()
}

#[test]
fn the_config_init_writes_signs_every_generator_with_no_finding() {
    for (name, generator, base_url, a_match) in GENERATORS {
        let site = Site::copy(&format!("generators/{name}"));
        fs::remove_file(site.root.join("rendorix.toml")).unwrap();
        let out = rendorix(&site, &["init", "--kid", "k2026a"]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert!(
            stdout.starts_with(&format!(
                "wrote rendorix.toml for {}",
                if generator == "the site" {
                    generator.to_owned()
                } else {
                    format!("the {generator} site")
                }
            )),
            "{name}: {stdout}"
        );
        assert!(stdout.contains("with 0 findings"), "{name}: {stdout}");
        let config = site.read_text("rendorix.toml");
        assert!(
            config.contains(&format!("base_url = \"{base_url}\"")),
            "{name}: {config}"
        );
        assert!(config.contains(a_match), "{name}: {config}");
        assert!(config.contains("dir = \"site\""), "{name}: {config}");
        // Script and style folders are never proposed whole.
        assert!(!config.contains("\"/assets/js/"), "{name}: {config}");
        assert!(
            config.contains("[refresh]")
                == ["astro", "vitepress", "docusaurus", "nextjs"].contains(&name),
            "{name}: {config}"
        );

        let out = rendorix(&site, &["sign", "--now", NOW]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {stderr}");
        assert_eq!(stderr, "", "{name}: no finding, no warning");
        assert!(!stdout.contains("URLs: 0 signed"), "{name}: {stdout}");
        let out = rendorix(&site, &["check", "--now", NOW]);
        assert_eq!(out.status.code(), Some(0), "{name}: {:?}", text(&out));

        // A second init does not overwrite the config; --force does.
        let out = rendorix(&site, &["init"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out).1.contains("exists; edit it, or pass --force"));
    }
}

#[test]
fn init_says_what_it_cannot_find() {
    let site = Site::copy("generators/hugo");
    fs::remove_file(site.root.join("rendorix.toml")).unwrap();
    fs::rename(site.root.join("site"), site.root.join("elsewhere")).unwrap();
    let out = rendorix(&site, &["init"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("no built site (a folder with index.html) in public, dist"),
        "{:?}",
        text(&out)
    );
    let out = rendorix(&site, &["init", "elsewhere", "--base-url", "ftp://x/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("is not an http(s) URL"));
    let out = rendorix(
        &site,
        &[
            "init",
            "elsewhere",
            "--base-url",
            "https://blog.example.org/",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(text(&out).0, "");
    let config = site.read_text("rendorix.toml");
    assert!(
        config.contains("base_url = \"https://blog.example.org/\""),
        "{config}"
    );
    assert!(config.contains("dir = \"elsewhere\""), "{config}");
    let empty = site.root.join("bare");
    fs::create_dir_all(&empty).unwrap();
    fs::write(empty.join("index.html"), "<p>no images</p>").unwrap();
    let out = rendorix(&site, &["init", "bare", "--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("hold no image on the site's own origin"),
        "{:?}",
        text(&out)
    );
}
