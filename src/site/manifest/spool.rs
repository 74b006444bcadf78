//! A file that a run's page lines wait in until the manifest is written (see
//! [`super::PageLines`]), and that a loaded manifest's URL lists are read from.
//!
//! The file is created beside the manifest, named like the manifest's temporary files, and
//! removed at once (on Unix an open file outlives its name), so nothing is left behind, whatever
//! happens to the run. Appends are positional writes, each reserving its range first, so
//! threads never wait for one another.

use std::fs::{self, File};
use std::io;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::site::atomic::temp_path;

/// A file of page lines appended to by a run and read back when the manifest is written, or a
/// manifest being read.
#[derive(Debug)]
pub struct Spool {
    file: File,
    /// Where the next list goes.
    end: AtomicU64,
    /// For a file being read: its size and modification time when it was opened, which it must
    /// keep (a file written over in place would give other bytes than the checksum vouched for).
    opened: Option<(u64, SystemTime)>,
}

impl Spool {
    /// A new, empty spool beside the manifest at `manifest`; `None` where positional writes or
    /// unlinking an open file are not available, or the folder cannot take it (the lists then
    /// stay in memory).
    pub fn create(manifest: &Path) -> Option<Spool> {
        if !cfg!(unix) {
            return None;
        }
        let path = temp_path(&manifest.with_extension("lines"));
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        fs::remove_file(&path).ok()?;
        Some(Spool {
            file,
            end: AtomicU64::new(0),
            opened: None,
        })
    }

    /// A spool over `file` as it is: a manifest being read, whose URL lists are read from it.
    pub(super) fn reading(file: File) -> io::Result<Spool> {
        let meta = file.metadata()?;
        Ok(Spool {
            opened: Some((meta.len(), meta.modified()?)),
            file,
            end: AtomicU64::new(0),
        })
    }

    /// Appends `bytes` and returns where they start.
    pub(super) fn append(&self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.end.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        write_at(&self.file, bytes, at)?;
        Ok(at)
    }

    /// Reads what was appended, from the start.
    pub(super) fn reader(&self) -> Reader<'_> {
        self.reader_of(0..self.end.load(Ordering::Relaxed))
    }

    /// Reads the bytes of `range`.
    pub(super) fn reader_of(&self, range: Range<u64>) -> Reader<'_> {
        Reader {
            file: &self.file,
            at: range.start,
            end: range.end,
        }
    }

    /// Whether the file being read still has the size and modification time it had when it
    /// was opened (a file written over in place would give other bytes than the checksum
    /// vouched for).
    pub(super) fn still_as_opened(&self) -> io::Result<()> {
        if let Some(opened) = self.opened {
            let meta = self.file.metadata()?;
            if (meta.len(), meta.modified()?) != opened {
                return Err(io::Error::other(
                    "the manifest was written over while this run read it; run again",
                ));
            }
        }
        Ok(())
    }

    /// The `len` bytes at `offset`, which [`Spool::append`] wrote as UTF-8.
    pub(super) fn read(&self, offset: u64, len: usize) -> io::Result<String> {
        let mut bytes = vec![0; len];
        read_at(&self.file, &mut bytes, offset)?;
        self.still_as_opened()?;
        String::from_utf8(bytes).map_err(io::Error::other)
    }
}

/// Reads a range of a spool ([`Spool::reader`], [`Spool::reader_of`]).
pub(super) struct Reader<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl io::Read for Reader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = read_some_at(self.file, &mut buf[..want], self.at)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(unix)]
fn read_some_at(file: &File, bytes: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, bytes, at)
}

#[cfg(not(unix))]
fn read_some_at(_: &File, _: &mut [u8], _: u64) -> io::Result<usize> {
    Err(io::Error::other("no spool on this platform"))
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, at)
}

#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], at: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, at)
}

#[cfg(not(unix))]
fn write_at(_: &File, _: &[u8], _: u64) -> io::Result<()> {
    Err(io::Error::other("no spool on this platform"))
}

#[cfg(not(unix))]
fn read_at(_: &File, _: &mut [u8], _: u64) -> io::Result<()> {
    Err(io::Error::other("no spool on this platform"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_appended_from_many_threads_read_back_whole_and_leave_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::create(&dir.path().join("m.json")).unwrap();
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "removed at once"
        );
        let written: Vec<(u64, String)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let spool = &spool;
                    s.spawn(move || {
                        (0..500)
                            .map(|i| {
                                let text = format!("[[\"/m/{t}-{i}-{}.jpg\"]]", "é".repeat(i % 7));
                                (spool.append(text.as_bytes()).unwrap(), text)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        for (at, text) in &written {
            assert_eq!(&spool.read(*at, text.len()).unwrap(), text);
        }
    }

    #[test]
    fn a_file_written_over_while_read_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        fs::write(&path, "[[\"/a.jpg\"]]").unwrap();
        let spool = Spool::reading(File::open(&path).unwrap()).unwrap();
        assert_eq!(spool.read(0, 12).unwrap(), "[[\"/a.jpg\"]]");
        // Replaced by a rename (as rendorix writes it): the open file is still the one read.
        fs::write(dir.path().join("new"), "[[\"/b.jpg\"]]").unwrap();
        fs::rename(dir.path().join("new"), &path).unwrap();
        assert_eq!(spool.read(0, 12).unwrap(), "[[\"/a.jpg\"]]");
        // Written over in place: refused.
        let spool = Spool::reading(File::open(&path).unwrap()).unwrap();
        fs::write(&path, "[[\"/c.jpg\"]] and more").unwrap();
        let error = spool.read(0, 12).unwrap_err().to_string();
        assert!(
            error.contains("written over while this run read it"),
            "{error}"
        );
    }
}
