//! `rendorix sign`: every page of the site, signed in place, and a new manifest.

use crate::commands::{
    SiteOptions, finish, process_in_batches, refresh_worker, renders_from_scripts, revocations,
    rule_windows, setup, signing_rewriter, system_now, use_jobs, warn_of_own_workers,
    write_manifest,
};
use crate::error::{Error, Status};
use crate::report::Summary;
use crate::site::closer::Closer;
use crate::site::discover::discover;
use crate::site::folders;
use crate::site::manifest::{PageLines, Spool};
use crate::site::worker::{RunOptions, search_files};

/// `rendorix sign`'s options.
#[derive(Debug)]
pub(crate) struct SignOptions {
    pub(crate) site: SiteOptions,
    /// Write nothing.
    pub(crate) dry_run: bool,
    /// `--jobs`.
    pub(crate) jobs: Option<usize>,
}

/// Signs every page, writes the manifest, and prints the summary.
pub(crate) fn run(options: SignOptions) -> Result<Status, Error> {
    use_jobs(options.jobs)?;
    let setup = setup(options.site)?;
    let (config, site, now) = (&setup.config, &setup.site, setup.now);
    let worker = refresh_worker(config)?;
    let clock = system_now();
    let (rewriter, kid) = signing_rewriter(config, now)?;
    let revoked = revocations(config)?;
    let dry_run = options.dry_run;
    let mut discovery = discover(site, setup.leftovers(!dry_run), None);
    // Scripts first: whether they render protected images decides which pages get the
    // refresh tag. Every shard searches them all, and reports its own.
    let searched = search_files(&rewriter, (site, &config.base_url), &discovery.searched);
    let every_page = renders_from_scripts(&searched.found);
    // The search's own list of files is not needed again: a site can have one per page.
    let searched = setup.own_searched(searched, &std::mem::take(&mut discovery.searched));
    setup.own_pages(&mut discovery);
    let rewriter = rewriter.with_refresh(worker.as_ref().map(|w| w.refresh(every_page)));
    let closer = Closer::start();
    let progress = setup.progress("signed", discovery.pages.len());
    // The manifest's page lines wait in a file until it is written, not in memory.
    let entries = (!dry_run).then(|| PageLines::new(Spool::create(&config.manifest_path)));
    let run = RunOptions {
        dry_run,
        now,
        publish: worker.is_some(),
        revoked: &revoked,
        done: Some(progress.counter()),
    };
    let mut summary = Summary::new("sign", site, &discovery, &[], now);
    let processed = process_in_batches(
        (&rewriter, config),
        (site, &discovery),
        (&discovery.pages, entries),
        (run, &closer),
        &mut summary,
    );
    progress.finish();

    summary.dry_run = dry_run;
    summary.kid = Some(kid.clone());
    summary.add_searched(site, &searched);
    warn_of_own_workers(worker.as_ref(), site, &searched.found, &mut summary);
    summary.rule_windows = rule_windows(config);
    summary.next_run_before =
        (summary.earliest_due).map(|d| d + config.expiry.default.resign_interval.secs());
    if worker.is_some() {
        summary.recover_by_refresh(&processed.published(), &processed.icons());
    }
    let worker = (worker.as_ref(), every_page);
    let (refresh, part) = setup.site_files("sign", &mut summary, &processed, revoked, worker);
    if let Some(entries) = &processed.entries {
        let touched = &processed.touched;
        let found = std::mem::take(&mut discovery.folders);
        let folders = folders::record(site, found, touched, (now, clock), setup.shard);
        write_manifest(
            config,
            now,
            folders,
            &[entries],
            (refresh, part),
            &mut summary,
        );
    }
    closer.finish();
    summary.judge_coverage(setup.allow_unsigned);
    Ok(finish(&summary, setup.format, setup.verbosity))
}
