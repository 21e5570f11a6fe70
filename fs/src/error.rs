//! What can go wrong reading a filesystem: one enum, every crate's errors mapped into it here.

use std::fmt;

/// Why a filesystem operation failed. Nothing here is a bug of the caller's or of this crate:
/// a crafted image gives one of these, never a panic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No file or directory of that name.
    NotFound,
    /// A component of the path, or the path itself for a listing, is not a directory.
    NotADirectory,
    /// The path is a directory, where a file's bytes were asked for.
    IsADirectory,
    /// The path is a special file (device, FIFO, socket): it has no bytes to read.
    NotAFile,
    /// The path is not a symbolic link, where its target was asked for.
    NotASymlink,
    /// The path cannot name anything: too long, a NUL in it, or too many symbolic links.
    InvalidPath(String),
    /// A read of more bytes than one call may return.
    TooLarge {
        /// Bytes asked for.
        asked: u64,
        /// The most one call returns.
        most: u64,
    },
    /// The partition holds no filesystem this crate reads, or one with features it lacks.
    Unsupported(String),
    /// The filesystem's structures are inconsistent; the detail says where.
    Damaged(String),
    /// Reading the partition failed.
    Io(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such file or directory"),
            Self::NotADirectory => f.write_str("not a directory"),
            Self::IsADirectory => f.write_str("is a directory"),
            Self::NotAFile => f.write_str("a special file, with no bytes to read"),
            Self::NotASymlink => f.write_str("not a symbolic link"),
            Self::InvalidPath(why) => write!(f, "invalid path: {why}"),
            Self::TooLarge { asked, most } => {
                write!(
                    f,
                    "a read of {asked} bytes; one call returns at most {most}"
                )
            }
            Self::Unsupported(why) => write!(f, "unsupported filesystem: {why}"),
            Self::Damaged(why) => write!(f, "damaged filesystem: {why}"),
            Self::Io(why) => write!(f, "I/O error: {why}"),
        }
    }
}

impl std::error::Error for Error {}

/// A failed read of the partition's bytes, as a [`ReadAt`](crate::ReadAt) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The filesystem asked for bytes past the partition's end: its structures point outside
    /// it, so it is damaged (or was made for a bigger partition).
    PastEnd {
        /// Byte offset asked for.
        offset: u64,
        /// Bytes asked for.
        len: u64,
        /// The partition's size in bytes.
        size: u64,
    },
    /// The device failed the read.
    Device(String),
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PastEnd { offset, len, size } => write!(
                f,
                "a read of {len} bytes at byte {offset}, past the partition's end ({size} bytes)"
            ),
            Self::Device(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for IoError {}

impl From<IoError> for Error {
    fn from(error: IoError) -> Self {
        match error {
            IoError::PastEnd { .. } => Self::Damaged(error.to_string()),
            IoError::Device(why) => Self::Io(why),
        }
    }
}

#[cfg(feature = "read")]
impl From<ext4_view::Ext4Error> for Error {
    fn from(error: ext4_view::Ext4Error) -> Self {
        use ext4_view::Ext4Error as E;
        match error {
            E::NotFound => Self::NotFound,
            E::NotADirectory => Self::NotADirectory,
            E::IsADirectory => Self::IsADirectory,
            E::IsASpecialFile => Self::NotAFile,
            E::NotASymlink => Self::NotASymlink,
            E::NotAbsolute | E::MalformedPath | E::PathTooLong | E::TooManySymlinks => {
                Self::InvalidPath(error.to_string())
            }
            E::Io(inner) => match inner.downcast::<IoError>() {
                Ok(io) => (*io).into(),
                Err(other) => Self::Io(other.to_string()),
            },
            E::Encrypted | E::Incompatible(_) => Self::Unsupported(error.to_string()),
            // Corrupt, and whatever a later version adds: the image is at fault.
            _ => Self::Damaged(error.to_string()),
        }
    }
}

/// fatfs reports everything as `std::io::Error`: our own read failures come back inside one,
/// the rest is fatfs finding the volume inconsistent (or ending early).
#[cfg(feature = "read")]
pub(crate) fn from_fat(error: &std::io::Error) -> Error {
    if let Some(io) = error.get_ref().and_then(|e| e.downcast_ref::<IoError>()) {
        return io.clone().into();
    }
    match error.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound,
        std::io::ErrorKind::UnexpectedEof => {
            Error::Damaged("a structure runs past the end of the volume".into())
        }
        _ => Error::Damaged(error.to_string()),
    }
}
