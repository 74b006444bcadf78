//! The site folder: finding its pages (`discover`), processing them on every core
//! (`worker`), writing each changed file atomically (`atomic`), closing replaced pages off
//! the signing threads (`closer`), and what a later run needs to skip work: content
//! fingerprints (`fingerprint`), folder times (`folders`) and the [`manifest`].

use std::fmt;
use std::io;

use crate::page::PageError;

pub(crate) mod atomic;
pub(crate) mod closer;
pub(crate) mod discover;
pub(crate) mod fingerprint;
pub(crate) mod folders;
pub mod manifest;
pub mod refresh;
pub mod revoked;
pub(crate) mod worker;

pub use atomic::TEMP_SUFFIX;
pub use discover::{format_of, is_html, is_signed};

/// Why a page (or a folder) of the site could not be processed; the page is left as it was.
#[derive(Debug)]
pub enum SiteError {
    /// Reading the page failed.
    Read(io::Error),
    /// The page itself could not be scanned.
    Page(PageError),
    /// No temporary file could be created beside the page.
    CreateTemp(io::Error),
    /// Writing the signed page failed.
    Write(io::Error),
    /// The page's permissions could not be copied to its replacement.
    Permissions(io::Error),
    /// The replacement's modification time could not be set.
    SetTime(io::Error),
    /// The page was removed while it was signed.
    Disappeared(io::Error),
    /// Another process replaced the page while it was signed.
    ChangedMeanwhile,
    /// The rename over the page failed.
    Replace(io::Error),
    /// rendorix panicked on the page (a bug).
    Panicked,
    /// A folder could not be listed.
    ListFolder(io::Error),
    /// An entry's file type could not be read.
    FileType,
}

impl SiteError {
    /// The finding's stable code.
    pub fn code(&self) -> &'static str {
        match self {
            SiteError::Read(_) | SiteError::ListFolder(_) | SiteError::FileType => "unreadable",
            SiteError::Page(_) => "page_not_scanned",
            SiteError::CreateTemp(_)
            | SiteError::Write(_)
            | SiteError::Permissions(_)
            | SiteError::SetTime(_)
            | SiteError::Replace(_) => "unwritable",
            SiteError::Disappeared(_) | SiteError::ChangedMeanwhile => "changed_meanwhile",
            SiteError::Panicked => "internal_error",
        }
    }
}

impl fmt::Display for SiteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteError::Read(e) => write!(f, "cannot read the page: {e}"),
            SiteError::Page(e) => e.fmt(f),
            SiteError::CreateTemp(e) => write!(
                f,
                "cannot create a temporary file beside the page ({e}); is the folder writable?"
            ),
            SiteError::Write(e) => write!(f, "cannot write the signed page: {e}"),
            SiteError::Permissions(e) => write!(f, "cannot copy the page's permissions: {e}"),
            SiteError::SetTime(e) => write!(f, "cannot set the page's modification time: {e}"),
            SiteError::Disappeared(e) => write!(
                f,
                "the page disappeared while it was signed ({e}); run again"
            ),
            SiteError::ChangedMeanwhile => {
                f.write_str("the page changed while it was signed; left as it is now, run again")
            }
            SiteError::Replace(e) => write!(f, "cannot replace the page: {e}"),
            SiteError::Panicked => f.write_str(
                "rendorix failed on this page (a bug, please report it with the page); the page was left unchanged",
            ),
            SiteError::ListFolder(e) => write!(f, "cannot list the folder: {e}"),
            SiteError::FileType => f.write_str("cannot tell what kind of file this is"),
        }
    }
}

impl std::error::Error for SiteError {}

impl From<PageError> for SiteError {
    fn from(e: PageError) -> SiteError {
        SiteError::Page(e)
    }
}
