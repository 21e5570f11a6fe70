//! A block device in memory: a RAM disk, and the native backend of the conformance suite.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use crate::{BlockDevice, DeviceError, Geometry, Info, SectorSize};

/// A block device whose sectors live in a shared byte buffer.
///
/// Clones share the same bytes, so a caller can keep one to look at the disk while partitions
/// own another.
#[derive(Clone, Debug)]
pub struct MemDevice {
    bytes: Rc<RefCell<Vec<u8>>>,
    geometry: Geometry,
}

impl MemDevice {
    /// A device over `bytes`, which must be a whole number of sectors.
    pub fn new(bytes: Vec<u8>, sector_size: SectorSize, read_write: bool) -> Option<Self> {
        let sectors = sector_size.sectors_in(u64::try_from(bytes.len()).ok()?)?;
        Some(Self {
            bytes: Rc::new(RefCell::new(bytes)),
            geometry: Geometry {
                sector_size,
                sectors,
                read_write,
            },
        })
    }

    /// A copy of the device's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.borrow().clone()
    }

    /// The bytes of `sectors` sectors from `start`, checked against the device.
    fn range(&self, start: u64, sectors: u64) -> Result<Range<usize>, DeviceError> {
        let (offset, len) = self.geometry.bytes(start, sectors)?;
        index_range(offset, len)
    }
}

/// `offset..offset + len` as indices; the device's bytes are in memory, so they fit.
fn index_range(offset: u64, len: u64) -> Result<Range<usize>, DeviceError> {
    let end = offset.checked_add(len).ok_or(DeviceError::OutOfBounds)?;
    let index = |byte| usize::try_from(byte).map_err(|_| DeviceError::OutOfBounds);
    Ok(index(offset)?..index(end)?)
}

impl BlockDevice for MemDevice {
    fn info(&self) -> Info {
        self.geometry.info()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        let range = index_range(self.geometry.transfer(sector_start, len)?, len)?;
        let bytes = self.bytes.borrow();
        Ok(bytes.get(range).ok_or(DeviceError::OutOfBounds)?.to_vec())
    }

    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(buf.len()).map_err(|_| DeviceError::OutOfBounds)?;
        let range = index_range(self.geometry.transfer(sector_start, len)?, len)?;
        let bytes = self.bytes.borrow();
        buf.copy_from_slice(bytes.get(range).ok_or(DeviceError::OutOfBounds)?);
        Ok(())
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.geometry.writable()?;
        let len = u64::try_from(data.len()).map_err(|_| DeviceError::OutOfBounds)?;
        let range = index_range(self.geometry.transfer(sector_start, len)?, len)?;
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
        self.geometry.writable()?;
        let range = self.range(sector_start, sectors)?;
        let mut bytes = self.bytes.borrow_mut();
        bytes
            .get_mut(range)
            .ok_or(DeviceError::OutOfBounds)?
            .fill(0);
        Ok(())
    }
}
