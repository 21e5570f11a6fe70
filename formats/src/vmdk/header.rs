//! The hosted sparse extent header ("KDMV"), at the start of the file and, for a
//! streamOptimized extent whose grain directory comes last, again in the footer.

use alloc::format;

use crate::Error;

/// The header's magic number, as it is on disk.
pub(super) const MAGIC: &[u8; 4] = b"KDMV";

/// `gdOffset` saying the grain directory's place is in the footer (streamOptimized).
pub(super) const GD_AT_END: u64 = u64::MAX;

/// Flag: the four newline bytes are there to detect a text-mode transfer.
const FLAG_NEWLINE_DETECTION: u32 = 1;
/// Flag: there is a redundant grain directory, at rgdOffset.
const FLAG_REDUNDANT_GD: u32 = 1 << 1;
/// Flag: a grain table entry of 1 is a grain that reads as zeros (qemu reads it so only with
/// this flag, and so do we).
const FLAG_ZERO_GRAIN: u32 = 1 << 2;
/// Flag: every grain and table is preceded by a marker (streamOptimized).
const FLAG_MARKERS: u32 = 1 << 17;

/// The largest grain read, in sectors: 2 MiB, so that one decompressed grain's buffer is
/// small. The format allows up to 128 MiB; VMware and qemu make 64 KiB grains.
pub(super) const MAX_GRAIN_SECTORS: u64 = 4096;
/// The most entries in one grain table read: the format and qemu use 512 (qemu refuses more).
pub(super) const MAX_GTES_PER_GT: u32 = 512;

/// The fields of a sparse extent header that reading needs, checked for themselves (the
/// checks against the file are the caller's).
#[derive(Clone, Copy, Debug)]
pub(super) struct Header {
    /// The extent's size in sectors.
    pub(super) capacity: u64,
    /// A grain's size in sectors: a power of two, at most [`MAX_GRAIN_SECTORS`].
    pub(super) grain_sectors: u64,
    /// Where the embedded descriptor starts, in sectors (0: none).
    pub(super) descriptor_offset: u64,
    /// The embedded descriptor's size in sectors.
    pub(super) descriptor_sectors: u64,
    /// Entries in each grain table.
    pub(super) gtes_per_gt: u32,
    /// The grain directory's sector, or [`GD_AT_END`].
    pub(super) gd_offset: u64,
    /// The redundant grain directory's sector, when the flag says there is one (it is not
    /// read: qemu and VMware read the primary one).
    pub(super) rgd_offset: Option<u64>,
    /// Grain table entries of 1 read as zeros.
    pub(super) zero_grain: bool,
    /// Grains are deflate-compressed (compressAlgorithm 1).
    pub(super) compressed: bool,
    /// Grains start with a marker (lba, size).
    pub(super) markers: bool,
}

/// `N` bytes of `buf` from `at` (zeros past its end: callers pass a whole 512-byte sector).
pub(super) fn field<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf.get(at..)
        .and_then(|rest| rest.get(..N))
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or([0; N])
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(field(buf, at))
}

pub(super) fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(field(buf, at))
}

pub(super) fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(field(buf, at))
}

impl Header {
    /// Parses and checks the header in `sector` (512 bytes from the magic number on).
    pub(super) fn parse(sector: &[u8]) -> Result<Self, Error> {
        if sector.get(..4) != Some(&MAGIC[..]) {
            return Err(Error::Corrupt(
                "vmdk: no \"KDMV\" sparse extent header".into(),
            ));
        }
        let version = u32_at(sector, 4);
        match version {
            1..=3 => {}
            0 => return Err(Error::Corrupt("vmdk: header version 0".into())),
            _ => {
                return Err(Error::Unsupported(format!(
                    "vmdk: sparse extent header version {version} (1 to 3 are read)"
                )));
            }
        }
        let flags = u32_at(sector, 8);
        let capacity = u64_at(sector, 12);
        let grain_sectors = u64_at(sector, 20);
        let descriptor_offset = u64_at(sector, 28);
        let descriptor_sectors = u64_at(sector, 36);
        let gtes_per_gt = u32_at(sector, 44);
        let rgd_offset = u64_at(sector, 48);
        let gd_offset = u64_at(sector, 56);
        let newlines: [u8; 4] = field(sector, 73);
        let compress_algorithm = u16_at(sector, 77);

        if flags & FLAG_NEWLINE_DETECTION != 0 && newlines != *b"\n \r\n" {
            return Err(Error::Corrupt(format!(
                "vmdk: newline detection bytes are {newlines:02x?}, not 0a 20 0d 0a (a transfer in text mode damaged the file)"
            )));
        }
        if !grain_sectors.is_power_of_two() {
            return Err(Error::Corrupt(format!(
                "vmdk: grainSize {grain_sectors} sectors is not a power of two"
            )));
        }
        if grain_sectors > MAX_GRAIN_SECTORS {
            return Err(Error::Unsupported(format!(
                "vmdk: grainSize {grain_sectors} sectors (at most {MAX_GRAIN_SECTORS}, 2 MiB, are read)"
            )));
        }
        if gtes_per_gt == 0 || gtes_per_gt > MAX_GTES_PER_GT {
            return Err(Error::Corrupt(format!(
                "vmdk: numGTEsPerGT {gtes_per_gt} (1 to {MAX_GTES_PER_GT} are read)"
            )));
        }
        let compressed = match compress_algorithm {
            0 => false,
            1 => true,
            other => {
                return Err(Error::Unsupported(format!(
                    "vmdk: compressAlgorithm {other} (0, none, and 1, deflate, are read)"
                )));
            }
        };
        Ok(Self {
            capacity,
            grain_sectors,
            descriptor_offset,
            descriptor_sectors,
            gtes_per_gt,
            gd_offset,
            rgd_offset: (flags & FLAG_REDUNDANT_GD != 0).then_some(rgd_offset),
            zero_grain: flags & FLAG_ZERO_GRAIN != 0,
            compressed,
            markers: flags & FLAG_MARKERS != 0,
        })
    }
}
