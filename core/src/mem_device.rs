//! A block device in memory: a RAM disk, and the native backend of the conformance suite.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use crate::{BlockDevice, DeviceError, Extent, Info, SectorSize};

/// A block device whose sectors live in a shared byte buffer.
///
/// Clones share the same bytes, so a caller can keep one to look at the disk while partitions
/// own another.
#[derive(Clone, Debug)]
pub struct MemDevice {
    bytes: Rc<RefCell<Vec<u8>>>,
    sector_size: SectorSize,
    read_write: bool,
}

impl MemDevice {
    /// A device over `bytes`, which must be a whole number of sectors.
    pub fn new(bytes: Vec<u8>, sector_size: SectorSize, read_write: bool) -> Option<Self> {
        sector_size.sectors_in(u64::try_from(bytes.len()).ok()?)?;
        Some(Self {
            bytes: Rc::new(RefCell::new(bytes)),
            sector_size,
            read_write,
        })
    }

    /// A copy of the device's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }

    /// The byte range of `sectors` sectors from `start`, checked against the device.
    fn range(&self, start: u64, sectors: u64) -> Result<Range<usize>, DeviceError> {
        let extent = Extent::whole(self.info().size_sectors)
            .slice(start, sectors)
            .map_err(|_| DeviceError::OutOfBounds)?;
        let byte = |sector| {
            self.sector_size
                .bytes_in(sector)
                .and_then(|b| usize::try_from(b).ok())
                .ok_or(DeviceError::OutOfBounds)
        };
        #[expect(
            clippy::arithmetic_side_effects,
            reason = "the extent lies within the device, whose end fits"
        )]
        let end = extent.start() + extent.sectors();
        Ok(byte(extent.start())?..byte(end)?)
    }

    fn writable(&self) -> Result<(), DeviceError> {
        if self.read_write {
            Ok(())
        } else {
            Err(DeviceError::ReadOnly)
        }
    }

    fn sectors_in(&self, len: u64) -> Result<u64, DeviceError> {
        self.sector_size
            .sectors_in(len)
            .ok_or(DeviceError::Unaligned)
    }
}

impl BlockDevice for MemDevice {
    fn info(&self) -> Info {
        let len = u64::try_from(self.bytes.borrow().len()).unwrap_or(u64::MAX);
        Info {
            read_write: self.read_write,
            sector_size: self.sector_size.get(),
            size_sectors: self.sector_size.sectors_in(len).unwrap_or(0),
        }
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        let range = self.range(sector_start, self.sectors_in(len)?)?;
        let bytes = self.bytes.borrow();
        Ok(bytes.get(range).ok_or(DeviceError::OutOfBounds)?.to_vec())
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.writable()?;
        let len = u64::try_from(data.len()).map_err(|_| DeviceError::OutOfBounds)?;
        let range = self.range(sector_start, self.sectors_in(len)?)?;
        let mut bytes = self.bytes.borrow_mut();
        bytes
            .get_mut(range)
            .ok_or(DeviceError::OutOfBounds)?
            .copy_from_slice(data);
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        // Discarded contents are unspecified; zeroes are what a hole in a file reads as.
        self.write_zeroes(sector_start, sectors)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.writable()?;
        let range = self.range(sector_start, sectors)?;
        let mut bytes = self.bytes.borrow_mut();
        bytes
            .get_mut(range)
            .ok_or(DeviceError::OutOfBounds)?
            .fill(0);
        Ok(())
    }
}
