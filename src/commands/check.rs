//! `rendorix check`: a read-only audit of a signed site.

use crate::commands::{SiteOptions, finish, load_keys, rewrite_options, setup};
use crate::core::audit::Checker;
use crate::error::{Error, Status};
use crate::page::{Options, Rewriter};
use crate::report::Summary;
use crate::site::closer::Closer;
use crate::site::discover::discover;
use crate::site::worker::{RunOptions, process_pages, search_files};

/// Audits every page: each protected URL must be signed, verify with the current keys, and
/// outlive every copy of its page that may still be served or open.
pub(crate) fn run(options: SiteOptions) -> Result<Status, Error> {
    let setup = setup(options)?;
    let (config, site, now) = (&setup.config, &setup.site, setup.now);
    let keys = load_keys(&config.keys_env)?;
    let must_outlive = now + config.expiry.serving();
    let checker = Checker::new(
        keys,
        config.protection.clone(),
        now,
        config.limits(),
        must_outlive,
    );
    // An audit never inserts the refresh script.
    let options = Options {
        refresh: false,
        ..rewrite_options(config)
    };
    let rewriter = Rewriter::new(checker, options);
    let discovery = discover(site, true, None);
    let run = RunOptions { dry_run: true, now };
    let reports = process_pages(
        &rewriter,
        &config.base_url,
        &discovery.pages,
        run,
        &Closer::start(),
    );
    let searched = search_files(&rewriter, &config.base_url, &discovery.searched);
    let mut summary = Summary::new("check", site, &discovery, &reports, now);
    summary.add_searched(site, &searched);
    summary.judge_coverage(setup.allow_unsigned);
    Ok(finish(&summary, setup.format))
}
