//! Ranges of device sectors, and the one bounds check that every access and split goes through.

/// `sectors` sectors from sector `start` of the underlying device.
///
/// Invariant: `start + sectors` fits in a `u64`, so no sector of an extent overflows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    start: u64,
    sectors: u64,
}

/// A request refused because it does not lie within an extent; positions relative to the extent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    /// First sector requested.
    pub sector_start: u64,
    /// Number of sectors requested.
    pub sectors: u64,
    /// Size of the extent, in sectors.
    pub size_sectors: u64,
}

impl Extent {
    /// The whole of a device of `size_sectors` sectors.
    pub fn whole(size_sectors: u64) -> Self {
        Self {
            start: 0,
            sectors: size_sectors,
        }
    }

    /// First sector, on the device.
    pub fn start(self) -> u64 {
        self.start
    }

    /// Length, in sectors.
    pub fn sectors(self) -> u64 {
        self.sectors
    }

    /// The extent of `sectors` sectors from `start`, relative to this one; it must lie within
    /// this one. Every access and split is checked here.
    pub fn slice(self, start: u64, sectors: u64) -> Result<Self, OutOfBounds> {
        let refused = OutOfBounds {
            sector_start: start,
            sectors,
            size_sectors: self.sectors,
        };
        let end = start.checked_add(sectors).ok_or(refused)?;
        if end > self.sectors {
            return Err(refused);
        }
        #[expect(
            clippy::arithmetic_side_effects,
            reason = "start < end <= self.sectors, and self.start + self.sectors fits (invariant)"
        )]
        let start = self.start + start;
        Ok(Self { start, sectors })
    }

    /// Splits at `first`: `[0, first)` and `[first, size)`, relative to this extent. Either part
    /// may be empty; `first` past the size is refused.
    pub fn split(self, first: u64) -> Result<(Self, Self), OutOfBounds> {
        let rest = self.sectors.checked_sub(first).ok_or(OutOfBounds {
            sector_start: first,
            sectors: 0,
            size_sectors: self.sectors,
        })?;
        Ok((self.slice(0, first)?, self.slice(first, rest)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(start: u64, sectors: u64) -> Extent {
        Extent::whole(start + sectors)
            .slice(start, sectors)
            .unwrap()
    }

    #[test]
    fn slice_is_relative_and_nests() {
        let e = extent(100, 50).slice(10, 20).unwrap().slice(5, 5).unwrap();
        assert_eq!((e.start(), e.sectors()), (115, 5));
    }

    #[test]
    fn slice_accepts_exactly_up_to_the_end() {
        let e = extent(100, 50);
        assert!(e.slice(49, 1).is_ok());
        assert!(e.slice(50, 0).is_ok());
        assert!(e.slice(0, 50).is_ok());
        let past = e.slice(50, 1).unwrap_err();
        assert_eq!(
            past,
            OutOfBounds {
                sector_start: 50,
                sectors: 1,
                size_sectors: 50
            }
        );
        assert!(e.slice(51, 0).is_err());
        assert!(e.slice(40, 11).is_err());
    }

    #[test]
    fn slice_refuses_overflowing_requests() {
        let e = Extent::whole(u64::MAX);
        assert!(e.slice(u64::MAX, 0).is_ok());
        assert!(e.slice(u64::MAX, 1).is_err());
        assert!(e.slice(1, u64::MAX).is_err());
        assert!(e.slice(u64::MAX, u64::MAX).is_err());
        assert!(extent(10, 10).slice(u64::MAX - 5, 10).is_err());
    }

    #[test]
    fn split_allows_empty_parts_at_both_ends() {
        let e = extent(8, 16);
        let (a, b) = e.split(0).unwrap();
        assert_eq!(
            (a.start(), a.sectors(), b.start(), b.sectors()),
            (8, 0, 8, 16)
        );
        let (a, b) = e.split(16).unwrap();
        assert_eq!(
            (a.start(), a.sectors(), b.start(), b.sectors()),
            (8, 16, 24, 0)
        );
        let (a, b) = e.split(5).unwrap();
        assert_eq!(
            (a.start(), a.sectors(), b.start(), b.sectors()),
            (8, 5, 13, 11)
        );
    }

    #[test]
    fn split_past_the_end_is_out_of_bounds() {
        let refused = extent(8, 16).split(17).unwrap_err();
        assert_eq!(
            refused,
            OutOfBounds {
                sector_start: 17,
                sectors: 0,
                size_sectors: 16
            }
        );
        assert!(extent(8, 16).split(u64::MAX).is_err());
    }
}
