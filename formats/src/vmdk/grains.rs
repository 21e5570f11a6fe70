//! Grains: the grain directory, a bounded cache of grain tables, and compressed grains
//! (decompressed one at a time into a buffer of one grain, the last one kept).

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use super::header::{Header, field, u32_at, u64_at};
use crate::source::read_exact;
use crate::{Error, Source};

/// Grain tables kept in memory (2 KiB each for 512 entries).
const CACHED_TABLES: usize = 16;
/// The most grains one `map` merges into an extent: bounds the work of one call.
pub(super) const MAX_MERGED: u32 = 4096;
/// A compressed grain's most bytes, as a multiple of the grain: deflate of random data
/// grows a little; qemu reads at most two grains' worth.
const MAX_COMPRESSED_GRAINS: u64 = 2;
/// A grain marker's bytes before the compressed data: lba (u64), size (u32).
const MARKER_BYTES: u64 = 12;

/// What a grain table entry says of a grain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Grain {
    /// Not allocated: reads as zeros (a sparse extent has no parent here).
    Unallocated,
    /// A zeroed grain (entry 1, with the zeroed-grain flag).
    Zero,
    /// Stored as is from this byte of the file.
    Data(u64),
    /// Compressed, from this byte of the file (its marker first, if there are markers).
    Compressed(u64),
}

/// The grain directory and what hangs from it.
pub(super) struct Grains {
    size: u64,
    grain_sectors: u64,
    grain_bytes: u64,
    gtes_per_gt: u32,
    zero_grain: bool,
    compressed: bool,
    markers: bool,
    directory: Vec<u32>,
    /// Recently used grain tables, most recent first: (directory index, entries).
    tables: Vec<(u64, Vec<u32>)>,
    /// The last grain decompressed: (grain index, its bytes inside the disk).
    last: Option<(u64, Vec<u8>)>,
}

impl Grains {
    /// The grains of an extent with `header`, `size` bytes long, whose directory is
    /// `directory` (one entry per grain table covering `size`).
    pub(super) fn new(header: &Header, size: u64, directory: Vec<u32>) -> Self {
        Self {
            size,
            grain_sectors: header.grain_sectors,
            // At most 4096 sectors: no overflow.
            grain_bytes: header.grain_sectors.saturating_mul(512),
            gtes_per_gt: header.gtes_per_gt,
            zero_grain: header.zero_grain,
            compressed: header.compressed,
            markers: header.markers,
            directory,
            tables: Vec::new(),
            last: None,
        }
    }

    /// A grain's size in bytes (never zero).
    pub(super) fn grain_bytes(&self) -> u64 {
        self.grain_bytes
    }

    /// The bytes of grain `index` inside the disk: a whole grain but for the last one.
    fn in_disk(&self, index: u64) -> u64 {
        let start = index.saturating_mul(self.grain_bytes);
        self.size.saturating_sub(start).min(self.grain_bytes)
    }

    /// The grain table entry of grain `index`, reading its table if it is not cached.
    fn entry(&mut self, file: &dyn Source, index: u64) -> Result<u32, Error> {
        let per_table = u64::from(self.gtes_per_gt);
        let table = index.checked_div(per_table).unwrap_or(0);
        let slot = usize::try_from(index.checked_rem(per_table).unwrap_or(0)).unwrap_or(usize::MAX);
        let sector = usize::try_from(table)
            .ok()
            .and_then(|table| self.directory.get(table))
            .copied()
            .ok_or_else(|| {
                Error::Corrupt(format!("vmdk: grain {index} is past the grain directory"))
            })?;
        if sector == 0 {
            return Ok(0);
        }
        if let Some(at) = self.tables.iter().position(|(cached, _)| *cached == table) {
            let hit = self.tables.remove(at);
            self.tables.insert(0, hit);
        } else {
            let mut raw = vec![0u8; usize::try_from(per_table).unwrap_or(0).saturating_mul(4)];
            let at = u64::from(sector).saturating_mul(512);
            read_exact(
                file,
                at,
                &mut raw,
                &format!("vmdk: grain table {table} (grain directory entry: sector {sector})"),
            )?;
            let entries = raw.chunks_exact(4).map(|e| u32_at(e, 0)).collect();
            self.tables.insert(0, (table, entries));
            self.tables.truncate(CACHED_TABLES);
        }
        self.tables
            .first()
            .and_then(|(_, entries)| entries.get(slot))
            .copied()
            .ok_or_else(|| Error::Corrupt(format!("vmdk: no entry for grain {index}")))
    }

    /// Where grain `index` is; a stored grain is checked to lie inside the file.
    pub(super) fn grain(&mut self, file: &dyn Source, index: u64) -> Result<Grain, Error> {
        let entry = self.entry(file, index)?;
        let at = u64::from(entry).saturating_mul(512);
        Ok(match entry {
            0 => Grain::Unallocated,
            1 if self.zero_grain => Grain::Zero,
            _ if self.compressed => Grain::Compressed(at),
            _ => {
                let len = self.in_disk(index);
                if at.checked_add(len).is_none_or(|end| end > file.size()) {
                    return Err(Error::Corrupt(format!(
                        "vmdk: grain {index} at sector {entry} ({len} bytes) is past the end of the file ({} bytes)",
                        file.size()
                    )));
                }
                Grain::Data(at)
            }
        })
    }

    /// Fills `buf` with the disk's bytes at `offset`, inside one compressed grain.
    pub(super) fn read_compressed(
        &mut self,
        file: &dyn Source,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let index = offset.checked_div(self.grain_bytes).unwrap_or(0);
        let within = usize::try_from(offset.checked_rem(self.grain_bytes).unwrap_or(0))
            .unwrap_or(usize::MAX);
        if self.last.as_ref().is_none_or(|(last, _)| *last != index) {
            let Grain::Compressed(at) = self.grain(file, index)? else {
                return Err(Error::Corrupt(format!(
                    "vmdk: grain {index} is not compressed"
                )));
            };
            let len = usize::try_from(self.in_disk(index)).unwrap_or(0);
            let mut out = match self.last.take() {
                Some((_, mut reused)) => {
                    reused.resize(len, 0);
                    reused
                }
                None => vec![0u8; len],
            };
            let input = self.compressed_bytes(file, index, at)?;
            crate::decompress::inflate(&input, true, &mut out).map_err(|why| {
                let why = match why {
                    Error::Corrupt(why) => why,
                    other => format!("{other}"),
                };
                Error::Corrupt(format!(
                    "vmdk: compressed grain {index} at byte {at}: {why}"
                ))
            })?;
            self.last = Some((index, out));
        }
        let grain = self.last.as_ref().map(|(_, bytes)| bytes.as_slice());
        let bytes = grain
            .and_then(|grain| grain.get(within..)?.get(..buf.len()))
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "vmdk: a read at {offset} crosses grain {index}'s end"
                ))
            })?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    /// The compressed stream of grain `index` at byte `at`: after its marker, whose lba must
    /// be this grain's, and no longer than the marker says; without markers, what the file
    /// holds from there, up to the cap.
    fn compressed_bytes(&self, file: &dyn Source, index: u64, at: u64) -> Result<Vec<u8>, Error> {
        let cap = self.grain_bytes.saturating_mul(MAX_COMPRESSED_GRAINS);
        let (start, len) = if self.markers {
            let mut marker = [0u8; 12];
            read_exact(
                file,
                at,
                &mut marker,
                &format!("vmdk: the marker of compressed grain {index}"),
            )?;
            let lba = u64_at(&marker, 0);
            let size = u64::from(u32::from_le_bytes(field(&marker, 8)));
            let expected = index.saturating_mul(self.grain_sectors);
            if lba != expected {
                return Err(Error::Corrupt(format!(
                    "vmdk: the marker of grain {index} at byte {at} names sector {lba}, not {expected}"
                )));
            }
            if size == 0 || size > cap {
                return Err(Error::Corrupt(format!(
                    "vmdk: the marker of grain {index} at byte {at} gives a compressed size of {size} bytes (1 to {cap})"
                )));
            }
            (at.saturating_add(MARKER_BYTES), size)
        } else {
            let held = file.size().checked_sub(at).filter(|&held| held > 0);
            let held = held.ok_or_else(|| {
                Error::Corrupt(format!(
                    "vmdk: compressed grain {index} at byte {at} is past the end of the file ({} bytes)",
                    file.size()
                ))
            })?;
            (at, held.min(cap))
        };
        let mut input = vec![0u8; usize::try_from(len).unwrap_or(0)];
        read_exact(
            file,
            start,
            &mut input,
            &format!("vmdk: compressed grain {index}"),
        )?;
        Ok(input)
    }
}
