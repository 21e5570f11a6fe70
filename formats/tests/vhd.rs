//! VHD: differential reads against `qemu-img convert -O raw` of fixed and dynamic images
//! qemu-img made (with and without force_size), differencing disks patched from them and
//! read over a parent the test hands over, and hostile images patched from them.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::process::Command;

use blockpart_formats::{Disk, Error, Extent, Format, Reference, detect};
use blockpart_test_tools::trees::Random;

/// The raw disk the images are made of: random data, holes, runs of one byte, and a length
/// that is neither a whole number of blocks nor of sectors (nor a CHS geometry).
fn source_disk() -> Vec<u8> {
    let mut random = Random::new(0x0076_6864);
    let mut disk = random.bytes(5 * 1024 * 1024 + 12345);
    disk[100_000..700_000].fill(0);
    disk[2_097_152..4_194_304].fill(0); // a whole block: unallocated in the dynamic image
    disk[1_500_000..1_900_000].fill(b'A');
    disk
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An image of `source_disk` made by `qemu-img convert -O vpc -o <options>`, and what
/// `qemu-img convert -O raw` reads of it; None when qemu-img is missing.
fn image(dir: &Path, options: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    image_of(dir, &source_disk(), options)
}

/// An image of `disk` made by `qemu-img convert -O vpc -o <options>`, and what
/// `qemu-img convert -O raw` reads of it; None when qemu-img is missing.
fn image_of(dir: &Path, disk: &[u8], options: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let qemu = blockpart_test_tools::installed("qemu-img")?;
    let source = dir.join("source.raw");
    std::fs::write(&source, disk).unwrap();
    let image = dir.join("disk.vhd");
    let raw = dir.join("back.raw");
    run(Command::new(&qemu)
        .args(["convert", "-f", "raw", "-O", "vpc", "-o", options])
        .args([&source, &image]));
    run(Command::new(&qemu)
        .args(["convert", "-f", "vpc", "-O", "raw"])
        .args([&image, &raw]));
    Some((std::fs::read(&image).unwrap(), std::fs::read(&raw).unwrap()))
}

/// Reads all of `image` and pieces at odd offsets and lengths crossing block boundaries,
/// and compares them with `expected`.
fn assert_reads_as(image: Vec<u8>, expected: &[u8]) {
    assert_eq!(detect(&image).unwrap(), Format::Vhd);
    let mut disk = Disk::open(image, None, None).unwrap();
    assert_disk_reads_as(&mut disk, expected);
}

/// Reads all of `disk` and pieces at odd offsets and lengths crossing block boundaries,
/// and compares them with `expected`.
fn assert_disk_reads_as(disk: &mut Disk<Vec<u8>>, expected: &[u8]) {
    assert_eq!(disk.format(), Format::Vhd);
    assert_eq!(disk.size(), expected.len() as u64);
    let mut all = vec![0u8; expected.len()];
    disk.read(0, &mut all).unwrap();
    assert!(all == expected, "the whole disk differs");
    let block = 2 * 1024 * 1024u64;
    let end = expected.len() as u64;
    let pieces = [
        (0, 1),
        (511, 2),
        (block - 1, 2),
        (block - 512, 1024),
        (block - 7, block + 13),
        (100_000 - 3, 600_006),
        (2 * block - 999, 70_001),
        (end - 12_345, 12_345),
        (end - 1, 1),
        (end - block - 5, block + 5),
    ];
    for (offset, len) in pieces {
        let mut buf = vec![0u8; len as usize];
        disk.read(offset, &mut buf).unwrap();
        assert!(
            buf == expected[offset as usize..(offset + len) as usize],
            "{len} bytes at {offset} differ"
        );
    }
    assert!(matches!(
        disk.read(end, &mut [0u8; 1]),
        Err(Error::OutOfBounds { .. })
    ));
}

#[test]
fn fixed_reads_as_qemu_does() {
    let dir = tempfile::tempdir().unwrap();
    for options in ["subformat=fixed", "subformat=fixed,force_size=on"] {
        let Some((image, expected)) = image(dir.path(), options) else {
            return;
        };
        let disk = Disk::open(image.clone(), Some(Format::Vhd), None).unwrap();
        assert_eq!(disk.linear(), Some(0), "{options}");
        assert_reads_as(image, &expected);
    }
}

#[test]
fn dynamic_reads_as_qemu_does() {
    let dir = tempfile::tempdir().unwrap();
    for options in ["subformat=dynamic", "subformat=dynamic,force_size=on"] {
        let Some((image, expected)) = image(dir.path(), options) else {
            return;
        };
        let mut disk = Disk::open(image.clone(), None, None).unwrap();
        assert_eq!(disk.linear(), None);
        // The second block is all zeros, so qemu-img leaves it unallocated.
        assert_eq!(
            disk.map(2 * 1024 * 1024, 4096).unwrap(),
            Extent::Backing { len: 4096 }
        );
        assert!(matches!(
            disk.map(0, 4096).unwrap(),
            Extent::Data { len: 4096, .. }
        ));
        assert_reads_as(image, &expected);
    }
}

/// qemu sizes a disk whose creator is "qemu" by its CHS geometry, one from "qem2"
/// (force_size) by current_size: the two differ here, and each matches qemu-img.
#[test]
fn size_follows_the_creator() {
    let dir = tempfile::tempdir().unwrap();
    let Some((chs, chs_raw)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let (size, size_raw) = image(dir.path(), "subformat=dynamic,force_size=on").unwrap();
    assert_eq!(&chs[chs.len() - 512 + 28..][..4], b"qemu");
    assert_eq!(&size[size.len() - 512 + 28..][..4], b"qem2");
    assert_ne!(chs_raw.len(), size_raw.len());
    assert_eq!(
        Disk::open(chs, None, None).unwrap().size(),
        chs_raw.len() as u64
    );
    assert_eq!(
        Disk::open(size, None, None).unwrap().size(),
        size_raw.len() as u64
    );
}

/// A sector whose bitmap bit is clear reads as zeros, whatever the block holds there.
#[test]
fn bitmap_bits_clear_read_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, expected)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let bat = be64(&image, 512 + 16) as usize;
    let block = be32(&image, bat) as usize * 512;
    image[block] = 0b1011_1111; // sector 1 of block 0 clear
    let mut disk = Disk::open(image, None, None).unwrap();
    assert_eq!(
        disk.map(0, 4096).unwrap(),
        Extent::Data {
            offset: (block + 512) as u64,
            len: 512
        }
    );
    assert_eq!(disk.map(512, 4096).unwrap(), Extent::Backing { len: 512 });
    let mut buf = vec![0u8; 2048];
    disk.read(0, &mut buf).unwrap();
    assert_eq!(buf[..512], expected[..512]);
    assert!(buf[512..1024].iter().all(|&b| b == 0));
    assert_eq!(buf[1024..], expected[1024..2048]);
}

fn be32(image: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(image[at..at + 4].try_into().unwrap())
}

fn be64(image: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(image[at..at + 8].try_into().unwrap())
}

/// Sets the checksum (at `checksum`) of the structure `bytes` right again.
fn fix_checksum(bytes: &mut [u8], checksum: usize) {
    bytes[checksum..checksum + 4].fill(0);
    let sum = bytes
        .iter()
        .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
    bytes[checksum..checksum + 4].copy_from_slice(&(!sum).to_be_bytes());
}

/// Patches the dynamic disk header (at byte 512 in qemu's images) and fixes its checksum.
fn patch_header(image: &mut [u8], at: usize, bytes: &[u8]) {
    image[512 + at..512 + at + bytes.len()].copy_from_slice(bytes);
    fix_checksum(&mut image[512..1536], 36);
}

fn open_err(image: Vec<u8>) -> Error {
    match Disk::open(image, Some(Format::Vhd), None) {
        Ok(_) => panic!("opened"),
        Err(err) => err,
    }
}

fn corrupt(err: &Error, parts: &[&str]) -> bool {
    matches!(err, Error::Corrupt(m) if parts.iter().all(|part| m.contains(part)))
}

#[test]
fn bat_entry_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let bat = be64(&image, 512 + 16) as usize;
    image[bat..bat + 4].copy_from_slice(&0x0100_0000u32.to_be_bytes());
    let err = open_err(image);
    assert!(
        corrupt(
            &err,
            &[
                "BAT entry 0: block at sector 16777216",
                "past the end of the file"
            ]
        ),
        "{err}"
    );
}

#[test]
fn max_table_entries_huge() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    patch_header(&mut image, 28, &u32::MAX.to_be_bytes());
    let err = open_err(image);
    assert!(
        corrupt(
            &err,
            &["max_table_entries 4294967295", "at most 33554432 are read"]
        ),
        "{err}"
    );
}

#[test]
fn max_table_entries_too_few() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    patch_header(&mut image, 28, &1u32.to_be_bytes());
    let err = open_err(image);
    assert!(
        corrupt(&err, &["max_table_entries 1 blocks", "do not cover"]),
        "{err}"
    );
}

#[test]
fn block_size_checked() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let mut odd = image.clone();
    patch_header(&mut odd, 32, &3000u32.to_be_bytes());
    let err = open_err(odd);
    assert!(
        corrupt(&err, &["block_size 3000 is not a power of two"]),
        "{err}"
    );
    let mut huge = image;
    patch_header(&mut huge, 32, &(1u32 << 31).to_be_bytes());
    let err = open_err(huge);
    assert!(
        matches!(&err, Error::Unsupported(m) if m.contains("block_size 2147483648")),
        "{err}"
    );
}

#[test]
fn footer_with_a_bad_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=fixed") else {
        return;
    };
    let footer = image.len() - 512;
    image[footer + 48] ^= 1; // current_size changed, checksum not
    let err = open_err(image);
    assert!(corrupt(&err, &["footer's checksum"]), "{err}");
}

#[test]
fn dynamic_header_with_a_bad_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    image[512 + 28] ^= 1;
    let err = open_err(image);
    assert!(corrupt(&err, &["dynamic disk header's checksum"]), "{err}");
}

/// A differencing disk: its parent is named (from the header's UTF-16 name), not opened.
#[test]
fn differencing_names_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let name: Vec<u8> = "../p\u{e9}re.vhd"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    patch_header(&mut image, 64, &name);
    for footer in [0, image.len() - 512] {
        image[footer + 60..footer + 64].copy_from_slice(&4u32.to_be_bytes());
        fix_checksum(&mut image[footer..footer + 512], 64);
    }
    let err = Disk::open(image, None, None).err().unwrap();
    assert_eq!(
        err,
        Error::External {
            kind: Reference::Parent,
            name: "../p\\xc3\\xa9re.vhd".into()
        }
    );
}

#[test]
fn unknown_disk_type() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=fixed") else {
        return;
    };
    let footer = image.len() - 512;
    image[footer + 60..footer + 64].copy_from_slice(&5u32.to_be_bytes());
    fix_checksum(&mut image[footer..], 64);
    let err = open_err(image);
    assert!(corrupt(&err, &["disk type 5"]), "{err}");
}

/// Truncated files: a dynamic one keeps its footer's copy at the start, and its blocks past
/// the cut are reported; a fixed one has lost its footer.
#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut dynamic, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    dynamic.truncate(dynamic.len() / 2);
    let err = open_err(dynamic);
    assert!(
        corrupt(&err, &["BAT entry", "past the end of the file"]),
        "{err}"
    );

    let (mut fixed, _) = image(dir.path(), "subformat=fixed").unwrap();
    fixed.truncate(fixed.len() - 1000);
    let err = open_err(fixed);
    assert!(corrupt(&err, &["no \"conectix\" footer"]), "{err}");
}

/// A fixed disk whose footer declares more than the file holds.
#[test]
fn fixed_larger_than_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=fixed,force_size=on") else {
        return;
    };
    let footer = image.len() - 512;
    image[footer + 48..footer + 56].copy_from_slice(&(1u64 << 50).to_be_bytes());
    fix_checksum(&mut image[footer..], 64);
    let err = open_err(image);
    assert!(
        corrupt(
            &err,
            &["a fixed disk of 1125899906842624 bytes in a file holding"]
        ),
        "{err}"
    );
}

/// A Hyper-V creator ("win ") with a current_size that is not the CHS geometry's: qemu-img
/// reads current_size, and so does this reader (checked against qemu-img on the patched
/// image); with the creator "vpc " the geometry decides.
#[test]
fn creator_win_sizes_by_current_size() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let qemu = blockpart_test_tools::installed("qemu-img").unwrap();
    for creator in [b"win ", b"vpc "] {
        let mut patched = image.clone();
        for footer in [0, patched.len() - 512] {
            patched[footer + 28..footer + 32].copy_from_slice(creator);
            // 5 MiB + 1024: less than the geometry's, more than the data qemu-img wrote.
            patched[footer + 48..footer + 56]
                .copy_from_slice(&(5u64 * 1024 * 1024 + 1024).to_be_bytes());
            fix_checksum(&mut patched[footer..footer + 512], 64);
        }
        let path = dir.path().join("patched.vhd");
        let raw = dir.path().join("patched.raw");
        std::fs::write(&path, &patched).unwrap();
        run(Command::new(&qemu)
            .args(["convert", "-f", "vpc", "-O", "raw"])
            .args([&path, &raw]));
        let expected = std::fs::read(&raw).unwrap();
        assert_eq!(
            expected.len() == 5 * 1024 * 1024 + 1024,
            creator == b"win ",
            "qemu-img sizes {} by {}",
            String::from_utf8_lossy(creator),
            expected.len()
        );
        assert_reads_as(patched, &expected);
    }
}

/// What the fuzz target does, on stable: many copies of qemu-img's images with random bytes
/// of their metadata changed (checksums fixed half of the time, so that the fields behind
/// them are reached); every open and read is a value or an error, never a panic.
#[test]
fn random_patches_give_values_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = Random::new(7);
    for options in ["subformat=dynamic", "subformat=fixed"] {
        let Some((image, _)) = image(dir.path(), options) else {
            return;
        };
        let footer = image.len() - 512;
        let dynamic = options.ends_with("dynamic");
        let bat = if dynamic {
            be64(&image, 512 + 16) as usize
        } else {
            0
        };
        let regions = [
            (footer, 100),
            (0, 100),
            (512, 64),
            (bat, 16),
            (1536 + 512, 512),
        ];
        for round in 0..400 {
            let mut patched = image.clone();
            for _ in 0..1 + round % 3 {
                let (start, len) = regions[random.next_u64() as usize % regions.len()];
                let at = start + random.next_u64() as usize % len;
                patched[at] = random.next_u64() as u8;
            }
            if round % 2 == 0 {
                fix_checksum(&mut patched[footer..], 64);
                if dynamic {
                    fix_checksum(&mut patched[512..1536], 36);
                }
            }
            let Ok(mut disk) = Disk::open(patched, Some(Format::Vhd), None) else {
                continue;
            };
            let size = disk.size();
            let mut buf = vec![0u8; 128 * 1024];
            for offset in [0, size / 3 + 7, size.saturating_sub(100_000)] {
                let len = (buf.len() as u64).min(size.saturating_sub(offset)) as usize;
                let _ = disk.read(offset, &mut buf[..len]);
            }
        }
    }
}

/// The parent's raw disk: random bytes of another seed (so that every sector differs from
/// the child's), a hole, a run of one byte; `len` bytes.
fn parent_disk(len: usize) -> Vec<u8> {
    let mut random = Random::new(0x0070_6172);
    let mut disk = random.bytes(len);
    disk[300_000..400_000].fill(0);
    disk[2_500_000.min(len)..2_600_000.min(len)].fill(b'P');
    disk
}

/// The name the differencing disks give their parent.
const PARENT_NAME: &str = "../p\u{e9}re.vhd";
/// `PARENT_NAME` as the disk reports it, escaped.
const PARENT_NAME_ESCAPED: &str = "../p\\xc3\\xa9re.vhd";

/// qemu-img's dynamic image of `source_disk` patched into a differencing disk over the
/// parent of unique id `parent`: disk type 4 in both footers, the parent's id and name in
/// the dynamic disk header, block 2 unallocated (block 1, all zeros, is already), and
/// sectors of block 0 with their bitmap bits cleared (single ones, a byte's run, a run
/// across the run of 'A's, alternate ones at the block's end).
fn differencing(mut image: Vec<u8>, parent: [u8; 16]) -> Vec<u8> {
    let bat = be64(&image, 512 + 16) as usize;
    assert_eq!(be32(&image, bat + 4), u32::MAX, "block 1 is unallocated");
    assert_ne!(be32(&image, bat + 8), u32::MAX, "block 2 is allocated");
    image[bat + 8..bat + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    let bitmap = be32(&image, bat) as usize * 512;
    assert!(image[bitmap..bitmap + 512].iter().all(|&b| b == 0xff));
    image[bitmap] = 0b1011_0110; // sectors 1, 4 and 7
    image[bitmap + 1] = 0; // sectors 8 to 15
    image[bitmap + 370..bitmap + 380].fill(0); // sectors 2960 to 3039, in the 'A's
    image[bitmap + 511] = 0b0101_0101; // every other one of the last 8
    patch_header(&mut image, 40, &parent);
    let name: Vec<u8> = PARENT_NAME
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    patch_header(&mut image, 64, &name);
    for footer in [0, image.len() - 512] {
        image[footer + 60..footer + 64].copy_from_slice(&4u32.to_be_bytes());
        fix_checksum(&mut image[footer..footer + 512], 64);
    }
    image
}

/// What the differencing disk `image` reads as, sector by sector from its own BAT and
/// bitmaps: the child's bytes (`child`, qemu-img's read of the dynamic image before the
/// patch) where the block is allocated and the sector's bit set, the parent's (`parent`,
/// its virtual disk) elsewhere, and zeros past the parent's end.
fn composed(image: &[u8], child: &[u8], parent: &[u8]) -> Vec<u8> {
    let bat = be64(image, 512 + 16) as usize;
    let block_size = be32(image, 512 + 32) as usize;
    let mut out = child.to_vec();
    for start in (0..child.len()).step_by(512) {
        let (block, sector) = (start / block_size, start % block_size / 512);
        let entry = be32(image, bat + 4 * block);
        let own = entry != u32::MAX
            && image[entry as usize * 512 + sector / 8] & (0x80 >> (sector % 8)) != 0;
        if !own {
            let end = (start + 512).min(child.len());
            for (at, byte) in out[start..end].iter_mut().enumerate() {
                *byte = parent.get(start + at).copied().unwrap_or(0);
            }
        }
    }
    out
}

/// The unique id in the footer of `image`.
fn footer_id(image: &[u8]) -> [u8; 16] {
    image[image.len() - 512 + 68..][..16].try_into().unwrap()
}

/// A differencing disk over a dynamic VHD parent of the same size reads as the composition
/// of the two: its own sectors where allocated with the bit set, the parent's elsewhere.
#[test]
fn differencing_reads_through_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((child, child_raw)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let (parent, parent_raw) = image_of(
        dir.path(),
        &parent_disk(source_disk().len()),
        "subformat=dynamic",
    )
    .unwrap();
    assert_eq!(parent_raw.len(), child_raw.len());
    let image = differencing(child, footer_id(&parent));
    let expected = composed(&image, &child_raw, &parent_raw);
    // The composition mixes both: the child's sector 0, the parent's sector 1 and block 1.
    assert_eq!(expected[..512], child_raw[..512]);
    assert_eq!(expected[512..1024], parent_raw[512..1024]);
    assert_ne!(child_raw[512..1024], parent_raw[512..1024]);
    assert_eq!(expected[3 << 20..][..4096], parent_raw[3 << 20..][..4096]);
    let mut disk = Disk::open(image, None, Some(Disk::open(parent, None, None).unwrap())).unwrap();
    assert_eq!(disk.backing_name(), Some(PARENT_NAME_ESCAPED));
    assert!(matches!(
        disk.map(0, 4096).unwrap(),
        Extent::Data { len: 512, .. }
    ));
    assert_eq!(disk.map(512, 4096).unwrap(), Extent::Backing { len: 512 });
    assert_eq!(
        disk.map(8 * 512, 4096).unwrap(),
        Extent::Backing { len: 4096 }
    );
    assert_eq!(disk.locate(512, 512).unwrap().0, 1);
    assert_disk_reads_as(&mut disk, &expected);
}

/// A differencing disk handed a VHD whose unique id is not the one its header names is
/// refused, naming both ids.
#[test]
fn differencing_over_the_wrong_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((child, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let (parent, _) = image_of(
        dir.path(),
        &parent_disk(source_disk().len()),
        "subformat=dynamic",
    )
    .unwrap();
    let given = footer_id(&parent);
    let mut named = given;
    named[15] ^= 0x5a;
    let image = differencing(child, named);
    let hex = |id: [u8; 16]| id.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let err = Disk::open(image, None, Some(Disk::open(parent, None, None).unwrap()))
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Chain(m) if m.contains(&format!(
            "vhd: the parent's unique id {} is not {}",
            hex(given),
            hex(named)
        ))),
        "{err}"
    );
}

/// A raw parent carries no unique id: the user named it, and it is read as given.
#[test]
fn differencing_over_a_raw_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((child, child_raw)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let parent_raw = parent_disk(child_raw.len());
    let image = differencing(child, [0xab; 16]);
    let expected = composed(&image, &child_raw, &parent_raw);
    let parent = Disk::open(parent_raw, Some(Format::Raw), None).unwrap();
    let mut disk = Disk::open(image, None, Some(parent)).unwrap();
    assert_disk_reads_as(&mut disk, &expected);
}

/// A parent smaller than the child (a fixed VHD, whose id is checked too): past its end the
/// sectors the child does not hold read as zeros.
#[test]
fn differencing_over_a_smaller_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((child, child_raw)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let (parent, parent_raw) = image_of(
        dir.path(),
        &parent_disk(3 * 1024 * 1024 + 777),
        "subformat=fixed",
    )
    .unwrap();
    assert!(parent_raw.len() < 4 * 1024 * 1024);
    let image = differencing(child, footer_id(&parent));
    let expected = composed(&image, &child_raw, &parent_raw);
    // Block 2, unallocated in the child, is past the parent: zeros, where qemu-img's
    // dynamic image held random data.
    assert!(expected[parent_raw.len()..].iter().all(|&b| b == 0));
    assert!(child_raw[4 << 20..][..4096].iter().any(|&b| b != 0));
    let parent = Disk::open(parent, None, None).unwrap();
    assert_eq!(parent.size(), parent_raw.len() as u64);
    let mut disk = Disk::open(image, None, Some(parent)).unwrap();
    assert_disk_reads_as(&mut disk, &expected);
}

/// A backing disk handed to a dynamic disk, which has no parent, is refused.
#[test]
fn backing_for_a_dynamic_disk_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, expected)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let parent = Disk::open(expected, Some(Format::Raw), None).unwrap();
    let err = Disk::open(image, None, Some(parent)).err().unwrap();
    assert!(
        matches!(&err, Error::Chain(m) if m.contains("has no backing file")),
        "{err}"
    );
}

/// Random bytes of a differencing disk's metadata changed (checksums fixed half of the
/// time), opened over a raw parent smaller than the child: every open and read is a value
/// or an error, never a panic.
#[test]
fn random_patches_of_a_differencing_disk() {
    let dir = tempfile::tempdir().unwrap();
    let Some((child, _)) = image(dir.path(), "subformat=dynamic") else {
        return;
    };
    let image = differencing(child, [0; 16]);
    let footer = image.len() - 512;
    let bat = be64(&image, 512 + 16) as usize;
    let bitmap = be32(&image, bat) as usize * 512;
    let regions = [(footer, 100), (512, 1024), (bat, 16), (bitmap, 512)];
    let parent = parent_disk(3 * 1024 * 1024 + 777);
    let mut random = Random::new(11);
    let mut opened = 0;
    for round in 0..300 {
        let mut patched = image.clone();
        for _ in 0..1 + round % 3 {
            let (start, len) = regions[random.next_u64() as usize % regions.len()];
            let at = start + random.next_u64() as usize % len;
            patched[at] = random.next_u64() as u8;
        }
        if round % 2 == 0 {
            fix_checksum(&mut patched[footer..], 64);
            fix_checksum(&mut patched[512..1536], 36);
        }
        let backing = Disk::open(parent.clone(), Some(Format::Raw), None).unwrap();
        let Ok(mut disk) = Disk::open(patched, Some(Format::Vhd), Some(backing)) else {
            continue;
        };
        opened += 1;
        let size = disk.size();
        let mut buf = vec![0u8; 128 * 1024];
        for offset in [0, size / 3 + 7, size.saturating_sub(100_000)] {
            let len = (buf.len() as u64).min(size.saturating_sub(offset)) as usize;
            let _ = disk.read(offset, &mut buf[..len]);
        }
    }
    assert!(opened > 0, "some patched disks open, and are read");
}
