//! Byte access to a partition, and the adapter that gives it over whole-sector reads.

use crate::IoError;

/// Bytes of a partition, read at any byte offset. The filesystem crates read this way.
pub trait ReadAt {
    /// The partition's size in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from byte `offset`: all of it, or an error.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> u64 {
        u64::try_from(self.len()).unwrap_or(u64::MAX)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let past_end = || IoError::PastEnd {
            offset,
            len: u64::try_from(buf.len()).unwrap_or(u64::MAX),
            size: self.size(),
        };
        let start = usize::try_from(offset).map_err(|_| past_end())?;
        let end = start.checked_add(buf.len()).ok_or_else(past_end)?;
        let src = self.get(start..end).ok_or_else(past_end)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A partition as the partitioner gives it: whole sectors only.
pub trait Sectors {
    /// Bytes per sector: a power of two, at least 512.
    fn sector_size(&self) -> u32;
    /// Size in sectors.
    fn sectors(&self) -> u64;
    /// Fills `buf`, a whole number of sectors, from sector `start`.
    fn read_sectors(&mut self, start: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

/// Bytes per cached chunk, and per device read for small requests: a few filesystem blocks
/// at once, so metadata walks make few calls across the component boundary.
const CHUNK_BYTES: u64 = 128 << 10;

/// Chunks kept (2 MiB in all): the most recently used stay.
const CHUNKS: usize = 16;

/// [`ReadAt`] over [`Sectors`]: small reads go through a cache of aligned chunks, large ones
/// are read whole-sector-aligned in one request.
pub struct Aligned<S> {
    sectors: S,
    sector_size: u64,
    size: u64,
    /// Chunk number and its bytes (shorter at the partition's end), most recent last.
    cache: Vec<(u64, Vec<u8>)>,
}

impl<S: Sectors> Aligned<S> {
    /// Byte access to `sectors`.
    pub fn new(sectors: S) -> Self {
        let sector_size = u64::from(sectors.sector_size()).max(1);
        let size = sectors.sectors().saturating_mul(sector_size);
        Self {
            sectors,
            sector_size,
            size,
            cache: Vec::new(),
        }
    }

    /// Reads the sectors covering bytes `start..end` (with `end <= size`) into a fresh buffer,
    /// returning it and the byte offset it begins at.
    fn read_covering(&mut self, start: u64, end: u64) -> Result<(u64, Vec<u8>), IoError> {
        let first = start.checked_div(self.sector_size).unwrap_or(0);
        // `end <= size`, itself sectors times sector size: neither rounds past u64.
        let last = end.div_ceil(self.sector_size);
        let bytes = last.saturating_sub(first).saturating_mul(self.sector_size);
        let mut buf = vec![0; usize::try_from(bytes).map_err(|_| too_big(start, bytes))?];
        self.sectors.read_sectors(first, &mut buf)?;
        Ok((first.saturating_mul(self.sector_size), buf))
    }

    /// The cached chunk `number`, read if it is not there.
    fn chunk(&mut self, number: u64) -> Result<&[u8], IoError> {
        if let Some(at) = self.cache.iter().position(|(n, _)| *n == number) {
            // The most recent last; a run of reads in one chunk finds it there already.
            if at.saturating_add(1) != self.cache.len() {
                let hit = self.cache.remove(at);
                self.cache.push(hit);
            }
        } else {
            let start = number.saturating_mul(CHUNK_BYTES);
            let end = start.saturating_add(CHUNK_BYTES).min(self.size);
            // Chunks are multiples of any sector size up to 128 KiB, so this starts at
            // `start`; with larger sectors, it is what covers the chunk.
            let (at, mut data) = self.read_covering(start, end)?;
            let skip = usize::try_from(start.saturating_sub(at)).unwrap_or(0);
            data.drain(..skip.min(data.len()));
            if self.cache.len() >= CHUNKS {
                self.cache.remove(0);
            }
            self.cache.push((number, data));
        }
        Ok(self
            .cache
            .last()
            .map(|(_, data)| data.as_slice())
            .unwrap_or_default())
    }
}

fn too_big(offset: u64, len: u64) -> IoError {
    IoError::Device(format!(
        "a read of {len} bytes at {offset} does not fit in memory"
    ))
}

impl<S: Sectors> ReadAt for Aligned<S> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let end = offset
            .checked_add(len)
            .filter(|end| *end <= self.size)
            .ok_or(IoError::PastEnd {
                offset,
                len,
                size: self.size,
            })?;
        if len > CHUNK_BYTES {
            let (at, data) = self.read_covering(offset, end)?;
            let skip =
                usize::try_from(offset.saturating_sub(at)).map_err(|_| too_big(offset, len))?;
            let src = skip
                .checked_add(buf.len())
                .and_then(|end| data.get(skip..end))
                .ok_or_else(|| too_big(offset, len))?;
            buf.copy_from_slice(src);
            return Ok(());
        }
        // At most two chunks, since a read this small spans at most one boundary.
        let mut filled = 0usize;
        while let Some(rest) = buf.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            let at = offset.saturating_add(u64::try_from(filled).unwrap_or(u64::MAX));
            let number = at.checked_div(CHUNK_BYTES).unwrap_or(0);
            let within = usize::try_from(at.checked_rem(CHUNK_BYTES).unwrap_or(0)).unwrap_or(0);
            let data = self.chunk(number)?;
            let src = data.get(within..).unwrap_or_default();
            let n = src.len().min(rest.len());
            if n == 0 {
                // The chunk ended before the partition did: the device returned short.
                return Err(IoError::Device(format!("no bytes at {at}")));
            }
            rest.get_mut(..n)
                .zip(src.get(..n))
                .map(|(dst, src)| dst.copy_from_slice(src))
                .ok_or_else(|| too_big(offset, len))?;
            filled = filled.saturating_add(n);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "tests: small known numbers, and a panic is a failure"
)]
mod tests {
    use super::*;

    /// Sectors over bytes, counting requests.
    struct Disk {
        bytes: Vec<u8>,
        sector_size: u32,
        requests: usize,
    }

    impl Sectors for Disk {
        fn sector_size(&self) -> u32 {
            self.sector_size
        }
        fn sectors(&self) -> u64 {
            (self.bytes.len() / self.sector_size as usize) as u64
        }
        fn read_sectors(&mut self, start: u64, buf: &mut [u8]) -> Result<(), IoError> {
            let size = self.sector_size as usize;
            assert_eq!(buf.len() % size, 0, "whole sectors only");
            let from = start as usize * size;
            buf.copy_from_slice(&self.bytes[from..from + buf.len()]);
            self.requests += 1;
            Ok(())
        }
    }

    #[test]
    fn reads_any_range_as_the_bytes_are_with_whole_sector_requests() {
        let bytes: Vec<u8> = (0..600_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for sector_size in [512u32, 4096, 1 << 18] {
            let len = bytes.len() / sector_size as usize * sector_size as usize;
            let mut reader = Aligned::new(Disk {
                bytes: bytes[..len].to_vec(),
                sector_size,
                requests: 0,
            });
            assert_eq!(reader.size(), len as u64);
            for (offset, n) in [
                (0, 1),
                (511, 2),
                (1000, 5000),
                (131_000, 2000),
                (3, 300_000),
                (len - 7, 7),
                (len, 0),
            ] {
                if offset + n > len {
                    continue;
                }
                let mut buf = vec![0; n];
                reader.read_at(offset as u64, &mut buf).unwrap();
                assert_eq!(buf, bytes[offset..offset + n], "{sector_size} {offset} {n}");
            }
            let mut buf = [0; 8];
            assert!(matches!(
                reader.read_at(len as u64 - 4, &mut buf),
                Err(IoError::PastEnd { .. })
            ));
            assert!(matches!(
                reader.read_at(u64::MAX, &mut buf),
                Err(IoError::PastEnd { .. })
            ));
        }
    }

    #[test]
    fn small_reads_of_one_region_read_the_device_once() {
        let mut reader = Aligned::new(Disk {
            bytes: vec![0; 1 << 20],
            sector_size: 512,
            requests: 0,
        });
        let mut buf = [0; 100];
        for offset in (0..60_000).step_by(1000) {
            reader.read_at(offset, &mut buf).unwrap();
        }
        assert_eq!(reader.sectors.requests, 1);
    }
}
