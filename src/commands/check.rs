//! `rendorix check`: a read-only audit of a signed site.

use crate::commands::{
    SiteOptions, finish, icons, load_keys, native_verifier, published, refresh_worker,
    renders_from_scripts, revocations, rewrite_options, setup, warn_of_own_workers,
};
use crate::config::Config;
use crate::core::audit::Checker;
use crate::core::native::NativeChecker;
use crate::error::{Error, Status};
use crate::page::Rewriter;
use crate::report::{Finding, Summary};
use crate::site::closer::Closer;
use crate::site::discover::{Leftovers, discover};
use crate::site::manifest::{Manifest, signed_targets};
use crate::site::refresh::WORKER;
use crate::site::worker::{RunOptions, process_pages, search_files};

/// Audits every page: each protected URL must be signed, verify with the current keys, and
/// outlive every copy of its page that may still be served or open.
pub(crate) fn run(options: SiteOptions) -> Result<Status, Error> {
    let setup = setup(options)?;
    let (config, site, now) = (&setup.config, &setup.site, setup.now);
    let worker = refresh_worker(config)?;
    let must_outlive = config.expiry.map(|e| now + e.serving());
    let rewriter = match native_verifier(config)? {
        None => {
            let keys = load_keys(&config.keys_env)?;
            let checker = Checker::new(
                keys,
                config.protection.clone(),
                now,
                config.limits(),
                must_outlive,
            );
            Rewriter::new(checker, rewrite_options(config))
        }
        Some(verifier) => {
            let checker =
                NativeChecker::new(verifier, now, must_outlive, config.protection.clone());
            Rewriter::new(checker, rewrite_options(config))
        }
    };

    let mut discovery = discover(site, Leftovers::Keep, None);
    let searched = search_files(&rewriter, (site, &config.base_url), &discovery.searched);
    // With the refresh tag `sign` gives pages, a page whose scan would change is one that lacks
    // it (an audit never changes a URL).
    let every_page = renders_from_scripts(&searched.found);
    // The search's own list of files is not needed again: a site can have one per page.
    let searched = setup.own_searched(searched, &std::mem::take(&mut discovery.searched));
    setup.own_pages(&mut discovery);
    let rewriter = rewriter.with_refresh(worker.as_ref().map(|w| w.refresh(every_page)));
    // Pages that still reference a revoked path are reported, as `sign` reports them.
    let revoked = revocations(config)?;
    let progress = setup.progress("checked", discovery.pages.len());
    let run = RunOptions {
        dry_run: true,
        now,
        publish: worker.is_some(),
        revoked: &revoked,
        done: Some(progress.counter()),
    };
    let reports = process_pages(
        &rewriter,
        (site, &config.base_url),
        &discovery.pages,
        run,
        &Closer::start(),
    );
    progress.finish();
    let mut summary = Summary::new("check", site, &discovery, &reports, now);
    summary.add_searched(site, &searched);
    warn_of_own_workers(worker.as_ref(), site, &searched.found, &mut summary);
    if let Some(worker) = &worker {
        // A shard sees only its pages: the others' signed targets are the manifest's.
        let recorded = match setup.shard {
            Some(_) => recorded_targets(config),
            None => Vec::new(),
        };
        let mut all = published(&reports);
        all.extend(recorded.iter().map(String::as_str));
        summary.recover_by_refresh(&all, &icons(&reports));
        let finding = |path: String, code: &'static str, message: &str| Finding {
            path,
            line: None,
            column: None,
            url: None,
            code,
            message: message.to_owned(),
        };
        if !worker.is_in(site) && setup.writes_site_files() {
            summary.errors.push(finding(
                site.join(WORKER).display().to_string(),
                "refresh_worker_missing",
                "the refresh worker is missing or out of date, so pages cannot load it; run `rendorix sign`",
            ));
        }
        for r in &reports {
            if r.result.as_ref().is_ok_and(|done| done.changed) {
                summary.errors.push(finding(
                    site.join(&r.page.rel).display().to_string(),
                    "refresh_tag_missing",
                    "the page lacks the refresh tag or holds another one; run `rendorix sign`",
                ));
            }
        }
    }
    if setup.shard.is_some() {
        // Whether the site has a protected URL at all is not one shard's to say.
        summary.defer_coverage();
    }
    summary.judge_coverage(setup.allow_unsigned);
    Ok(finish(&summary, setup.format, setup.verbosity))
}

/// The signed request targets that the site's manifest records (none without a usable one).
fn recorded_targets(config: &Config) -> Vec<String> {
    match Manifest::load(&config.manifest_path) {
        Ok(Some(m)) if m.shard.is_none() && m.base_url == config.base_url.as_str() => {
            signed_targets(&m.pages)
        }
        _ => Vec::new(),
    }
}
