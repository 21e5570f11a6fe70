//! vmdk images (to be written).

use crate::disk::Layout;
use crate::{Error, Extent, Source};

pub(crate) struct Vmdk {
    size: u64,
}

impl Vmdk {
    pub(crate) fn open(_file: &dyn Source) -> Result<Self, Error> {
        Err(Error::Unsupported("vmdk: not yet".into()))
    }
}

impl Layout for Vmdk {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, _: &dyn Source, _: u64, _: u64) -> Result<Extent, Error> {
        Err(Error::Unsupported("vmdk".into()))
    }

    fn read_encoded(&mut self, _: &dyn Source, _: u64, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Unsupported("vmdk".into()))
    }
}
