//! qcow2 against `qemu-img`: images it makes with each option that changes the layout are
//! read byte for byte as `qemu-img convert -O raw` reads them, and images it made, patched
//! into each attack shape, fail with the error that names the attack.
//!
//! The crate has no file access at all (`no_std`, it reads only the `Source` it is given):
//! a name an image gives (backing file, external data file) can only be reported, so no
//! byte of `/etc/passwd` is ever read by opening an image that names it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use blockpart_formats::{Disk, Error, Extent, Format, Reference, detect};
use blockpart_test_tools::installed;
use blockpart_test_tools::trees::Random;

/// The virtual size of the images made from [`source`].
const SIZE: usize = 4 << 20;

/// `qemu-img`, or `None` (skip) on a machine without it.
fn qemu_img() -> Option<PathBuf> {
    installed("qemu-img")
}

/// Runs `qemu-img` with `args`, asserting it succeeds.
fn run(qemu: &Path, args: &[&str]) {
    let output = Command::new(qemu).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A disk with something of everything, in 16 KiB pieces: random bytes, holes of zeros
/// (some smaller than a cluster, so extended L2 images get unallocated subclusters), runs
/// of one byte (which compress), text.
fn source(seed: u64, len: usize) -> Vec<u8> {
    let mut random = Random::new(seed);
    let mut disk = Vec::with_capacity(len);
    let mut piece = 0u64;
    while disk.len() < len {
        let chunk = match random.next_u64() % 6 {
            0 | 1 => random.bytes(16 << 10),
            2 => vec![0; 16 << 10],
            3 => vec![(piece % 251) as u8 + 1; 16 << 10],
            4 => b"qcow2 differential test text. "
                .iter()
                .copied()
                .cycle()
                .take(16 << 10)
                .collect(),
            _ => {
                let mut mixed = random.bytes(16 << 10);
                mixed[4096..12288].fill(0);
                mixed
            }
        };
        disk.extend_from_slice(&chunk);
        piece += 1;
    }
    disk.truncate(len);
    disk
}

/// A scratch directory with a raw source disk in it, `source.raw`.
fn scratch(seed: u64, len: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("source.raw");
    fs::write(&raw, source(seed, len)).unwrap();
    (dir, raw)
}

/// `qemu-img convert -O qcow2 <options> raw image`, the image's bytes returned.
fn convert(qemu: &Path, raw: &Path, options: &[&str], image: &Path) -> Vec<u8> {
    let mut args = vec!["convert", "-f", "raw", "-O", "qcow2"];
    args.extend_from_slice(options);
    args.push(raw.to_str().unwrap());
    args.push(image.to_str().unwrap());
    run(qemu, &args);
    fs::read(image).unwrap()
}

/// The virtual disk as qemu reads it: `qemu-img convert -O raw` (following the backing).
fn qemu_raw(qemu: &Path, image: &Path) -> Vec<u8> {
    let raw = image.with_extension("qemu.raw");
    run(
        qemu,
        &[
            "convert",
            "-O",
            "raw",
            image.to_str().unwrap(),
            raw.to_str().unwrap(),
        ],
    );
    let bytes = fs::read(&raw).unwrap();
    fs::remove_file(raw).unwrap();
    bytes
}

/// Reads `disk` whole and at odd offsets and lengths (sector-aligned and not, crossing
/// cluster and subcluster boundaries), comparing every read with `expected`.
fn compare(disk: &mut Disk<Vec<u8>>, expected: &[u8]) {
    assert_eq!(disk.size(), expected.len() as u64);
    let mut whole = vec![0xa5; expected.len()];
    disk.read(0, &mut whole).unwrap();
    assert!(whole == expected, "the whole disk differs from qemu's");
    let size = expected.len();
    let mut ranges = vec![
        (0, 1),
        (1, 100),
        (511, 2),
        (512, 512),
        (1000, 70000),
        (65535, 65538),
        (3 * 65536 - 700, 5000),
        (12345, 300_001),
        (size - 1000, 1000),
        (size - 1, 1),
        (size / 2 - 513, 1027),
    ];
    let mut random = Random::new(99);
    for _ in 0..64 {
        let offset = (random.next_u64() % size as u64) as usize;
        let len = 1 + (random.next_u64() % 200_000) as usize;
        ranges.push((offset, len.min(size - offset)));
    }
    for k in 0..32 {
        let offset = (k * 131_072 + 512 * k) % (size - 4096);
        ranges.push((offset, 4096));
    }
    for (offset, len) in ranges {
        let mut buf = vec![0x5a; len];
        disk.read(offset as u64, &mut buf).unwrap();
        assert!(
            buf == expected[offset..offset + len],
            "{len} bytes at {offset} differ from qemu's"
        );
    }
}

/// Makes a qcow2 with `options` from a fresh source disk, checks it is detected, and
/// compares it with qemu's reading. Returns the image's bytes, for further checks.
fn differential(options: &[&str]) -> Option<Vec<u8>> {
    let qemu = qemu_img()?;
    let (dir, raw) = scratch(options.len() as u64 + 1, SIZE);
    let image = dir.path().join("image.qcow2");
    let bytes = convert(&qemu, &raw, options, &image);
    let expected = qemu_raw(&qemu, &image);
    assert_eq!(
        expected,
        fs::read(&raw).unwrap(),
        "qemu reads back its source"
    );
    assert_eq!(detect(&bytes).unwrap(), Format::Qcow2);
    let mut disk = Disk::open(bytes.clone(), None, None).unwrap();
    assert_eq!(disk.format(), Format::Qcow2);
    assert_eq!(disk.backing_name(), None);
    compare(&mut disk, &expected);
    Some(bytes)
}

#[test]
fn default_options() {
    let Some(bytes) = differential(&[]) else {
        return;
    };
    // qemu-img writes the data clusters in order: a long read is a few large extents.
    let mut disk = Disk::open(bytes, None, None).unwrap();
    let mut extents = 0;
    let mut offset = 0;
    let mut largest = 0;
    while offset < disk.size() {
        let extent = disk.map(offset, disk.size() - offset).unwrap();
        largest = largest.max(extent.len());
        offset += extent.len();
        extents += 1;
    }
    assert!(
        largest > 64 << 10,
        "contiguous clusters are merged: {largest}"
    );
    assert!(extents < SIZE / (64 << 10), "{extents} extents");
}

#[test]
fn version_2() {
    let Some(bytes) = differential(&["-o", "compat=0.10"]) else {
        return;
    };
    assert_eq!(be32(&bytes, 4), 2);
}

#[test]
fn compressed_deflate() {
    let Some(bytes) = differential(&["-c"]) else {
        return;
    };
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert!(
        (0..SIZE as u64)
            .step_by(65536)
            .any(|at| matches!(disk.map(at, 65536).unwrap(), Extent::Encoded { .. })),
        "some clusters are compressed"
    );
}

#[test]
fn compressed_zstd() {
    let Some(bytes) = differential(&["-c", "-o", "compression_type=zstd"]) else {
        return;
    };
    assert_eq!(bytes[104], 1, "compression_type zstd");
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert!(
        (0..SIZE as u64)
            .step_by(65536)
            .any(|at| matches!(disk.map(at, 65536).unwrap(), Extent::Encoded { .. })),
        "some clusters are compressed"
    );
}

#[test]
fn extended_l2_64k() {
    let Some(bytes) = differential(&["-o", "extended_l2=on"]) else {
        return;
    };
    // Holes smaller than a cluster left unallocated subclusters: runs shorter than one.
    let mut disk = Disk::open(bytes, None, None).unwrap();
    let mut offset = 0;
    let mut short_run = false;
    while offset < disk.size() {
        let extent = disk.map(offset, disk.size() - offset).unwrap();
        short_run |= matches!(extent, Extent::Backing { len } if len < 65536);
        offset += extent.len();
    }
    assert!(short_run, "some subclusters are unallocated");
}

#[test]
fn extended_l2_2m() {
    differential(&["-o", "extended_l2=on,cluster_size=2M"]);
}

#[test]
fn extended_l2_compressed() {
    differential(&["-c", "-o", "extended_l2=on"]);
}

#[test]
fn cluster_size_512() {
    differential(&["-o", "cluster_size=512"]);
}

#[test]
fn cluster_size_4096() {
    differential(&["-o", "cluster_size=4096"]);
}

#[test]
fn cluster_size_2m() {
    differential(&["-o", "cluster_size=2M"]);
}

#[test]
fn compressed_cluster_size_2m() {
    differential(&["-c", "-o", "cluster_size=2M"]);
}

#[test]
fn refcount_bits_1() {
    differential(&["-o", "refcount_bits=1"]);
}

#[test]
fn refcount_bits_64() {
    differential(&["-o", "refcount_bits=64"]);
}

/// `qemu-img create` of `size` with `options`, the image's bytes returned.
fn create(qemu: &Path, dir: &Path, options: &[&str], size: &str) -> Vec<u8> {
    let image = dir.join("created.qcow2");
    let mut args = vec!["create", "-q", "-f", "qcow2"];
    args.extend_from_slice(options);
    args.push(image.to_str().unwrap());
    args.push(size);
    run(qemu, &args);
    fs::read(image).unwrap()
}

/// Reads zeros from a few places of an empty disk: its start, middle and end.
fn reads_zeros(disk: &mut Disk<Vec<u8>>) {
    let size = disk.size();
    for offset in [0, size / 2 - 777, size - (1 << 20), size - 1] {
        let mut buf = vec![0xa5; (size - offset).min(1 << 20) as usize];
        disk.read(offset, &mut buf).unwrap();
        assert!(buf.iter().all(|&byte| byte == 0), "zeros at {offset}");
    }
    assert_eq!(
        disk.map(size - 1, 1).unwrap(),
        Extent::Backing { len: 1 },
        "unallocated at the end"
    );
}

#[test]
fn sparse_8g() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = create(&qemu, dir.path(), &[], "8G");
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert_eq!(disk.size(), 8 << 30);
    reads_zeros(&mut disk);
    // L1 entries without an L2 table are one extent, however long.
    assert_eq!(
        disk.map(0, 8 << 30).unwrap(),
        Extent::Backing { len: 8 << 30 }
    );
}

/// The largest virtual size a 32 MiB L1 table maps (2 MiB clusters: 2^61 bytes); `qemu-img`
/// refuses 8 EiB (over 2^63 - 1) and a qcow2 with 64 KiB clusters over 2^55.
#[test]
fn largest_virtual_size() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = create(&qemu, dir.path(), &["-o", "cluster_size=2M"], "2E");
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert_eq!(disk.size(), 1 << 61);
    reads_zeros(&mut disk);
}

/// A tiny file (a few clusters) declaring a huge virtual size (64 PiB): it opens, and reads
/// zeros at its end, with memory bounded by the file, not the disk.
#[test]
fn tiny_file_huge_disk() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bytes = create(&qemu, dir.path(), &["-o", "cluster_size=2M"], "64P");
    assert!(bytes.len() < 8 << 20);
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert_eq!(disk.size(), 1 << 56);
    reads_zeros(&mut disk);
}

/// A base and its overlay's disk (larger than the base, so reads past the base's end are
/// zeros): the base's bytes with some pieces replaced, some zeroed, some kept. Returns the
/// base image and the raw overlay disk's path.
fn chain(qemu: &Path, dir: &Path) -> (Vec<u8>, PathBuf, PathBuf) {
    let base_raw = dir.join("base.raw");
    let mut base_bytes = source(11, SIZE);
    // Data everywhere in the base, so that zeros in the overlay must be zero clusters.
    for (index, byte) in base_bytes.iter_mut().enumerate() {
        if *byte == 0 {
            *byte = (index % 13) as u8 + 1;
        }
    }
    fs::write(&base_raw, &base_bytes).unwrap();
    let base = dir.join("base.qcow2");
    let base_image = convert(qemu, &base_raw, &[], &base);
    let mut top = base_bytes.clone();
    top.resize(SIZE + (1 << 20), 0);
    let mut random = Random::new(12);
    for piece in 0..top.len() / 65536 {
        let at = piece * 65536;
        match piece % 5 {
            0 => top[at..at + 65536].copy_from_slice(&random.bytes(65536)),
            1 => top[at + 4096..at + 65536].fill(0),
            2 => top[at + 100..at + 200].fill(0xee),
            _ => {}
        }
    }
    let top_raw = dir.join("top.raw");
    fs::write(&top_raw, &top).unwrap();
    (base_image, base, top_raw)
}

/// Maps the whole disk: whether it has (zero, unallocated) extents.
fn kinds(disk: &mut Disk<Vec<u8>>) -> (bool, bool) {
    let (mut zero, mut backing) = (false, false);
    let mut offset = 0;
    while offset < disk.size() {
        let extent = disk.map(offset, disk.size() - offset).unwrap();
        zero |= matches!(extent, Extent::Zero { .. });
        backing |= matches!(extent, Extent::Backing { .. });
        offset += extent.len();
    }
    (zero, backing)
}

/// An overlay made by `qemu-img rebase` (safe mode) from an empty image over the whole
/// disk onto the base: the clusters that equal the base's stay unallocated.
#[test]
fn backing_chain() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (base_image, base, top_raw) = chain(&qemu, dir.path());
    let top = dir.path().join("top.qcow2");
    convert(&qemu, &top_raw, &[], &top);
    let overlay = dir.path().join("overlay.qcow2");
    let (top, base_name, overlay_name) = (
        top.to_str().unwrap(),
        base.to_str().unwrap(),
        overlay.to_str().unwrap(),
    );
    run(
        &qemu,
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            top,
            "-F",
            "qcow2",
            overlay_name,
        ],
    );
    run(
        &qemu,
        &["rebase", "-b", base_name, "-F", "qcow2", overlay_name],
    );
    let overlay_image = fs::read(&overlay).unwrap();
    let expected = qemu_raw(&qemu, &overlay);
    assert_eq!(expected, fs::read(&top_raw).unwrap());
    let base_disk = Disk::open(base_image, None, None).unwrap();
    let mut disk = Disk::open(overlay_image.clone(), None, Some(base_disk)).unwrap();
    assert_eq!(disk.backing_name(), Some(base_name));
    compare(&mut disk, &expected);
    assert!(
        kinds(&mut disk).1,
        "unallocated clusters, read from the base"
    );
    // Without its backing disk, the overlay is refused, naming the file.
    assert_eq!(
        Disk::open(overlay_image, None, None).err(),
        Some(Error::External {
            kind: Reference::BackingFile,
            name: base_name.into(),
        })
    );
}

/// An overlay made by `qemu-img convert -B`: zero clusters where the base has data and the
/// overlay zeros.
#[test]
fn zero_clusters_over_a_backing() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (base_image, base, top_raw) = chain(&qemu, dir.path());
    let overlay = dir.path().join("overlay.qcow2");
    let overlay_image = convert(
        &qemu,
        &top_raw,
        &["-B", base.to_str().unwrap(), "-F", "qcow2"],
        &overlay,
    );
    let expected = qemu_raw(&qemu, &overlay);
    let base_disk = Disk::open(base_image, None, None).unwrap();
    let mut disk = Disk::open(overlay_image, None, Some(base_disk)).unwrap();
    compare(&mut disk, &expected);
    assert!(kinds(&mut disk).0, "zero clusters");
}

/// The zero flag wins over an allocated host cluster: a data cluster whose L2 entry gets
/// bit 0 reads as zeros.
#[test]
fn zero_flag_on_allocated_cluster() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let (dir, raw) = scratch(5, SIZE);
    fs::write(&raw, vec![0x33; SIZE]).unwrap();
    let mut bytes = convert(&qemu, &raw, &[], &dir.path().join("image.qcow2"));
    let entry = l2_entry_at(&bytes, 0);
    assert_ne!(be64(&bytes, entry) & 0x00ff_ffff_ffff_fe00, 0, "allocated");
    bytes[entry + 7] |= 1;
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert_eq!(disk.map(0, 1 << 20).unwrap(), Extent::Zero { len: 65536 });
    let mut buf = vec![0xa5; 131_072];
    disk.read(0, &mut buf).unwrap();
    assert!(buf[..65536].iter().all(|&byte| byte == 0));
    assert!(buf[65536..].iter().all(|&byte| byte == 0x33));
}

// ---- hostile images ----

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn be64(bytes: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn put32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

fn put64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_be_bytes());
}

/// Where in the file the L2 entry of guest cluster `cluster` is (standard entries).
fn l2_entry_at(bytes: &[u8], cluster: usize) -> usize {
    let cluster_bits = be32(bytes, 20);
    let per_table = 1usize << (cluster_bits - 3);
    let l1 = be64(bytes, 40) as usize;
    let l2 = be64(bytes, l1 + 8 * (cluster / per_table)) & 0x00ff_ffff_ffff_fe00;
    assert_ne!(l2, 0, "the cluster has an L2 table");
    l2 as usize + 8 * (cluster % per_table)
}

/// A default image (64 KiB clusters) of the source disk, with `options`.
fn image(options: &[&str]) -> Option<Vec<u8>> {
    let qemu = qemu_img()?;
    let (dir, raw) = scratch(3, SIZE);
    Some(convert(
        &qemu,
        &raw,
        options,
        &dir.path().join("image.qcow2"),
    ))
}

/// The error of opening `bytes`, which must fail.
fn open_error(bytes: Vec<u8>) -> Error {
    Disk::open(bytes, Some(Format::Qcow2), None).err().unwrap()
}

/// The error of reading the whole of `bytes`' disk, which must open and then fail.
fn read_error(bytes: Vec<u8>) -> Error {
    let mut disk = Disk::open(bytes, None, None).unwrap();
    let mut buf = vec![0; disk.size() as usize];
    disk.read(0, &mut buf).err().unwrap()
}

/// Asserts `error` is `Corrupt` with a message containing each of `words`.
fn assert_corrupt(error: Error, words: &[&str]) {
    let Error::Corrupt(why) = &error else {
        panic!("not Corrupt: {error:?}");
    };
    for word in words {
        assert!(why.contains(word), "{why:?} does not name {word:?}");
    }
}

/// Asserts `error` is `Unsupported` with a message containing each of `words`.
fn assert_unsupported(error: Error, words: &[&str]) {
    let Error::Unsupported(what) = &error else {
        panic!("not Unsupported: {error:?}");
    };
    for word in words {
        assert!(what.contains(word), "{what:?} does not name {word:?}");
    }
}

/// A backing file naming `/etc/passwd` is reported, never opened (the crate cannot open
/// files: it reads only the bytes it is given).
#[test]
fn hostile_backing_file_etc_passwd() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let name = b"/etc/passwd";
    bytes[4096..4096 + name.len()].copy_from_slice(name);
    put64(&mut bytes, 8, 4096);
    put32(&mut bytes, 16, name.len() as u32);
    assert_eq!(
        open_error(bytes),
        Error::External {
            kind: Reference::BackingFile,
            name: "/etc/passwd".into()
        }
    );
}

/// A backing file name over 1023 bytes.
#[test]
fn hostile_backing_file_name_too_long() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put64(&mut bytes, 8, 4096);
    put32(&mut bytes, 16, 1024);
    assert_corrupt(open_error(bytes), &["backing_file_size 1024"]);
}

/// Writes the header extension `kind` with `data` at the first extension's place (after
/// the 112-byte header qemu writes), then the end of the extensions.
fn put_extension(bytes: &mut [u8], kind: u32, data: &[u8]) {
    let at = be32(bytes, 100) as usize;
    put32(bytes, at, kind);
    put32(bytes, at + 4, data.len() as u32);
    bytes[at + 8..at + 8 + data.len()].copy_from_slice(data);
    let end = at + 8 + data.len().div_ceil(8) * 8;
    bytes[at + 8 + data.len()..end + 8].fill(0);
}

#[test]
fn hostile_external_data_file_etc_passwd() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put_extension(&mut bytes, 0x4441_5441, b"/etc/passwd");
    bytes[79] |= 1 << 2;
    assert_eq!(
        open_error(bytes.clone()),
        Error::External {
            kind: Reference::DataFile,
            name: "/etc/passwd".into()
        }
    );
    // Without the extension, the reference is still refused.
    put_extension(&mut bytes, 0x1234_5678, b"");
    assert_eq!(
        open_error(bytes),
        Error::External {
            kind: Reference::DataFile,
            name: "(unnamed)".into()
        }
    );
}

#[test]
fn hostile_cluster_bits() {
    let Some(bytes) = image(&[]) else {
        return;
    };
    for bits in [0, 8, 22, 63] {
        let mut bytes = bytes.clone();
        put32(&mut bytes, 20, bits);
        assert_corrupt(open_error(bytes), &[&format!("cluster_bits {bits} ")]);
    }
}

#[test]
fn hostile_l1_size_huge() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put32(&mut bytes, 36, u32::MAX);
    assert_corrupt(open_error(bytes), &["l1_size 4294967295", "32 MiB"]);
}

#[test]
fn hostile_l1_too_small() {
    let Some(mut bytes) = image(&["-o", "cluster_size=512"]) else {
        return;
    };
    // 512-byte clusters: an L1 entry maps 32 KiB, the 4 MiB disk needs 128.
    assert_eq!(be32(&bytes, 36), 128);
    put32(&mut bytes, 36, 127);
    assert_corrupt(open_error(bytes), &["l1_size 127", "too small", "128"]);
}

/// `qemu-img resize --shrink` keeps the L1 table of the larger disk: an L1 longer than the
/// disk needs is valid, its extra entries unread.
#[test]
fn shrunk_image_has_a_larger_l1() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let (dir, raw) = scratch(8, SIZE);
    let image = dir.path().join("image.qcow2");
    convert(&qemu, &raw, &["-o", "cluster_size=512"], &image);
    let path = image.to_str().unwrap();
    run(&qemu, &["resize", "-q", "--shrink", path, "1M"]);
    let bytes = fs::read(&image).unwrap();
    assert_eq!(be32(&bytes, 36), 128, "the 4 MiB disk's L1 is kept");
    let expected = qemu_raw(&qemu, &image);
    assert_eq!(expected.len(), 1 << 20);
    let mut disk = Disk::open(bytes, None, None).unwrap();
    compare(&mut disk, &expected);
}

#[test]
fn hostile_l1_offset_unaligned_and_past_the_end() {
    let Some(bytes) = image(&[]) else {
        return;
    };
    let mut unaligned = bytes.clone();
    put64(&mut unaligned, 40, be64(&bytes, 40) + 8);
    assert_corrupt(open_error(unaligned), &["l1_table_offset", "not aligned"]);
    let mut past = bytes.clone();
    put64(&mut past, 40, 1 << 40);
    assert_corrupt(
        open_error(past),
        &["l1_table_offset 1099511627776", "past the end"],
    );
}

#[test]
fn hostile_l1_entry_reserved_bits() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let l1 = be64(&bytes, 40) as usize;
    bytes[l1] |= 0x01; // bit 56
    assert_corrupt(read_error(bytes), &["L1 entry 0", "reserved bits"]);
}

#[test]
fn hostile_l2_offset_past_the_end() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let l1 = be64(&bytes, 40) as usize;
    put64(&mut bytes, l1, (1 << 63) | (1 << 40));
    assert_corrupt(
        read_error(bytes),
        &["L2 table", "byte 1099511627776", "past the end"],
    );
}

#[test]
fn hostile_l2_entry_reserved_bits() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let entry = l2_entry_at(&bytes, 0);
    bytes[entry + 7] |= 0x02; // bit 1
    assert_corrupt(
        read_error(bytes),
        &["L2 entry", "guest offset 0", "reserved bits"],
    );
}

#[test]
fn hostile_l2_entry_past_the_end() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let entry = l2_entry_at(&bytes, 1);
    put64(&mut bytes, entry, (1 << 63) | (1 << 44));
    assert_corrupt(
        read_error(bytes.clone()),
        &["guest offset 65536", "past the end of the file"],
    );
    // The last cluster of the file cut short by one byte: strict, the whole cluster must
    // be inside the file (qemu-img never writes a short one).
    let last = bytes.len() as u64 - 65536;
    put64(&mut bytes, entry, (1 << 63) | (last + 65536));
    assert_corrupt(read_error(bytes), &["past the end of the file"]);
}

#[test]
fn hostile_l2_entry_unaligned() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let entry = l2_entry_at(&bytes, 0);
    let host = be64(&bytes, entry) & 0x00ff_ffff_ffff_fe00;
    put64(&mut bytes, entry, (1 << 63) | (host + 512));
    assert_corrupt(read_error(bytes), &["not aligned"]);
}

/// The first compressed cluster of a 64 KiB-cluster image: (its guest cluster, where its
/// L2 entry is, the entry).
fn first_compressed(bytes: &[u8]) -> (usize, usize, u64) {
    let clusters = be64(bytes, 24) as usize / 65536;
    (0..clusters)
        .map(|cluster| (cluster, l2_entry_at(bytes, cluster)))
        .map(|(cluster, at)| (cluster, at, be64(bytes, at)))
        .find(|(_, _, entry)| entry & (1 << 62) != 0)
        .unwrap()
}

/// Compressed descriptor fields for 64 KiB clusters: x = 62 - (16 - 8) = 54.
const X: u32 = 54;

#[test]
fn hostile_compressed_past_the_end() {
    let Some(mut bytes) = image(&["-c"]) else {
        return;
    };
    let (_, at, entry) = first_compressed(&bytes);
    let sectors = entry & !((1 << X) - 1);
    let past = bytes.len() as u64 + 512;
    put64(&mut bytes, at, sectors | past);
    assert_corrupt(
        read_error(bytes),
        &["compressed cluster", "past the end of the file"],
    );
}

#[test]
fn hostile_compressed_truncated() {
    let Some(mut bytes) = image(&["-c"]) else {
        return;
    };
    // Cut the file in the middle of a compressed stream: it is clamped to the end of the
    // file, and no longer fills its cluster.
    let (cluster, _, entry) = first_compressed(&bytes);
    let offset = (entry & ((1 << X) - 1)) as usize;
    bytes.truncate(offset + 20);
    // The cut also drops clusters after it: open, then read only the compressed one.
    let mut disk = Disk::open(bytes, None, None).unwrap();
    let mut buf = vec![0; 65536];
    assert_corrupt(
        disk.read(cluster as u64 * 65536, &mut buf).err().unwrap(),
        &["compressed cluster", "inflates to"],
    );
}

/// A compressed stream that decompresses to more than one cluster: a 128 KiB cluster's
/// stream, from a 128 KiB-cluster image, put into a 64 KiB-cluster image.
fn bomb(options: &str) -> Option<Error> {
    let qemu = qemu_img()?;
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("ones.raw");
    fs::write(&raw, vec![1u8; 1 << 20]).unwrap();
    let big = convert(
        &qemu,
        &raw,
        &["-c", "-o", &format!("cluster_size=128k{options}")],
        &dir.path().join("big.qcow2"),
    );
    let (_, big_entry) = (0..8)
        .map(|cluster| {
            let at = l2_entry_at(&big, cluster);
            (at, be64(&big, at))
        })
        .find(|(_, entry)| entry & (1 << 62) != 0)
        .unwrap();
    let big_x = 62 - (17 - 8);
    let stream_at = (big_entry & ((1 << big_x) - 1)) as usize;
    let sectors = ((big_entry >> big_x) & 0xff) as usize + 1;
    let stream = big[stream_at..stream_at + sectors * 512 - stream_at % 512].to_vec();

    let mut small = convert(
        &qemu,
        &raw,
        &["-c", "-o", &format!("cluster_size=64k{options}")],
        &dir.path().join("small.qcow2"),
    );
    let (cluster, at, _) = first_compressed(&small);
    let offset = small.len().div_ceil(512) * 512;
    small.resize(offset, 0);
    small.extend_from_slice(&stream);
    small.resize(small.len().div_ceil(512) * 512, 0);
    let extra = (stream.len().div_ceil(512) - 1) as u64;
    put64(&mut small, at, (1 << 62) | (extra << X) | offset as u64);
    let mut disk = Disk::open(small, None, None).unwrap();
    let mut buf = vec![0; 65536];
    Some(disk.read(cluster as u64 * 65536, &mut buf).err().unwrap())
}

#[test]
fn hostile_deflate_bomb() {
    let Some(error) = bomb("") else {
        return;
    };
    assert_corrupt(error, &["compressed cluster", "65536"]);
}

#[test]
fn hostile_zstd_bomb() {
    let Some(error) = bomb(",compression_type=zstd") else {
        return;
    };
    assert_corrupt(error, &["compressed cluster", "more than its 65536 bytes"]);
}

#[test]
fn hostile_header_extension_length() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let at = be32(&bytes, 100) as usize;
    put32(&mut bytes, at + 4, u32::MAX);
    assert_corrupt(
        open_error(bytes),
        &["header extension", "length 4294967295"],
    );
}

#[test]
fn hostile_full_disk_encryption_extension() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put_extension(&mut bytes, 0x0537_be77, &[0; 16]);
    assert_unsupported(open_error(bytes), &["encrypted qcow2"]);
}

#[test]
fn hostile_encrypted() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put32(&mut bytes, 32, 2);
    assert_unsupported(open_error(bytes), &["encrypted qcow2", "crypt_method 2"]);
}

#[test]
fn hostile_corrupt_bit() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    bytes[79] |= 1 << 1;
    assert_corrupt(open_error(bytes), &["the image is marked corrupt"]);
}

#[test]
fn dirty_bit_is_accepted() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    bytes[79] |= 1;
    Disk::open(bytes, None, None).unwrap();
}

#[test]
fn hostile_unknown_incompatible_bit() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    bytes[79] |= 1 << 5;
    bytes[74] |= 1 << 1; // bit 41
    assert_unsupported(open_error(bytes), &["incompatible features", "bits 5, 41"]);
}

#[test]
fn hostile_versions() {
    let Some(bytes) = image(&[]) else {
        return;
    };
    for version in [0, 1, 4, u32::MAX] {
        let mut bytes = bytes.clone();
        put32(&mut bytes, 4, version);
        assert_unsupported(open_error(bytes), &[&format!("qcow2 version {version}")]);
    }
}

#[test]
fn hostile_refcount_order() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    put32(&mut bytes, 96, 7);
    assert_corrupt(open_error(bytes), &["refcount_order 7"]);
}

#[test]
fn hostile_header_length() {
    let Some(bytes) = image(&[]) else {
        return;
    };
    for length in [0, 100, 105, 1 << 20] {
        let mut bytes = bytes.clone();
        put32(&mut bytes, 100, length);
        assert_corrupt(open_error(bytes), &[&format!("header_length {length} ")]);
    }
}

#[test]
fn hostile_truncated_in_the_l1() {
    let Some(mut bytes) = image(&["-o", "cluster_size=512"]) else {
        return;
    };
    let l1 = be64(&bytes, 40) as usize;
    bytes.truncate(l1 + 100);
    assert_corrupt(
        open_error(bytes),
        &["l1_table_offset", "past the end of the file"],
    );
}

#[test]
fn hostile_truncated_in_the_data() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    bytes.truncate(bytes.len() - 100_000);
    assert_corrupt(read_error(bytes), &["past the end of the file"]);
}

#[test]
fn hostile_short_file() {
    let Some(bytes) = image(&[]) else {
        return;
    };
    for len in [0, 4, 71, 100] {
        let error = open_error(bytes[..len].to_vec());
        assert!(matches!(error, Error::Corrupt(_)), "{len}: {error:?}");
    }
}

/// An extended-L2 overlay made by `qemu-img convert -B`: zeros of a few subclusters over
/// the base's data are zero subclusters. qemu writes only the allocated subclusters, so
/// the file's last cluster may end early: only the allocated part must be inside the file.
#[test]
fn zero_subclusters_over_a_backing() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (base_image, base, top_raw) = chain(&qemu, dir.path());
    let overlay = dir.path().join("overlay.qcow2");
    let overlay_image = convert(
        &qemu,
        &top_raw,
        &[
            "-B",
            base.to_str().unwrap(),
            "-F",
            "qcow2",
            "-o",
            "extended_l2=on",
        ],
        &overlay,
    );
    let expected = qemu_raw(&qemu, &overlay);
    let base_disk = Disk::open(base_image, None, None).unwrap();
    let mut disk = Disk::open(overlay_image.clone(), None, Some(base_disk)).unwrap();
    compare(&mut disk, &expected);
    assert!(kinds(&mut disk).0, "zero subclusters");
    // Some cluster mixes states: an extent shorter than a cluster inside it.
    let mut short = false;
    for cluster in 0..disk.size() / 65536 {
        short |= disk.map(cluster * 65536, 65536).unwrap().len() < 65536;
    }
    assert!(short, "runs of subclusters");
}

/// Where in the file the extended L2 entry (two words) of guest cluster `cluster` is.
fn extended_entry_at(bytes: &[u8], cluster: usize) -> usize {
    let cluster_bits = be32(bytes, 20);
    let per_table = 1usize << (cluster_bits - 4);
    let l1 = be64(bytes, 40) as usize;
    let l2 = be64(bytes, l1 + 8 * (cluster / per_table)) & 0x00ff_ffff_ffff_fe00;
    assert_ne!(l2, 0, "the cluster has an L2 table");
    l2 as usize + 16 * (cluster % per_table)
}

#[test]
fn hostile_subcluster_allocated_and_zero() {
    let Some(mut bytes) = image(&["-o", "extended_l2=on"]) else {
        return;
    };
    let at = extended_entry_at(&bytes, 0);
    let bitmap = be64(&bytes, at + 8);
    assert_ne!(bitmap & 1, 0, "subcluster 0 allocated");
    put64(&mut bytes, at + 8, bitmap | 1 << 32);
    assert_corrupt(
        read_error(bytes),
        &["both allocated and zero", "guest offset 0"],
    );
}

#[test]
fn hostile_subclusters_allocated_without_host() {
    let Some(mut bytes) = image(&["-o", "extended_l2=on"]) else {
        return;
    };
    let at = extended_entry_at(&bytes, 0);
    put64(&mut bytes, at, 0);
    assert_corrupt(read_error(bytes), &["no host offset"]);
}

#[test]
fn hostile_extended_l2_zero_flag() {
    let Some(mut bytes) = image(&["-o", "extended_l2=on"]) else {
        return;
    };
    let at = extended_entry_at(&bytes, 0);
    bytes[at + 7] |= 1;
    assert_corrupt(read_error(bytes), &["reserved bits set (0x1)"]);
}

#[test]
fn hostile_compressed_with_subcluster_bitmap() {
    let Some(mut bytes) = image(&["-c", "-o", "extended_l2=on"]) else {
        return;
    };
    let at = (0..SIZE / 65536)
        .map(|cluster| extended_entry_at(&bytes, cluster))
        .find(|&at| be64(&bytes, at) & (1 << 62) != 0)
        .unwrap();
    put64(&mut bytes, at + 8, 1);
    assert_corrupt(
        read_error(bytes),
        &["compressed cluster", "subcluster bitmap"],
    );
}

#[test]
fn hostile_extended_l2_small_clusters() {
    let Some(mut bytes) = image(&["-o", "extended_l2=on"]) else {
        return;
    };
    put32(&mut bytes, 20, 13);
    assert_corrupt(open_error(bytes), &["extended L2", "cluster_bits 13"]);
}

#[test]
fn hostile_compression_type() {
    let Some(bytes) = image(&["-c", "-o", "compression_type=zstd"]) else {
        return;
    };
    let mut unknown = bytes.clone();
    unknown[104] = 2;
    assert_unsupported(open_error(unknown), &["compression type 2"]);
    let mut without_bit = bytes;
    without_bit[79] &= !(1 << 3);
    assert_corrupt(open_error(without_bit), &["compression_type 1"]);
}

/// Allocated subclusters past the end of the file (the last cluster of an extended-L2
/// image may be short, but not its allocated subclusters).
#[test]
fn hostile_subclusters_past_the_end() {
    let Some(mut bytes) = image(&["-o", "extended_l2=on"]) else {
        return;
    };
    let at = extended_entry_at(&bytes, 0);
    let last = bytes.len() as u64 / 65536 * 65536;
    bytes.resize(last as usize + 4096, 0xcc);
    put64(&mut bytes, at, 1 << 63 | last);
    put64(&mut bytes, at + 8, 0x3);
    let mut disk = Disk::open(bytes.clone(), None, None).unwrap();
    let mut buf = vec![0; 4096];
    disk.read(0, &mut buf).unwrap();
    put64(&mut bytes, at + 8, 0x7);
    let mut disk = Disk::open(bytes, None, None).unwrap();
    assert_corrupt(
        disk.read(0, &mut buf).err().unwrap(),
        &["extended L2 entry", "past the end of the file"],
    );
}

/// Data clusters out of order in the file (L2 entries swapped): extents stop where the
/// host clusters stop being contiguous, and the disk reads as qemu reads the patched image.
#[test]
fn data_clusters_out_of_order() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let (dir, raw) = scratch(21, SIZE);
    fs::write(&raw, Random::new(21).bytes(SIZE)).unwrap();
    let image = dir.path().join("image.qcow2");
    let mut bytes = convert(&qemu, &raw, &[], &image);
    for (a, b) in [(0, 2), (5, 6), (10, 40), (41, 63)] {
        let (at_a, at_b) = (l2_entry_at(&bytes, a), l2_entry_at(&bytes, b));
        let (entry_a, entry_b) = (be64(&bytes, at_a), be64(&bytes, at_b));
        put64(&mut bytes, at_a, entry_b);
        put64(&mut bytes, at_b, entry_a);
    }
    fs::write(&image, &bytes).unwrap();
    let expected = qemu_raw(&qemu, &image);
    let mut disk = Disk::open(bytes, None, None).unwrap();
    compare(&mut disk, &expected);
    assert_eq!(disk.map(0, 1 << 20).unwrap().len(), 65536);
    assert_eq!(disk.map(65536, 1 << 20).unwrap().len(), 65536);
    assert_eq!(disk.map(3 * 65536, 1 << 20).unwrap().len(), 2 * 65536);
}

#[test]
fn compressed_small_clusters() {
    differential(&["-c", "-o", "cluster_size=512"]);
    differential(&["-c", "-o", "cluster_size=512,compression_type=zstd"]);
    differential(&["-c", "-o", "cluster_size=4096,compression_type=zstd"]);
}

/// Every L1 entry of a 64 PiB disk names the same empty L2 table: mapping the whole disk
/// returns after bounded work (a shorter extent), and reads at the end are zeros.
#[test]
fn hostile_one_l2_table_for_the_whole_disk() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = create(&qemu, dir.path(), &["-o", "cluster_size=2M"], "64P");
    let table = bytes.len().div_ceil(2 << 20) * (2 << 20);
    bytes.resize(table + (2 << 20), 0);
    let l1 = be64(&bytes, 40) as usize;
    for entry in 0..be32(&bytes, 36) as usize {
        put64(&mut bytes, l1 + 8 * entry, 1 << 63 | table as u64);
    }
    let mut disk = Disk::open(bytes, None, None).unwrap();
    let extent = disk.map(0, disk.size()).unwrap();
    assert!(matches!(extent, Extent::Backing { .. }), "{extent:?}");
    assert!(extent.len() < disk.size());
    reads_zeros(&mut disk);
}

/// A backing file name with bytes that are not printable ASCII is reported escaped.
#[test]
fn hostile_backing_file_name_escaped() {
    let Some(mut bytes) = image(&[]) else {
        return;
    };
    let name = b"../\x1b[31mx\xff";
    bytes[4096..4096 + name.len()].copy_from_slice(name);
    put64(&mut bytes, 8, 4096);
    put32(&mut bytes, 16, name.len() as u32);
    assert_eq!(
        open_error(bytes),
        Error::External {
            kind: Reference::BackingFile,
            name: "../\\x1b[31mx\\xff".into()
        }
    );
}

/// Internal snapshots and persistent bitmaps (a header extension and an autoclear bit) are
/// not read: the active L1 table is, and the disk reads as qemu reads it.
#[test]
fn snapshots_and_bitmaps_are_ignored() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let (dir, raw) = scratch(31, SIZE);
    let image = dir.path().join("image.qcow2");
    convert(&qemu, &raw, &[], &image);
    let path = image.to_str().unwrap();
    run(&qemu, &["snapshot", "-c", "first", path]);
    run(&qemu, &["bitmap", "--add", path, "dirty"]);
    let bytes = fs::read(&image).unwrap();
    assert_eq!(be32(&bytes, 60), 1, "one snapshot");
    assert_ne!(be64(&bytes, 88) & 1, 0, "the bitmaps autoclear bit");
    let expected = qemu_raw(&qemu, &image);
    let mut disk = Disk::open(bytes, None, None).unwrap();
    compare(&mut disk, &expected);
}

/// A version 2 overlay (its backing format in a header extension after the 72-byte
/// header), empty: every read is the base's.
#[test]
fn version_2_empty_overlay() {
    let Some(qemu) = qemu_img() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (base_image, base, _) = chain(&qemu, dir.path());
    let overlay = dir.path().join("overlay.qcow2");
    let (base_name, overlay_name) = (base.to_str().unwrap(), overlay.to_str().unwrap());
    run(
        &qemu,
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            "compat=0.10",
            "-b",
            base_name,
            "-F",
            "qcow2",
            overlay_name,
        ],
    );
    let bytes = fs::read(&overlay).unwrap();
    assert_eq!(be32(&bytes, 4), 2);
    assert_eq!(
        be32(&bytes, 72),
        0xe279_2aca,
        "the backing format extension"
    );
    let expected = qemu_raw(&qemu, &overlay);
    let base_disk = Disk::open(base_image, None, None).unwrap();
    let mut disk = Disk::open(bytes, None, Some(base_disk)).unwrap();
    assert_eq!(disk.backing_name(), Some(base_name));
    compare(&mut disk, &expected);
}
