//! Moving the manifest's tens of MB out on both cores: formatting and writing overlap.

use std::fs::File;
use std::io::{self, Write};
use std::sync::mpsc;

use crate::site::atomic::start_writeback;
use crate::site::fingerprint::HashingWriter;

/// Size of the pieces [`write_hashed`] hands from the formatting thread to the writing one
/// (a buffered series of writes was measured faster than one huge `write()` on this machine).
pub(super) const PIECE: usize = 1 << 20;

/// Writes what `body` writes to `file` and returns its hex SHA-256. A second thread hashes and
/// writes each piece while `body` formats the next: for a manifest of tens of MB each half takes
/// about as long as the other, and `resign` waits for both.
pub(super) fn write_hashed(
    file: &File,
    body: impl FnOnce(&mut Pieces) -> io::Result<()>,
) -> io::Result<String> {
    write_through(file, true, body).map(Option::unwrap_or_default)
}

/// [`write_hashed`] without the hash, for a file whose writer hashes what it writes.
pub(super) fn write_piped(
    file: &File,
    body: impl FnOnce(&mut Pieces) -> io::Result<()>,
) -> io::Result<()> {
    write_through(file, false, body).map(drop)
}

/// Writes what `body` writes to `file` on a second thread, hashing it there when `hash`.
fn write_through(
    file: &File,
    hash: bool,
    body: impl FnOnce(&mut Pieces) -> io::Result<()>,
) -> io::Result<Option<String>> {
    std::thread::scope(|scope| {
        let (full, full_rx) = mpsc::sync_channel::<Vec<u8>>(2);
        let (spare_tx, spare) = mpsc::channel::<Vec<u8>>();
        let writer = scope.spawn(move || -> io::Result<Option<String>> {
            let mut out = HashingWriter::new(file);
            let mut written = 0;
            for piece in full_rx {
                match hash {
                    true => out.write_all(&piece)?,
                    false => (&mut &*file).write_all(&piece)?,
                }
                start_writeback(file, written, piece.len());
                written += piece.len() as u64;
                let _ = spare_tx.send(piece);
            }
            Ok(hash.then(|| out.finish().0))
        });
        let mut out = Pieces {
            buf: Vec::with_capacity(PIECE),
            full,
            spare,
        };
        let formatted = body(&mut out).and_then(|()| out.flush());
        drop(out);
        // The writer's error first: when it stops, handing it pieces fails too.
        let checksum = writer.join().expect("the manifest writer does not panic")?;
        formatted.map(|()| checksum)
    })
}

/// The formatting end of [`write_hashed`]: fills a piece and hands it over when full.
pub(super) struct Pieces {
    buf: Vec<u8>,
    full: mpsc::SyncSender<Vec<u8>>,
    /// Pieces the writer is done with, to fill again.
    spare: mpsc::Receiver<Vec<u8>>,
}

impl Write for Pieces {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PIECE {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self.spare.try_recv().unwrap_or_default();
        next.clear();
        next.reserve(PIECE);
        let piece = std::mem::replace(&mut self.buf, next);
        self.full
            .send(piece)
            .map_err(|_| io::Error::other("the manifest writer stopped"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_write_is_reported_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("read-only");
        std::fs::write(&path, "").unwrap();
        // Writing to a file opened for reading fails at the first piece; the formatting side
        // must stop too, and the writer's error be the one returned.
        let file = File::open(&path).unwrap();
        let result = write_hashed(&file, |out| {
            for _ in 0..10 {
                out.write_all(&vec![b'x'; PIECE])?;
            }
            Ok(())
        });
        let error = result.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(9), "{error}"); // EBADF
    }
}
