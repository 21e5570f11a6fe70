//! What the partitioner asks of a block device.

use crate::DeviceError;

/// A block device's geometry and access mode (Mirage's `Mirage_block.info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// Whether writes are allowed.
    pub read_write: bool,
    /// Bytes per sector.
    pub sector_size: u32,
    /// Size in sectors.
    pub size_sectors: u64,
}

/// A block device, addressed in sectors.
///
/// A [`Partition`](crate::Partition) calls it only with requests it has checked: non-empty,
/// whole sectors, inside the device, and no write when `info().read_write` is false. An
/// implementation should still check its own requests, since other callers may not.
pub trait BlockDevice {
    /// The device's geometry and access mode.
    fn info(&self) -> Info;
    /// Reads `len` bytes from sector `sector_start`; must return exactly `len` bytes.
    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError>;
    /// Writes `data` from sector `sector_start`.
    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError>;
    /// Makes every completed write durable.
    fn flush(&self) -> Result<(), DeviceError>;
    /// Drops the contents of `sectors` sectors from `sector_start`.
    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError>;
    /// Sets `sectors` sectors from `sector_start` to zero.
    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError>;
}
