//! A virtual disk as the contract's `block-device`: read-only, in 512-byte sectors, every read
//! checked here as a partition checks it, so a device handed to anyone keeps its bounds.

use std::cell::Cell;

use crate::exports::blockpart::partition::block_device::{self as wit, GuestDevice};
use crate::exports::blockpart::partition::types::{DeviceError, Info};
use crate::{Component, MAX_TRANSFER, Shared};

/// The handle the WIT gives out.
pub type Handle = wit::Device;

/// Sectors are those of a disk image: 512 bytes.
const SECTOR: u64 = 512;

impl wit::Guest for Component {
    type Device = Device;
}

/// A device over a shared disk.
pub struct Device {
    disk: Shared,
    connected: Cell<bool>,
}

impl Device {
    /// A device sharing `disk`.
    pub fn of(disk: Shared) -> Handle {
        Handle::new(Self {
            disk,
            connected: Cell::new(true),
        })
    }

    fn sectors(&self) -> u64 {
        self.disk.borrow().size() / SECTOR
    }

    /// Refuses a request that a disconnected or read-only device cannot serve.
    fn refuse_change(&self) -> Result<(), DeviceError> {
        if !self.connected.get() {
            return Err(DeviceError::Disconnected);
        }
        Err(DeviceError::IsReadOnly)
    }
}

impl GuestDevice for Device {
    fn info(&self) -> Info {
        Info {
            read_write: false,
            sector_size: 512,
            size_sectors: self.sectors(),
        }
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        if !self.connected.get() {
            return Err(DeviceError::Disconnected);
        }
        if !len.is_multiple_of(SECTOR) {
            return Err(DeviceError::Unaligned);
        }
        let end = sector_start.checked_add(len / SECTOR);
        if end.is_none_or(|end| end > self.sectors()) {
            return Err(DeviceError::OutOfBounds);
        }
        if len > MAX_TRANSFER {
            return Err(DeviceError::Io(format!(
                "{len} bytes at once is over the {MAX_TRANSFER} one read covers"
            )));
        }
        // In bounds: `sector_start * 512 + len` is at most the disk's size.
        let offset = sector_start.saturating_mul(SECTOR);
        let mut buf = vec![0; usize::try_from(len).map_err(|e| DeviceError::Io(e.to_string()))?];
        self.disk
            .borrow_mut()
            .read(offset, &mut buf)
            .map_err(|error| DeviceError::Io(error.to_string()))?;
        Ok(buf)
    }

    fn write(&self, _sector_start: u64, _data: Vec<u8>) -> Result<(), DeviceError> {
        self.refuse_change()
    }

    fn flush(&self) -> Result<(), DeviceError> {
        if !self.connected.get() {
            return Err(DeviceError::Disconnected);
        }
        Ok(())
    }

    fn discard(&self, _sector_start: u64, _sectors: u64) -> Result<(), DeviceError> {
        self.refuse_change()
    }

    fn write_zeroes(&self, _sector_start: u64, _sectors: u64) -> Result<(), DeviceError> {
        self.refuse_change()
    }

    fn disconnect(&self) {
        self.connected.set(false);
    }
}
