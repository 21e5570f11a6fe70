//! VHD (Virtual PC / Hyper-V) images: fixed (the disk, then a footer), dynamic (a dynamic
//! disk header, a block allocation table, blocks of a sector bitmap and data) and
//! differencing (a dynamic disk over a parent disk).
//!
//! A differencing disk's parent is never followed: the layout reports it as its backing
//! file (the UTF-16 name in the dynamic disk header, escaped), so that opening the disk
//! alone is [`Error::External`] of kind [`Reference::Parent`], and it is read only through
//! the backing disk the caller hands over: an unallocated block, and a sector whose bitmap
//! bit is clear, are the parent's ([`Extent::Backing`]). A VHD parent must carry the unique
//! id the header names ([`Error::Chain`] otherwise); any other disk is read as given.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::disk::Layout;
use crate::error::escaped;
use crate::source::read_exact;
use crate::{Error, Extent, Reference, Source};

/// The footer's (and a dynamic disk's copy's) magic.
const FOOTER_MAGIC: &[u8; 8] = b"conectix";
/// The dynamic disk header's magic.
const DYNAMIC_MAGIC: &[u8; 8] = b"cxsparse";
/// A BAT entry for a block not allocated.
const UNALLOCATED: u32 = u32::MAX;
/// The largest BAT read, in bytes (8 Mi blocks).
const MAX_BAT_BYTES: u64 = 32 * 1024 * 1024;
/// The largest block read: 256 MiB (a 64 KiB bitmap). qemu and Hyper-V make 2 MiB blocks;
/// the format sets no limit.
const MAX_BLOCK_BYTES: u32 = 256 * 1024 * 1024;
/// The most unallocated blocks one `map` merges into an extent.
const MAX_MERGED: u32 = 4096;
/// The CHS geometry qemu treats as "too large for CHS": the size is then current_size.
const MAX_GEOMETRY_SECTORS: u64 = 65535 * 16 * 255;

/// Disk types.
const FIXED: u32 = 2;
const DYNAMIC: u32 = 3;
const DIFFERENCING: u32 = 4;

/// `N` bytes of `buf` from `at` (zeros past its end: callers pass a whole structure).
fn field<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf.get(at..)
        .and_then(|rest| rest.get(..N))
        .and_then(|bytes| bytes.try_into().ok())
        .unwrap_or([0; N])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(field(buf, at))
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(field(buf, at))
}

/// Checks a structure's checksum, at byte 64 (footer) or 36 (dynamic header): the one's
/// complement of the sum of its bytes but the checksum's.
fn check_sum(buf: &[u8], at: usize, what: &str) -> Result<(), Error> {
    let stored = u32_at(buf, at);
    let sum = buf
        .iter()
        .enumerate()
        .filter(|(i, _)| !(at..at.saturating_add(4)).contains(i))
        .fold(0u32, |sum, (_, &byte)| sum.wrapping_add(u32::from(byte)));
    let computed = !sum;
    if stored == computed {
        Ok(())
    } else {
        Err(Error::Corrupt(format!(
            "vhd: the {what}'s checksum is {stored:#010x}, its bytes sum to {computed:#010x}"
        )))
    }
}

/// The virtual size as qemu-img reads it: from the CHS geometry for the creators that size
/// by it (Virtual PC, qemu before force_size), else from current_size (Hyper-V, qemu's
/// "qem2", disk2vhd, XenServer), and from current_size when the geometry is at its maximum.
fn virtual_size(footer: &[u8]) -> u64 {
    let creator: [u8; 4] = field(footer, 28);
    let cylinders = u64::from(u16::from_be_bytes(field(footer, 56)));
    let heads = u64::from(u8::from_be_bytes(field(footer, 58)));
    let sectors = u64::from(u8::from_be_bytes(field(footer, 59)));
    let chs = cylinders.saturating_mul(heads).saturating_mul(sectors);
    let by_size = matches!(&creator, b"win " | b"qem2" | b"d2v " | b"CTXS" | b"tap\0");
    if by_size || chs == MAX_GEOMETRY_SECTORS {
        // qemu counts whole sectors.
        u64_at(footer, 48) & !511
    } else {
        chs.saturating_mul(512)
    }
}

/// The footer: the file's last 512 bytes, or for a dynamic disk whose end is lost, its
/// copy at the start (qemu reads that one first; both are the same in a sound image).
fn footer(file: &dyn Source) -> Result<[u8; 512], Error> {
    let mut end = [0u8; 512];
    if let Some(at) = file.size().checked_sub(512) {
        file.read_at(at, &mut end)?;
        if end.starts_with(FOOTER_MAGIC) {
            return Ok(end);
        }
    }
    let mut start = [0u8; 512];
    if file.size() >= 512 {
        file.read_at(0, &mut start)?;
        if start.starts_with(FOOTER_MAGIC) && u32_at(&start, 60) != FIXED {
            return Ok(start);
        }
    }
    Err(Error::Corrupt(format!(
        "vhd: no \"conectix\" footer in the last 512 bytes of the file ({} bytes)",
        file.size()
    )))
}

/// A differencing disk's parent name: UTF-16BE, up to its first NUL.
fn parent_name(header: &[u8]) -> String {
    let units = header
        .get(64..576)
        .unwrap_or_default()
        .chunks_exact(2)
        .map(|unit| u16::from_be_bytes(field(unit, 0)))
        .take_while(|&unit| unit != 0);
    let name: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    escaped(name.as_bytes())
}

/// The footer's unique id, which a differencing child names its parent by.
fn unique_id(footer: &[u8]) -> [u8; 16] {
    field(footer, 68)
}

/// 16 bytes as 32 hex digits.
fn hex(id: &[u8; 16]) -> String {
    use core::fmt::Write;
    let mut text = String::new();
    for byte in id {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// An opened VHD.
pub(crate) struct Vhd {
    size: u64,
    /// The footer's unique id.
    id: [u8; 16],
    /// None for a fixed disk.
    dynamic: Option<Dynamic>,
    /// A differencing disk's parent, as its dynamic disk header names it.
    parent: Option<Parent>,
}

/// The parent a differencing disk's dynamic disk header names.
struct Parent {
    /// Its UTF-16 name, escaped.
    name: String,
    /// Its unique id (the parent's footer's).
    id: [u8; 16],
}

/// A dynamic disk's tables.
struct Dynamic {
    block_bytes: u64,
    bitmap_bytes: u64,
    bat: Vec<u32>,
    /// The last block's sector bitmap read: (block, bitmap).
    bitmap: Option<(u64, Vec<u8>)>,
}

impl Vhd {
    /// Opens a fixed, dynamic or differencing VHD.
    pub(crate) fn open(file: &dyn Source) -> Result<Self, Error> {
        let footer = footer(file)?;
        check_sum(&footer, 64, "footer")?;
        let size = virtual_size(&footer);
        let id = unique_id(&footer);
        let disk_type = u32_at(&footer, 60);
        match disk_type {
            FIXED => {
                let held = file.size().saturating_sub(512);
                if size > held {
                    return Err(Error::Corrupt(format!(
                        "vhd: a fixed disk of {size} bytes in a file holding {held} before its footer"
                    )));
                }
                Ok(Self {
                    size,
                    id,
                    dynamic: None,
                    parent: None,
                })
            }
            DYNAMIC | DIFFERENCING => {
                let at = u64_at(&footer, 16);
                let mut header = [0u8; 1024];
                read_exact(file, at, &mut header, "vhd: the dynamic disk header")?;
                if !header.starts_with(DYNAMIC_MAGIC) {
                    return Err(Error::Corrupt(format!(
                        "vhd: no \"cxsparse\" dynamic disk header at byte {at} (the footer's data offset)"
                    )));
                }
                check_sum(&header, 36, "dynamic disk header")?;
                let parent = (disk_type == DIFFERENCING).then(|| Parent {
                    name: parent_name(&header),
                    id: field(&header, 40),
                });
                Ok(Self {
                    size,
                    id,
                    dynamic: Some(Dynamic::open(file, &header, size)?),
                    parent,
                })
            }
            other => Err(Error::Corrupt(format!(
                "vhd: disk type {other} (2, fixed, 3, dynamic, and 4, differencing, exist)"
            ))),
        }
    }
}

impl Dynamic {
    /// Checks the dynamic disk header's fields and reads the BAT.
    fn open(file: &dyn Source, header: &[u8], size: u64) -> Result<Self, Error> {
        let table_offset = u64_at(header, 16);
        let entries = u32_at(header, 28);
        let block_size = u32_at(header, 32);
        if !block_size.is_power_of_two() || block_size < 512 {
            return Err(Error::Corrupt(format!(
                "vhd: block_size {block_size} is not a power of two of at least 512"
            )));
        }
        if block_size > MAX_BLOCK_BYTES {
            return Err(Error::Unsupported(format!(
                "vhd: block_size {block_size} (at most {MAX_BLOCK_BYTES} is read)"
            )));
        }
        let block_bytes = u64::from(block_size);
        let bat_bytes = u64::from(entries).saturating_mul(4);
        if bat_bytes > MAX_BAT_BYTES {
            return Err(Error::Corrupt(format!(
                "vhd: max_table_entries {entries} (a BAT of {bat_bytes} bytes; at most {MAX_BAT_BYTES} are read)"
            )));
        }
        if u64::from(entries).saturating_mul(block_bytes) < size {
            return Err(Error::Corrupt(format!(
                "vhd: max_table_entries {entries} blocks of {block_size} bytes do not cover the disk's {size} bytes"
            )));
        }
        let mut raw = vec![0u8; usize::try_from(bat_bytes).unwrap_or(0)];
        read_exact(file, table_offset, &mut raw, "vhd: the BAT")?;
        let bat: Vec<u32> = raw.chunks_exact(4).map(|e| u32_at(e, 0)).collect();
        // One bit per sector, in whole sectors.
        let bitmap_bytes = (block_bytes / 512)
            .div_ceil(8)
            .div_ceil(512)
            .saturating_mul(512);
        for (block, &entry) in bat.iter().enumerate() {
            if entry == UNALLOCATED {
                continue;
            }
            let end = u64::from(entry)
                .saturating_mul(512)
                .saturating_add(bitmap_bytes)
                .saturating_add(block_bytes);
            if end > file.size() {
                return Err(Error::Corrupt(format!(
                    "vhd: BAT entry {block}: block at sector {entry} ends at byte {end}, past the end of the file ({} bytes)",
                    file.size()
                )));
            }
        }
        Ok(Self {
            block_bytes,
            bitmap_bytes,
            bat,
            bitmap: None,
        })
    }

    fn entry(&self, block: u64) -> Result<u32, Error> {
        usize::try_from(block)
            .ok()
            .and_then(|block| self.bat.get(block))
            .copied()
            .ok_or_else(|| Error::Corrupt(format!("vhd: block {block} is past the BAT")))
    }

    /// The sector bitmap of `block`, stored at sector `entry`.
    fn bitmap(&mut self, file: &dyn Source, block: u64, entry: u32) -> Result<&[u8], Error> {
        if self
            .bitmap
            .as_ref()
            .is_none_or(|(cached, _)| *cached != block)
        {
            let mut bitmap = match self.bitmap.take() {
                Some((_, reused)) => reused,
                None => Vec::new(),
            };
            bitmap.resize(usize::try_from(self.bitmap_bytes).unwrap_or(0), 0);
            let at = u64::from(entry).saturating_mul(512);
            read_exact(
                file,
                at,
                &mut bitmap,
                &format!("vhd: the sector bitmap of block {block}"),
            )?;
            self.bitmap = Some((block, bitmap));
        }
        Ok(self
            .bitmap
            .as_ref()
            .map(|(_, bitmap)| bitmap.as_slice())
            .unwrap_or_default())
    }

    fn map(&mut self, file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error> {
        let block = offset.checked_div(self.block_bytes).unwrap_or(0);
        let within = offset.checked_rem(self.block_bytes).unwrap_or(0);
        let entry = self.entry(block)?;
        let mut run = self.block_bytes.saturating_sub(within).min(len);
        if entry == UNALLOCATED {
            let mut next = block;
            let mut merged = 0u32;
            while run < len && merged < MAX_MERGED {
                next = next.saturating_add(1);
                merged = merged.saturating_add(1);
                if self.entry(next)? != UNALLOCATED {
                    break;
                }
                run = run.saturating_add(self.block_bytes.min(len.saturating_sub(run)));
            }
            return Ok(Extent::Backing { len: run });
        }
        // Sectors of this block while their bitmap bits stay as the first one's, MSB first.
        let bitmap = self.bitmap(file, block, entry)?;
        let bit = |sector: u64| -> bool {
            let byte = usize::try_from(sector / 8).unwrap_or(usize::MAX);
            let mask = 0x80u8 >> (sector % 8);
            bitmap.get(byte).is_some_and(|&b| b & mask != 0)
        };
        let first = within / 512;
        let present = bit(first);
        let mut covered = 512u64.saturating_sub(within % 512);
        let mut sector = first;
        while covered < run {
            sector = sector.saturating_add(1);
            if bit(sector) != present {
                break;
            }
            covered = covered.saturating_add(512);
        }
        let run = run.min(covered);
        if !present {
            return Ok(Extent::Backing { len: run });
        }
        let at = u64::from(entry)
            .saturating_mul(512)
            .saturating_add(self.bitmap_bytes)
            .saturating_add(within);
        Ok(Extent::Data {
            offset: at,
            len: run,
        })
    }
}

impl Layout for Vhd {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error> {
        match &mut self.dynamic {
            None => Ok(Extent::Data { offset, len }),
            Some(dynamic) => dynamic.map(file, offset, len),
        }
    }

    fn read_encoded(&mut self, _: &dyn Source, offset: u64, _: &mut [u8]) -> Result<(), Error> {
        Err(Error::Corrupt(format!(
            "vhd: no encoded bytes at {offset} of a VHD"
        )))
    }

    fn linear(&self) -> Option<u64> {
        self.dynamic.is_none().then_some(0)
    }

    fn backing(&self) -> Option<&str> {
        self.parent.as_ref().map(|parent| parent.name.as_str())
    }

    fn backing_kind(&self) -> Reference {
        Reference::Parent
    }

    fn check_backing(&self, backing: &dyn Layout) -> Result<(), Error> {
        // A backing disk that is no VHD (raw, qcow2) carries no unique id to check: the user
        // named it, and it is read as given.
        let (Some(parent), Some(given)) = (&self.parent, backing.unique_id()) else {
            return Ok(());
        };
        if given == parent.id {
            Ok(())
        } else {
            Err(Error::Chain(format!(
                "vhd: the parent's unique id {} is not {}, the one this differencing disk's header names (\"{}\")",
                hex(&given),
                hex(&parent.id),
                parent.name
            )))
        }
    }

    fn unique_id(&self) -> Option<[u8; 16]> {
        Some(self.id)
    }
}
