//! Why an image could not be opened or read.

use alloc::string::String;
use core::fmt;

/// A reference an image makes to another file, which is never followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// A qcow2 backing file.
    BackingFile,
    /// A qcow2 external data file.
    DataFile,
    /// A VMDK extent in another file (or a descriptor-only VMDK).
    Extent,
    /// A differencing VHD's parent.
    Parent,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BackingFile => "backing file",
            Self::DataFile => "external data file",
            Self::Extent => "extent in another file",
            Self::Parent => "parent disk",
        })
    }
}

/// Why an image could not be opened or read. The image is untrusted: every failure it can
/// cause is one of these, never a panic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Reading the image file failed.
    Read(String),
    /// The image is inconsistent or hostile: a field out of range, an offset past the end, a
    /// bad checksum, a compressed cluster that does not decompress to its size. The text
    /// says which.
    Corrupt(String),
    /// A valid image this reader does not read (VHDX, VDI, an encrypted qcow2, an unknown
    /// incompatible feature), by name.
    Unsupported(String),
    /// The image refers to another file, named as the image names it (escaped: any byte
    /// that is not printable ASCII is `\xNN`). It is not followed.
    External {
        /// What kind of reference.
        kind: Reference,
        /// The name the image gives.
        name: String,
    },
    /// The bytes match more than one format (`auto` detection): the caller must say which.
    Ambiguous(String),
    /// The backing chain handed over does not match the image's: a backing disk given for an
    /// image without one, or a differencing VHD's parent whose unique id is not the one the
    /// image names.
    Chain(String),
    /// A read past the virtual disk's end.
    OutOfBounds {
        /// First byte of the read.
        offset: u64,
        /// Its length in bytes.
        len: u64,
        /// The virtual disk's size in bytes.
        size: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(why) => write!(f, "reading the image failed: {why}"),
            Self::Corrupt(why) => write!(f, "corrupt image: {why}"),
            Self::Unsupported(what) => write!(f, "unsupported image: {what}"),
            Self::External { kind, name } => write!(
                f,
                "the image names {} {kind}, \"{name}\", which is not followed{}",
                if matches!(kind, Reference::DataFile | Reference::Extent) {
                    "an"
                } else {
                    "a"
                },
                if *kind == Reference::BackingFile {
                    " (name the file with --backing if you trust it)"
                } else {
                    ""
                }
            ),
            Self::Ambiguous(what) => write!(f, "ambiguous image: {what}; name the format"),
            Self::Chain(why) => write!(f, "backing chain: {why}"),
            Self::OutOfBounds { offset, len, size } => write!(
                f,
                "{len} bytes from byte {offset} are past the end of the {size}-byte disk"
            ),
        }
    }
}

impl core::error::Error for Error {}

/// `bytes` as text that can be shown safely: printable ASCII as is, every other byte `\xNN`.
#[cfg(feature = "read")]
pub(crate) fn escaped(bytes: &[u8]) -> String {
    use core::fmt::Write;
    let mut text = String::new();
    for &byte in bytes {
        if byte.is_ascii_graphic() || byte == b' ' {
            text.push(char::from(byte));
        } else {
            let _ = write!(text, "\\x{byte:02x}");
        }
    }
    text
}
