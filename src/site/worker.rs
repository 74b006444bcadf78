//! Processing a site's pages on every core: each worker thread reads a page, scans it with the
//! run's rewriter, and writes it back atomically when it changed, reusing its buffers from page
//! to page. Pages up to [`IN_MEMORY_LIMIT`] are read once into memory; larger ones are streamed
//! from their file for each pass, so memory does not grow with page size.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use encoding_rs::UTF_8;
use memchr::memmem;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use url::Url;

use crate::core::policy::Refusal;
use crate::core::revocation::{Revocations, decoded_path};
use crate::core::urls::page_url;
use crate::page::locate::{locate, places};
use crate::page::{Format, Problem, Rewriter, Scratch, SignedOccurrence, splice};
use crate::site::SiteError;
use crate::site::atomic::write_page;
use crate::site::closer::Closer;
use crate::site::discover::{Page, PathList, format_of};
use crate::site::fingerprint::{HashingWriter, hash_reader, mtime_ns};
use crate::site::manifest::{PageEntry, SignedUrls, slash_path};

/// Pages up to this size are read once into a reused buffer; larger ones are streamed twice
/// from disk.
const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

/// A page after processing.
#[derive(Debug)]
pub(crate) struct PageReport {
    /// The page.
    pub page: Page,
    /// What happened.
    pub result: Result<PageDone, SiteError>,
}

/// A page that was processed (changed or not), reduced in the worker to what the summary and
/// the manifest need, so memory does not grow with every URL of the site.
#[derive(Debug)]
pub(crate) struct PageDone {
    /// Its signed URLs in the manifest's form, with their exp range and keys.
    pub urls: SignedUrls,
    /// Of those, URLs whose text changed.
    pub urls_changed: usize,
    /// URLs in target attributes that are not protected.
    pub urls_left_alone: usize,
    /// How many of those lie under each prefix (a vector: most pages have one or two, and a
    /// map would take a node of eleven for them, on every page of the site).
    pub unprotected: Vec<(String, usize)>,
    /// Whether the file was (or, in a dry run, would be) rewritten.
    pub changed: bool,
    /// SHA-256 of the page as it is on disk after the run (hex).
    pub sha256: String,
    /// Its size after the run.
    pub size: u64,
    /// Its modification time after the run, nanoseconds since the Unix epoch.
    pub mtime_ns: u64,
    /// The scan's problems with their 1-based line and column.
    pub located: Vec<(Problem, usize, usize)>,
    /// The request targets of its signed URLs, when the run asks for them
    /// ([`RunOptions::publish`]).
    pub published: Vec<String>,
    /// Of those, the targets of its icon links.
    pub icons: Vec<String>,
    /// Its signed URLs whose path is revoked ([`RunOptions::revoked`]), with their line and
    /// column, and the `exp` each was signed with.
    pub revoked: Vec<(Problem, usize, usize, u64)>,
}

/// How a run treats the pages it processes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunOptions<'a> {
    /// Write nothing.
    pub dry_run: bool,
    /// The run's `now`: rewritten pages get it as their modification time, so the manifest's
    /// size-and-time check is deterministic.
    pub now: u64,
    /// Keep each page's signed request targets ([`PageDone::published`]), for telling which
    /// unsigned references the refresh worker can load.
    pub publish: bool,
    /// The revocation list: signed URLs of revoked paths are reported
    /// ([`PageDone::revoked`]).
    pub revoked: &'a Revocations,
    /// Counts the pages processed, for a progress display.
    pub done: Option<&'a AtomicUsize>,
}

impl PageReport {
    /// The entry of a processed page; `None` for a page that failed (left out, so that a later
    /// run treats it as new). A signing run signs every URL of a page with one key; a page
    /// whose URLs differ in it cannot be recorded, and is left out the same way.
    pub(crate) fn entry(self) -> Option<PageEntry> {
        let done = self.result.ok()?;
        let urls = done.urls;
        if urls.kids.len() > 1 {
            return None;
        }
        Some(PageEntry {
            path: slash_path(&self.page.rel),
            sha256: done.sha256,
            size: done.size,
            mtime_ns: done.mtime_ns,
            exp: urls.earliest_exp,
            due: urls.earliest_due,
            kid: urls.kids.into_iter().next(),
            urls: urls.json,
        })
    }
}

/// A script, style or data file after its search for protected references.
#[derive(Debug)]
pub(crate) struct SearchReport {
    /// The file.
    pub page: Page,
    /// Its unsigned protected references, with their line and column; and, in a script, the
    /// line and column of a call that registers a service worker of the site's own.
    pub result: Result<Searched, SiteError>,
}

/// What the search of one file found.
#[derive(Debug, Default)]
pub(crate) struct Searched {
    /// Unsigned protected references, with their line and column.
    pub unsigned: Vec<(Problem, usize, usize)>,
    /// In a script, where it calls `serviceWorker.register(`: the refresh worker never replaces
    /// another one, so visitors who have it get no refresh.
    pub registers_worker: Option<(usize, usize)>,
}

/// The search of a site's scripts, styles and data files.
#[derive(Debug, Default)]
pub(crate) struct Searches {
    /// How many files were searched.
    pub files: usize,
    /// The files with something to report (an unsigned reference, a service worker of the
    /// site's own, an error); the others are not kept, as a site can have one per page.
    pub found: Vec<SearchReport>,
}

/// Searches every one of `files` for protected references (and scripts for service workers of
/// their own), in parallel, reading each once.
pub(crate) fn search_files(
    rewriter: &Rewriter,
    (site, base_url): (&Path, &Url),
    files: &PathList,
) -> Searches {
    let register = memmem::Finder::new("serviceWorker.register(");
    let found = (0..files.len())
        .into_par_iter()
        .map_init(Scratch::new, |scratch, at| {
            let file = Page {
                rel: files.get(at).into(),
            };
            let url = page_url(base_url, &file.rel);
            let result = (|| {
                let bytes = fs::read(file.path(site))?;
                let problems =
                    rewriter.unsigned_in_file(&mut io::Cursor::new(&bytes), &url, scratch)?;
                let script = (file.rel.extension())
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| {
                        ["js", "mjs", "cjs"]
                            .iter()
                            .any(|x| e.eq_ignore_ascii_case(x))
                    });
                let registers = register.find(&bytes).filter(|_| script);
                let registers_worker = match registers {
                    Some(at) => places(&bytes[..], std::iter::once(at as u64), UTF_8)?
                        .first()
                        .copied(),
                    None => None,
                };
                let unsigned = if problems.is_empty() {
                    Vec::new()
                } else {
                    locate(&bytes[..], &problems, UTF_8)?
                };
                Ok(Searched {
                    unsigned,
                    registers_worker,
                })
            })()
            .map_err(SiteError::Read);
            let clean = result
                .as_ref()
                .is_ok_and(|r| r.unsigned.is_empty() && r.registers_worker.is_none());
            (!clean).then_some(SearchReport { page: file, result })
        })
        .flatten()
        .collect();
    Searches {
        files: files.len(),
        found,
    }
}

/// Processes every page with `rewriter` (signing or checking) in parallel on the global pool
/// (see [`use_threads`]). Replaced pages are handed to `closer`.
pub(crate) fn process_pages(
    rewriter: &Rewriter,
    (site, base_url): (&Path, &Url),
    pages: &[Page],
    run: RunOptions,
    closer: &Closer,
) -> Vec<PageReport> {
    pages
        .par_iter()
        .map_init(PageWorker::default, |worker, page| {
            // A bug that panics on one page must not cost the other pages their signatures:
            // the page is reported and left as it was (a temp file is removed by the next run).
            let url = page_url(base_url, &page.rel);
            let result = panic::catch_unwind(AssertUnwindSafe(|| {
                worker.process(rewriter, (&url, &page.path(site)), run, closer)
            }))
            .unwrap_or_else(|_| {
                *worker = PageWorker::default();
                Err(SiteError::Panicked)
            });
            if let Some(done) = run.done {
                done.fetch_add(1, Ordering::Relaxed);
            }
            PageReport {
                page: page.clone(),
                result,
            }
        })
        .collect()
}

/// Sizes rayon's global pool, which discovery and page processing share: `jobs` threads, or
/// one per core when 0. Call once, before any parallel work.
pub(crate) fn use_threads(jobs: usize) {
    // Fails only if the pool already exists (a second call in one process): keep that one.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_global();
}

/// One worker thread's buffers, reused from page to page: the page's bytes when it is read into
/// memory, and the chunks that scanning and splicing pass through.
#[derive(Debug, Default)]
struct PageWorker {
    page: Vec<u8>,
    scratch: Scratch,
}

impl PageWorker {
    fn process(
        &mut self,
        rewriter: &Rewriter,
        (url, path): (&Url, &Path),
        run: RunOptions,
        closer: &Closer,
    ) -> Result<PageDone, SiteError> {
        let PageWorker {
            page: bytes,
            scratch,
        } = self;
        let mut file = File::open(path).map_err(SiteError::Read)?;
        let before = file.metadata().map_err(SiteError::Read)?;
        let mut source = if before.len() <= IN_MEMORY_LIMIT {
            bytes.clear();
            file.read_to_end(bytes).map_err(SiteError::Read)?;
            Source::Memory(io::Cursor::new(&bytes[..]))
        } else {
            Source::File(&mut file)
        };
        let format = format_of(path).unwrap_or(Format::Html);
        let scan = rewriter.scan_as(format, &mut source, url, scratch)?;
        let encoding = scan.encoding.unwrap_or(UTF_8);
        let located = if scan.problems.is_empty() {
            Vec::new()
        } else {
            source.rewind().map_err(SiteError::Read)?;
            locate(&mut source, &scan.problems, encoding).map_err(SiteError::Read)?
        };
        let revoked = revoked_references(&scan.signed, run.revoked, run.now);
        let revoked = if revoked.is_empty() {
            Vec::new()
        } else {
            source.rewind().map_err(SiteError::Read)?;
            let (problems, exps): (Vec<Problem>, Vec<u64>) = revoked.into_iter().unzip();
            let located = locate(&mut source, &problems, encoding).map_err(SiteError::Read)?;
            (located.into_iter().zip(exps))
                .map(|((p, line, column), exp)| (p, line, column, exp))
                .collect()
        };
        source.rewind().map_err(SiteError::Read)?;
        let changed = !scan.edits.is_empty();
        let written_at = run.now.saturating_mul(1_000_000_000);
        let (sha256, size, mtime_ns) = if !changed {
            (source.sha256()?, before.len(), mtime_ns(&before))
        } else if run.dry_run {
            let mut hasher = HashingWriter::new(io::sink());
            splice(&mut source, &scan.edits, encoding, &mut hasher, scratch)
                .map_err(SiteError::Read)?;
            let (sha256, size) = hasher.finish();
            (sha256, size, written_at)
        } else {
            let (sha256, size) = write_page(path, &before, run.now, |out| {
                splice(&mut source, &scan.edits, encoding, out, scratch)
            })?;
            // Still open, the replaced page is freed when the closer closes it, not here.
            closer.close(file);
            (sha256, size, written_at)
        };
        let (published, icons) = if run.publish {
            let published = scan.signed.iter().map(|s| s.target.clone()).collect();
            (published, scan.icons.clone())
        } else {
            (Vec::new(), Vec::new())
        };
        Ok(PageDone {
            published,
            icons,
            urls: SignedUrls::of(&scan.signed),
            urls_changed: scan.signed.iter().filter(|o| o.changed).count(),
            urls_left_alone: scan.left_alone,
            unprotected: scan.unprotected.into_iter().collect(),
            changed,
            sha256,
            size,
            mtime_ns,
            located,
            revoked,
        })
    }
}

/// The URLs of `signed` whose path `list` revokes at `now`, each as a problem at its place with
/// the `exp` it was signed with.
fn revoked_references(
    signed: &[SignedOccurrence],
    list: &Revocations,
    now: u64,
) -> Vec<(Problem, u64)> {
    if list.is_empty() {
        return Vec::new();
    }
    signed
        .iter()
        .filter_map(|s| {
            let path = decoded_path(s.target.split('?').next().unwrap_or(""))?;
            let entry = list.refuses(&path, now)?;
            let problem = Problem {
                offset: s.offset,
                url: s.original.clone(),
                refusal: Refusal::Revoked {
                    entry: entry.path.clone(),
                    until: entry.until,
                },
            };
            Some((problem, s.exp))
        })
        .collect()
}

/// A page being processed: its bytes in memory, or its open file.
enum Source<'a> {
    Memory(io::Cursor<&'a [u8]>),
    File(&'a mut File),
}

impl Source<'_> {
    /// The hex SHA-256 of the whole page; the source must be at its start.
    fn sha256(&mut self) -> Result<String, SiteError> {
        match self {
            Source::Memory(bytes) => Ok(hex::encode(Sha256::digest(bytes.get_ref()))),
            Source::File(file) => Ok(hash_reader(file).map_err(SiteError::Read)?.0),
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Memory(bytes) => bytes.read(buf),
            Source::File(file) => file.read(buf),
        }
    }
}

impl Seek for Source<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        match self {
            Source::Memory(bytes) => bytes.seek(to),
            Source::File(file) => file.seek(to),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::testing;
    use crate::page::{Options, SignedOccurrence};
    use crate::site::manifest::UrlsJson;
    use std::fs;
    use std::path::Path;

    #[test]
    fn a_page_is_recorded_with_its_earliest_exp_and_due_and_the_one_key_of_its_urls() {
        let occurrence = |original: &str, target: &str, exp, kid: &str| SignedOccurrence {
            original: original.into(),
            target: target.into(),
            exp,
            due: exp - 4,
            kid: kid.into(),
            changed: true,
            offset: 0,
        };
        let report = |signed: &[SignedOccurrence]| PageReport {
            page: Page {
                rel: Path::new("a/b.html").into(),
            },
            result: Ok(PageDone {
                urls: SignedUrls::of(signed),
                urls_changed: signed.len(),
                urls_left_alone: 0,
                unprotected: Vec::new(),
                changed: true,
                sha256: "00".into(),
                size: 1,
                mtime_ns: 2,
                located: Vec::new(),
                published: Vec::new(),
                icons: Vec::new(),
                revoked: Vec::new(),
            }),
        };
        let one = [
            occurrence("/m/\"q\".jpg", "/m/%22q%22.jpg", 9, "k"),
            occurrence("/m/a.jpg", "/m/a.jpg", 9, "k"),
        ];
        let entry = report(&one).entry().unwrap();
        assert_eq!((entry.exp, entry.kid.as_deref()), (Some(9), Some("k")));
        assert_eq!(
            entry.urls.get().unwrap(),
            r#"[["/m/\"q\".jpg","/m/%22q%22.jpg"],["/m/a.jpg"]]"#
        );
        let back: Vec<_> = entry.url_entries().unwrap();
        assert_eq!(back[0].original, "/m/\"q\".jpg");
        assert_eq!((back[1].target.as_str(), back[1].exp), ("/m/a.jpg", 9));
        let none = report(&[]).entry().unwrap();
        let none_urls = none.urls.get().unwrap().into_owned();
        assert_eq!((none.exp, none.kid, none_urls.as_str()), (None, None, "[]"));
        // A URL under an expiry rule keeps its own exp; the page records the earliest.
        let mut rule = occurrence("/m/p/c.jpg", "/m/p/c.jpg", 7, "k");
        rule.due = 1;
        let two_exps = [
            one[0].clone(),
            occurrence("/m/b.jpg", "/m/b.jpg", 10, "k"),
            rule,
        ];
        let entry = report(&two_exps).entry().unwrap();
        assert_eq!((entry.exp, entry.due), (Some(7), Some(1)));
        assert_eq!(
            entry.urls.get().unwrap(),
            r#"[["/m/\"q\".jpg","/m/%22q%22.jpg",9],["/m/b.jpg","/m/b.jpg",10],["/m/p/c.jpg"]]"#
        );
        let exps: Vec<u64> = entry.url_entries().unwrap().iter().map(|u| u.exp).collect();
        assert_eq!(exps, [9, 10, 7]);
        let two_keys = [one[0].clone(), occurrence("/m/b.jpg", "/m/b.jpg", 9, "j")];
        assert!(report(&two_keys).entry().is_none());
        for bad in [
            r"[[]]",
            r#"[["a","b","c"]]"#,
            r#"[["a",1]]"#,
            r#"[["a","b",1,2]]"#,
        ] {
            let entry = PageEntry {
                urls: UrlsJson::of(bad.into()),
                ..entry.clone()
            };
            assert!(entry.url_entries().is_err(), "{bad}");
        }
    }

    /// Signs `pages` of `site` with a rewriter that signs `/media/` on
    /// `https://www.example.com/`, handing replaced pages to `closer`.
    fn sign_pages(site: &Path, pages: &[Page], closer: &Closer) -> Vec<PageReport> {
        let base = testing::site();
        let signer = testing::signer("k", 1_715_133_600, &["/media/"]);
        let rewriter = Rewriter::new(signer, Options::default());
        let run = RunOptions {
            dry_run: false,
            now: 1_715_000_000,
            publish: false,
            revoked: &Revocations::default(),
            done: None,
        };
        process_pages(&rewriter, (site, &base), pages, run, closer)
    }

    #[test]
    fn a_page_removed_during_the_run_is_reported_and_the_rest_signed() {
        // Simulated at the library level: the page list names a file that is gone by the time it is read.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("here.html"), "<img src=\"/media/a.jpg\">").unwrap();
        let pages: Vec<Page> = ["gone.html", "here.html"]
            .iter()
            .map(|n| Page {
                rel: Path::new(n).into(),
            })
            .collect();
        let reports = sign_pages(dir.path(), &pages, &Closer::start());
        let err = reports[0].result.as_ref().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the page: No such file"),
            "{err}"
        );
        assert!(reports[1].result.as_ref().unwrap().changed);
    }

    /// Open descriptors of this process on files under `dir` that have been unlinked.
    fn deleted_files_held_open(dir: &Path) -> usize {
        fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
            .filter(|target| {
                let target = target.to_string_lossy();
                target.starts_with(&*dir.to_string_lossy()) && target.ends_with(" (deleted)")
            })
            .count()
    }

    #[test]
    fn replaced_pages_are_closed_when_the_closer_finishes_even_past_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        // More pages than the closer's queue holds, so signing has to wait for it at times.
        let pages: Vec<Page> = (0..600)
            .map(|i| {
                let path = dir.path().join(format!("p{i}.html"));
                fs::write(&path, format!("<img src=\"/media/{i}.jpg\">")).unwrap();
                Page {
                    rel: std::path::PathBuf::from(format!("p{i}.html")).into(),
                }
            })
            .collect();
        let closer = Closer::start();
        let reports = sign_pages(dir.path(), &pages, &closer);
        assert!(reports.iter().all(|r| r.result.as_ref().unwrap().changed));
        closer.finish();
        assert_eq!(deleted_files_held_open(dir.path()), 0);
        assert!(
            fs::read_to_string(pages[599].path(dir.path()))
                .unwrap()
                .contains("sig=")
        );
    }
}
