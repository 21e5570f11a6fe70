//! The image file, as the formats read it: bytes by offset, read-only.

use alloc::vec::Vec;

use crate::Error;

/// An image file's bytes. Every read the formats make is inside `[0, size)`; a source may
/// still refuse one (an I/O error), which the formats pass on as [`Error::Read`].
pub trait Source {
    /// The file's size in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` with the bytes from `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error>;
}

/// An image in memory (tests, fuzzing).
impl Source for Vec<u8> {
    fn size(&self) -> u64 {
        u64::try_from(self.len()).unwrap_or(u64::MAX)
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let bytes = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .and_then(|range| self.get(range))
            .ok_or_else(|| Error::Read(alloc::format!("read past the end at {offset}")))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }
}

impl<S: Source + ?Sized> Source for &S {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read_at(offset, buf)
    }
}

impl<S: Source + ?Sized> Source for alloc::boxed::Box<S> {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        (**self).read_at(offset, buf)
    }
}

/// Reads `len` bytes at `offset` of `source`, after checking that they lie inside it: a
/// header field pointing past the end is [`Error::Corrupt`] saying `what`, not a read error.
pub(crate) fn read_exact(
    source: &dyn Source,
    offset: u64,
    buf: &mut [u8],
    what: &str,
) -> Result<(), Error> {
    let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
    match offset.checked_add(len) {
        Some(end) if end <= source.size() => source.read_at(offset, buf),
        _ => Err(Error::Corrupt(alloc::format!(
            "{what} at byte {offset} ({len} bytes) is past the end of the file ({} bytes)",
            source.size()
        ))),
    }
}
