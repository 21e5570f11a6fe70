//! VMDK: differential reads against `qemu-img convert -O raw` of monolithicSparse and
//! streamOptimized images qemu-img made, and hostile images patched from them.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation
)]

use std::path::Path;
use std::process::Command;

use blockpart_formats::{Disk, Error, Format, Reference, detect};
use blockpart_test_tools::trees::Random;

/// The raw disk the images are made of: random data, holes, runs of one byte (which
/// compress), and a length that is not a whole number of grains (nor of sectors).
fn source_disk() -> Vec<u8> {
    let mut random = Random::new(0x766d_646b);
    let mut disk = random.bytes(3 * 1024 * 1024 + 12345);
    disk[100_000..700_000].fill(0);
    disk[1_500_000..1_900_000].fill(b'A');
    disk[2_000_000..2_070_000].fill(0);
    disk[2_500_000..2_600_001].fill(0x5a);
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

/// An image of `source_disk` made by `qemu-img convert -O vmdk -o <options>`, and what
/// `qemu-img convert -O raw` reads of it; None when qemu-img is missing.
fn image(dir: &Path, options: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let qemu = blockpart_test_tools::installed("qemu-img")?;
    let source = dir.join("source.raw");
    std::fs::write(&source, source_disk()).unwrap();
    let image = dir.join("disk.vmdk");
    let raw = dir.join("back.raw");
    run(Command::new(&qemu)
        .args(["convert", "-f", "raw", "-O", "vmdk", "-o", options])
        .args([&source, &image]));
    run(Command::new(&qemu)
        .args(["convert", "-f", "vmdk", "-O", "raw"])
        .args([&image, &raw]));
    Some((std::fs::read(&image).unwrap(), std::fs::read(&raw).unwrap()))
}

/// Reads all of `image` and pieces at odd offsets and lengths crossing grain boundaries,
/// and compares them with `expected`.
fn assert_reads_as(image: Vec<u8>, expected: &[u8]) {
    assert_eq!(detect(&image).unwrap(), Format::Vmdk);
    let mut disk = Disk::open(image, None, None).unwrap();
    assert_eq!(disk.format(), Format::Vmdk);
    assert_eq!(disk.size(), expected.len() as u64);
    let mut all = vec![0u8; expected.len()];
    disk.read(0, &mut all).unwrap();
    assert!(all == expected, "the whole disk differs");
    let grain = 65536u64;
    let end = expected.len() as u64;
    let pieces = [
        (0, 1),
        (511, 2),
        (grain - 1, 2),
        (grain - 512, 1024),
        (3 * grain - 7, 2 * grain + 13),
        (100_000 - 3, 600_006),
        (1_500_000 - 999, 70_001),
        (end - 12_345, 12_345),
        (end - 1, 1),
        (end - 3 * grain - 5, 3 * grain + 5),
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
fn monolithic_sparse_reads_as_qemu_does() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, expected)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    assert_eq!(&image[..4], b"KDMV");
    assert_reads_as(image, &expected);
}

#[test]
fn stream_optimized_reads_as_qemu_does() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, expected)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let mut disk = Disk::open(image.clone(), None, None).unwrap();
    assert_eq!(
        disk.map(0, 4096).unwrap(),
        blockpart_formats::Extent::Encoded { len: 4096 }
    );
    assert_eq!(
        disk.map(200_000, 4096).unwrap(),
        blockpart_formats::Extent::Backing { len: 4096 }
    );
    assert_reads_as(image, &expected);
}

#[test]
fn monolithic_sparse_merges_contiguous_grains() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let mut disk = Disk::open(image, None, None).unwrap();
    // The first grain is data, and qemu-img lays the next one after it.
    let extent = disk.map(0, 65536 + 4096).unwrap();
    assert!(
        matches!(extent, blockpart_formats::Extent::Data { len, .. } if len == 65536 + 4096),
        "{extent:?}"
    );
    // The hole from 100 000 to 700 000 holds whole unallocated grains: one extent.
    let extent = disk.map(131_072, 4 * 65536).unwrap();
    assert_eq!(
        extent,
        blockpart_formats::Extent::Backing { len: 4 * 65536 }
    );
}

/// A streamOptimized image whose header says the grain directory is in the footer
/// (gdOffset 0xffffffffffffffff), as VMware writes them: qemu-img writes it in the header,
/// so the footer (marker, header copy, end-of-stream) is appended here.
#[test]
fn stream_optimized_with_the_directory_in_the_footer() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, expected)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let header: Vec<u8> = image[..512].to_vec();
    image[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut marker = vec![0u8; 512];
    marker[0..8].copy_from_slice(&1u64.to_le_bytes());
    marker[12..16].copy_from_slice(&3u32.to_le_bytes());
    image.extend_from_slice(&marker);
    image.extend_from_slice(&header);
    image.extend_from_slice(&[0u8; 512]);
    assert_reads_as(image.clone(), &expected);

    // A footer whose own gdOffset is also "at the end" is refused.
    let at = image.len() - 1024;
    image[at + 56..at + 64].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = Disk::open(image, None, None).err().unwrap();
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("footer's gdOffset")),
        "{err}"
    );
}

fn open_err(image: Vec<u8>) -> Error {
    match Disk::open(image, Some(Format::Vmdk), None) {
        Ok(_) => panic!("opened"),
        Err(err) => err,
    }
}

fn read_err(image: Vec<u8>) -> Error {
    let mut disk = Disk::open(image, None, None).unwrap();
    let mut all = vec![0u8; disk.size() as usize];
    disk.read(0, &mut all).err().unwrap()
}

fn le32(image: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(image[at..at + 4].try_into().unwrap())
}

fn le64(image: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(image[at..at + 8].try_into().unwrap())
}

/// Byte of the grain directory, and of grain table 0.
fn tables(image: &[u8]) -> (usize, usize) {
    let gd = le64(image, 56) as usize * 512;
    (gd, le32(image, gd) as usize * 512)
}

/// A descriptor-only file naming /etc/passwd as a flat extent: reported, never opened
/// (qemu-img follows it: CVE-2022-47951).
#[test]
fn descriptor_file_naming_etc_passwd() {
    let text = b"# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
createType=\"monolithicFlat\"\n\n# Extent description\nRW 8 FLAT \"/etc/passwd\" 0\n"
        .to_vec();
    assert_eq!(detect(&text).unwrap(), Format::Vmdk);
    let err = Disk::open(text, None, None).err().unwrap();
    assert_eq!(
        err,
        Error::External {
            kind: Reference::Extent,
            name: "/etc/passwd".into()
        }
    );
    assert!(err.to_string().contains("/etc/passwd"), "{err}");
}

/// The descriptor qemu-img writes for a monolithicFlat disk names its flat extent.
#[test]
fn monolithic_flat_descriptor_names_its_extent() {
    let Some(qemu) = blockpart_test_tools::installed("qemu-img") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("flat.vmdk");
    run(Command::new(qemu)
        .args([
            "create",
            "-q",
            "-f",
            "vmdk",
            "-o",
            "subformat=monolithicFlat",
        ])
        .arg(&image)
        .arg("1M"));
    let err = open_err(std::fs::read(&image).unwrap());
    assert_eq!(
        err,
        Error::External {
            kind: Reference::Extent,
            name: "flat-flat.vmdk".into()
        }
    );
}

/// A name with bytes that are not printable ASCII is escaped.
#[test]
fn descriptor_names_are_escaped() {
    let text = b"# Disk DescriptorFile\ncreateType=\"twoGbMaxExtentSparse\"\nRW 8 SPARSE \"a\x1b[2Jb\xff.vmdk\"\n".to_vec();
    assert_eq!(
        open_err(text),
        Error::External {
            kind: Reference::Extent,
            name: "a\\x1b[2Jb\\xff.vmdk".into()
        }
    );
}

/// An extent line naming another file, added to a sparse extent's embedded descriptor.
#[test]
fn embedded_descriptor_naming_another_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let at = 512 + image[512..].iter().position(|&b| b == 0).unwrap();
    let line = b"RW 100 FLAT \"other.vmdk\" 0\n";
    image[at..at + line.len()].copy_from_slice(line);
    assert_eq!(
        open_err(image),
        Error::External {
            kind: Reference::Extent,
            name: "other.vmdk".into()
        }
    );
}

/// A delta disk's parent, named in the embedded descriptor.
#[test]
fn embedded_descriptor_naming_a_parent() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let at = 512 + image[512..].iter().position(|&b| b == 0).unwrap();
    let line = b"parentFileNameHint=\"base.vmdk\"\n";
    image[at..at + line.len()].copy_from_slice(line);
    assert_eq!(
        open_err(image),
        Error::External {
            kind: Reference::Parent,
            name: "base.vmdk".into()
        }
    );
}

/// The embedded descriptor's extent must be as long as the header's capacity.
#[test]
fn embedded_extent_of_another_size() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let capacity = le64(&image, 12);
    image[12..20].copy_from_slice(&(capacity + 1).to_le_bytes());
    let err = open_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("extent has 6169 sectors") && m.contains("capacity is 6170")),
        "{err}"
    );
}

/// gdOffset pointing past the end of the file.
#[test]
fn grain_directory_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    image[56..64].copy_from_slice(&0x10_0000u64.to_le_bytes());
    let err = open_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("grain directory at sector 1048576") && m.contains("past the end")),
        "{err}"
    );
}

/// A grain directory entry pointing past the end: grain table 0 lies outside the file.
#[test]
fn grain_directory_entry_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let (gd, _) = tables(&image);
    image[gd..gd + 4].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("grain table 0 (grain directory entry: sector 16777215)") && m.contains("past the end of the file")),
        "{err}"
    );
}

/// A grain table entry pointing past the end: grain 2's data lies outside the file.
#[test]
fn grain_table_entry_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let (_, gt) = tables(&image);
    image[gt + 8..gt + 12].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("grain 2 at sector 16711680") && m.contains("past the end of the file")),
        "{err}"
    );
}

/// A compressed grain whose marker lies past the end.
#[test]
fn compressed_grain_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let (_, gt) = tables(&image);
    image[gt..gt + 4].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("marker of compressed grain 0") && m.contains("past the end of the file")),
        "{err}"
    );
}

/// A compressed grain whose marker says its stream runs past the end of the file.
#[test]
fn compressed_grain_running_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let (_, gt) = tables(&image);
    // The last allocated grain (48) is near the end; give it a size reaching beyond.
    let at = le32(&image, gt + 48 * 4) as usize * 512;
    image[at + 8..at + 12].copy_from_slice(&100_000u32.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("compressed grain 48") && m.contains("past the end of the file")),
        "{err}"
    );
}

/// A compressed grain cut short: its marker's size ends the stream early.
#[test]
fn compressed_grain_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let (_, gt) = tables(&image);
    let at = le32(&image, gt) as usize * 512;
    image[at + 8..at + 12].copy_from_slice(&1000u32.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("compressed grain 0 at byte") && m.contains("inflates to") && m.contains("of its 65536 bytes")),
        "{err}"
    );
}

/// A compressed grain that inflates to more than a grain (a bomb): refused, not cut.
#[test]
fn compressed_grain_bomb() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let (_, gt) = tables(&image);
    let at = le32(&image, gt) as usize * 512;
    let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 16 * 65536], 9);
    assert!(bomb.len() < 65536);
    image[at + 8..at + 12].copy_from_slice(&(bomb.len() as u32).to_le_bytes());
    image[at + 12..at + 12 + bomb.len()].copy_from_slice(&bomb);
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("compressed grain 0") && m.contains("inflates to more than its 65536 bytes")),
        "{err}"
    );
}

/// A grain marker naming another grain's lba.
#[test]
fn grain_marker_of_another_grain() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=streamOptimized") else {
        return;
    };
    let (_, gt) = tables(&image);
    let at = le32(&image, gt + 4) as usize * 512;
    assert_eq!(le64(&image, at), 128);
    image[at..at + 8].copy_from_slice(&0u64.to_le_bytes());
    let err = read_err(image);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("marker of grain 1") && m.contains("names sector 0, not 128")),
        "{err}"
    );
}

/// A file cut in half: the grains past the cut are reported, not read.
#[test]
fn truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    for options in ["subformat=monolithicSparse", "subformat=streamOptimized"] {
        let Some((mut image, _)) = image(dir.path(), options) else {
            return;
        };
        image.truncate(image.len() / 2);
        let err = read_err(image);
        assert!(
            matches!(&err, Error::Corrupt(m) if m.contains("past the end of the file")),
            "{options}: {err}"
        );
    }
    // Shorter than its header.
    let err = open_err(b"KDMV\x01\x00\x00\x00".to_vec());
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("shorter than its header")),
        "{err}"
    );
}

/// A tiny file declaring a capacity of 2^50 sectors: its grain directory cannot be in the
/// file, so it is Corrupt at once (nothing sized by the capacity is allocated).
#[test]
fn tiny_file_with_a_huge_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let mut tiny = image[..64 * 1024].to_vec();
    tiny[12..20].copy_from_slice(&(1u64 << 50).to_le_bytes());
    tiny[28..44].fill(0); // no descriptor: the header alone
    let err = open_err(tiny);
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("grain directory at sector 26 (17179869184 entries for a capacity of 1125899906842624 sectors) is past the end")),
        "{err}"
    );
}

/// Header fields out of range, each named.
#[test]
fn header_fields_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let Some((image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let patched = |at: usize, bytes: &[u8]| {
        let mut image = image.clone();
        image[at..at + bytes.len()].copy_from_slice(bytes);
        open_err(image)
    };
    let cases: [(usize, &[u8], &str); 8] = [
        (0, b"KDMW", "no \"KDMV\" sparse extent header"),
        (
            48,
            &0x10_0000u64.to_le_bytes(),
            "rgdOffset sector 1048576 is past the end",
        ),
        (4, &9u32.to_le_bytes(), "header version 9"),
        (
            20,
            &100u64.to_le_bytes(),
            "grainSize 100 sectors is not a power of two",
        ),
        (20, &8192u64.to_le_bytes(), "grainSize 8192 sectors"),
        (44, &1024u32.to_le_bytes(), "numGTEsPerGT 1024"),
        (77, &2u16.to_le_bytes(), "compressAlgorithm 2"),
        (75, b"\n", "newline detection bytes"),
    ];
    for (at, bytes, message) in cases {
        let err = patched(at, bytes);
        assert!(err.to_string().contains(message), "{message}: {err}");
    }
}

/// What the fuzz target does, on stable: many copies of qemu-img's images with random bytes
/// of their metadata (header, descriptor, tables, markers) changed; every open and read is
/// a value or an error, never a panic.
#[test]
fn random_patches_give_values_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut random = Random::new(7);
    for options in ["subformat=monolithicSparse", "subformat=streamOptimized"] {
        let Some((image, _)) = image(dir.path(), options) else {
            return;
        };
        let (gd, gt) = tables(&image);
        let grain = le32(&image, gt) as usize * 512;
        let regions = [(0, 512), (512, 1024), (gd, 16), (gt, 2048), (grain, 64)];
        for round in 0..400 {
            let mut patched = image.clone();
            for _ in 0..1 + round % 4 {
                let (start, len) = regions[random.next_u64() as usize % regions.len()];
                let at = start + random.next_u64() as usize % len;
                patched[at] = random.next_u64() as u8;
            }
            let Ok(mut disk) = Disk::open(patched, Some(Format::Vmdk), None) else {
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

/// An embedded descriptor of another createType (here "vmfs") puts the disk in the files it
/// names: the first extent's is reported.
#[test]
fn embedded_descriptor_of_another_type() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let text = b"createType=\"monolithicSparse\"";
    let at = image.windows(text.len()).position(|w| w == text).unwrap();
    let patch = b"createType=\"vmfs\"            ";
    image[at..at + patch.len()].copy_from_slice(patch);
    assert_eq!(
        open_err(image),
        Error::External {
            kind: Reference::Extent,
            name: "disk.vmdk".into()
        }
    );
}

/// A damaged grain ends the extent before it: the grains before it still map, and the map
/// that reaches it reports it.
#[test]
fn map_stops_before_a_damaged_grain() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, _)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let (_, gt) = tables(&image);
    image[gt + 4..gt + 8].copy_from_slice(&0x00ff_0000u32.to_le_bytes());
    let mut disk = Disk::open(image, None, None).unwrap();
    assert!(matches!(
        disk.map(0, 2 * 65536).unwrap(),
        blockpart_formats::Extent::Data { len: 65536, .. }
    ));
    let err = disk.map(65536, 65536).err().unwrap();
    assert!(
        matches!(&err, Error::Corrupt(m) if m.contains("grain 1 at sector")),
        "{err}"
    );
}

/// A grain table entry of 1 with the zeroed-grain flag reads as zeros, as qemu-img reads it
/// (checked against qemu-img on the patched image).
#[test]
fn zeroed_grain() {
    let dir = tempfile::tempdir().unwrap();
    let Some((mut image, original)) = image(dir.path(), "subformat=monolithicSparse") else {
        return;
    };
    let qemu = blockpart_test_tools::installed("qemu-img").unwrap();
    let flags = le32(&image, 8) | 1 << 2;
    image[8..12].copy_from_slice(&flags.to_le_bytes());
    let (_, gt) = tables(&image);
    image[gt + 4..gt + 8].copy_from_slice(&1u32.to_le_bytes());
    let path = dir.path().join("zeroed.vmdk");
    let raw = dir.path().join("zeroed.raw");
    std::fs::write(&path, &image).unwrap();
    run(Command::new(qemu)
        .args(["convert", "-f", "vmdk", "-O", "raw"])
        .args([&path, &raw]));
    let expected = std::fs::read(&raw).unwrap();
    assert!(expected[65536..131072].iter().all(|&b| b == 0));
    assert!(original[65536..131072].iter().any(|&b| b != 0));
    let mut disk = Disk::open(image.clone(), None, None).unwrap();
    assert_eq!(
        disk.map(65536 + 512, 65536).unwrap(),
        blockpart_formats::Extent::Zero { len: 65536 - 512 }
    );
    assert_reads_as(image, &expected);
}
