//! DOS master boot records: four primary entries, and logical partitions found by walking the
//! chain of extended boot records (EBRs) inside an extended partition.

use super::{
    Claim, EXTENDED_TYPES, Entry, Fields, Owner, PartitionType, Sectors, TableError, disjoint,
};
use crate::BlockDevice;

/// What sector 0 holds.
pub(super) enum Found {
    /// An MBR with its disk signature and checked entries.
    Mbr { id: u32, entries: Vec<Entry> },
    /// A protective MBR: the disk has a GPT.
    Protective,
}

const DISK_ID_AT: usize = 440;
const SLOTS_AT: usize = 446;
const SLOT_LEN: usize = 16;
const SIGNATURE_AT: usize = 510;
const SIGNATURE: [u8; 2] = [0x55, 0xAA];

const PROTECTIVE: u8 = 0xEE;
const BOOTABLE: u8 = 0x80;
/// The number Linux gives the first logical partition.
const FIRST_LOGICAL: u32 = 5;
/// More extended boot records than anyone makes; the bound keeps a hostile chain short.
const MAX_LOGICALS: u32 = 1024;

/// One 16-byte partition entry, positions in sectors.
#[derive(Clone, Copy)]
struct Slot {
    status: u8,
    kind: u8,
    start: u64,
    sectors: u64,
}

impl Slot {
    /// The `index`th of the four entries of an MBR or EBR sector.
    fn parse(sector: &[u8], index: usize) -> Option<Self> {
        let at = index.checked_mul(SLOT_LEN)?.checked_add(SLOTS_AT)?;
        let [status, _, _, _, kind, ..] = sector.bytes::<8>(at)?;
        Some(Self {
            status,
            kind,
            start: u64::from(sector.u32_at(at.checked_add(8)?)?),
            sectors: u64::from(sector.u32_at(at.checked_add(12)?)?),
        })
    }

    fn is_empty(self) -> bool {
        self.kind == 0 || self.sectors == 0
    }

    fn is_extended(self) -> bool {
        EXTENDED_TYPES.contains(&self.kind)
    }

    /// The entry this slot describes, `start` sectors from `base`.
    fn entry(self, number: u32, base: u64) -> Result<(Entry, Claim), TableError> {
        if self.status != 0 && self.status != BOOTABLE {
            return Err(TableError::BadEntry {
                number,
                reason: format!("status byte {:#04x} is neither 0x00 nor 0x80", self.status),
            });
        }
        let start = base
            .checked_add(self.start)
            .ok_or_else(|| TableError::BadEntry {
                number,
                reason: "its start is past the largest sector number".into(),
            })?;
        let claim = Claim::entry(number, start, self.sectors)?;
        let entry = Entry {
            number,
            start,
            sectors: self.sectors,
            partition_type: PartitionType::Mbr(self.kind),
            guid: None,
            name: String::new(),
            bootable: self.status == BOOTABLE,
            attributes: 0,
        };
        Ok((entry, claim))
    }
}

/// The four slots of an MBR or EBR sector, after checking its signature.
fn slots(sector: &[u8]) -> Option<[Slot; 4]> {
    if sector.bytes(SIGNATURE_AT) != Some(SIGNATURE) {
        return None;
    }
    Some([
        Slot::parse(sector, 0)?,
        Slot::parse(sector, 1)?,
        Slot::parse(sector, 2)?,
        Slot::parse(sector, 3)?,
    ])
}

/// Reads the MBR in `sector0`, and the logical partitions of its extended partition if any.
pub(super) fn read<D: BlockDevice>(disk: &Sectors<D>, sector0: &[u8]) -> Result<Found, TableError> {
    let slots = slots(sector0).ok_or(TableError::NoTable)?;
    if slots.iter().any(|slot| slot.kind == PROTECTIVE) {
        return Ok(Found::Protective);
    }
    let id = sector0.u32_at(DISK_ID_AT).ok_or(TableError::NoTable)?;

    let mut entries = Vec::new();
    let mut claims = vec![Claim {
        owner: Owner::Table("the MBR"),
        start: 0,
        end: 1,
    }];
    let mut extended = None;
    for (number, slot) in (1..).zip(slots) {
        if slot.is_empty() {
            continue;
        }
        let (entry, claim) = slot.entry(number, 0)?;
        claim.within(0, disk.info.size_sectors, "the disk")?;
        if slot.is_extended() {
            if let Some((first, _)) = extended {
                return Err(TableError::Corrupt(format!(
                    "partitions {first} and {number} are both extended partitions"
                )));
            }
            extended = Some((number, claim));
        }
        entries.push(entry);
        claims.push(claim);
    }
    disjoint(claims)?;
    if let Some((_, container)) = extended {
        entries.extend(logicals(disk, container)?);
    }
    Ok(Found::Mbr { id, entries })
}

/// Walks the EBR chain of the extended partition `container`.
///
/// Each EBR's first slot is a logical partition, relative to that EBR; its second slot links to
/// the next EBR, relative to the extended partition. Every EBR must lie inside the extended
/// partition and after the one before it, so the walk ends even on a hostile disk.
fn logicals<D: BlockDevice>(disk: &Sectors<D>, container: Claim) -> Result<Vec<Entry>, TableError> {
    let corrupt = |why: String| TableError::Corrupt(format!("extended {}: {why}", container.owner));
    let mut entries = Vec::new();
    let mut claims = Vec::new();
    let mut ebr = container.start;
    let mut numbers = FIRST_LOGICAL..;
    for _ in 0..MAX_LOGICALS {
        let sector = disk.read(ebr, 1)?;
        let [data, link, ..] = slots(&sector).ok_or_else(|| {
            corrupt(format!(
                "the extended boot record at sector {ebr} has no 0x55AA signature"
            ))
        })?;
        claims.push(Claim {
            owner: Owner::Table("an extended boot record"),
            start: ebr,
            end: ebr.saturating_add(1),
        });
        if !data.is_empty() && !data.is_extended() {
            let number = numbers.next().unwrap_or(u32::MAX);
            let (entry, claim) = data.entry(number, ebr)?;
            claim.within(container.start, container.end, "its extended partition")?;
            entries.push(entry);
            claims.push(claim);
        }
        if link.is_empty() || !link.is_extended() {
            disjoint(claims)?;
            return Ok(entries);
        }
        let next = container
            .start
            .checked_add(link.start)
            .filter(|next| *next < container.end)
            .ok_or_else(|| {
                corrupt(format!(
                    "the extended boot record at sector {ebr} links to sector {}+{}, outside it",
                    container.start, link.start
                ))
            })?;
        if next <= ebr {
            return Err(corrupt(format!(
                "the extended boot record at sector {ebr} links back to sector {next}: a loop"
            )));
        }
        ebr = next;
    }
    Err(corrupt(format!(
        "more than {MAX_LOGICALS} extended boot records"
    )))
}
