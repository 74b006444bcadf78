//! What a page's content is, without reading it when that can be avoided: SHA-256 and size of
//! what is written, and git's index rule for whether a recorded page is still the same.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

/// Modification time in nanoseconds since the Unix epoch (0 when unknown).
pub(crate) fn mtime_ns(m: &fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Whether the page at `path` still has the content a manifest recorded (`sha256`, `size`,
/// `mtime_ns`). Like git's index: when size and modification time match, the recorded hash is
/// trusted without reading the page; otherwise the page is hashed. Also returns the page's
/// current size and modification time.
pub(crate) fn unchanged_since(
    path: &Path,
    sha256: &str,
    size: u64,
    mtime: u64,
) -> io::Result<(bool, u64, u64)> {
    let meta = fs::metadata(path)?;
    let now_mtime = mtime_ns(&meta);
    if meta.len() == size && now_mtime == mtime && mtime != 0 {
        return Ok((true, size, mtime));
    }
    let (hash, _) = hash_reader(&mut File::open(path)?)?;
    Ok((hash == sha256, meta.len(), now_mtime))
}

pub(crate) fn hash_reader(input: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = HashingWriter::new(io::sink());
    io::copy(input, &mut hasher)?;
    Ok(hasher.finish())
}

/// A writer that hashes and counts what passes through it.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The hex SHA-256 and the number of bytes written.
    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(data)?;
        self.hasher.update(&data[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_check_trusts_size_and_time_then_falls_back_to_the_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.html");
        fs::write(&path, "abc").unwrap();
        let meta = fs::metadata(&path).unwrap();
        let sha = hex::encode(Sha256::digest(b"abc"));
        // Size and time match: the recorded hash is trusted, even a wrong one (not read).
        assert!(
            unchanged_since(&path, "not-read", 3, mtime_ns(&meta))
                .unwrap()
                .0
        );
        // Time differs: the page is hashed.
        assert!(unchanged_since(&path, &sha, 3, 1).unwrap().0);
        assert!(!unchanged_since(&path, "other", 3, 1).unwrap().0);
        assert!(unchanged_since(&dir.path().join("gone.html"), &sha, 3, 1).is_err());
    }
}
