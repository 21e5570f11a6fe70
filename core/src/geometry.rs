//! A device's shape and access mode, and the checks a device makes of its own requests.

use crate::{DeviceError, Extent, Info, SectorSize};

/// What a device is: its sector size, its size, and whether it takes writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes per sector.
    pub sector_size: SectorSize,
    /// Size in sectors.
    pub sectors: u64,
    /// Whether writes are allowed.
    pub read_write: bool,
}

impl Geometry {
    /// The device's [`Info`].
    pub fn info(self) -> Info {
        Info {
            read_write: self.read_write,
            sector_size: self.sector_size.get(),
            size_sectors: self.sectors,
        }
    }

    /// Byte offset and length of `sectors` sectors from `start`, which must lie on the device.
    pub fn bytes(self, start: u64, sectors: u64) -> Result<(u64, u64), DeviceError> {
        let extent = Extent::whole(self.sectors)
            .slice(start, sectors)
            .map_err(|_| DeviceError::OutOfBounds)?;
        let byte = |sectors| {
            self.sector_size
                .bytes_in(sectors)
                .ok_or(DeviceError::OutOfBounds)
        };
        Ok((byte(extent.start())?, byte(extent.sectors())?))
    }

    /// Byte offset of a transfer of `len` bytes from sector `start`: whole sectors, on the
    /// device.
    pub fn transfer(self, start: u64, len: u64) -> Result<u64, DeviceError> {
        let sectors = self
            .sector_size
            .sectors_in(len)
            .ok_or(DeviceError::Unaligned)?;
        Ok(self.bytes(start, sectors)?.0)
    }

    /// `Ok` if the device takes writes.
    pub fn writable(self) -> Result<(), DeviceError> {
        if self.read_write {
            Ok(())
        } else {
            Err(DeviceError::ReadOnly)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISK: Geometry = Geometry {
        sector_size: SectorSize::B512,
        sectors: 8,
        read_write: true,
    };

    #[test]
    fn requests_are_checked_against_the_device() {
        assert_eq!(DISK.bytes(2, 3), Ok((1024, 1536)));
        assert_eq!(DISK.bytes(8, 0), Ok((4096, 0)));
        assert_eq!(DISK.bytes(7, 2), Err(DeviceError::OutOfBounds));
        assert_eq!(DISK.bytes(u64::MAX, 1), Err(DeviceError::OutOfBounds));
        assert_eq!(DISK.transfer(1, 1024), Ok(512));
        assert_eq!(DISK.transfer(1, 1000), Err(DeviceError::Unaligned));
        let read_only = Geometry {
            read_write: false,
            ..DISK
        };
        assert_eq!(read_only.writable(), Err(DeviceError::ReadOnly));
    }
}
