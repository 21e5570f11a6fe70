//! Partition tables written by tools that share no code with ours (the `mbrman` and `gpt`
//! crates), read back by [`Table::read`]; and damaged tables, which must give clear errors.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::io::Cursor;

use blockpart_core::{
    EXTENDED_TYPES, Entry, Label, MemDevice, Partition, PartitionType, SectorSize, Table,
    TableError, Uuid,
};
use gpt::partition_types::{self, OperatingSystem};
use proptest::prelude::*;

const SECTOR_SIZES: [u32; 2] = [512, 4096];

fn read(image: Vec<u8>, sector_size: u32) -> Result<Table, TableError> {
    let device = MemDevice::new(image, SectorSize::new(sector_size).unwrap(), false).unwrap();
    Table::read(&Partition::whole(device).unwrap())
}

/// `(gap before it, size)` pairs laid out one after another from `first`: `(start, size)`.
fn lay_out(first: u64, spans: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut next = first;
    spans
        .iter()
        .map(|&(gap, size)| {
            let start = next + gap;
            next = start + size;
            (start, size)
        })
        .collect()
}

fn spans(max: usize) -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..40, 1u64..40), 0..=max)
}

/// `count` slots of a 128-entry GPT array, numbered from 1, ascending: mostly with gaps
/// between them (1, 3, 7), sometimes the first ones, sometimes the last.
fn sparse_slots(count: usize) -> impl Strategy<Value = Vec<u32>> {
    prop::sample::subsequence((1..=128).collect::<Vec<u32>>(), count)
}

fn mbr_entry(boot: bool, sys: u8, start: u64, sectors: u64) -> mbrman::MBRPartitionEntry {
    mbrman::MBRPartitionEntry {
        boot: if boot {
            mbrman::BOOT_ACTIVE
        } else {
            mbrman::BOOT_INACTIVE
        },
        first_chs: mbrman::CHS::empty(),
        sys,
        last_chs: mbrman::CHS::empty(),
        starting_lba: start as u32,
        sectors: sectors as u32,
    }
}

/// An MBR type that is neither empty, extended nor protective.
fn data_type() -> impl Strategy<Value = u8> {
    any::<u8>().prop_filter("a data partition type", |sys| {
        !matches!(sys, 0x00 | 0xEE) && !EXTENDED_TYPES.contains(sys)
    })
}

proptest! {
    #[test]
    fn mbr_primaries_read_as_mbrman_wrote_them(
        sector_size in prop::sample::select(&SECTOR_SIZES[..]),
        id in any::<u32>(),
        spans in spans(4),
        types in prop::collection::vec((data_type(), any::<bool>()), 4),
        tail in 0u64..8,
    ) {
        let layout = lay_out(1, &spans);
        let disk_sectors = layout.last().map_or(1, |(start, size)| start + size) + tail;
        let mut image = Cursor::new(vec![0; (disk_sectors * u64::from(sector_size)) as usize]);
        let mut mbr = mbrman::MBR::new_from(&mut image, sector_size, id.to_le_bytes()).unwrap();
        let mut expected = Vec::new();
        for (slot, (&(start, sectors), &(sys, boot))) in layout.iter().zip(&types).enumerate() {
            mbr[slot + 1] = mbr_entry(boot, sys, start, sectors);
            expected.push(Entry {
                number: slot as u32 + 1,
                start,
                sectors,
                partition_type: PartitionType::Mbr(sys),
                guid: None,
                name: String::new(),
                bootable: boot,
                attributes: 0,
            });
        }
        mbr.write_into(&mut image).unwrap();

        let table = read(image.into_inner(), sector_size).unwrap();
        prop_assert_eq!(table.label, Label::Mbr { id });
        prop_assert_eq!(table.size_sectors, disk_sectors);
        prop_assert_eq!(table.entries, expected);
    }

    #[test]
    fn mbr_logicals_read_as_mbrman_chained_them(
        sector_size in prop::sample::select(&SECTOR_SIZES[..]),
        spans in prop::collection::vec((0u64..8, 2u64..40), 1..12),
        types in prop::collection::vec(data_type(), 12),
    ) {
        let logicals = lay_out(0, &spans);
        // Primary 1 is a data partition, primary 2 the extended one holding every logical.
        let extended_start = 8;
        let extended_sectors = logicals.last().map(|(start, size)| start + size).unwrap();
        let disk_sectors = extended_start + extended_sectors + 3;
        let mut image = Cursor::new(vec![0; (disk_sectors * u64::from(sector_size)) as usize]);
        let mut mbr = mbrman::MBR::new_from(&mut image, sector_size, [1, 2, 3, 4]).unwrap();
        mbr.align = 1;
        mbr[1] = mbr_entry(false, 0x83, 1, 7);
        mbr[2] = mbr_entry(false, 0x0F, extended_start, extended_sectors);
        for (&(start, sectors), &sys) in logicals.iter().zip(&types) {
            // mbrman puts the EBR at `start` and the logical partition just after it.
            mbr.push(sys, (extended_start + start) as u32, sectors as u32).unwrap();
        }
        mbr.write_into(&mut image).unwrap();

        let table = read(image.into_inner(), sector_size).unwrap();
        let found: Vec<_> = table
            .entries
            .iter()
            .map(|entry| (entry.number, entry.start, entry.sectors, entry.partition_type))
            .collect();
        let mut expected = vec![
            (1, 1, 7, PartitionType::Mbr(0x83)),
            (2, extended_start, extended_sectors, PartitionType::Mbr(0x0F)),
        ];
        for ((number, logical), sys) in (5..).zip(&mbr.logical_partitions).zip(&types) {
            let entry = &logical.partition;
            expected.push((number, u64::from(entry.starting_lba), u64::from(entry.sectors), PartitionType::Mbr(*sys)));
        }
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn gpt_reads_as_the_gpt_crate_wrote_it(
        sector_size in prop::sample::select(&SECTOR_SIZES[..]),
        disk_guid in any::<u128>(),
        (spans, slots) in spans(12).prop_flat_map(|spans| {
            let count = spans.len();
            (Just(spans), sparse_slots(count))
        }),
        kinds in prop::collection::vec((0usize..4, any::<u64>(), "[a-zA-Z0-9 é]{0,36}"), 12),
        tail in 1u64..8,
    ) {
        let block_size = if sector_size == 512 {
            gpt::disk::LogicalBlockSize::Lb512
        } else {
            gpt::disk::LogicalBlockSize::Lb4096
        };
        // Header and 16 KiB array at each end of the disk, and the protective MBR.
        let table_sectors = 1 + 16384 / u64::from(sector_size);
        let first_usable = 1 + table_sectors;
        let layout = lay_out(first_usable, &spans);
        let last = layout.last().map_or(first_usable, |(start, size)| start + size);
        let disk_sectors = last + tail + table_sectors;
        let mut image = Cursor::new(vec![0; (disk_sectors * u64::from(sector_size)) as usize]);
        gpt::mbr::ProtectiveMBR::with_lb_size((disk_sectors - 1) as u32)
            .overwrite_lba0(&mut image)
            .unwrap();
        let mut disk = gpt::GptConfig::new()
            .writable(true)
            .logical_block_size(block_size)
            .create_from_device(image, Some(Uuid::from_u128(disk_guid)))
            .unwrap();
        let types = [
            partition_types::LINUX_FS,
            partition_types::EFI,
            partition_types::BASIC,
            partition_types::LINUX_SWAP,
        ];
        for ((&(start, size), &slot), (kind, flags, name)) in layout.iter().zip(&slots).zip(&kinds) {
            let kind = types[*kind].clone();
            disk.add_partition_at(name, slot, start, size, kind, *flags).unwrap();
        }
        let (first, last) = (disk.header().first_usable, disk.header().last_usable);
        let mut image = disk.write().unwrap().into_inner();
        // The crate writes its entries to the first slots, whatever their numbers: move them.
        move_to_slots(&mut image, sector_size as usize, &slots);
        // The crate's own reader, which numbers entries by slot, is the oracle.
        let written = gpt::GptConfig::new()
            .logical_block_size(block_size)
            .open_from_device(Cursor::new(image.clone()))
            .unwrap()
            .partitions()
            .clone();
        prop_assert_eq!(written.keys().copied().collect::<Vec<_>>(), slots);

        let table = read(image, sector_size).unwrap();
        prop_assert_eq!(
            table.label,
            Label::Gpt { id: Uuid::from_u128(disk_guid), first_usable: first, last_usable: last, from_backup: false }
        );
        let expected: Vec<_> = written
            .iter()
            .map(|(&number, entry)| Entry {
                number,
                start: entry.first_lba,
                sectors: entry.last_lba - entry.first_lba + 1,
                partition_type: PartitionType::Gpt(entry.part_type_guid.guid),
                guid: Some(entry.part_guid),
                name: entry.name.clone(),
                bootable: entry.flags & 4 != 0,
                attributes: entry.flags,
            })
            .collect();
        prop_assert_eq!(table.entries, expected);
    }
}

/// A GPT disk of 4096 512-byte sectors with two partitions, as the `gpt` crate writes it.
fn small_gpt() -> Vec<u8> {
    gpt_disk(512)
}

/// A GPT disk of 4096 sectors of `sector_size` bytes with two partitions (1: sectors 100 to
/// 149, 2: 1000 to 2999), as the `gpt` crate writes it: 128 entries of 128 bytes.
fn gpt_disk(sector_size: u32) -> Vec<u8> {
    let block_size = if sector_size == 512 {
        gpt::disk::LogicalBlockSize::Lb512
    } else {
        gpt::disk::LogicalBlockSize::Lb4096
    };
    let mut image = Cursor::new(vec![0; 4096 * sector_size as usize]);
    gpt::mbr::ProtectiveMBR::with_lb_size(4095)
        .overwrite_lba0(&mut image)
        .unwrap();
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(block_size)
        .create_from_device(image, Some(Uuid::from_u128(7)))
        .unwrap();
    let linux = partition_types::Type {
        guid: partition_types::LINUX_FS.guid,
        os: OperatingSystem::Linux,
    };
    disk.add_partition_at("one", 1, 100, 50, linux.clone(), 0)
        .unwrap();
    disk.add_partition_at("two", 2, 1000, 2000, linux, 0)
        .unwrap();
    disk.write().unwrap().into_inner()
}

const LAST: usize = 4095 * 512;

#[test]
fn damaged_primary_gpt_header_falls_back_to_the_backup() {
    let good = small_gpt();
    let entries = read(good.clone(), 512).unwrap().entries;
    for (what, at) in [("header", 512 + 60), ("entry array", 1024 + 5)] {
        let mut image = good.clone();
        image[at] ^= 1;
        let table = read(image, 512).unwrap();
        assert!(
            matches!(
                table.label,
                Label::Gpt {
                    from_backup: true,
                    ..
                }
            ),
            "{what}"
        );
        assert_eq!(table.entries, entries, "{what}");
    }
}

#[test]
fn both_gpt_headers_damaged_is_an_error_naming_both() {
    let mut image = small_gpt();
    image[512 + 60] ^= 1;
    image[LAST + 60] ^= 1;
    let error = read(image, 512).unwrap_err().to_string();
    assert!(
        error.contains("primary at sector 1 fails its header CRC32"),
        "{error}"
    );
    assert!(
        error.contains("backup at sector 4095 fails its header CRC32"),
        "{error}"
    );
}

#[test]
fn gpt_entry_past_the_usable_sectors_is_refused_by_number() {
    let mut image = small_gpt();
    // Entry 2's last sector, pushed past the last usable one; then every CRC made right again.
    let entry2 = 1024 + 128;
    image[entry2 + 40..entry2 + 48].copy_from_slice(&4090u64.to_le_bytes());
    fix_crcs(&mut image, 512, 1);
    fix_crcs(&mut image, 512, 4095);
    let error = read(image, 512).unwrap_err();
    assert!(
        matches!(&error, TableError::BadEntry { number: 2, reason } if reason.contains("usable")),
        "{error}"
    );
}

/// Makes the CRC32s of the GPT header at sector `lba` and of the entry array it names right
/// again, over the lengths its own fields give, as the specification defines them: the header's
/// over its header size, the array's over its entry count times its entry size.
fn fix_crcs(image: &mut [u8], sector_size: usize, lba: usize) {
    let header = lba * sector_size;
    let field32 = |image: &[u8], at: usize| {
        u32::from_le_bytes(image[header + at..header + at + 4].try_into().unwrap()) as usize
    };
    let array = u64::from_le_bytes(image[header + 72..header + 80].try_into().unwrap());
    let array = array as usize * sector_size;
    let array_end = (array + field32(image, 80) * field32(image, 84)).min(image.len());
    let crc = crc32fast::hash(&image[array..array_end]);
    image[header + 88..header + 92].copy_from_slice(&crc.to_le_bytes());
    image[header + 16..header + 20].fill(0);
    let header_end = (header + field32(image, 12)).min(image.len());
    let crc = crc32fast::hash(&image[header..header_end]);
    image[header + 16..header + 20].copy_from_slice(&crc.to_le_bytes());
}

/// Moves the entries the `gpt` crate wrote to the first slots of both entry arrays into
/// `slots` (ascending, numbered from 1), and makes every CRC32 right again.
fn move_to_slots(image: &mut [u8], sector_size: usize, slots: &[u32]) {
    let last = image.len() / sector_size - 1;
    for lba in [1, last] {
        let header = lba * sector_size;
        let array = u64::from_le_bytes(image[header + 72..header + 80].try_into().unwrap());
        let array = array as usize * sector_size;
        let entries = image[array..array + 128 * slots.len()].to_vec();
        image[array..array + 128 * slots.len()].fill(0);
        for (entry, &slot) in entries.chunks(128).zip(slots) {
            let at = array + 128 * (slot as usize - 1);
            image[at..at + 128].copy_from_slice(entry);
        }
        fix_crcs(image, sector_size, lba);
    }
}

/// Found by the fuzzer: a header whose usable sectors start at 0 let an entry cover the
/// protective MBR (and, from the backup header, the primary header too). Such a primary header
/// is damaged, so the backup is used; such a backup header leaves no valid header.
#[test]
fn gpt_usable_sectors_over_sectors_0_and_1_are_refused() {
    let mut image = small_gpt();
    image[512 + 40..512 + 48].copy_from_slice(&0u64.to_le_bytes());
    fix_crcs(&mut image, 512, 1);
    let table = read(image, 512).unwrap();
    assert!(matches!(
        table.label,
        Label::Gpt {
            from_backup: true,
            ..
        }
    ));

    for first_usable in [0u64, 1] {
        let mut image = small_gpt();
        image[512 + 60] ^= 1;
        image[LAST + 40..LAST + 48].copy_from_slice(&first_usable.to_le_bytes());
        fix_crcs(&mut image, 512, 4095);
        let error = read(image, 512).unwrap_err().to_string();
        assert!(
            error.contains("backup at sector 4095 lays out its sectors badly")
                && error.contains("the protective MBR and primary header"),
            "{first_usable}: {error}"
        );
    }
}

/// An MBR with the given primaries `(type, start, sectors)`, on a disk of `sectors` sectors.
fn mbr(sectors: usize, primaries: &[(u8, u32, u32)]) -> Vec<u8> {
    let mut image = vec![0; sectors * 512];
    for (slot, &(sys, start, size)) in primaries.iter().enumerate() {
        let at = 446 + 16 * slot;
        image[at + 4] = sys;
        image[at + 8..at + 12].copy_from_slice(&start.to_le_bytes());
        image[at + 12..at + 16].copy_from_slice(&size.to_le_bytes());
    }
    image[510..512].copy_from_slice(&[0x55, 0xAA]);
    image
}

/// Writes an EBR at `sector`: a logical partition and a link, both relative as the format says.
fn ebr(image: &mut [u8], sector: usize, logical: (u32, u32), link: (u32, u32)) {
    let base = sector * 512;
    for (slot, (sys, (start, size))) in [(0x83, logical), (0x05, link)].into_iter().enumerate() {
        let at = base + 446 + 16 * slot;
        if size > 0 {
            image[at + 4] = sys;
        }
        image[at + 8..at + 12].copy_from_slice(&start.to_le_bytes());
        image[at + 12..at + 16].copy_from_slice(&size.to_le_bytes());
    }
    image[base + 510..base + 512].copy_from_slice(&[0x55, 0xAA]);
}

#[test]
fn a_disk_without_the_boot_signature_has_no_table() {
    let mut image = mbr(64, &[(0x83, 1, 10)]);
    image[511] = 0;
    assert_eq!(read(image, 512), Err(TableError::NoTable));
}

#[test]
fn overlapping_primaries_are_refused_by_number() {
    let image = mbr(64, &[(0x83, 1, 10), (0x83, 20, 10), (0x83, 25, 10)]);
    let error = read(image, 512).unwrap_err();
    assert_eq!(error.to_string(), "partition 3: overlaps partition 2");
}

#[test]
fn a_primary_over_the_mbr_or_past_the_disk_is_refused_by_number() {
    let error = read(mbr(64, &[(0x83, 0, 10)]), 512).unwrap_err();
    assert_eq!(error.to_string(), "partition 1: overlaps the MBR");
    let error = read(mbr(64, &[(0x83, 1, 10), (0x83, 60, 5)]), 512).unwrap_err();
    assert!(
        matches!(&error, TableError::BadEntry { number: 2, reason } if reason.contains("not within the disk")),
        "{error}"
    );
    let error = read(mbr(64, &[(0x83, u32::MAX, u32::MAX)]), 512).unwrap_err();
    assert!(
        matches!(error, TableError::BadEntry { number: 1, .. }),
        "{error}"
    );
}

#[test]
fn logicals_are_numbered_from_5_along_the_chain() {
    let mut image = mbr(64, &[(0x83, 1, 9), (0x05, 10, 40)]);
    ebr(&mut image, 10, (1, 9), (10, 10));
    ebr(&mut image, 20, (2, 5), (0, 0));
    let table = read(image, 512).unwrap();
    let found: Vec<_> = table
        .entries
        .iter()
        .map(|entry| (entry.number, entry.start, entry.sectors))
        .collect();
    assert_eq!(found, [(1, 1, 9), (2, 10, 40), (5, 11, 9), (6, 22, 5)]);
}

#[test]
fn an_ebr_chain_that_loops_is_an_error() {
    let mut image = mbr(64, &[(0x05, 10, 40)]);
    ebr(&mut image, 10, (1, 4), (10, 10));
    ebr(&mut image, 20, (1, 4), (0, 10)); // back to the first EBR
    let error = read(image, 512).unwrap_err().to_string();
    assert_eq!(
        error,
        "extended partition 1: the extended boot record at sector 20 links back to sector 10: a loop"
    );

    let mut image = mbr(64, &[(0x05, 10, 40)]);
    ebr(&mut image, 10, (1, 4), (0, 10)); // to itself
    assert!(read(image, 512).unwrap_err().to_string().contains("a loop"));
}

#[test]
fn a_logical_outside_its_extended_partition_or_over_an_ebr_is_refused() {
    let mut image = mbr(64, &[(0x05, 10, 20)]);
    ebr(&mut image, 10, (1, 30), (0, 0));
    let error = read(image, 512).unwrap_err();
    assert!(
        matches!(&error, TableError::BadEntry { number: 5, reason } if reason.contains("extended partition")),
        "{error}"
    );

    let mut image = mbr(64, &[(0x05, 10, 40)]);
    ebr(&mut image, 10, (1, 15), (10, 10)); // covers the next EBR at sector 20
    ebr(&mut image, 20, (1, 4), (0, 0));
    let error = read(image, 512).unwrap_err();
    assert_eq!(
        error.to_string(),
        "partition 5: overlaps an extended boot record"
    );
}

#[test]
fn a_protective_mbr_with_no_gpt_behind_it_is_an_error() {
    let image = mbr(64, &[(0xEE, 1, 63)]);
    let error = read(image, 512).unwrap_err().to_string();
    assert!(error.starts_with("no valid GPT header"), "{error}");
}

#[test]
fn opening_an_entry_gives_its_sectors_and_no_more() {
    let image = small_gpt();
    let disk = Partition::whole(MemDevice::new(image, SectorSize::B512, true).unwrap()).unwrap();
    let table = Table::read(&disk).unwrap();
    let two = table.open(&disk, 2).unwrap();
    assert_eq!((two.offset(), two.info().size_sectors), (1000, 2000));
    assert!(two.read(1999, 512).is_ok());
    assert!(two.read(2000, 512).is_err());
    assert_eq!(table.open(&disk, 3).err(), Some(TableError::NoEntry(3)));
}

/// A chain of `count` extended boot records, one every two sectors from sector 1, each with a
/// one-sector logical partition just after it and a link to the next: valid, never looping
/// or going back.
fn ebr_chain(count: usize) -> Vec<u8> {
    let sectors = 2 * count as u32;
    let mut image = mbr(1 + 2 * count, &[(0x0F, 1, sectors)]);
    for n in 0..count as u32 {
        let link = if n + 1 < count as u32 {
            (2 * (n + 1), 2)
        } else {
            (0, 0)
        };
        ebr(&mut image, 1 + 2 * n as usize, (1, 1), link);
    }
    image
}

#[test]
fn an_ebr_chain_is_read_up_to_1024_records_and_refused_past_them() {
    let table = read(ebr_chain(1024), 512).unwrap();
    let logicals: Vec<_> = table.entries[1..]
        .iter()
        .map(|entry| (entry.number, entry.start, entry.sectors))
        .collect();
    let expected: Vec<_> = (0..1024)
        .map(|n| (5 + n, 2 + 2 * u64::from(n), 1))
        .collect();
    assert_eq!(logicals, expected);

    assert_eq!(
        read(ebr_chain(1025), 512),
        Err(TableError::Corrupt(
            "extended partition 1: more than 1024 extended boot records".into()
        ))
    );
}

/// A damage to a GPT header's fields that only one of the header checks catches: what it does
/// to the header at sector `lba` of a disk of `sector_size`-byte sectors, and the reason the
/// reader must give.
struct HeaderDamage {
    what: &'static str,
    damage: fn(&mut [u8], usize, usize),
    reason: fn(usize) -> String,
}

fn set_u32(image: &mut [u8], at: usize, value: u32) {
    image[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn header_at(sector_size: usize, lba: usize) -> usize {
    sector_size * lba
}

/// Every header check, each broken alone: the CRCs are made right again after each damage.
const HEADER_DAMAGES: &[HeaderDamage] = &[
    HeaderDamage {
        what: "revision 2.0",
        damage: |image, ss, lba| set_u32(image, header_at(ss, lba) + 8, 0x0002_0000),
        reason: |_| "has unknown revision 0x00020000".into(),
    },
    HeaderDamage {
        what: "revision 0.9",
        damage: |image, ss, lba| set_u32(image, header_at(ss, lba) + 8, 0x0000_0009),
        reason: |_| "has unknown revision 0x00000009".into(),
    },
    HeaderDamage {
        what: "a header size below 92",
        damage: |image, ss, lba| set_u32(image, header_at(ss, lba) + 12, 91),
        reason: |_| "has a header size of 91 bytes".into(),
    },
    HeaderDamage {
        what: "a header size above the sector size",
        damage: |image, ss, lba| set_u32(image, header_at(ss, lba) + 12, ss as u32 + 1),
        reason: |ss| format!("has a header size of {} bytes", ss + 1),
    },
    HeaderDamage {
        // As if the other header had been copied here.
        what: "its own sector given as the other header's",
        damage: |image, ss, lba| {
            let at = header_at(ss, lba);
            let other = image[at + 32..at + 40].to_vec();
            image[at + 24..at + 32].copy_from_slice(&other);
        },
        reason: |_| "says it is at another sector".into(),
    },
    HeaderDamage {
        what: "entries of 64 bytes",
        damage: |image, ss, lba| {
            set_u32(image, header_at(ss, lba) + 80, 256);
            set_u32(image, header_at(ss, lba) + 84, 64);
        },
        reason: |_| "has entries of 64 bytes".into(),
    },
    HeaderDamage {
        what: "entries of 192 bytes, not 128 times a power of two",
        damage: |image, ss, lba| {
            set_u32(image, header_at(ss, lba) + 80, 85);
            set_u32(image, header_at(ss, lba) + 84, 192);
        },
        reason: |_| "has entries of 192 bytes".into(),
    },
    HeaderDamage {
        what: "entries of 0 bytes",
        damage: |image, ss, lba| set_u32(image, header_at(ss, lba) + 84, 0),
        reason: |_| "has entries of 0 bytes".into(),
    },
];

#[test]
fn each_gpt_header_check_sends_the_reader_to_the_backup_and_fails_on_both() {
    for sector_size in SECTOR_SIZES {
        let ss = sector_size as usize;
        let good = gpt_disk(sector_size);
        let entries = read(good.clone(), sector_size).unwrap().entries;
        for damage in HEADER_DAMAGES {
            let what = format!("{} on {ss}-byte sectors", damage.what);
            let mut image = good.clone();
            (damage.damage)(&mut image, ss, 1);
            fix_crcs(&mut image, ss, 1);
            let table = read(image.clone(), sector_size).unwrap();
            assert!(
                matches!(
                    table.label,
                    Label::Gpt {
                        from_backup: true,
                        ..
                    }
                ),
                "{what}: the primary header was used"
            );
            assert_eq!(table.entries, entries, "{what}");

            (damage.damage)(&mut image, ss, 4095);
            fix_crcs(&mut image, ss, 4095);
            let reason = (damage.reason)(ss);
            assert_eq!(
                read(image, sector_size),
                Err(TableError::Corrupt(format!(
                    "no valid GPT header: the primary at sector 1 {reason}; \
                     the backup at sector 4095 {reason}"
                ))),
                "{what}"
            );
        }
    }
}

/// What the header checks must let through: a later minor revision, a header as large as its
/// sector, entries of 256 bytes.
#[test]
fn gpt_headers_within_the_rules_are_read() {
    for sector_size in SECTOR_SIZES {
        let ss = sector_size as usize;
        let good = gpt_disk(sector_size);
        let entries = read(good.clone(), sector_size).unwrap().entries;
        let revision: fn(&mut [u8], usize) = |image, ss| set_u32(image, ss + 8, 0x0001_0005);
        let sector_sized: fn(&mut [u8], usize) = |image, ss| set_u32(image, ss + 12, ss as u32);
        let wide_entries: fn(&mut [u8], usize) = |image, ss| {
            // 64 entries of 256 bytes: entry 2 moves to byte 256 of the array.
            let array = 2 * ss;
            let second = image[array + 128..array + 256].to_vec();
            image[array + 128..array + 256].fill(0);
            image[array + 256..array + 384].copy_from_slice(&second);
            set_u32(image, ss + 80, 64);
            set_u32(image, ss + 84, 256);
        };
        for (what, change) in [
            ("revision 1.5", revision),
            ("a header as large as its sector", sector_sized),
            ("entries of 256 bytes", wide_entries),
        ] {
            let mut image = good.clone();
            change(&mut image, ss);
            fix_crcs(&mut image, ss, 1);
            let table = read(image, sector_size).unwrap();
            assert!(
                matches!(
                    table.label,
                    Label::Gpt {
                        from_backup: false,
                        ..
                    }
                ),
                "{what} on {ss}-byte sectors: the backup was used"
            );
            assert_eq!(table.entries, entries, "{what} on {ss}-byte sectors");
        }
    }
}

/// A GPT of 512-byte sectors whose headers name arrays of `count` entries of 128 bytes, with
/// one partition in slot 1, written by the `gpt` crate's header writer. A spare sector follows
/// each array, so an array one entry longer still lies clear of the usable sectors and the
/// backup header: only its size is wrong.
fn gpt_with_entries(count: u32) -> Vec<u8> {
    let block_size = gpt::disk::LogicalBlockSize::Lb512;
    let array = u64::from(count).div_ceil(4);
    let first_usable = 2 + array + 1;
    let last_usable = first_usable + 7;
    let backup_array = last_usable + 1;
    let backup = backup_array + array + 1;
    let mut image = Cursor::new(vec![0; (backup + 1) as usize * 512]);
    gpt::mbr::ProtectiveMBR::with_lb_size(backup as u32)
        .overwrite_lba0(&mut image)
        .unwrap();
    let mut primary = gpt::header::Header {
        signature: "EFI PART".into(),
        revision: (1, 0),
        header_size_le: 92,
        crc32: 0,
        reserved: 0,
        current_lba: 1,
        backup_lba: backup,
        first_usable,
        last_usable,
        disk_guid: Uuid::from_u128(5),
        part_start: 2,
        num_parts: count,
        part_size: 128,
        crc32_parts: 0,
    };
    let mut secondary = gpt::header::Header {
        current_lba: backup,
        backup_lba: 1,
        part_start: backup_array,
        ..primary.clone()
    };
    let partition = gpt::partition::Partition {
        part_type_guid: partition_types::LINUX_FS,
        part_guid: Uuid::from_u128(9),
        first_lba: first_usable,
        last_lba: first_usable + 3,
        flags: 0,
        name: "big".into(),
    };
    for array in [2, backup_array] {
        partition
            .write_to_device(&mut image, 0, array, block_size, 128)
            .unwrap();
    }
    primary.write_primary(&mut image, block_size).unwrap();
    secondary.write_backup(&mut image, block_size).unwrap();
    image.into_inner()
}

#[test]
fn a_gpt_entry_array_over_16_mib_is_refused() {
    // 131072 entries of 128 bytes: 16 MiB, the largest array there may be.
    let good = gpt_with_entries(131_072);
    let last = good.len() / 512 - 1;
    let table = read(good.clone(), 512).unwrap();
    assert!(matches!(
        table.label,
        Label::Gpt {
            from_backup: false,
            ..
        }
    ));
    let found: Vec<_> = table
        .entries
        .iter()
        .map(|entry| {
            (
                entry.number,
                entry.start,
                entry.sectors,
                entry.name.as_str(),
            )
        })
        .collect();
    assert_eq!(found, [(1, 32771, 4, "big")]);

    // One entry more in the primary header: the backup is used.
    let mut image = good;
    set_u32(&mut image, 512 + 80, 131_073);
    fix_crcs(&mut image, 512, 1);
    let from_backup = read(image.clone(), 512).unwrap();
    assert!(matches!(
        from_backup.label,
        Label::Gpt {
            from_backup: true,
            ..
        }
    ));
    assert_eq!(from_backup.entries, table.entries);

    // And in both: no valid header.
    set_u32(&mut image, last * 512 + 80, 131_073);
    fix_crcs(&mut image, 512, last);
    let reason = "has 131073 entries of 128 bytes";
    assert_eq!(
        read(image, 512),
        Err(TableError::Corrupt(format!(
            "no valid GPT header: the primary at sector 1 {reason}; the backup at sector {last} \
             {reason}"
        )))
    );
}
