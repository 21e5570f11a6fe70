//! Read-only ext2/3/4 and FAT12/16/32 over a partition's bytes: detect the filesystem, list a
//! directory, a path's metadata, a file's bytes by range, a symbolic link's target.
//!
//! Plain Rust, no component model in sight: the filesystem-reader component
//! (`components/fs-reader`) is thin glue over this crate, and its tests run natively on images
//! the real tools made. Images are untrusted: whatever they hold, every operation returns a
//! value or an [`Error`], never panics, and no listing runs without end.
//!
//! ```no_run
//! use blockpart_fs::Filesystem;
//!
//! let image = std::fs::read("fs.img")?;
//! let mut fs = Filesystem::open(image)?;
//! for entry in fs.list_dir(b"/")? {
//!     println!("{}", String::from_utf8_lossy(&entry.name));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The readers, behind the default `read` feature: without it the crate is the types alone,
// for a host that only receives them from the reader component.
#[cfg(feature = "read")]
mod code_page;
mod error;
#[cfg(feature = "read")]
mod ext;
#[cfg(feature = "read")]
mod fat;
#[cfg(feature = "read")]
mod filesystem;
#[cfg(feature = "read")]
mod read_at;

pub use error::{Error, IoError};
#[cfg(feature = "read")]
pub use filesystem::Filesystem;
#[cfg(feature = "read")]
pub use read_at::{Aligned, ReadAt, Sectors};

/// The most bytes one `Filesystem::read` returns: a reader's buffer, and the guest's copy
/// of it, stay this small whatever the file's size.
pub const MAX_READ: u64 = 16 << 20;

/// The filesystems this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsKind {
    /// ext2: no journal, no extents.
    Ext2,
    /// ext3: ext2 with a journal.
    Ext3,
    /// ext4: extents, flexible block groups, 64-bit or checksummed metadata.
    Ext4,
    /// FAT with 12-bit cluster numbers (floppies, small volumes).
    Fat12,
    /// FAT with 16-bit cluster numbers.
    Fat16,
    /// FAT with 32-bit cluster numbers.
    Fat32,
}

impl FsKind {
    /// The usual name: `ext4`, `fat32`, ...
    pub fn name(self) -> &'static str {
        match self {
            Self::Ext2 => "ext2",
            Self::Ext3 => "ext3",
            Self::Ext4 => "ext4",
            Self::Fat12 => "fat12",
            Self::Fat16 => "fat16",
            Self::Fat32 => "fat32",
        }
    }
}

/// What a directory entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A device, FIFO or socket.
    Other,
}

/// What a path is, without following a final symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// File, directory, link or other.
    pub kind: FileKind,
    /// Size in bytes (a link's: its target's length; FAT gives directories 0).
    pub size: u64,
    /// Permission bits (`0o7777`), where the filesystem has them (ext, not FAT).
    pub mode: Option<u16>,
}

/// One entry of a directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name: UTF-8 on FAT; on ext, the bytes the directory holds (usually UTF-8).
    pub name: Vec<u8>,
    /// What it is.
    pub metadata: Metadata,
}
