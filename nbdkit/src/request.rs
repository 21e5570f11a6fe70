//! NBD requests, in bytes, as the partition's requests, in whole sectors.
//!
//! A request `[offset, offset + len)` becomes at most one partial sector at each end and whole
//! sectors between them, in chunks of at most [`CHUNK_BYTES`]. A partial sector is read,
//! changed and written back (read-modify-write); whole sectors go straight through.

use std::ops::Range;

/// Largest transfer of one call into the component: a bound on the guest memory a
/// connection's instance grows to (its memory never shrinks), well under the partition's own
/// limit of 64 MiB, and large enough that the few microseconds of a call do not count.
pub const CHUNK_BYTES: u64 = 4 << 20;

/// One part of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// `sectors` whole sectors from `sector`: bytes `buf` of the request.
    Whole {
        /// First sector, in the partition.
        sector: u64,
        /// Number of sectors.
        sectors: u64,
        /// The bytes of the request's buffer they hold.
        buf: Range<usize>,
    },
    /// Bytes `within` of sector `sector`: bytes `buf` of the request.
    Partial {
        /// The sector, in the partition.
        sector: u64,
        /// The bytes of the sector the request touches.
        within: Range<usize>,
        /// The bytes of the request's buffer they hold.
        buf: Range<usize>,
    },
}

/// Why a request cannot be cut into sectors.
#[derive(Debug, PartialEq, Eq)]
pub struct Overflow;

/// `[offset, offset + len)` cut into pieces, for sectors of `sector_size` bytes (a power of
/// two). [`Overflow`] if the end overflows or a length does not fit in memory.
pub fn pieces(sector_size: u32, offset: u64, len: u32) -> Result<Vec<Piece>, Overflow> {
    let ss = u64::from(sector_size);
    if ss == 0 {
        return Err(Overflow);
    }
    let end = offset.checked_add(u64::from(len)).ok_or(Overflow)?;
    // At least one sector, and whole sectors.
    let chunk = CHUNK_BYTES.max(ss).checked_div(ss).ok_or(Overflow)?;
    let chunk = chunk.checked_mul(ss).ok_or(Overflow)?;
    let index = |at: u64| {
        at.checked_sub(offset)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(Overflow)
    };
    let mut out = Vec::new();
    let mut pos = offset;
    while pos < end {
        let sector = pos.checked_div(ss).ok_or(Overflow)?;
        let skip = pos.checked_rem(ss).ok_or(Overflow)?;
        let left = end.checked_sub(pos).ok_or(Overflow)?;
        let taken = if skip != 0 || left < ss {
            // `skip < ss`, so `ss - skip` is at least 1.
            let taken = left.min(ss.checked_sub(skip).ok_or(Overflow)?);
            let skip = usize::try_from(skip).map_err(|_| Overflow)?;
            let within_end = skip
                .checked_add(usize::try_from(taken).map_err(|_| Overflow)?)
                .ok_or(Overflow)?;
            let next = pos.checked_add(taken).ok_or(Overflow)?;
            out.push(Piece::Partial {
                sector,
                within: skip..within_end,
                buf: index(pos)?..index(next)?,
            });
            taken
        } else {
            // Whole sectors only: round `left` down, then bound it by a chunk.
            let taken = left
                .checked_sub(left.checked_rem(ss).ok_or(Overflow)?)
                .ok_or(Overflow)?
                .min(chunk);
            let next = pos.checked_add(taken).ok_or(Overflow)?;
            out.push(Piece::Whole {
                sector,
                sectors: taken.checked_div(ss).ok_or(Overflow)?,
                buf: index(pos)?..index(next)?,
            });
            taken
        };
        pos = pos.checked_add(taken).ok_or(Overflow)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(sector: u64, sectors: u64, buf: Range<usize>) -> Piece {
        Piece::Whole {
            sector,
            sectors,
            buf,
        }
    }

    fn partial(sector: u64, within: Range<usize>, buf: Range<usize>) -> Piece {
        Piece::Partial {
            sector,
            within,
            buf,
        }
    }

    #[test]
    fn an_aligned_request_is_one_whole_piece() {
        assert_eq!(pieces(512, 1024, 4096), Ok(vec![whole(2, 8, 0..4096)]));
    }

    #[test]
    fn an_empty_request_is_no_piece() {
        assert_eq!(pieces(512, 777, 0), Ok(vec![]));
    }

    #[test]
    fn a_request_inside_one_sector_is_one_partial_piece() {
        assert_eq!(pieces(512, 513, 10), Ok(vec![partial(1, 1..11, 0..10)]));
        assert_eq!(pieces(4096, 0, 1), Ok(vec![partial(0, 0..1, 0..1)]));
    }

    #[test]
    fn an_unaligned_request_has_a_head_a_body_and_a_tail() {
        // Bytes 1000..3000 of 512-byte sectors: 1000..1024 in sector 1, sectors 2 to 4
        // (1024..2560), then 2560..3000 in sector 5.
        assert_eq!(
            pieces(512, 1000, 2000),
            Ok(vec![
                partial(1, 488..512, 0..24),
                whole(2, 3, 24..1560),
                partial(5, 0..440, 1560..2000),
            ])
        );
    }

    #[test]
    fn a_request_ending_on_a_sector_boundary_has_no_tail() {
        assert_eq!(
            pieces(512, 500, 524),
            Ok(vec![partial(0, 500..512, 0..12), whole(1, 1, 12..524)])
        );
    }

    #[test]
    fn large_requests_are_chunked_in_whole_sectors() {
        let len = u32::try_from(CHUNK_BYTES * 2 + 4096 + 7).unwrap();
        let chunk = usize::try_from(CHUNK_BYTES).unwrap();
        let per = CHUNK_BYTES / 4096;
        assert_eq!(
            pieces(4096, 0, len),
            Ok(vec![
                whole(0, per, 0..chunk),
                whole(per, per, chunk..2 * chunk),
                whole(2 * per, 1, 2 * chunk..2 * chunk + 4096),
                partial(2 * per + 1, 0..7, 2 * chunk + 4096..2 * chunk + 4103),
            ])
        );
    }

    #[test]
    fn pieces_cover_the_request_exactly_in_order() {
        for ss in [512_u32, 4096] {
            for offset in [0_u64, 1, 511, 512, 4095, 4097, 1 << 33] {
                for len in [0_u32, 1, 511, 512, 513, 4096, 9000, 5 << 20] {
                    let got = pieces(ss, offset, len).unwrap();
                    let mut at = 0;
                    let mut byte = offset;
                    for piece in &got {
                        let (buf, first) = match piece {
                            Piece::Whole {
                                sector,
                                sectors,
                                buf,
                            } => {
                                assert_eq!(buf.len() as u64, sectors * u64::from(ss));
                                assert!(buf.len() as u64 <= CHUNK_BYTES);
                                (buf, sector * u64::from(ss))
                            }
                            Piece::Partial {
                                sector,
                                within,
                                buf,
                            } => {
                                assert_eq!(within.len(), buf.len());
                                assert!(within.end <= ss as usize && !within.is_empty());
                                (buf, sector * u64::from(ss) + within.start as u64)
                            }
                        };
                        assert_eq!(buf.start, at);
                        assert_eq!(first, byte);
                        at = buf.end;
                        byte += buf.len() as u64;
                    }
                    assert_eq!(at, len as usize, "{ss} {offset} {len}");
                }
            }
        }
    }

    #[test]
    fn an_overflowing_request_is_refused() {
        assert_eq!(pieces(512, u64::MAX, 1), Err(Overflow));
    }
}
