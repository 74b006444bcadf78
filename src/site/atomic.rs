//! Atomic writes, in one place: every file rendorix changes (pages, the manifest) is written to
//! a temporary file in its own folder and renamed over the original, so a reader or a crash sees
//! the old file or the new one, never half of one. Temporary files carry [`TEMP_SUFFIX`]; a
//! later run removes any that a killed run left.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::site::SiteError;
use crate::site::fingerprint::HashingWriter;

/// Suffix of the temporary files rendorix writes (and removes when a killed run left them).
pub const TEMP_SUFFIX: &str = ".rendorix-tmp";

/// Whether a file named `name` is a temporary file that rendorix writes.
pub(crate) fn is_leftover(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Removes the temporary files of `path` (`.NAME.PID.rendorix-tmp`) that a killed run left
/// beside it.
pub(crate) fn remove_leftovers_of(path: &Path) {
    let folder = folder_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    for entry in fs::read_dir(folder).into_iter().flatten().flatten() {
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix) && file.ends_with(TEMP_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The folder `path` is in (`.` for a bare name).
pub(crate) fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The temporary file beside `path` that this process writes before renaming it over `path`.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}{TEMP_SUFFIX}", std::process::id()))
}

/// Writes `path` through a temporary file in the same folder and renames it over the original,
/// keeping the original's permissions and setting its modification time to `now`; `before` is
/// the original's metadata when it was read. Returns the SHA-256 and size of what was written.
pub(crate) fn write_page(
    path: &Path,
    before: &fs::Metadata,
    now: u64,
    fill: impl FnOnce(&mut HashingWriter<BufWriter<&File>>) -> io::Result<()>,
) -> Result<(String, u64), SiteError> {
    let temp = temp_path(path);
    let result = (|| {
        let file = File::create(&temp).map_err(SiteError::CreateTemp)?;
        let mut out = HashingWriter::new(BufWriter::with_capacity(64 * 1024, &file));
        fill(&mut out).map_err(SiteError::Write)?;
        out.flush().map_err(SiteError::Write)?;
        let (sha256, size) = out.finish();
        file.set_permissions(before.permissions())
            .map_err(SiteError::Permissions)?;
        file.set_modified(UNIX_EPOCH + Duration::from_secs(now))
            .map_err(SiteError::SetTime)?;
        // A page replaced by another process since it was read must not be overwritten with
        // a rewrite of its old content.
        let current = fs::metadata(path).map_err(SiteError::Disappeared)?;
        if current.len() != before.len() || current.modified().ok() != before.modified().ok() {
            return Err(SiteError::ChangedMeanwhile);
        }
        fs::rename(&temp, path).map_err(SiteError::Replace)?;
        Ok((sha256, size))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `path` atomically (temporary file in the same folder, then rename) with `fill`, which
/// writes the whole content to the temporary file.
pub(crate) fn write_atomically_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let temp = temp_path(path);
    let result = File::create(&temp)
        .and_then(|mut file| fill(&mut file))
        .and_then(|()| fs::rename(&temp, path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `first` and `second` atomically with `fill`, which writes both temporary files, and
/// renames `first` into place before `second`: a reader that trusts `second` only when `first`
/// is the one it records sees either both old files, both new ones, or a mismatch.
pub(crate) fn write_pair_atomically(
    first: &Path,
    second: &Path,
    fill: impl FnOnce(&mut File, &mut File) -> io::Result<()>,
) -> io::Result<()> {
    let temps = (temp_path(first), temp_path(second));
    let result = (|| {
        let mut one = File::create(&temps.0)?;
        let mut two = File::create(&temps.1)?;
        fill(&mut one, &mut two)?;
        fs::rename(&temps.0, first)?;
        fs::rename(&temps.1, second)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temps.0);
        let _ = fs::remove_file(&temps.1);
    }
    result
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to disk, without waiting.
/// ext4 writes a file's data out before a rename over an existing file completes (so that a
/// crash does not leave an empty file); for a file of tens of MB written in pieces, starting
/// each piece as it is written takes that wait off the rename (measured: 18 -> 7 ms for 27 MB).
#[allow(unsafe_code)] // the one system call std has no wrapper for
pub(crate) fn start_writeback(file: &File, offset: u64, len: usize) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: the descriptor belongs to `file`, which is open for the whole call; the call
        // reads no memory of ours. A failure only means the rename waits as it would anyway.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::fingerprint::mtime_ns;
    use sha2::{Digest, Sha256};

    #[test]
    fn atomic_write_keeps_permissions_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.html");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let before = fs::metadata(&path).unwrap();
        let written =
            write_page(&path, &before, 1_715_000_000, |out| out.write_all(b"new")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(written, (hex::encode(Sha256::digest(b"new")), 3));
        assert_eq!(
            mtime_ns(&fs::metadata(&path).unwrap()),
            1_715_000_000 * 1_000_000_000
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_page_changed_meanwhile_is_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.html");
        fs::write(&path, "old").unwrap();
        let before = fs::metadata(&path).unwrap();
        fs::write(&path, "rebuilt by the generator").unwrap();
        let err = write_page(&path, &before, 0, |out| out.write_all(b"new")).unwrap_err();
        assert!(
            err.to_string().contains("changed while it was signed"),
            "{err}"
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "rebuilt by the generator"
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
