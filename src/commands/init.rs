//! `rendorix init`: a first config, written from the built site.
//!
//! It finds the generator's output folder (or takes it), recognises the generator where its
//! output says so (the `generator` meta tag, else folders only one generator writes), reads
//! `base_url` from the home page's canonical link or `og:url`, and proposes as `sign.match` the
//! folders on the site's own origin that its pages' images are in, limited to image extensions.
//! Then it signs the site in memory with a throwaway key, exactly as `sign` would: protected
//! references that rendorix cannot sign (scripts, data) and that no page publishes signed are
//! kept public with `sign.exclude`, so that the config it writes signs the site with no
//! finding. Images on other hosts are listed in comments, not proposed: an edge must guard them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lol_html::{HtmlRewriter, Settings, element};
use url::Url;

use crate::commands::keygen::generate;
use crate::commands::{
    icons, published, refresh_worker, renders_from_scripts, rewrite_options, system_now,
};
use crate::config::Config;
use crate::core::keys::{Key, Keys};
use crate::core::sign::Signer;
use crate::core::time::utc;
use crate::error::{Error, Status, UsageError};
use crate::page::Rewriter;
use crate::report::{Summary, count, num};
use crate::site::closer::Closer;
use crate::site::discover::{Leftovers, discover};
use crate::site::worker::{RunOptions, process_pages, search_files};

/// `rendorix init`'s options.
#[derive(Debug)]
pub(crate) struct InitOptions {
    /// The built site, when the command line names it.
    pub(crate) site_dir: Option<PathBuf>,
    /// The config file to write.
    pub(crate) config: PathBuf,
    /// `--base-url`, else read from the site.
    pub(crate) base_url: Option<String>,
    /// `--kid`, else `k` and today's date.
    pub(crate) kid: Option<String>,
    /// Overwrite an existing config.
    pub(crate) force: bool,
    /// `-q`.
    pub(crate) quiet: bool,
}

/// Where generators write their output, relative to the project folder, in the order tried.
const OUTPUT_FOLDERS: [&str; 9] = [
    "public",
    "dist",
    "build",
    "_site",
    "out",
    "site",
    "build/html",
    "_build/html",
    "docs/.vitepress/dist",
];

/// The image types protected: images only, so CSS, scripts and fonts beside them stay public.
const IMAGE_EXTENSIONS: &str = r#"["avif", "webp", "png", "jpg", "jpeg", "gif", "svg", "ico"]"#;

/// The generators recognised, for the config's comments and `[refresh]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generator {
    Astro,
    Docusaurus,
    Eleventy,
    Hugo,
    Jekyll,
    MkDocs,
    NextJs,
    Sphinx,
    VitePress,
}

impl Generator {
    fn name(self) -> &'static str {
        match self {
            Generator::Astro => "Astro",
            Generator::Docusaurus => "Docusaurus",
            Generator::Eleventy => "Eleventy",
            Generator::Hugo => "Hugo",
            Generator::Jekyll => "Jekyll",
            Generator::MkDocs => "MkDocs",
            Generator::NextJs => "Next.js",
            Generator::Sphinx => "Sphinx",
            Generator::VitePress => "VitePress",
        }
    }

    /// Whether it renders the next page with a client-side router, whose images the refresh
    /// worker loads (docs/client-navigation.md).
    fn routes_in_the_browser(self) -> bool {
        matches!(
            self,
            Generator::Astro | Generator::Docusaurus | Generator::NextJs | Generator::VitePress
        )
    }

    /// From the `generator` meta tag's content.
    fn from_meta(content: &str) -> Option<Generator> {
        let c = content.to_ascii_lowercase();
        [
            ("astro", Generator::Astro),
            ("docusaurus", Generator::Docusaurus),
            ("eleventy", Generator::Eleventy),
            ("hugo", Generator::Hugo),
            ("jekyll", Generator::Jekyll),
            ("mkdocs", Generator::MkDocs),
            ("next.js", Generator::NextJs),
            ("sphinx", Generator::Sphinx),
            ("vitepress", Generator::VitePress),
        ]
        .into_iter()
        .find(|(name, _)| c.contains(name))
        .map(|(_, g)| g)
    }

    /// From the folders and files only one generator writes.
    fn from_layout(site: &Path) -> Option<Generator> {
        let has = |p: &str| site.join(p).exists();
        let docusaurus = std::fs::read_dir(site.join("assets/js")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("runtime~main"))
        });
        if has("_astro") {
            Some(Generator::Astro)
        } else if has("_next") {
            Some(Generator::NextJs)
        } else if has("hashmap.json") {
            Some(Generator::VitePress)
        } else if has("objects.inv") {
            Some(Generator::Sphinx)
        } else if has("search/search_index.json") {
            Some(Generator::MkDocs)
        } else if docusaurus {
            Some(Generator::Docusaurus)
        } else if has("index.xml") {
            Some(Generator::Hugo)
        } else {
            None
        }
    }
}

/// What the home page says about the site.
#[derive(Debug, Default)]
struct HomePage {
    generator: Option<String>,
    canonical: Option<String>,
    og_url: Option<String>,
    /// The `href`s of its icon links.
    icons: Vec<String>,
}

/// Reads the `generator` meta tag, the canonical link and `og:url` of `html`.
fn read_home_page(html: &[u8]) -> HomePage {
    let found = std::cell::RefCell::new(HomePage::default());
    let settings = Settings::new()
        .append_element_content_handler(element!("meta[name=generator]", |el| {
            found.borrow_mut().generator = el.get_attribute("content");
            Ok(())
        }))
        .append_element_content_handler(element!("link[rel=canonical]", |el| {
            found.borrow_mut().canonical = el.get_attribute("href");
            Ok(())
        }))
        .append_element_content_handler(element!("meta[property='og:url']", |el| {
            found.borrow_mut().og_url = el.get_attribute("content");
            Ok(())
        }))
        .append_element_content_handler(element!(
            "link[rel~=icon][href], link[rel=apple-touch-icon][href]",
            |el| {
                if let Some(href) = el.get_attribute("href") {
                    found.borrow_mut().icons.push(href);
                }
                Ok(())
            }
        ));
    let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
    // A page lol_html cannot parse tells nothing: the defaults stand.
    let _ = rewriter.write(html).and_then(|()| rewriter.end());
    found.into_inner()
}

/// The site root that `canonical`, the home page's URL, names: `https://host/` or, for a site
/// under a path, `https://host/docs/`.
fn site_root(canonical: &str) -> Option<Url> {
    let mut url = Url::parse(canonical.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let folder = match url.path().rfind('/') {
            Some(i) => url.path()[..=i].to_owned(),
            None => "/".to_owned(),
        };
        url.set_path(&folder);
    }
    Some(url)
}

/// `path` as written in a config in `config_dir`: relative when it is inside it.
fn relative_to(path: &Path, config_dir: &Path) -> String {
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    let (path, dir) = (abs(path), abs(config_dir));
    match path.strip_prefix(&dir) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The proposal, written out.
struct Proposal<'a> {
    generator: Option<Generator>,
    base_url: &'a Url,
    base_from: &'a str,
    site_dir: &'a str,
    kid: &'a str,
    matches: &'a [(String, usize)],
    elsewhere: &'a [(String, usize)],
    icons: &'a [String],
    exclude: &'a [String],
}

impl Proposal<'_> {
    fn to_toml(&self) -> String {
        let mut t = String::new();
        let site = self.generator.map_or("A site", Generator::name);
        let _ = writeln!(
            t,
            "# Written by `rendorix init` from the built site; every key is documented in\n# docs/spec.md §10. {site} output in {}.",
            self.site_dir
        );
        let _ = writeln!(t, "[site]");
        let _ = writeln!(
            t,
            "base_url = {}  # {}",
            quoted(self.base_url.as_str()),
            self.base_from
        );
        let _ = writeln!(
            t,
            "dir = {}  # the built site, relative to this file",
            quoted(self.site_dir)
        );
        let _ = writeln!(t, "\n[sign]");
        let _ = writeln!(
            t,
            "# The folders its pages' images are in (image URLs found in them); only the image types\n# below are protected, so CSS, scripts and fonts beside them stay public."
        );
        let entries: Vec<String> = (self.matches.iter())
            .map(|(p, n)| {
                format!(
                    "  {},  # {}",
                    quoted(p),
                    count(*n, "image URL", "image URLs")
                )
            })
            .collect();
        let _ = writeln!(t, "match = [\n{}", entries.join("\n"));
        for (p, n) in self.elsewhere {
            let _ = writeln!(
                t,
                "  # {},  # {} on another host: add it if your edge guards that host",
                quoted(p),
                count(*n, "image URL", "image URLs")
            );
        }
        t.push_str("]\n");
        let _ = writeln!(t, "extensions = {IMAGE_EXTENSIONS}");
        if !self.icons.is_empty() || !self.exclude.is_empty() {
            t.push_str("# Kept public, or the edge would refuse them:\nexclude = [\n");
            for icon in self.icons {
                let _ = writeln!(
                    t,
                    "  {},  # an icon: browsers fetch icons past the refresh worker, routers re-insert them unsigned",
                    quoted(icon)
                );
            }
            for path in self.exclude {
                let _ = writeln!(
                    t,
                    "  {},  # named in scripts or data (unsigned), published signed by no page",
                    quoted(path)
                );
            }
            t.push_str("]\n");
        }
        let _ = writeln!(
            t,
            "key_id = {}  # the key in RENDORIX_KEYS that signs (rendorix keygen --kid {})",
            quoted(self.kid),
            self.kid
        );
        let _ = writeln!(
            t,
            "\n[expiry]\n# The defaults: links live resign_interval + page_cache_ttl + open_page_allowance, rounded\n# up to exp_granularity. Match page_cache_ttl to your CDN's cache time for HTML.\nresign_interval = \"24h\"\npage_cache_ttl = \"1h\"\nopen_page_allowance = \"12h\""
        );
        if self.generator.is_some_and(Generator::routes_in_the_browser) {
            let _ = writeln!(
                t,
                "\n[refresh]\n# {} renders the next page in the browser from scripts and data, where image URLs are\n# unsigned: the refresh worker loads them with the signed URLs the pages publish\n# (docs/client-navigation.md).\nenabled = true",
                self.generator.map_or("", Generator::name)
            );
        }
        t
    }
}

/// Folders and how many image URLs each holds, the most first.
type Folders = Vec<(String, usize)>;

/// The site's image URLs, by the folder `sign.match` would name: on the site's own origin, the
/// deepest folder that holds every image under each top-level folder (`/assets/images/`, not
/// `/assets/`, whose scripts may name paths that are no images); on other hosts, the top-level
/// folder of every URL in an image attribute.
fn image_folders(site: &Path, survey: &Config, key: Key) -> (Folders, Folders) {
    let signer = Signer::for_run(key, &survey.expiry, 0, survey.protection.clone());
    let rewriter = Rewriter::new(signer, crate::page::Options::default());
    let discovery = discover(site, Leftovers::Keep, None);
    let revoked = crate::core::revocation::Revocations::default();
    let run = RunOptions {
        dry_run: true,
        now: 0,
        publish: true,
        revoked: &revoked,
        done: None,
    };
    let closer = Closer::start();
    let reports = process_pages(
        &rewriter,
        (site, &survey.base_url),
        &discovery.pages,
        run,
        &closer,
    );
    closer.finish();
    // Top-level folder -> (the common folder of its images so far, how many).
    let mut own: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut elsewhere: BTreeMap<String, usize> = BTreeMap::new();
    for done in reports.iter().filter_map(|r| r.result.as_ref().ok()) {
        for target in &done.published {
            let path = target.split('?').next().unwrap_or(target);
            let folder = &path[..=path.rfind('/').unwrap_or(0)];
            let Some(end) = folder[1..].find('/') else {
                continue; // at the root: favicons and logos, public by custom
            };
            let top = &folder[..end + 2];
            let entry = own
                .entry(top.to_owned())
                .or_insert_with(|| (folder.to_owned(), 0));
            entry.0 = common_folder(&entry.0, folder);
            entry.1 += 1;
        }
        for (prefix, n) in done.unprotected.iter().filter(|(p, _)| !p.starts_with('/')) {
            *elsewhere.entry(prefix.clone()).or_default() += n;
        }
    }
    // Never narrow into a page's folder (a Hugo page bundle): the next page's images would be
    // in a sibling folder.
    for (top, (common, _)) in &mut own {
        let mut narrowed = top.clone();
        for segment in common[top.len()..].split_terminator('/') {
            let next = format!("{narrowed}{segment}/");
            if site.join(&next[1..]).join("index.html").exists() {
                break;
            }
            narrowed = next;
        }
        *common = narrowed;
    }
    let by_count = |mut v: Vec<(String, usize)>| {
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    (
        by_count(own.into_values().collect()),
        by_count(elsewhere.into_iter().collect()),
    )
}

/// The deepest folder (ending in `/`) that holds both `a` and `b`.
fn common_folder(a: &str, b: &str) -> String {
    let shared = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let at = a[..shared].rfind('/').map_or(0, |i| i + 1);
    a[..at].to_owned()
}

/// What a dry-run `sign` with `config` leaves unsigned: the request targets of the protected
/// references that no page publishes signed, and the number of other findings.
fn dry_run(
    config: &Config,
    site: &Path,
    key: &Keys,
    now: u64,
) -> Result<(Vec<String>, usize, usize), Error> {
    let signer = Signer::for_run(
        key.signing_key("init", &config.key_id)?,
        &config.expiry,
        now,
        config.protection.clone(),
    );
    let worker = refresh_worker(config)?;
    let rewriter = Rewriter::new(signer, rewrite_options(config));
    let discovery = discover(site, Leftovers::Keep, None);
    let searched = search_files(&rewriter, (site, &config.base_url), &discovery.searched);
    let every_page = renders_from_scripts(&searched.found);
    let rewriter = rewriter.with_refresh(worker.as_ref().map(|w| w.refresh(every_page)));
    let revoked = crate::core::revocation::Revocations::default();
    let run = RunOptions {
        dry_run: true,
        now,
        publish: worker.is_some(),
        revoked: &revoked,
        done: None,
    };
    let closer = Closer::start();
    let reports = process_pages(
        &rewriter,
        (site, &config.base_url),
        &discovery.pages,
        run,
        &closer,
    );
    closer.finish();
    let mut summary = Summary::new("sign", site, &discovery, &reports, now);
    summary.add_searched(site, &searched);
    if worker.is_some() {
        summary.recover_by_refresh(&published(&reports), &icons(&reports));
    }
    let unsigned = summary.unsigned_targets();
    let signed = summary.urls_signed;
    summary.judge_coverage(false);
    let others = summary.errors.len() - unsigned.len();
    Ok((unsigned, others, signed))
}

/// Writes a config for the site and prints the next steps.
pub(crate) fn run(options: &InitOptions) -> Result<Status, Error> {
    if options.config.exists() && !options.force {
        return Err(UsageError::ConfigExists(options.config.clone()).into());
    }
    let config_dir = match options.config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let site = match &options.site_dir {
        Some(dir) if dir.is_dir() => dir.clone(),
        Some(dir) => return Err(UsageError::NoSiteFolder(dir.clone()).into()),
        None => (OUTPUT_FOLDERS.iter())
            .map(|f| config_dir.join(f))
            .find(|d| d.join("index.html").is_file())
            .ok_or_else(|| UsageError::NoBuiltSite(config_dir.clone()))?,
    };
    let home = std::fs::read(site.join("index.html"))
        .map(|html| read_home_page(&html))
        .unwrap_or_default();
    let generator = (home.generator.as_deref())
        .and_then(Generator::from_meta)
        .or_else(|| Generator::from_layout(&site));
    let (base_url, base_from) = match &options.base_url {
        Some(text) => (
            site_root(text).ok_or_else(|| UsageError::BadBaseUrl(text.clone()))?,
            "given with --base-url",
        ),
        None => match (home.canonical.as_deref().and_then(site_root))
            .map(|u| (u, "from the home page's canonical link"))
            .or_else(|| {
                (home.og_url.as_deref().and_then(site_root))
                    .map(|u| (u, "from the home page's og:url"))
            }) {
            Some(found) => found,
            None => (
                Url::parse("https://www.example.com/").expect("a valid URL"),
                "a placeholder: no page names the site's address, replace it",
            ),
        },
    };
    let now = system_now();
    let kid =
        (options.kid.clone()).unwrap_or_else(|| format!("k{}", utc(now)[..10].replace('-', "")));
    let key = Keys::parse("init", &generate(&kid)?)?;
    let survey = Config::parse(
        &format!(
            "[site]\nbase_url = {}\n[sign]\nmatch = [\"/\"]\nextensions = {IMAGE_EXTENSIONS}\nkey_id = {}\n",
            quoted(base_url.as_str()),
            quoted(&kid)
        ),
        &options.config,
    )?;
    let (matches, elsewhere) = image_folders(&site, &survey, key.signing_key("init", &kid)?);
    if matches.is_empty() {
        return Err(UsageError::NoImages(site.clone()).into());
    }
    let site_dir = relative_to(&site, &config_dir);
    // Favicons of a site with a client-side router: hydration renders the icon link again from
    // the router's data, unsigned, and browsers fetch favicons past the service worker.
    let mut icons: Vec<String> = Vec::new();
    if generator.is_some_and(Generator::routes_in_the_browser) {
        for href in &home.icons {
            if let Ok(url) = base_url.join(href.trim())
                && url.origin() == base_url.origin()
                && matches
                    .iter()
                    .any(|(m, _)| url.path().starts_with(m.as_str()))
                && !icons.iter().any(|i| i == url.path())
            {
                icons.push(url.path().to_owned());
            }
        }
    }
    let mut exclude: Vec<String> = Vec::new();
    let (text, findings, signed) = loop {
        let proposal = Proposal {
            generator,
            base_url: &base_url,
            base_from,
            site_dir: &site_dir,
            kid: &kid,
            matches: &matches,
            elsewhere: &elsewhere,
            icons: &icons,
            exclude: &exclude,
        };
        let text = proposal.to_toml();
        let config = Config::parse(&text, &options.config)?;
        let (unsigned, others, signed) = dry_run(&config, &site, &key, now)?;
        let mut more: Vec<String> = (unsigned.iter())
            .map(|t| t.split('?').next().unwrap_or(t).to_owned())
            .filter(|p| !exclude.contains(p) && !icons.contains(p))
            .collect();
        more.sort();
        more.dedup();
        if more.is_empty() || exclude.len() > 50 {
            break (text, others + unsigned.len(), signed);
        }
        exclude.extend(more);
    };
    crate::site::atomic::write_atomically_with(&options.config, |file| {
        std::io::Write::write_all(file, text.as_bytes())
    })
    .map_err(|e| UsageError::CannotWrite(options.config.clone(), e))?;
    if !options.quiet {
        let mut out = String::new();
        let what = generator.map_or("the site".to_owned(), |g| format!("the {} site", g.name()));
        let _ = writeln!(
            out,
            "wrote {} for {what} in {site_dir}",
            options.config.display()
        );
        let _ = writeln!(out, "  base_url {base_url} ({base_from})");
        let listed: Vec<String> = (matches.iter())
            .map(|(p, n)| format!("{p} ({})", num(*n)))
            .collect();
        let _ = writeln!(out, "  protects the images under {}", listed.join(", "));
        if !icons.is_empty() {
            let _ = writeln!(
                out,
                "  keeps {} public: browsers fetch icons past the refresh worker",
                count(icons.len(), "icon", "icons")
            );
        }
        if !exclude.is_empty() {
            let _ = writeln!(
                out,
                "  keeps {} public: named in scripts or data, published signed by no page",
                count(exclude.len(), "image", "images")
            );
        }
        let _ = writeln!(
            out,
            "  a dry run signs {} with {}",
            count(signed, "URL", "URLs"),
            count(findings, "finding", "findings")
        );
        let config_arg = if options.config == Path::new("rendorix.toml") {
            String::new()
        } else {
            format!(" --config {}", options.config.display())
        };
        let _ = writeln!(
            out,
            "next:\n  rendorix keygen --kid {kid}   # store the line it prints as the secret RENDORIX_KEYS\n  rendorix sign{config_arg}           # after every build; rendorix check{config_arg} audits"
        );
        print!("{out}");
    }
    Ok(Status::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_page_names_the_generator_and_the_site() {
        let home = read_home_page(
            br#"<html><head><meta name="generator" content="Hugo 0.140.0"><link rel="canonical" href="https://blog.example.com/docs/index.html"><meta property="og:url" content="https://x/"></head></html>"#,
        );
        assert_eq!(
            home.generator.as_deref().and_then(Generator::from_meta),
            Some(Generator::Hugo)
        );
        assert_eq!(
            site_root(home.canonical.as_deref().unwrap())
                .unwrap()
                .as_str(),
            "https://blog.example.com/docs/"
        );
        assert_eq!(site_root("javascript:alert(1)"), None);
        assert_eq!(
            site_root("https://www.example.com").unwrap().as_str(),
            "https://www.example.com/"
        );
    }

    #[test]
    fn folders_narrow_to_what_their_images_share() {
        assert_eq!(
            common_folder("/assets/images/a/", "/assets/images/"),
            "/assets/images/"
        );
        assert_eq!(common_folder("/posts/one/", "/posts/two/"), "/posts/");
        assert_eq!(common_folder("/img/x/", "/img/xy/"), "/img/");
    }

    #[test]
    fn paths_are_written_relative_to_the_config() {
        assert_eq!(relative_to(Path::new("a/public"), Path::new("a")), "public");
        assert_eq!(relative_to(Path::new("."), Path::new(".")), ".");
        for text in ["a\"b", "it's", "C:\\site", "x\ny"] {
            let doc: toml::Value = toml::from_str(&format!("x = {}", quoted(text))).unwrap();
            assert_eq!(doc["x"].as_str(), Some(text));
        }
    }
}
