//! A raw image: the file is the disk.

use crate::disk::Layout;
use crate::{Error, Extent, Source};

/// The file's bytes, as they are.
pub(crate) struct Raw {
    size: u64,
}

impl Raw {
    pub(crate) fn open(file: &dyn Source) -> Result<Self, Error> {
        Ok(Self { size: file.size() })
    }
}

impl Layout for Raw {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, _file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error> {
        Ok(Extent::Data { offset, len })
    }

    fn read_encoded(&mut self, _: &dyn Source, offset: u64, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Corrupt(alloc::format!(
            "no encoded bytes at {offset} of a raw image"
        )))
    }

    fn linear(&self) -> Option<u64> {
        Some(0)
    }
}
