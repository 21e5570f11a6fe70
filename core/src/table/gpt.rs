//! GUID partition tables: a header at sector 1 and a backup at the last sector, each with a
//! CRC32 of its own and one of the entry array it points to.

use uuid::Uuid;

use super::{Claim, Entry, Fields, Label, Owner, PartitionType, Sectors, TableError, disjoint};
use crate::BlockDevice;

const SIGNATURE: [u8; 8] = *b"EFI PART";
/// Revision 1.0; later minor revisions keep the layout.
const MAJOR_REVISION: u32 = 1;
/// The size of the header's fields; a header may be larger, up to a sector.
const HEADER_MIN: u32 = 92;
const CRC_AT: usize = 16;
/// An entry's fields; entries may be larger (a power of two times 128 bytes).
const ENTRY_MIN: u32 = 128;
const NAME_AT: usize = 56;
const NAME_UNITS: usize = 36;
/// Far more than the usual 16 KiB (128 entries of 128 bytes), and well under a partition's
/// largest read.
const MAX_ARRAY_BYTES: u64 = 16 << 20;
/// The "legacy BIOS bootable" attribute bit.
const LEGACY_BOOTABLE: u64 = 1 << 2;

/// A checked header and its entry array.
struct Header {
    disk_guid: Uuid,
    first_usable: u64,
    last_usable: u64,
    entry_size: usize,
    array: Vec<u8>,
}

/// Reads the GPT: the primary header at sector 1, or the backup at the last sector if the
/// primary header or its entry array is damaged.
pub(super) fn read<D: BlockDevice>(disk: &Sectors<D>) -> Result<(Label, Vec<Entry>), TableError> {
    let (header, from_backup) = match load(disk, 1) {
        Ok(header) => (header, false),
        Err(Damage::Read(error)) => return Err(error),
        Err(Damage::Corrupt(primary)) => {
            let last = disk.info.size_sectors.saturating_sub(1);
            match load(disk, last) {
                Ok(header) => (header, true),
                Err(Damage::Read(error)) => return Err(error),
                Err(Damage::Corrupt(backup)) => {
                    return Err(TableError::Corrupt(format!(
                        "no valid GPT header: the primary at sector 1 {primary}; \
                         the backup at sector {last} {backup}"
                    )));
                }
            }
        }
    };
    let entries = entries(&header)?;
    let label = Label::Gpt {
        id: header.disk_guid,
        first_usable: header.first_usable,
        last_usable: header.last_usable,
        from_backup,
    };
    Ok((label, entries))
}

/// Why a header could not be used.
enum Damage {
    /// Its bytes break a rule: worth trying the backup.
    Corrupt(String),
    /// The disk failed the read.
    Read(TableError),
}

impl From<TableError> for Damage {
    fn from(error: TableError) -> Self {
        Self::Read(error)
    }
}

fn corrupt(why: impl Into<String>) -> Damage {
    Damage::Corrupt(why.into())
}

/// Reads and checks the header at `lba` and the entry array it names.
fn load<D: BlockDevice>(disk: &Sectors<D>, lba: u64) -> Result<Header, Damage> {
    if lba >= disk.info.size_sectors {
        return Err(corrupt("is past the disk's end"));
    }
    let sector = disk.read(lba, 1)?;
    let field32 = |at| sector.u32_at(at).ok_or_else(|| corrupt("is cut short"));
    let field64 = |at| sector.u64_at(at).ok_or_else(|| corrupt("is cut short"));

    if sector.bytes(0) != Some(SIGNATURE) {
        return Err(corrupt("has no \"EFI PART\" signature"));
    }
    let revision = field32(8)?;
    if revision >> 16 != MAJOR_REVISION {
        return Err(corrupt(format!("has unknown revision {revision:#010x}")));
    }
    let header_size = field32(12)?;
    let header = usize::try_from(header_size)
        .ok()
        .filter(|_| header_size >= HEADER_MIN)
        .and_then(|size| sector.get(..size))
        .ok_or_else(|| corrupt(format!("has a header size of {header_size} bytes")))?;
    if crc_without_own_field(header) != field32(CRC_AT)? {
        return Err(corrupt("fails its header CRC32"));
    }
    if field64(24)? != lba {
        return Err(corrupt("says it is at another sector"));
    }

    let first_usable = field64(40)?;
    let last_usable = field64(48)?;
    if first_usable > last_usable || last_usable >= disk.info.size_sectors {
        return Err(corrupt(format!(
            "has usable sectors {first_usable}..={last_usable} on a disk of {} sectors",
            disk.info.size_sectors
        )));
    }
    let usable = Claim {
        owner: Owner::Table("the usable sectors"),
        start: first_usable,
        end: last_usable.saturating_add(1),
    };
    // Sectors 0 and 1 hold the protective MBR and the primary header, whichever header this is.
    let mut claims = vec![Claim {
        owner: Owner::Table("the protective MBR and primary header"),
        start: 0,
        end: 2,
    }];
    if lba > 1 {
        claims.push(Claim {
            owner: Owner::Table("the header"),
            start: lba,
            end: lba.saturating_add(1),
        });
    }

    let (array_lba, count, entry_size) = (field64(72)?, field32(80)?, field32(84)?);
    if entry_size < ENTRY_MIN || !entry_size.is_power_of_two() {
        return Err(corrupt(format!("has entries of {entry_size} bytes")));
    }
    let array_len = u64::from(count)
        .checked_mul(u64::from(entry_size))
        .filter(|len| *len <= MAX_ARRAY_BYTES)
        .ok_or_else(|| corrupt(format!("has {count} entries of {entry_size} bytes")))?;
    let array_sectors = array_len.div_ceil(disk.sector_size());
    let array = Claim {
        owner: Owner::Table("the entry array"),
        start: array_lba,
        end: array_lba
            .checked_add(array_sectors)
            .ok_or_else(|| corrupt("has its entry array past the largest sector"))?,
    };
    if array.end > disk.info.size_sectors {
        return Err(corrupt(format!(
            "has its entry array at sectors {}..{}, past the disk's end",
            array.start, array.end
        )));
    }
    claims.extend([usable, array]);
    disjoint(claims)
        .map_err(|overlap| corrupt(format!("lays out its sectors badly: {overlap}")))?;

    let mut bytes = disk.read(array_lba, array_sectors)?;
    bytes.truncate(usize::try_from(array_len).unwrap_or(usize::MAX));
    if crc32fast::hash(&bytes) != field32(88)? {
        return Err(corrupt("fails its entry array CRC32"));
    }
    Ok(Header {
        disk_guid: guid(&sector, 56).ok_or_else(|| corrupt("is cut short"))?,
        first_usable,
        last_usable,
        entry_size: usize::try_from(entry_size).unwrap_or(usize::MAX),
        array: bytes,
    })
}

/// The CRC32 of a header with its own CRC field taken as zero, as the header stores it.
fn crc_without_own_field(header: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    let (before, after) = header.split_at(CRC_AT.min(header.len()));
    crc.update(before);
    crc.update(&[0; 4]);
    crc.update(after.get(4..).unwrap_or_default());
    crc.finalize()
}

fn guid(bytes: &[u8], at: usize) -> Option<Uuid> {
    bytes.bytes(at).map(Uuid::from_bytes_le)
}

/// The used entries of a checked header's array, checked to lie in the usable sectors and apart.
fn entries(header: &Header) -> Result<Vec<Entry>, TableError> {
    let mut entries = Vec::new();
    let mut claims = Vec::new();
    for (number, raw) in (1..).zip(header.array.chunks_exact(header.entry_size)) {
        let cut_short = || TableError::BadEntry {
            number,
            reason: "is cut short".into(),
        };
        let partition_type = guid(raw, 0).ok_or_else(cut_short)?;
        if partition_type.is_nil() {
            continue;
        }
        let first = raw.u64_at(32).ok_or_else(cut_short)?;
        let last = raw.u64_at(40).ok_or_else(cut_short)?;
        let sectors = last
            .checked_sub(first)
            .and_then(|span| span.checked_add(1))
            .ok_or_else(|| TableError::BadEntry {
                number,
                reason: format!("ends at sector {last}, before its start at {first}"),
            })?;
        let claim = Claim::entry(number, first, sectors)?;
        claim.within(
            header.first_usable,
            header.last_usable.saturating_add(1),
            "the usable sectors",
        )?;
        let attributes = raw.u64_at(48).ok_or_else(cut_short)?;
        entries.push(Entry {
            number,
            start: first,
            sectors,
            partition_type: PartitionType::Gpt(partition_type),
            guid: guid(raw, 16),
            name: name(raw),
            bootable: attributes & LEGACY_BOOTABLE != 0,
            attributes,
        });
        claims.push(claim);
    }
    disjoint(claims)?;
    Ok(entries)
}

/// The UTF-16LE name of an entry, up to its first NUL.
fn name(entry: &[u8]) -> String {
    let units = (0..NAME_UNITS)
        .map_while(|unit| {
            let at = unit.checked_mul(2)?.checked_add(NAME_AT)?;
            entry.bytes(at).map(u16::from_le_bytes)
        })
        .take_while(|unit| *unit != 0);
    char::decode_utf16(units)
        .map(|unit| unit.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}
