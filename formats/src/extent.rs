//! Where a range of the virtual disk lands.

/// The first piece of a range of the virtual disk, as a format maps it: a run of bytes that
/// is one thing. `len` is never zero and never more than was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// `len` bytes stored as they are in the image file, from byte `offset` of the file.
    Data {
        /// Where the bytes are in the image file.
        offset: u64,
        /// How many.
        len: u64,
    },
    /// `len` bytes that read as zeros: unallocated with no backing disk, or marked zero.
    Zero {
        /// How many.
        len: u64,
    },
    /// `len` bytes the image does not hold: they are the backing disk's, at the same virtual
    /// offset (zeros past the backing disk's end, or with no backing disk).
    Backing {
        /// How many.
        len: u64,
    },
    /// `len` bytes that only the format can produce (a compressed cluster or grain): read
    /// them with [`Disk::read`](crate::Disk::read).
    Encoded {
        /// How many.
        len: u64,
    },
}

impl Extent {
    /// The extent's length in bytes.
    pub fn len(&self) -> u64 {
        match *self {
            Self::Data { len, .. }
            | Self::Zero { len }
            | Self::Backing { len }
            | Self::Encoded { len } => len,
        }
    }

    /// Never true: an extent is never empty (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
