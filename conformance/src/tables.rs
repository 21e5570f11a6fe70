//! The table cases: `partition-table.read` and `.open` on disks made from the sfdisk fixtures
//! ([`crate::sfdisk`]), as sfdisk made them and damaged on purpose.
//!
//! sfdisk's JSON is the oracle of what a table holds, the disk's bytes that of where an entry
//! lands. A damaged disk is the image with a field or two changed: a stale CRC32 left where the
//! case is about a CRC32, with both CRC32s recomputed where only a bound should catch it. The
//! model reads no tables: these cases run on implementations only.

use blockpart_core::EXTENDED_TYPES;

use crate::sfdisk::{IMAGES, Image, Outcome};
use crate::{
    Backend, Disk, DiskSpec, Entry, Info, Label, Part, PartitionType, Table, TableError, caught,
    pattern,
};

/// A table case: a named behaviour, checked on each fixture it uses.
pub struct TableCase {
    /// What the case checks, as a sentence in snake case.
    pub name: &'static str,
    /// Whether the case uses a fixture.
    uses: fn(&Image) -> bool,
    /// Checks the behaviour on one fixture; panics on failure.
    run: fn(&dyn Backend, &Image),
}

impl TableCase {
    /// The sector sizes of the fixtures the case uses, ascending: it runs once with each.
    pub fn sector_sizes(&self) -> Vec<u32> {
        let mut sizes: Vec<u32> = IMAGES
            .iter()
            .filter(|image| (self.uses)(image))
            .map(|image| image.sector_size)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        sizes
    }
}

/// Runs `case` against `backend` on each fixture it uses with `sector_size`: `Err` with the
/// first failure, named after its fixture.
pub fn run_table_case(
    case: &TableCase,
    backend: &dyn Backend,
    sector_size: u32,
) -> Result<(), String> {
    let mut images = IMAGES
        .iter()
        .filter(|image| image.sector_size == sector_size && (case.uses)(image))
        .peekable();
    if images.peek().is_none() {
        return Err(format!("no fixture has {sector_size}-byte sectors"));
    }
    for image in images {
        caught(|| (case.run)(backend, image)).map_err(|why| format!("{}: {why}", image.name))?;
    }
    Ok(())
}

macro_rules! table_cases {
    ($($name:ident on $uses:ident),* $(,)?) => {
        /// Every table case, with the fixtures it uses.
        pub const TABLE_CASES: &[TableCase] =
            &[$(TableCase { name: stringify!($name), uses: $uses, run: $name }),*];
    };
}

table_cases![
    every_entry_matches_sfdisk on readable,
    a_damaged_primary_gpt_header_is_read_from_the_backup on gpt,
    a_damaged_primary_gpt_entry_array_is_read_from_the_backup on intact_gpt,
    gpt_headers_failing_their_crc32_in_both_copies_are_corrupt on gpt_or_both_damaged,
    gpt_entry_arrays_failing_their_crc32_in_both_copies_are_corrupt on intact_gpt,
    an_mbr_entry_past_the_disk_is_a_bad_entry on mbr,
    a_gpt_entry_past_the_last_usable_sector_is_a_bad_entry on intact_gpt,
    overlapping_mbr_entries_are_a_bad_entry on mbr_with_two_data_entries,
    overlapping_gpt_entries_are_a_bad_entry on gpt_with_two_entries,
    an_mbr_entry_over_its_own_table_sector_is_a_bad_entry on mbr,
    a_gpt_entry_is_bootable_by_attribute_bit_2_alone on intact_gpt,
    a_looping_chain_of_extended_boot_records_is_corrupt on mbr_with_logicals_or_a_loop,
    a_disk_without_the_boot_signature_has_no_table on readable,
    open_of_a_number_with_no_entry_is_no_entry on readable,
    open_of_every_entry_lands_at_its_offset_and_nowhere_else on readable,
];

// Which fixtures a case uses.

fn readable(image: &Image) -> bool {
    image.readable()
}

fn gpt(image: &Image) -> bool {
    image
        .table()
        .is_some_and(|table| matches!(table.label, Label::Gpt { .. }))
}

fn intact_gpt(image: &Image) -> bool {
    image.outcome == Outcome::Read && gpt(image)
}

fn gpt_or_both_damaged(image: &Image) -> bool {
    intact_gpt(image) || image.name == "gpt-both-corrupt"
}

fn gpt_with_two_entries(image: &Image) -> bool {
    intact_gpt(image) && image.expected().entries.len() >= 2
}

fn mbr(image: &Image) -> bool {
    image
        .table()
        .is_some_and(|table| matches!(table.label, Label::Mbr { .. }))
}

fn mbr_with_two_data_entries(image: &Image) -> bool {
    let data = |entry: &&Entry| match entry.partition_type {
        PartitionType::Mbr(kind) => !EXTENDED_TYPES.contains(&kind),
        PartitionType::Gpt(_) => false,
    };
    mbr(image) && image.expected().entries.iter().filter(data).count() >= 2
}

fn mbr_with_logicals_or_a_loop(image: &Image) -> bool {
    (mbr(image) && image.expected().entries.iter().any(|e| e.number >= 5))
        || image.name == "mbr-ebr-loop"
}

// Disks.

/// The image as a disk of `backend`, and the whole disk as a partition.
fn disk(
    backend: &dyn Backend,
    image: &Image,
    bytes: &[u8],
    read_only: bool,
) -> (Box<dyn Disk>, Part) {
    let spec = DiskSpec {
        sector_size: image.sector_size,
        sectors: image.sectors(),
        read_only,
    };
    let mut disk = backend.disk(&spec, bytes);
    let whole = disk.whole().expect("the whole disk as a partition");
    (disk, whole)
}

/// The table `backend` reads from `bytes`, a disk of `image`'s sector size.
fn read(backend: &dyn Backend, image: &Image, bytes: &[u8]) -> Result<Table, TableError> {
    let (mut disk, whole) = disk(backend, image, bytes, true);
    disk.read_table(whole)
}

#[track_caller]
fn assert_reads(backend: &dyn Backend, image: &Image, bytes: &[u8], expected: &Table, what: &str) {
    match read(backend, image, bytes) {
        Ok(table) => {
            if let Some(difference) = difference(&table, expected) {
                panic!("{what}: {difference}");
            }
        }
        Err(error) => panic!("{what}: refused ({error:?}) where sfdisk reads a table"),
    }
}

/// A read's result, short: the error, or the label and entry numbers of the table.
fn outcome(result: &Result<Table, TableError>) -> String {
    match result {
        Ok(table) => format!(
            "a table: {:?}, partitions {:?}",
            table.label,
            table.entries.iter().map(|e| e.number).collect::<Vec<_>>()
        ),
        Err(error) => format!("{error:?}"),
    }
}

/// The first thing `read` says otherwise than `expected`, as one line.
fn difference(read: &Table, expected: &Table) -> Option<String> {
    let field = |name: &str, read: &dyn std::fmt::Debug, expected: &dyn std::fmt::Debug| {
        Some(format!("{name} is {read:?} where sfdisk says {expected:?}"))
    };
    if read.label != expected.label {
        return field("the label", &read.label, &expected.label);
    }
    if read.sector_size != expected.sector_size {
        return field("the sector size", &read.sector_size, &expected.sector_size);
    }
    if read.size_sectors != expected.size_sectors {
        return field(
            "the disk's size",
            &read.size_sectors,
            &expected.size_sectors,
        );
    }
    let numbers = |table: &Table| table.entries.iter().map(|e| e.number).collect::<Vec<_>>();
    if numbers(read) != numbers(expected) {
        return field("the entries' numbers", &numbers(read), &numbers(expected));
    }
    let (entry, sfdisk) = read
        .entries
        .iter()
        .zip(&expected.entries)
        .find(|(entry, sfdisk)| entry != sfdisk)?;
    field(&format!("partition {}", entry.number), entry, sfdisk)
}

#[track_caller]
fn assert_corrupt(backend: &dyn Backend, image: &Image, bytes: &[u8], what: &str) {
    match read(backend, image, bytes) {
        Err(TableError::Corrupt(_)) => {}
        other => panic!("{what}: expected corrupt, got {}", outcome(&other)),
    }
}

/// Fails unless reading the table is refused as `bad-entry` naming one of `numbers`.
#[track_caller]
fn assert_bad_entry(
    backend: &dyn Backend,
    image: &Image,
    bytes: &[u8],
    numbers: &[u32],
    what: &str,
) {
    match read(backend, image, bytes) {
        Err(TableError::BadEntry { number, .. }) if numbers.contains(&number) => {}
        other => panic!(
            "{what}: expected bad-entry naming partition {numbers:?}, got {}",
            outcome(&other)
        ),
    }
}

// Fields of the bytes of a disk.

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn set_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// A GPT's two headers, in the bytes of a disk: fields at the UEFI specification's offsets.
struct Gpt {
    bytes: Vec<u8>,
    sector_size: usize,
}

/// Which copy of the GPT.
#[derive(Clone, Copy, Debug)]
enum Half {
    Primary,
    Backup,
}

const BOTH: [Half; 2] = [Half::Primary, Half::Backup];

impl Gpt {
    fn new(image: &Image) -> Self {
        Self {
            bytes: image.bytes(),
            sector_size: image.sector_size as usize,
        }
    }

    /// The byte offset of a header: sector 1, or the disk's last sector.
    fn header(&self, copy: Half) -> usize {
        match copy {
            Half::Primary => self.sector_size,
            Half::Backup => self.bytes.len() - self.sector_size,
        }
    }

    /// The byte offset of entry `number` (from 1) of a copy's entry array.
    fn entry(&self, copy: Half, number: u32) -> usize {
        let header = self.header(copy);
        let array = u64_at(&self.bytes, header + 72) as usize * self.sector_size;
        let size = u32_at(&self.bytes, header + 84) as usize;
        array + (number as usize - 1) * size
    }

    /// Sets the first and last sector of entry `number` in both copies, and recomputes every
    /// CRC32: a table only a bound can refuse.
    fn set_entry(&mut self, number: u32, first: u64, last: u64) {
        for copy in BOTH {
            let at = self.entry(copy, number);
            set_u64(&mut self.bytes, at + 32, first);
            set_u64(&mut self.bytes, at + 40, last);
            self.reseal(copy);
        }
    }

    /// Sets the attribute bits of entry `number` in both copies, and recomputes every CRC32.
    fn set_attributes(&mut self, number: u32, attributes: u64) {
        for copy in BOTH {
            let at = self.entry(copy, number);
            set_u64(&mut self.bytes, at + 48, attributes);
            self.reseal(copy);
        }
    }

    /// Recomputes a copy's entry-array CRC32, then its header CRC32.
    fn reseal(&mut self, copy: Half) {
        let header = self.header(copy);
        let (count, size) = (
            u32_at(&self.bytes, header + 80) as usize,
            u32_at(&self.bytes, header + 84) as usize,
        );
        let array = self.entry(copy, 1);
        let crc = crc32fast::hash(&self.bytes[array..array + count * size]);
        set_u32(&mut self.bytes, header + 88, crc);
        let header_size = u32_at(&self.bytes, header + 12) as usize;
        set_u32(&mut self.bytes, header + 16, 0);
        let crc = crc32fast::hash(&self.bytes[header..header + header_size]);
        set_u32(&mut self.bytes, header + 16, crc);
    }

    /// Changes a copy's header field "first usable sector" (one sector later, still a valid
    /// layout), leaving its CRC32 stale.
    fn damage_header(&mut self, copy: Half) {
        let at = self.header(copy) + 40;
        let first_usable = u64_at(&self.bytes, at);
        set_u64(&mut self.bytes, at, first_usable + 1);
    }

    /// Changes a byte of the unique GUID of entry `number` in a copy's entry array, leaving
    /// the array's CRC32 stale.
    fn damage_entry(&mut self, copy: Half, number: u32) {
        let at = self.entry(copy, number) + 16;
        self.bytes[at] ^= 0x01;
    }
}

// An MBR and its chain of extended boot records, in the bytes of a disk.

struct Mbr {
    bytes: Vec<u8>,
    sector_size: usize,
}

/// A 16-byte partition slot of the MBR or an EBR: its byte offset, and where its start is
/// counted from.
#[derive(Clone, Copy)]
struct Slot {
    at: usize,
    base: u64,
}

impl Mbr {
    fn new(image: &Image) -> Self {
        Self {
            bytes: image.bytes(),
            sector_size: image.sector_size as usize,
        }
    }

    fn slot_at(&self, sector: u64, index: usize) -> usize {
        sector as usize * self.sector_size + 446 + 16 * index
    }

    fn kind(&self, slot: Slot) -> u8 {
        self.bytes[slot.at + 4]
    }

    fn start(&self, slot: Slot) -> u64 {
        slot.base + u64::from(u32_at(&self.bytes, slot.at + 8))
    }

    fn sectors(&self, slot: Slot) -> u64 {
        u64::from(u32_at(&self.bytes, slot.at + 12))
    }

    fn set(&mut self, slot: Slot, start: u64, sectors: u64) {
        let start = u32::try_from(start - slot.base).unwrap();
        set_u32(&mut self.bytes, slot.at + 8, start);
        set_u32(
            &mut self.bytes,
            slot.at + 12,
            u32::try_from(sectors).unwrap(),
        );
    }

    /// Primary slots 1 to 4, by number; `None` where empty.
    fn primaries(&self) -> Vec<(u32, Slot)> {
        (0..4)
            .map(|index| Slot {
                at: self.slot_at(0, index),
                base: 0,
            })
            .zip(1..)
            .filter(|(slot, _)| self.kind(*slot) != 0)
            .map(|(slot, number)| (number, slot))
            .collect()
    }

    fn extended(&self) -> Option<Slot> {
        self.primaries()
            .into_iter()
            .map(|(_, slot)| slot)
            .find(|slot| EXTENDED_TYPES.contains(&self.kind(*slot)))
    }

    /// The sectors of the extended boot records, along their chain (as sfdisk wrote it: each
    /// holds one logical partition, and links forward).
    fn ebrs(&self) -> Vec<u64> {
        let Some(extended) = self.extended() else {
            return Vec::new();
        };
        let first = self.start(extended);
        let mut ebrs = vec![first];
        loop {
            let link = Slot {
                at: self.slot_at(*ebrs.last().unwrap(), 1),
                base: first,
            };
            if self.kind(link) == 0 || ebrs.len() > 64 {
                return ebrs;
            }
            ebrs.push(self.start(link));
        }
    }

    /// The slots of partitions with data (not the extended one): primaries, then logicals
    /// from 5, by number.
    fn data_entries(&self) -> Vec<(u32, Slot)> {
        let primaries = self
            .primaries()
            .into_iter()
            .filter(|(_, slot)| !EXTENDED_TYPES.contains(&self.kind(*slot)));
        let logicals = self.ebrs().into_iter().zip(5..).map(|(ebr, number)| {
            let slot = Slot {
                at: self.slot_at(ebr, 0),
                base: ebr,
            };
            (number, slot)
        });
        primaries.chain(logicals).collect()
    }
}

// The cases.

fn every_entry_matches_sfdisk(backend: &dyn Backend, image: &Image) {
    assert_reads(
        backend,
        image,
        &image.bytes(),
        &image.expected(),
        "the image",
    );
}

fn a_damaged_primary_gpt_header_is_read_from_the_backup(backend: &dyn Backend, image: &Image) {
    let mut expected = image.expected();
    if image.outcome == Outcome::ReadFromBackup {
        // gpt-primary-corrupt: a bit of the primary header's disk GUID flipped.
        assert_reads(backend, image, &image.bytes(), &expected, "the image");
        return;
    }
    let mut gpt = Gpt::new(image);
    gpt.damage_header(Half::Primary);
    set_from_backup(&mut expected);
    assert_reads(
        backend,
        image,
        &gpt.bytes,
        &expected,
        "the primary header's first usable sector changed, its CRC32 stale",
    );
}

fn a_damaged_primary_gpt_entry_array_is_read_from_the_backup(backend: &dyn Backend, image: &Image) {
    let mut expected = image.expected();
    let mut gpt = Gpt::new(image);
    let number = expected.entries[0].number;
    gpt.damage_entry(Half::Primary, number);
    set_from_backup(&mut expected);
    assert_reads(
        backend,
        image,
        &gpt.bytes,
        &expected,
        &format!(
            "a byte of partition {number}'s GUID changed in the primary array, its CRC32 stale"
        ),
    );
}

fn set_from_backup(table: &mut Table) {
    match &mut table.label {
        Label::Gpt { from_backup, .. } => *from_backup = true,
        Label::Mbr { .. } => panic!("not a GPT"),
    }
}

fn gpt_headers_failing_their_crc32_in_both_copies_are_corrupt(
    backend: &dyn Backend,
    image: &Image,
) {
    if image.outcome == Outcome::Corrupt {
        // gpt-both-corrupt: a bit of each header's disk GUID flipped.
        assert_corrupt(backend, image, &image.bytes(), "the image");
        return;
    }
    let mut gpt = Gpt::new(image);
    for copy in BOTH {
        gpt.damage_header(copy);
    }
    assert_corrupt(
        backend,
        image,
        &gpt.bytes,
        "both headers' first usable sector changed, their CRC32s stale",
    );
}

fn gpt_entry_arrays_failing_their_crc32_in_both_copies_are_corrupt(
    backend: &dyn Backend,
    image: &Image,
) {
    let number = image.expected().entries[0].number;
    let mut gpt = Gpt::new(image);
    for copy in BOTH {
        gpt.damage_entry(copy, number);
    }
    assert_corrupt(
        backend,
        image,
        &gpt.bytes,
        &format!("a byte of partition {number}'s GUID changed in both arrays, their CRC32s stale"),
    );
}

fn an_mbr_entry_past_the_disk_is_a_bad_entry(backend: &dyn Backend, image: &Image) {
    let mbr = Mbr::new(image);
    let disk_sectors = (mbr.bytes.len() / mbr.sector_size) as u64;
    // The primary that ends last, made to end one sector past the disk, then far past it,
    // where a 32-bit end would wrap to sector 1.
    let (number, slot) = mbr
        .primaries()
        .into_iter()
        .max_by_key(|(_, slot)| mbr.start(*slot) + mbr.sectors(*slot))
        .unwrap();
    let start = mbr.start(slot);
    for (start, sectors) in [(start, disk_sectors + 1 - start), (u64::from(u32::MAX), 2)] {
        let mut mbr = Mbr::new(image);
        mbr.set(slot, start, sectors);
        assert_bad_entry(
            backend,
            image,
            &mbr.bytes,
            &[number],
            &format!(
                "partition {number} at sectors {start}..+{sectors} of a disk of {disk_sectors}"
            ),
        );
    }
}

fn a_gpt_entry_past_the_last_usable_sector_is_a_bad_entry(backend: &dyn Backend, image: &Image) {
    let expected = image.expected();
    let Label::Gpt { last_usable, .. } = expected.label else {
        panic!("not a GPT");
    };
    let last = expected
        .entries
        .iter()
        .max_by_key(|entry| entry.start + entry.sectors)
        .unwrap();
    let mut gpt = Gpt::new(image);
    gpt.set_entry(last.number, last.start, last_usable + 1);
    assert_bad_entry(
        backend,
        image,
        &gpt.bytes,
        &[last.number],
        &format!(
            "partition {} ending at sector {}, one past the last usable, with every CRC32 \
             recomputed",
            last.number,
            last_usable + 1
        ),
    );
}

fn overlapping_mbr_entries_are_a_bad_entry(backend: &dyn Backend, image: &Image) {
    let mut mbr = Mbr::new(image);
    // Two data partitions next to each other, on the same table (two primaries, or two
    // logicals): the first grown by its gap to the second, and one sector into it.
    let entries = mbr.data_entries();
    let logicals: Vec<_> = entries.iter().filter(|(number, _)| *number >= 5).collect();
    let (first, second) = if logicals.len() >= 2 {
        (*logicals[0], *logicals[1])
    } else {
        let mut primaries = entries.clone();
        primaries.sort_by_key(|(_, slot)| mbr.start(*slot));
        (primaries[0], primaries[1])
    };
    let start = mbr.start(first.1);
    let sectors = mbr.start(second.1) + 1 - start;
    mbr.set(first.1, start, sectors);
    assert_bad_entry(
        backend,
        image,
        &mbr.bytes,
        &[first.0, second.0],
        &format!(
            "partition {} grown to overlap the first sector of partition {}",
            first.0, second.0
        ),
    );
}

/// A table's own sectors are no partition's: a primary made to start at sector 0 covers the MBR,
/// a logical made to start at its own extended boot record covers that.
fn an_mbr_entry_over_its_own_table_sector_is_a_bad_entry(backend: &dyn Backend, image: &Image) {
    let entries = Mbr::new(image).data_entries();
    let primary = entries.iter().find(|(number, _)| *number <= 4);
    let logical = entries.iter().find(|(number, _)| *number >= 5);
    for (number, slot) in primary.into_iter().chain(logical) {
        let mut mbr = Mbr::new(image);
        let (start, sectors) = (mbr.start(*slot), mbr.sectors(*slot));
        // Its table's sector: the MBR (base 0), or its EBR (the base its start counts from).
        let table = slot.base;
        mbr.set(*slot, table, sectors + (start - table));
        assert_bad_entry(
            backend,
            image,
            &mbr.bytes,
            &[*number],
            &format!("partition {number} grown back over its table's sector {table}"),
        );
    }
}

/// The WIT's `bootable` of a GPT entry is attribute bit 2 (legacy BIOS bootable) alone: not
/// bit 0 (required partition), not any other; `attributes` is every bit as the disk has it.
fn a_gpt_entry_is_bootable_by_attribute_bit_2_alone(backend: &dyn Backend, image: &Image) {
    let first = image.expected().entries[0].number;
    for (attributes, bootable) in [
        (1 << 0, false),
        (1 << 1, false),
        (1 << 2, true),
        (1 << 63 | 1 << 48, false),
        (!(1 << 2), false),
    ] {
        let mut gpt = Gpt::new(image);
        gpt.set_attributes(first, attributes);
        let table = read(backend, image, &gpt.bytes)
            .unwrap_or_else(|error| panic!("attributes {attributes:#x}: refused: {error:?}"));
        let entry = table.entries.iter().find(|e| e.number == first).unwrap();
        assert_eq!(
            (entry.attributes, entry.bootable),
            (attributes, bootable),
            "partition {first} with attributes {attributes:#x}"
        );
    }
}

fn overlapping_gpt_entries_are_a_bad_entry(backend: &dyn Backend, image: &Image) {
    let mut entries = image.expected().entries;
    entries.sort_by_key(|entry| entry.start);
    let (first, second) = (&entries[0], &entries[1]);
    let mut gpt = Gpt::new(image);
    // The second starts at the last sector of the first.
    let last = second.start + second.sectors - 1;
    gpt.set_entry(second.number, first.start + first.sectors - 1, last);
    assert_bad_entry(
        backend,
        image,
        &gpt.bytes,
        &[first.number, second.number],
        &format!(
            "partition {} starting at the last sector of partition {}, with every CRC32 \
             recomputed",
            second.number, first.number
        ),
    );
}

fn a_looping_chain_of_extended_boot_records_is_corrupt(backend: &dyn Backend, image: &Image) {
    if image.outcome == Outcome::Corrupt {
        // mbr-ebr-loop: the second EBR links back to the first.
        assert_corrupt(backend, image, &image.bytes(), "the image");
        return;
    }
    let mbr = Mbr::new(image);
    let ebrs = mbr.ebrs();
    let extended = mbr.start(mbr.extended().unwrap());
    // The last EBR linking back to the first, and the first linking to itself.
    for (ebr, what) in [
        (
            *ebrs.last().unwrap(),
            "the last extended boot record linking to the first",
        ),
        (ebrs[0], "the first extended boot record linking to itself"),
    ] {
        let mut mbr = Mbr::new(image);
        let link = Slot {
            at: mbr.slot_at(ebr, 1),
            base: extended,
        };
        mbr.bytes[link.at + 4] = 0x05;
        mbr.set(link, extended, 1);
        assert_corrupt(backend, image, &mbr.bytes, what);
    }
}

fn a_disk_without_the_boot_signature_has_no_table(backend: &dyn Backend, image: &Image) {
    let mut bytes = image.bytes();
    bytes[510..512].fill(0);
    match read(backend, image, &bytes) {
        Err(TableError::NoTable) => {}
        other => panic!(
            "sector 0 without 0x55AA: expected no-table, got {}",
            outcome(&other)
        ),
    }
}

fn open_of_a_number_with_no_entry_is_no_entry(backend: &dyn Backend, image: &Image) {
    let table = image.expected();
    let highest = table
        .entries
        .iter()
        .map(|entry| entry.number)
        .max()
        .unwrap();
    let gaps = (1..highest).filter(|number| table.entry(*number).is_none());
    let (mut disk, whole) = disk(backend, image, &image.bytes(), true);
    for number in [0, highest + 1, u32::MAX].into_iter().chain(gaps) {
        let opened = disk.open_entry(whole, number);
        assert!(
            opened == Err(TableError::NoEntry(number)),
            "open of partition {number}: expected no-entry({number}), got {opened:?}"
        );
    }
}

/// Every entry is opened first, then written to at its first and last sector: a write to the
/// first sector of an MBR's extended partition overwrites an extended boot record, as it would
/// on Linux, so a later `open` could no longer find the logical partitions.
fn open_of_every_entry_lands_at_its_offset_and_nowhere_else(backend: &dyn Backend, image: &Image) {
    let table = image.expected();
    let mut expected = image.bytes();
    let (mut disk, whole) = disk(backend, image, &expected, false);
    let parts: Vec<_> = table
        .entries
        .iter()
        .map(|entry| {
            let part = disk
                .open_entry(whole, entry.number)
                .unwrap_or_else(|error| panic!("open of partition {}: {error:?}", entry.number));
            (entry, part)
        })
        .collect();
    let sector_size = image.sector_size;
    for (entry, part) in parts {
        let number = entry.number;
        assert_eq!(
            disk.offset(part),
            entry.start,
            "get-offset of partition {number}"
        );
        // An extended partition opens as Linux shows it, its first 1 KiB (or sector), but
        // never as far as the first logical inside it.
        let extended = entry.partition_type.is_extended();
        let first_logical = table
            .entries
            .iter()
            .filter(|e| e.number > 4)
            .map(|e| e.start)
            .min();
        let sectors = if extended {
            let head = (1024 / u64::from(sector_size)).max(1);
            entry
                .sectors
                .min(head)
                .min(first_logical.unwrap() - entry.start)
        } else {
            entry.sectors
        };
        let info = Info {
            read_write: true,
            sector_size,
            size_sectors: sectors,
        };
        assert_eq!(disk.info(part), info, "info of partition {number}");
        for (at, seed) in [(0, number as u8), (sectors - 1, !(number as u8))] {
            let mark = pattern(sector_size as usize, seed);
            disk.write(part, at, &mark)
                .unwrap_or_else(|error| panic!("write to partition {number} sector {at}: {error}"));
            match disk.read(part, at, sector_size.into()) {
                Ok(back) => assert!(
                    back == mark,
                    "partition {number} sector {at} reads back other bytes than were written"
                ),
                Err(error) => panic!("read of partition {number} sector {at}: {error}"),
            }
            let byte = ((entry.start + at) * u64::from(sector_size)) as usize;
            expected[byte..byte + mark.len()].copy_from_slice(&mark);
            assert!(
                disk.bytes() == expected,
                "a write to partition {number} (start {}) sector {at} did not land at byte {byte} \
                 of the disk alone",
                entry.start
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use blockpart_core::Uuid;

    use super::*;

    #[test]
    fn every_case_runs_with_some_sector_size_and_every_image_is_used() {
        for case in TABLE_CASES {
            assert!(!case.sector_sizes().is_empty(), "{}", case.name);
        }
        for image in IMAGES {
            assert!(
                TABLE_CASES.iter().any(|case| (case.uses)(image)),
                "{}",
                image.name
            );
        }
    }

    #[test]
    fn sfdisk_listings_parse() {
        for image in IMAGES.iter().filter(|image| image.readable()) {
            let table = image.expected();
            assert!(!table.entries.is_empty(), "{}", image.name);
        }
        let slots = IMAGES
            .iter()
            .find(|i| i.name == "gpt-slots")
            .unwrap()
            .expected();
        let seven = slots.entry(7).unwrap();
        assert_eq!(seven.attributes, 1 << 48 | 1 << 60 | 1 << 63);
        assert_eq!(seven.name, "données");
        assert!(slots.entry(1).unwrap().bootable);
        assert_eq!(
            seven.partition_type,
            PartitionType::Gpt(Uuid::try_parse("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7").unwrap())
        );
    }
}
