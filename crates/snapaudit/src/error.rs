//! The one error type of the core crate.
//!
//! `Err` means the job could not be done at all (the image cannot be read, a
//! path does not exist, an argument is wrong). Problems *inside* an image that
//! the audit can work around become findings or diagnostics instead.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop snapaudit from doing its job.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused an I/O operation on a host file.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The image contradicts its own format at `offset` (bytes from the start
    /// of the image, or of the file being parsed when noted in `what`).
    #[error("corrupt image at byte {offset}: {what}")]
    Corrupt { offset: u64, what: String },
    /// Valid input that snapaudit does not handle (yet).
    #[error("unsupported: {what}")]
    Unsupported { what: String },
    /// A path inside an image's filesystem does not exist.
    #[error("{path}: no such file or directory in the image")]
    NotFound { path: String },
    /// The caller asked for something that does not fit the image or the
    /// arguments contradict each other (e.g. `--partition 9` on a disk with
    /// two partitions).
    #[error("{what}")]
    InvalidInput { what: String },
    /// The input has neither a partition table nor a filesystem (or other
    /// volume) signature anywhere snapaudit looks: random bytes, a blank
    /// file, a document. Not a finding: there is no disk to audit.
    #[error("not a disk image (no partition table, no filesystem signature found)")]
    NotADiskImage,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(offset: u64, what: impl Into<String>) -> Self {
        Error::Corrupt {
            offset,
            what: what.into(),
        }
    }

    pub(crate) fn unsupported(what: impl Into<String>) -> Self {
        Error::Unsupported { what: what.into() }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Self {
        Error::InvalidInput { what: what.into() }
    }

    /// The byte offset in the image where the problem was found, if known.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
