//! vhd images (to be written).

use crate::disk::Layout;
use crate::{Error, Extent, Source};

pub(crate) struct Vhd {
    size: u64,
}

impl Vhd {
    pub(crate) fn open(_file: &dyn Source) -> Result<Self, Error> {
        Err(Error::Unsupported("vhd: not yet".into()))
    }
}

impl Layout for Vhd {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, _: &dyn Source, _: u64, _: u64) -> Result<Extent, Error> {
        Err(Error::Unsupported("vhd".into()))
    }

    fn read_encoded(&mut self, _: &dyn Source, _: u64, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Unsupported("vhd".into()))
    }
}
