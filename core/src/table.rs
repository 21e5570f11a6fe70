//! Partition tables (MBR and GPT): untrusted bytes read from a disk, checked before any use.
//!
//! [`Table::read`] finds the table on a disk and returns its entries, each checked to lie on the
//! disk, outside the table's own sectors and apart from every other entry. Any broken rule is an
//! error that names the entry or the structure, never a panic, and parsing always ends: every
//! read is bounded, and chains of extended boot records must advance.

mod gpt;
mod mbr;

use uuid::Uuid;

use crate::{BlockDevice, Error, Partition};

/// The most entries a table can have: a GPT's largest entry array (16 MiB) of its smallest
/// entries (128 bytes). An MBR has at most 4 primaries and 1024 logicals.
pub const MAX_ENTRIES: usize = 131_072;

/// The longest GPT partition name, in UTF-8 bytes: 36 UTF-16 code units, each at most 3 bytes
/// (a surrogate pair, two units, is 4).
pub const MAX_NAME_BYTES: usize = 108;

/// A partition table as read from a disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The kind of table and what its header says of the disk.
    pub label: Label,
    /// Bytes per sector; every position in the table is in these sectors.
    pub sector_size: u32,
    /// Size of the disk, in sectors.
    pub size_sectors: u64,
    /// The partitions, by increasing [`Entry::number`].
    pub entries: Vec<Entry>,
}

/// The kind of table, with its disk-wide fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    /// A DOS master boot record, with its 32-bit disk signature.
    Mbr {
        /// The disk signature (bytes 440..444 of sector 0, little-endian).
        id: u32,
    },
    /// A GUID partition table.
    Gpt {
        /// The disk GUID.
        id: Uuid,
        /// First sector a partition may use.
        first_usable: u64,
        /// Last sector a partition may use (inclusive).
        last_usable: u64,
        /// Whether the primary header or entry array was damaged, so the backup at the last
        /// sector of the disk was used.
        from_backup: bool,
    },
}

/// One partition of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The number Linux gives it: MBR primaries 1 to 4 by slot, logicals from 5 along the chain
    /// of extended boot records; GPT entries by slot, from 1.
    pub number: u32,
    /// First sector on the disk.
    pub start: u64,
    /// Size in sectors, never zero.
    pub sectors: u64,
    /// The partition's type.
    pub partition_type: PartitionType,
    /// The GPT unique partition GUID; `None` for MBR.
    pub guid: Option<Uuid>,
    /// The GPT partition name; empty for MBR.
    pub name: String,
    /// MBR: the status byte is 0x80. GPT: attribute bit 2 (legacy BIOS bootable) is set.
    pub bootable: bool,
    /// The GPT attribute bits; 0 for MBR.
    pub attributes: u64,
}

/// A partition's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionType {
    /// An MBR system ID byte, such as 0x83 (Linux) or 0x05 (extended).
    Mbr(u8),
    /// A GPT partition type GUID.
    Gpt(Uuid),
}

/// The MBR types of an extended partition, the container of the logical partitions: 0x05
/// (DOS, CHS addressed), 0x0F (Windows, LBA addressed) and 0x85 (Linux), as Linux and sfdisk
/// take them.
pub const EXTENDED_TYPES: [u8; 3] = [0x05, 0x0F, 0x85];

impl PartitionType {
    /// Whether this is an MBR extended partition (one of [`EXTENDED_TYPES`]).
    pub fn is_extended(self) -> bool {
        matches!(self, Self::Mbr(kind) if EXTENDED_TYPES.contains(&kind))
    }
}

/// Why a disk's partition table could not be read, or an entry not opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// Sector 0 does not end in the 0x55AA signature: there is no table.
    #[error("no partition table: sector 0 has no 0x55AA boot signature")]
    NoTable,
    /// An entry is unusable: it runs past the disk, overlaps the table or another entry, or
    /// breaks a rule of its table.
    #[error("partition {number}: {reason}")]
    BadEntry {
        /// The entry's number, as [`Entry::number`].
        number: u32,
        /// What is wrong with it.
        reason: String,
    },
    /// The table's own structures are damaged or unsupported.
    #[error("{0}")]
    Corrupt(String),
    /// The table has no entry of this number.
    #[error("there is no partition {0}")]
    NoEntry(u32),
    /// Reading the disk failed.
    #[error("reading the partition table: {0}")]
    Read(Error),
}

impl Table {
    /// Reads the partition table of `disk`: a GPT if sector 0 is a protective MBR (a type 0xEE
    /// entry), an MBR otherwise.
    pub fn read<D: BlockDevice>(disk: &Partition<D>) -> Result<Self, TableError> {
        let disk = Sectors::new(disk);
        let sector0 = disk.read(0, 1)?;
        let (label, entries) = match mbr::read(&disk, &sector0)? {
            mbr::Found::Mbr { id, entries } => (Label::Mbr { id }, entries),
            mbr::Found::Protective => gpt::read(&disk)?,
        };
        Ok(Self {
            label,
            sector_size: disk.info.sector_size,
            size_sectors: disk.info.size_sectors,
            entries,
        })
    }

    /// The entry numbered `number`.
    pub fn entry(&self, number: u32) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.number == number)
    }

    /// Partition `number` of `disk`, the disk this table was read from.
    ///
    /// An MBR extended partition opens as its first 1 KiB only (one sector if they are
    /// larger), as Linux exposes it, and never as far as its first logical partition: the
    /// logicals are partitions of their own, and a partition never overlaps another.
    pub fn open<D: BlockDevice>(
        &self,
        disk: &Partition<D>,
        number: u32,
    ) -> Result<Partition<D>, TableError> {
        let entry = self.entry(number).ok_or(TableError::NoEntry(number))?;
        let sectors = if entry.partition_type.is_extended() {
            let head = 1024u64
                .checked_div(u64::from(self.sector_size))
                .unwrap_or(0)
                .max(1);
            // Logicals lie inside their extended partition, after its first sector.
            let before_logicals = self
                .entries
                .iter()
                .filter(|other| other.number > 4)
                .map(|logical| logical.start.saturating_sub(entry.start))
                .min()
                .unwrap_or(u64::MAX);
            entry.sectors.min(head).min(before_logicals)
        } else {
            entry.sectors
        };
        disk.slice(entry.start, sectors).map_err(TableError::Read)
    }
}

/// Sector reads of the disk a table is read from.
struct Sectors<'a, D> {
    disk: &'a Partition<D>,
    info: crate::Info,
}

impl<'a, D: BlockDevice> Sectors<'a, D> {
    fn new(disk: &'a Partition<D>) -> Self {
        Self {
            disk,
            info: disk.info(),
        }
    }

    fn sector_size(&self) -> u64 {
        u64::from(self.info.sector_size)
    }

    /// `count` sectors from `lba`; a range past the disk is refused by the partition itself.
    fn read(&self, lba: u64, count: u64) -> Result<Vec<u8>, TableError> {
        let len = count
            .checked_mul(self.sector_size())
            .ok_or_else(|| TableError::Corrupt(format!("{count} sectors is too large a read")))?;
        self.disk.read(lba, len).map_err(TableError::Read)
    }
}

/// Sectors `start..end` claimed by an entry or by the table itself.
#[derive(Clone, Copy, Debug)]
struct Claim {
    owner: Owner,
    start: u64,
    end: u64,
}

#[derive(Clone, Copy, Debug)]
enum Owner {
    Entry(u32),
    /// A sector of the table's own structures, named for messages.
    Table(&'static str),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Entry(number) => write!(f, "partition {number}"),
            Owner::Table(what) => f.write_str(what),
        }
    }
}

impl Claim {
    /// An entry's claim: `sectors` from `start`, which must be non-zero and fit in a `u64`.
    fn entry(number: u32, start: u64, sectors: u64) -> Result<Self, TableError> {
        let end = start
            .checked_add(sectors)
            .ok_or_else(|| TableError::BadEntry {
                number,
                reason: format!("sectors {start}..+{sectors} run past the largest sector number"),
            })?;
        Ok(Self {
            owner: Owner::Entry(number),
            start,
            end,
        })
    }

    /// Fails unless this claim lies within `first..end`, the sectors `what` allows.
    fn within(&self, first: u64, end: u64, what: &str) -> Result<(), TableError> {
        if self.start >= first && self.end <= end {
            return Ok(());
        }
        Err(self.refuse(format!(
            "sectors {}..{} are not within {what} (sectors {first}..{end})",
            self.start, self.end
        )))
    }

    fn refuse(&self, reason: String) -> TableError {
        match self.owner {
            Owner::Entry(number) => TableError::BadEntry { number, reason },
            Owner::Table(what) => TableError::Corrupt(format!("{what}: {reason}")),
        }
    }
}

/// Fails on the first two claims that share a sector, naming the later-starting one.
fn disjoint(mut claims: Vec<Claim>) -> Result<(), TableError> {
    claims.retain(|claim| claim.start < claim.end);
    claims.sort_by_key(|claim| (claim.start, claim.end));
    let mut claims = claims.into_iter();
    let Some(mut reach) = claims.next() else {
        return Ok(());
    };
    for claim in claims {
        if claim.start < reach.end {
            // Name the entry, not the table, when one of the two is the table.
            let (named, other) = match claim.owner {
                Owner::Table(_) => (reach, claim),
                Owner::Entry(_) => (claim, reach),
            };
            return Err(named.refuse(format!("overlaps {}", other.owner)));
        }
        if claim.end > reach.end {
            reach = claim;
        }
    }
    Ok(())
}

/// Little-endian fields of on-disk structures; `None` past the end of the bytes.
trait Fields {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]>;

    fn u32_at(&self, at: usize) -> Option<u32> {
        self.bytes(at).map(u32::from_le_bytes)
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        self.bytes(at).map(u64::from_le_bytes)
    }
}

impl Fields for [u8] {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.get(at..)?.first_chunk().copied()
    }
}
