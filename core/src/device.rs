//! What the partitioner asks of a block device.

use std::fmt;

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

impl fmt::Display for Info {
    /// `2048 sectors of 512 bytes, read-write`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = if self.read_write {
            "read-write"
        } else {
            "read-only"
        };
        write!(
            f,
            "{} sectors of {} bytes, {access}",
            self.size_sectors, self.sector_size
        )
    }
}

/// A block device, addressed in sectors.
///
/// A [`Partition`](crate::Partition) calls it only with requests it has checked: non-empty,
/// whole sectors, inside the device, and no write when `info().read_write` is false. An
/// implementation must still check its own requests, since other callers may not: a guest
/// component holds the whole device it was handed, and may call it with any numbers. The
/// contract, which `blockpart-conformance`'s device cases check on every device we ship:
///
/// - A request of `n` sectors (`len / sector_size` for a read or write) from `sector_start` is
///   served iff `sector_start + n <= size_sectors`, computed without overflow, and its bytes
///   are those at `sector_start * sector_size` of the backing. Anything else, `u64::MAX`
///   starts and lengths included, is refused with [`DeviceError::OutOfBounds`].
/// - A read or write whose length is not whole sectors is refused with
///   [`DeviceError::Unaligned`].
/// - On a read-only device every write, discard and write-zeroes is refused with
///   [`DeviceError::ReadOnly`], whatever its arguments.
/// - The checks run in that order: read-only, unaligned, out of bounds. Zero-length requests at
///   `sector_start <= size_sectors` pass them and succeed.
/// - A refused request changes nothing, and no request grows the backing.
/// - [`info`](Self::info) reports the sector size, size and access mode the device was made
///   with.
pub trait BlockDevice {
    /// The device's geometry and access mode.
    fn info(&self) -> Info;
    /// Reads `len` bytes from sector `sector_start`; must return exactly `len` bytes.
    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError>;
    /// Reads `buf.len()` bytes from sector `sector_start` into `buf`, with the checks of
    /// [`read`](Self::read). On error `buf` may hold part of the data.
    ///
    /// The default reads and copies; a device that can fill `buf` directly should.
    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(buf.len()).map_err(|_| DeviceError::OutOfBounds)?;
        let data = self.read(sector_start, len)?;
        if data.len() != buf.len() {
            return Err(DeviceError::Io(format!(
                "asked for {len} bytes, the device read {}",
                data.len()
            )));
        }
        buf.copy_from_slice(&data);
        Ok(())
    }
    /// Writes `data` from sector `sector_start`.
    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError>;
    /// Makes every completed write durable.
    fn flush(&self) -> Result<(), DeviceError>;
    /// Drops the contents of `sectors` sectors from `sector_start`.
    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError>;
    /// Sets `sectors` sectors from `sector_start` to zero.
    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_reads_as_words_not_debug_text() {
        let info = Info {
            read_write: false,
            sector_size: 4096,
            size_sectors: 256,
        };
        assert_eq!(info.to_string(), "256 sectors of 4096 bytes, read-only");
    }
}
