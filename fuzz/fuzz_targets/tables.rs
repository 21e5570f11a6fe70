//! Partition-table parsing on arbitrary disks: it must never panic or hang, and every entry it
//! returns must lie on the disk, be non-empty, and open as a partition of exactly its size.
//!
//! The first byte chooses the sector size (bit 0: 4096, else 512) and whether to give the GPT
//! header at sector 1 and its entry array correct CRC32s (bit 1), so that the fuzzer also
//! reaches the entry checks behind them. The rest is the disk, cut to whole sectors.

#![no_main]

use blockpart_core::{Label, MemDevice, Partition, SectorSize, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&flags, disk)) = input.split_first() else {
        return;
    };
    let sector_size = if flags & 1 == 0 {
        SectorSize::B512
    } else {
        SectorSize::new(4096).expect("4096 is a sector size")
    };
    let sector = sector_size.get() as usize;
    let mut disk = disk[..disk.len() / sector * sector].to_vec();
    if flags & 2 != 0 {
        fix_gpt_crcs(&mut disk, sector);
    }
    let device = MemDevice::new(disk, sector_size, false).expect("whole sectors");
    let disk = Partition::whole(device).expect("a valid sector size");
    let Ok(table) = Table::read(&disk) else {
        return;
    };

    let size = disk.info().size_sectors;
    let mut numbers = Vec::new();
    for entry in &table.entries {
        assert!(entry.sectors > 0, "{entry:?}");
        let end = entry.start.checked_add(entry.sectors).expect("no overflow");
        assert!(end <= size, "{entry:?} past the disk's {size} sectors");
        assert!(entry.start > 0, "{entry:?} over sector 0");
        if let Label::Gpt {
            first_usable,
            last_usable,
            ..
        } = table.label
        {
            assert!(
                entry.start >= first_usable && end - 1 <= last_usable,
                "{entry:?}"
            );
        }
        let opened = table.open(&disk, entry.number).expect("every entry opens");
        assert_eq!(
            (opened.offset(), opened.info().size_sectors),
            (entry.start, entry.sectors)
        );
        numbers.push(entry.number);
    }
    assert!(
        numbers.windows(2).all(|pair| pair[0] < pair[1]),
        "{numbers:?}"
    );

    // Entries are disjoint, except MBR logical partitions inside their extended partition.
    let extended =
        |entry: &blockpart_core::Entry| entry.partition_type.is_extended() && entry.number <= 4;
    for a in &table.entries {
        for b in &table.entries {
            let overlap = a.number < b.number
                && a.start < b.start + b.sectors
                && b.start < a.start + a.sectors;
            if overlap {
                assert!(extended(a) && b.number >= 5, "{a:?} overlaps {b:?}");
            }
        }
    }
});

/// Sets the CRC32s of a GPT header at sector 1 and of the entry array it names, when both lie
/// within the disk.
fn fix_gpt_crcs(disk: &mut [u8], sector: usize) {
    let header = sector;
    let Some(fields) = disk.get(header..header + 92) else {
        return;
    };
    let u32_at = |at: usize| u32::from_le_bytes(fields[at..at + 4].try_into().unwrap());
    let size = u32_at(12) as usize;
    let array_lba = u64::from_le_bytes(fields[72..80].try_into().unwrap());
    let array_len = u32_at(80) as usize * u32_at(84) as usize;
    let array = usize::try_from(array_lba)
        .ok()
        .and_then(|lba| lba.checked_mul(sector))
        .and_then(|start| disk.get(start..start.checked_add(array_len)?));
    if let Some(array) = array {
        let crc = crc32fast::hash(array);
        disk[header + 88..header + 92].copy_from_slice(&crc.to_le_bytes());
    }
    if (92..=sector).contains(&size) {
        disk[header + 16..header + 20].fill(0);
        let crc = crc32fast::hash(&disk[header..header + size]);
        disk[header + 16..header + 20].copy_from_slice(&crc.to_le_bytes());
    }
}
