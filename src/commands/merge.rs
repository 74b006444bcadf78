//! `rendorix manifest merge`: the parts of a sharded run (spec §18) joined into the manifest one
//! run would have written, and what only the whole site can tell: unsigned references that a
//! page of another shard recovers, a run that signed nothing, the revocation list.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::{revocations, settle_revocations};
use crate::config::Config;
use crate::core::policy::Refusal;
use crate::core::shard::Shard;
use crate::core::time::utc;
use crate::error::{Error, Status, UsageError};
use crate::report::{Finding, Format, Summary, Verbosity, count, grouped};
use crate::site::atomic::folder_of;
use crate::site::discover::Discovery;
use crate::site::manifest::{
    Manifest, MergeError, MergedPages, PageLines, RecordedPages, ShardRecord, merge, merge_pages,
    urls_path,
};

/// `rendorix manifest merge`'s options.
#[derive(Debug)]
pub(crate) struct MergeOptions {
    /// The parts; none: those beside the config's manifest.
    pub(crate) parts: Vec<PathBuf>,
    /// `-o`: where to write the manifest.
    pub(crate) out: Option<PathBuf>,
    /// The config file.
    pub(crate) config: PathBuf,
    /// `--allow-unsigned`.
    pub(crate) allow_unsigned: bool,
    /// The summary's format.
    pub(crate) format: Format,
    /// `-q` / `-v`.
    pub(crate) verbosity: Verbosity,
}

/// Merges the parts, writes the manifest, removes the parts, and says how the run went.
pub(crate) fn run(options: MergeOptions) -> Result<Status, Error> {
    let config = Config::load(&options.config)?;
    let paths = match options.parts {
        parts if parts.is_empty() => parts_beside(&config.manifest_path),
        parts => parts,
    };
    // Each part's fields and folders, opened as the merge takes them, so that one part's
    // folders at a time are held beside the merged ones; its page lines stay in its file.
    let mut lines = BTreeMap::new();
    let mut unreadable = None;
    let opened = paths.iter().map_while(|path| {
        let why = match Manifest::open(path) {
            Ok(Some((part, recorded))) => {
                // By shard: a part without one, or a shard given twice, fails the merge.
                if let Some(shard) = &part.shard {
                    lines.insert(shard.index, (path.clone(), recorded));
                }
                return Some((path.clone(), part));
            }
            Ok(None) => "does not exist".to_owned(),
            Err(e) => e.to_string(),
        };
        unreadable = Some(UsageError::Part(path.clone(), why));
        None
    });
    let merge_error = |e: MergeError| UsageError::Merge(e.to_string());
    let merged = merge(opened);
    if let Some(e) = unreadable {
        return Err(e.into());
    }
    let (manifest, records) = merged.map_err(merge_error)?;
    if records[0].config_sha256 != config.digest {
        return Err(UsageError::Merge(format!(
            "the parts were written with another config file than {}; merge with the config the shards read (--config), or run them again",
            config.path.display()
        ))
        .into());
    }
    let out = options.out.unwrap_or_else(|| config.manifest_path.clone());
    let count = records[0].count;
    let lines: Vec<(&Path, Shard, &RecordedPages)> = (lines.iter())
        .map(|(&k, (path, recorded))| {
            let shard = Shard::new(k, count).expect("the merge checked the shards");
            (path.as_path(), shard, recorded)
        })
        .collect();
    let pages = merge_pages(&lines, &out, manifest.refresh.is_some()).map_err(merge_error)?;
    let mut summary = judge(
        &config,
        (&manifest, &pages),
        &records,
        options.allow_unsigned,
    );
    let extensions: Vec<(String, u64)> = (records.iter())
        .flat_map(|r| r.revoked.iter().cloned())
        .collect();
    let now = manifest.generated_at;
    settle_revocations(
        &config,
        revocations(&config)?,
        &extensions,
        now,
        false,
        &mut summary,
    );
    let sources: Vec<&PageLines> = pages.lines.iter().collect();
    match manifest.write_with(&out, &sources) {
        Ok(()) => {
            for path in paths.iter().filter(|p| **p != out) {
                let _ = std::fs::remove_file(path);
                let _ = std::fs::remove_file(urls_path(path));
            }
        }
        Err(e) => summary.errors.push(Finding {
            path: out.display().to_string(),
            line: None,
            column: None,
            url: None,
            code: "manifest_unwritable",
            message: format!("cannot write the manifest ({e}); the parts are kept, merge again"),
        }),
    }
    let merged = Merged::of(&summary, (&manifest, &pages), &records, &out);
    let verbose = options.verbosity == Verbosity::Verbose;
    eprint!("{}", grouped(&summary.errors, "error: ", verbose));
    if options.verbosity != Verbosity::Quiet {
        eprint!("{}", grouped(&summary.warnings, "warning: ", verbose));
    }
    let text = match (options.format, options.verbosity) {
        (Format::Json, _) => serde_json::to_string_pretty(&merged).expect("serializes") + "\n",
        (Format::Text, Verbosity::Quiet) => String::new(),
        (Format::Text, _) => merged.to_text(),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(Status::of(summary.failed()))
}

/// The parts beside the manifest at `manifest`: `NAME.shard-K-of-N`, sorted.
fn parts_beside(manifest: &Path) -> Vec<PathBuf> {
    let folder = folder_of(manifest);
    let prefix = format!(
        "{}.shard-",
        manifest.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut parts: Vec<PathBuf> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix(&prefix).is_some_and(|rest| {
                rest.split_once("-of-").is_some_and(|(k, n)| {
                    [k, n]
                        .iter()
                        .all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
                })
            })
        })
        .map(|e| e.path())
        .collect();
    parts.sort();
    parts
}

/// What a single run would have judged of the whole site, from the parts: the unsigned
/// references no page publishes signed, and a run that signed nothing.
fn judge(
    config: &Config,
    (manifest, pages): (&Manifest, &MergedPages),
    records: &[ShardRecord],
    allow: bool,
) -> Summary {
    let command = if records[0].command == "resign" {
        "resign"
    } else {
        "sign"
    };
    let site = &config.site_dir;
    let mut summary = Summary::new(command, site, &Discovery::default(), &[], 0);
    for r in records {
        let t = &r.totals;
        summary.pages_scanned += t.pages_scanned;
        summary.pages_failed += t.pages_failed;
        summary.urls_signed += t.urls_signed;
        summary.urls_failed += t.urls_failed;
        summary.urls_left_alone += t.urls_left_alone;
        for p in &r.pending {
            let refusal = Refusal::UnsignedReference {
                target: p.target.clone(),
            };
            let finding = Finding {
                path: site.join(&p.path).display().to_string(),
                line: p.line,
                column: p.column,
                url: p.url.clone(),
                code: refusal.code(),
                message: refusal.to_string(),
            };
            summary.add_unsigned(finding, p.target.clone());
        }
    }
    summary.merge_unprotected(records.iter().map(|r| r.totals.unprotected.as_slice()));
    if manifest.refresh.is_some() {
        // Every page's signed targets, as each shard's run gathered its own.
        let published: HashSet<&str> = pages.targets.iter().map(String::as_str).collect();
        let icons: HashSet<&str> = (records.iter())
            .flat_map(|r| r.icons.iter().map(String::as_str))
            .collect();
        summary.recover_by_refresh(&published, &icons);
    }
    summary.judge_coverage(allow);
    summary
}

/// The summary of a merge.
#[derive(Serialize)]
struct Merged<'a> {
    schema_version: u32,
    command: &'static str,
    /// The command the shards ran.
    run: &'a str,
    shards: usize,
    now: u64,
    kid: &'a str,
    pages: usize,
    urls_signed: usize,
    unsigned_references: usize,
    unsigned_recovered: usize,
    earliest_exp: Option<u64>,
    latest_exp: Option<u64>,
    manifest: String,
    errors: &'a [Finding],
    warnings: &'a [Finding],
}

impl<'a> Merged<'a> {
    fn of(
        summary: &'a Summary,
        (manifest, pages): (&'a Manifest, &MergedPages),
        records: &'a [ShardRecord],
        out: &Path,
    ) -> Merged<'a> {
        let (earliest_exp, latest_exp) = pages.exps;
        Merged {
            schema_version: 1,
            command: "manifest merge",
            run: &records[0].command,
            shards: records.len(),
            now: manifest.generated_at,
            kid: &manifest.kid,
            pages: pages.count(),
            urls_signed: records.iter().map(|r| r.totals.urls_signed).sum(),
            unsigned_references: summary.unsigned_references,
            unsigned_recovered: summary.unsigned_recovered,
            earliest_exp,
            latest_exp,
            manifest: out.display().to_string(),
            errors: &summary.errors,
            warnings: &summary.warnings,
        }
    }

    fn to_text(&self) -> String {
        let mut t = format!(
            "merged {} of `{}` at {}: {} recorded, {} signed by this run\n",
            count(self.shards, "shard", "shards"),
            self.run,
            utc(self.now),
            count(self.pages, "page", "pages"),
            count(self.urls_signed, "URL", "URLs"),
        );
        if self.unsigned_recovered > 0 {
            let _ = writeln!(
                t,
                "{} recovered by the refresh worker",
                count(
                    self.unsigned_recovered,
                    "unsigned reference",
                    "unsigned references"
                )
            );
        }
        if let (Some(first), Some(last)) = (self.earliest_exp, self.latest_exp) {
            let _ = writeln!(t, "links expire from {} to {}", utc(first), utc(last));
        }
        let _ = writeln!(t, "manifest: {}", self.manifest);
        t
    }
}
