//! `rendorix sign` over the committed output of real generators (fixtures/generators/, rebuilt by
//! its build.sh): what is signed (the summary and the manifest, snapshots), that nothing else
//! changed, that a second run changes nothing, and that `check` agrees.

mod common;

use common::{NOW, Site, files_under, fixture, strip_refresh, strip_signatures, text};

/// Every generator fixture, and whether its config turns `[refresh]` on: the sites whose
/// client-side routers render protected images from unsigned data (VitePress, Docusaurus,
/// Next.js) and the one with view transitions (Astro).
const GENERATORS: [(&str, bool); 8] = [
    ("hugo", false),
    ("mkdocs", false),
    ("sphinx", false),
    ("eleventy", false),
    ("astro", true),
    ("vitepress", true),
    ("docusaurus", true),
    ("nextjs", true),
];

/// `rendorix COMMAND --now NOW` in `site`.
fn run(site: &Site, command: &str) -> std::process::Output {
    site.run(&[command, "--now", NOW])
}

fn sign(name: &str) -> (Site, std::process::Output) {
    let site = Site::copy(&format!("generators/{name}"));
    let out = run(&site, "sign");
    (site, out)
}

#[test]
fn every_generator_fixture_is_signed_as_snapshotted() {
    for (name, _) in GENERATORS {
        let (site, out) = sign(name);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}{stderr}");
        insta::assert_snapshot!(
            format!("{name}__summary"),
            format!("--- stdout\n{stdout}--- stderr\n{stderr}")
        );
        insta::assert_snapshot!(
            format!("{name}__manifest"),
            site.read_text("rendorix-manifest.json")
        );
        insta::assert_snapshot!(
            format!("{name}__urls"),
            site.read_text("rendorix-manifest.json.urls")
        );
    }
}

#[test]
fn only_signatures_are_added_and_a_second_run_changes_nothing() {
    for (name, refresh) in GENERATORS {
        let (site, _) = sign(name);
        let before = files_under(&fixture(&format!("generators/{name}")).join("site"));
        let mut after = files_under(&site.root.join("site"));
        // The refresh worker is the one file added.
        let worker = after.iter().position(|(p, _)| p == "rendorix-sw.js");
        assert_eq!(worker.is_some(), refresh, "{name}: the refresh worker");
        if let Some(at) = worker {
            after.remove(at);
        }
        assert_eq!(
            before.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            after.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            "{name}: the same files"
        );
        let mut changed = 0;
        for ((rel, old), (_, new)) in before.iter().zip(&after) {
            assert_eq!(
                String::from_utf8_lossy(&strip_signatures(&strip_refresh(new))),
                String::from_utf8_lossy(old),
                "{name}/{rel}"
            );
            changed += usize::from(old != new);
        }
        assert!(changed >= 2, "{name}: {changed} files signed");
        let signed = site.files();
        let again = run(&site, "sign");
        assert_eq!(again.status.code(), Some(0), "{name}");
        let differing: Vec<&str> = signed
            .iter()
            .zip(site.files())
            .filter(|((p, a), (_, b))| p.starts_with("site/") && a != b)
            .map(|((p, _), _)| p.as_str())
            .collect();
        assert_eq!(differing, Vec::<&str>::new(), "{name}: a second run");
        let check = run(&site, "check");
        assert_eq!(check.status.code(), Some(0), "{name}: {:?}", text(&check));
    }
}

#[test]
fn a_wrong_match_fails_and_names_the_prefixes_the_site_uses() {
    let site = Site::copy("generators/astro");
    let config = site.root.join("rendorix.toml");
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text_before.replace(
            r#"match = ["/_astro/", "/images/"]"#,
            r#"match = ["/img/"]"#,
        ),
    )
    .unwrap();
    let out = site.sign(&[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("/_astro/"), "{stderr}");
    assert!(stderr.contains("/images/"), "{stderr}");
}
