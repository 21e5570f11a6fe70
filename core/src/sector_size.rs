//! The size of a sector, and conversions between bytes and sectors.

/// Bytes per sector: a power of two, at least 512.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SectorSize(u32);

impl SectorSize {
    /// The classic sector size.
    pub const B512: Self = Self(512);

    /// The sector size of "4Kn" (4K native) disks.
    pub const B4096: Self = Self(4096);

    /// The sector size of `bytes`, or `None` if `bytes` is not a power of two of at least 512.
    pub fn new(bytes: u32) -> Option<Self> {
        (bytes >= 512 && bytes.is_power_of_two()).then_some(Self(bytes))
    }

    /// Bytes per sector.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The number of whole sectors in `len` bytes, or `None` if `len` is not a whole number.
    pub fn sectors_in(self, len: u64) -> Option<u64> {
        let size = u64::from(self.0);
        match len.checked_rem(size) {
            Some(0) => len.checked_div(size),
            _ => None,
        }
    }

    /// The number of bytes in `sectors` sectors, or `None` if that does not fit in 64 bits.
    pub fn bytes_in(self, sectors: u64) -> Option<u64> {
        sectors.checked_mul(u64::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_powers_of_two_from_512_are_sector_sizes() {
        for ok in [512, 1024, 4096, 1 << 31] {
            assert_eq!(SectorSize::new(ok).map(SectorSize::get), Some(ok));
        }
        for bad in [0, 1, 256, 511, 513, 520, 4095, u32::MAX] {
            assert_eq!(SectorSize::new(bad), None, "{bad}");
        }
    }

    #[test]
    fn byte_lengths_convert_only_when_whole_sectors() {
        let s = SectorSize::new(4096).unwrap();
        assert_eq!(s.sectors_in(0), Some(0));
        assert_eq!(s.sectors_in(8192), Some(2));
        assert_eq!(s.sectors_in(4095), None);
        assert_eq!(s.sectors_in(u64::MAX), None);
        assert_eq!(s.bytes_in(2), Some(8192));
        assert_eq!(s.bytes_in(u64::MAX), None);
    }
}
