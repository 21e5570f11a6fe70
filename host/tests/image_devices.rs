//! The device contract on `ImageDisk`, the virtual disk of an image, which is read-only: the
//! cases of `blockpart_conformance::DEVICE_CASES` that hold for a read-only device, and the
//! contract's read-side cases (bounds, overflow, alignment, zero lengths) for a device that
//! is read-only whatever it was asked to be. Each device is an image `qemu-img convert` made
//! of the case's contents (qcow2 plain and compressed, VMDK streamOptimized, VHD dynamic),
//! opened by `ImageRuntime::open`; the backing is the virtual disk as qemu reads it.
//!
//! Then, on a larger disk of random data with holes: `read_into` gives what `qemu-img
//! convert -O raw` gives, at any sector range, and every write form is `ReadOnly`.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "test code, with small known numbers"
)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use blockpart_conformance::{
    DEVICE_CASES, DeviceError, DiskSpec, Info, MAX_TRANSFER_BYTES, TestDevice, run_device_case,
};
use blockpart_core::BlockDevice;
use blockpart_host::{Format, ImageDisk, ImageRuntime};
use blockpart_test_tools::installed;
use blockpart_test_tools::trees::Random;
use libtest_mimic::{Arguments, Trial};

/// A way `qemu-img convert` makes an image.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    qemu_format: &'static str,
    format: Format,
    options: &'static [&'static str],
}

const VARIANTS: [Variant; 4] = [
    Variant {
        name: "qcow2",
        qemu_format: "qcow2",
        format: Format::Qcow2,
        options: &[],
    },
    Variant {
        name: "qcow2_compressed",
        qemu_format: "qcow2",
        format: Format::Qcow2,
        options: &["-c"],
    },
    Variant {
        name: "vmdk_stream_optimized",
        qemu_format: "vmdk",
        format: Format::Vmdk,
        options: &["-o", "subformat=streamOptimized"],
    },
    // `force_size`: the disk is the size given, not rounded up to a CHS geometry.
    Variant {
        name: "vhd_dynamic",
        qemu_format: "vpc",
        format: Format::Vhd,
        options: &["-o", "subformat=dynamic,force_size=on"],
    },
];

/// The cases of the contract that hold for a read-only device whatever it was asked to be:
/// they read, flush, or only check that the backing never grows.
const READ_ONLY_CASES: [&str; 4] = [
    "reads_return_the_bytes_at_sector_times_sector_size",
    "flush_succeeds_and_changes_nothing",
    "read_only_device_refuses_every_write_form_and_changes_nothing",
    "the_backing_never_grows",
];

/// One image reader for every device: each `open` is a fresh instance of its own.
fn runtime() -> &'static ImageRuntime {
    static RUNTIME: OnceLock<ImageRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| ImageRuntime::new().unwrap())
}

fn qemu_img(args: &[&str]) {
    let output = Command::new(installed("qemu-img").unwrap())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The virtual disk of `image` as qemu reads it.
fn qemu_raw(variant: Variant, image: &Path) -> Vec<u8> {
    let raw = image.with_extension("qemu.raw");
    qemu_img(&[
        "convert",
        "-f",
        variant.qemu_format,
        "-O",
        "raw",
        s(image),
        s(&raw),
    ]);
    let bytes = fs::read(&raw).unwrap();
    fs::remove_file(raw).unwrap();
    bytes
}

/// An image of `variant` holding `contents`, in `dir`.
fn make_image(variant: Variant, dir: &Path, contents: &[u8]) -> PathBuf {
    let raw = dir.join("contents.raw");
    fs::write(&raw, contents).unwrap();
    let image = dir.join(format!("disk.{}", variant.qemu_format));
    let mut args = vec!["convert", "-q", "-f", "raw", "-O", variant.qemu_format];
    args.extend_from_slice(variant.options);
    args.extend([s(&raw), s(&image)]);
    qemu_img(&args);
    fs::remove_file(raw).unwrap();
    let read = qemu_raw(variant, &image);
    assert!(
        read == contents,
        "qemu reads the {} image it made",
        variant.name
    );
    image
}

/// The device of the contract: an image of `contents`, opened with its format detected. Its
/// backing is the virtual disk as qemu reads it: the contents while the image file keeps its
/// bytes, else whatever qemu now reads.
fn image_device(variant: Variant, spec: &DiskSpec, contents: &[u8]) -> TestDevice {
    assert_eq!(spec.sector_size, 512, "image disks have 512-byte sectors");
    let dir = tempfile::tempdir().unwrap();
    let image = make_image(variant, dir.path(), contents);
    let disk = runtime().open(&image, None, &[]).unwrap();
    assert_eq!(disk.format(), variant.format);
    let made = fs::read(&image).unwrap();
    let contents = contents.to_vec();
    let backing = move || {
        let _dir = &dir;
        if fs::read(&image).unwrap() == made {
            contents.clone()
        } else {
            qemu_raw(variant, &image)
        }
    };
    TestDevice {
        device: Box::new(disk),
        backing: Box::new(backing),
    }
}

/// A request's outcome on `device`, through `read` and (when the buffer can be made)
/// `read_into`, which must agree.
fn read(device: &dyn BlockDevice, start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
    let read = device.read(start, len);
    if len <= MAX_TRANSFER_BYTES {
        let mut buf = vec![0xa5; len as usize];
        let read_into = device.read_into(start, &mut buf).map(|()| buf);
        assert_eq!(
            read_into, read,
            "read_into and read disagree at {start}+{len}"
        );
    }
    read
}

const SECTORS: u64 = 16;

/// The contract's read side, on a read-only device of [`SECTORS`] sectors: `info` says what
/// it is; reads past, across the end or overflowing are out of bounds; lengths that are not
/// whole sectors are unaligned (found before out of bounds); zero-length reads succeed up to
/// the end; every write form is refused first as read-only; nothing changes.
fn read_side_of_the_contract(variant: Variant) {
    let spec = DiskSpec {
        sector_size: 512,
        sectors: SECTORS,
        read_only: true,
    };
    let original = blockpart_conformance::pattern(spec.len(), 23);
    let TestDevice { device, backing } = image_device(variant, &spec, &original);
    let device = device.as_ref();
    assert_eq!(
        device.info(),
        Info {
            read_write: false,
            sector_size: 512,
            size_sectors: SECTORS,
        }
    );
    let max_len = u64::MAX - u64::MAX % 512;
    let wraps_to_zero = u64::MAX / 512 + 1;
    for (start, len) in [
        (SECTORS, 512),
        (SECTORS + 1, 512),
        (2 * SECTORS, 1024),
        (SECTORS - 1, 1024),
        (0, (SECTORS + 1) * 512),
        (u64::MAX, 512),
        (u64::MAX, 0),
        (0, max_len),
        (1, max_len),
        (wraps_to_zero, 512),
        (u64::MAX - 3, 8 * 512),
        (SECTORS + 1, 0),
    ] {
        assert_eq!(
            read(device, start, len),
            Err(DeviceError::OutOfBounds),
            "read at {start}+{len}"
        );
    }
    for len in [1, 511, 513, 1023, 3 * 512 + 7] {
        for start in [0, SECTORS] {
            assert_eq!(
                read(device, start, len),
                Err(DeviceError::Unaligned),
                "read at {start}+{len}"
            );
        }
    }
    assert_eq!(device.read(0, u64::MAX), Err(DeviceError::Unaligned));
    for start in [0, SECTORS - 1, SECTORS] {
        assert_eq!(
            read(device, start, 0),
            Ok(Vec::new()),
            "empty read at {start}"
        );
    }
    for (start, count) in [(0, 1), (5, 3), (SECTORS - 1, 1), (0, SECTORS)] {
        let at = start as usize * 512;
        assert!(
            read(device, start, count * 512).unwrap() == original[at..at + count as usize * 512],
            "{count} sectors at {start}"
        );
    }
    for (start, sectors) in [(0, 0), (0, 1), (SECTORS, 1), (u64::MAX, u64::MAX)] {
        assert_eq!(device.discard(start, sectors), Err(DeviceError::ReadOnly));
        assert_eq!(
            device.write_zeroes(start, sectors),
            Err(DeviceError::ReadOnly)
        );
    }
    for (start, len) in [(0, 0), (0, 1), (0, 512), (SECTORS, 512), (u64::MAX, 512)] {
        assert_eq!(
            device.write(start, &vec![0x5a; len]),
            Err(DeviceError::ReadOnly)
        );
    }
    assert_eq!(device.flush(), Ok(()));
    assert!(backing() == original, "the disk changed");
}

/// A disk of random data with holes of zeros and runs of one byte, in 16 KiB pieces.
fn random_disk(len: usize) -> Vec<u8> {
    let mut random = Random::new(22);
    let mut disk = Vec::new();
    while disk.len() < len {
        let piece = match random.next_u64() % 4 {
            0 | 1 => random.bytes(16 << 10),
            2 => vec![0; 16 << 10],
            _ => vec![random.next_u64() as u8; 16 << 10],
        };
        disk.extend_from_slice(&piece);
    }
    disk.truncate(len);
    disk
}

/// `read_into` of the whole disk and of odd sector ranges (crossing clusters, grains and
/// blocks) gives what qemu reads; writes are refused and the image keeps its bytes.
fn reads_equal_qemu_img_convert_and_writes_are_read_only(variant: Variant) {
    let len = 3 << 20;
    let contents = random_disk(len);
    let dir = tempfile::tempdir().unwrap();
    let image = make_image(variant, dir.path(), &contents);
    let expected = qemu_raw(variant, &image);
    let made = fs::read(&image).unwrap();
    let disk: ImageDisk = runtime().open(&image, None, &[]).unwrap();
    assert_eq!(disk.format(), variant.format);
    assert_eq!(disk.size_bytes(), len as u64);
    let mut whole = vec![0xa5; len];
    disk.read_into(0, &mut whole).unwrap();
    assert!(whole == expected, "the whole disk differs from qemu's");
    let mut random = Random::new(5);
    let sectors = (len / 512) as u64;
    let mut ranges = vec![(0, 1), (1, 1), (127, 2), (128, 129), (sectors - 1, 1)];
    for _ in 0..64 {
        let start = random.next_u64() % sectors;
        let count = 1 + random.next_u64() % (sectors - start).min(600);
        ranges.push((start, count));
    }
    for (start, count) in ranges {
        let mut buf = vec![0xa5; count as usize * 512];
        disk.read_into(start, &mut buf).unwrap();
        let at = start as usize * 512;
        assert!(
            buf == expected[at..at + buf.len()],
            "{count} sectors at {start}"
        );
    }
    assert_eq!(disk.write(0, &[0; 512]), Err(DeviceError::ReadOnly));
    assert_eq!(disk.write_zeroes(0, 1), Err(DeviceError::ReadOnly));
    assert_eq!(disk.discard(0, 1), Err(DeviceError::ReadOnly));
    assert_eq!(disk.flush(), Ok(()));
    drop(disk);
    assert!(fs::read(&image).unwrap() == made, "the image changed");
}

/// A check of its own, named, on one variant.
type Check = (&'static str, fn(Variant));

fn main() {
    let args = Arguments::from_args();
    for name in READ_ONLY_CASES {
        assert!(
            DEVICE_CASES.iter().any(|case| case.name == name),
            "no device case {name}"
        );
    }
    // A panic in a trial is its failure (libtest-mimic catches it), a missing qemu-img too
    // under CI=true (`installed`); elsewhere the trial skips with a note.
    let mut trials = Vec::new();
    for variant in VARIANTS {
        for case in DEVICE_CASES
            .iter()
            .filter(|case| READ_ONLY_CASES.contains(&case.name))
        {
            let name = format!("image_disk::{}::512::{}", variant.name, case.name);
            trials.push(Trial::test(name, move || {
                if installed("qemu-img").is_none() {
                    return Ok(());
                }
                let backend =
                    move |spec: &DiskSpec, contents: &[u8]| image_device(variant, spec, contents);
                Ok(run_device_case(case, &backend, 512)?)
            }));
        }
        let checks: [Check; 2] = [
            (
                "512::reads_outside_the_contract_are_refused_and_every_write_is_read_only",
                read_side_of_the_contract,
            ),
            (
                "read_into_equals_qemu_img_convert_and_writes_are_read_only",
                reads_equal_qemu_img_convert_and_writes_are_read_only,
            ),
        ];
        for (name, check) in checks {
            trials.push(Trial::test(
                format!("image_disk::{}::{name}", variant.name),
                move || {
                    if installed("qemu-img").is_some() {
                        check(variant);
                    }
                    Ok(())
                },
            ));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
