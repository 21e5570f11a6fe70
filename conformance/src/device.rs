//! The block-device contract (`blockpart_core::BlockDevice`), checked on a device alone.
//!
//! A partition checks every request before its device sees it, but a guest holds the whole
//! device it was handed and may call it with any numbers: the device's own checks are what
//! stop it. So every device we ship runs these cases: requests inside it work and land at
//! `sector * sector_size`; requests past or across its end, or whose numbers overflow, are
//! `out-of-bounds`; lengths that are not whole sectors are `unaligned`; zero-length requests
//! up to the end succeed; a read-only device refuses every write form; checks run in that
//! order (read-only, unaligned, out of bounds); a refused request changes no byte, and the
//! backing never grows. The backing's bytes, read around the device, are the oracle.

use blockpart_core::{BlockDevice, SectorSize};

use crate::suite::{Check, Selection};
use crate::{DeviceError, DiskSpec, Info, MAX_TRANSFER_BYTES, caught, pattern};

/// A way to make the device under test.
///
/// Any `Fn(&DiskSpec, &[u8]) -> TestDevice` is one.
pub trait DeviceBackend {
    /// A device of `spec` holding `contents` (exactly `spec.len()` bytes).
    fn device(&self, spec: &DiskSpec, contents: &[u8]) -> TestDevice;

    /// Makes (and drops) an empty device of `bytes` bytes per sector, which need not be a
    /// sector size: `Err` with the refusal. Devices in Rust take a [`SectorSize`], which
    /// refuses a bad one, as this default does; a host whose devices take a number overrides
    /// it.
    fn empty_device_with_sector_size(&self, bytes: u64) -> Result<(), String> {
        u32::try_from(bytes)
            .ok()
            .and_then(SectorSize::new)
            .map(drop)
            .ok_or_else(|| format!("{bytes} is not a power of two of at least 512"))
    }
}

impl<F: Fn(&DiskSpec, &[u8]) -> TestDevice> DeviceBackend for F {
    fn device(&self, spec: &DiskSpec, contents: &[u8]) -> TestDevice {
        self(spec, contents)
    }
}

/// A device under test, and its backing.
pub struct TestDevice {
    /// The device.
    pub device: Box<dyn BlockDevice>,
    /// Reads the whole backing (a buffer, a file) around the device: its bytes, and as many
    /// as it holds, so a backing that grew shows.
    pub backing: Box<dyn Fn() -> Vec<u8>>,
}

/// A case of the device contract: a named behaviour and the check of it.
pub struct DeviceCase {
    /// What the case checks, as a sentence in snake case.
    pub name: &'static str,
    /// Runs the case against a device backend with a sector size; panics on failure.
    pub run: fn(&dyn DeviceBackend, u32),
}

macro_rules! device_cases {
    ($($name:ident),* $(,)?) => {
        /// Every case of the device contract.
        pub const DEVICE_CASES: &[DeviceCase] =
            &[$(DeviceCase { name: stringify!($name), run: $name }),*];
    };
}

device_cases![
    info_reports_what_the_device_was_made_with,
    reads_return_the_bytes_at_sector_times_sector_size,
    writes_land_at_sector_times_sector_size_and_nowhere_else,
    write_zeroes_zeroes_exactly_its_sectors,
    discard_changes_nothing_outside_its_sectors,
    flush_succeeds_and_changes_nothing,
    requests_past_the_end_are_out_of_bounds_and_change_nothing,
    requests_spanning_the_end_are_out_of_bounds_and_change_nothing,
    u64_max_and_overflowing_requests_are_out_of_bounds_and_change_nothing,
    unaligned_lengths_are_refused_and_change_nothing,
    zero_length_requests_succeed_up_to_the_end_and_change_nothing,
    read_only_device_refuses_every_write_form_and_changes_nothing,
    an_empty_device_refuses_every_request_that_is_not_empty,
    the_backing_never_grows,
    sector_sizes_outside_the_contract_are_refused,
];

/// Runs `case` with `sector_size` against `backend`: `Err` with the failure if it panicked.
pub fn run_device_case(
    case: &DeviceCase,
    backend: &dyn DeviceBackend,
    sector_size: u32,
) -> Result<(), String> {
    caught(|| (case.run)(backend, sector_size))
}

/// Every device case with every sector size, for a test harness: each named
/// `{name}::{sector_size}::{case}`, with the check to run.
pub fn device_trials(
    name: &'static str,
    backend: fn(&DiskSpec, &[u8]) -> TestDevice,
) -> impl Iterator<Item = (String, impl FnOnce() -> Result<(), String> + Send + 'static)> {
    let kinds = [name];
    let selection = Selection {
        device_kinds: &kinds,
        ..Selection::NONE
    };
    selection
        .checks()
        .into_iter()
        .filter_map(move |check| match check {
            Check::Device {
                case, sector_size, ..
            } => {
                let run = move || run_device_case(case, &backend, sector_size);
                Some((check.test_name(name), run))
            }
            _ => None,
        })
}

const SECTORS: u64 = 16;

/// A request to a device, in the device's own terms.
#[derive(Clone, Copy, Debug)]
enum Request {
    /// `read(start, len bytes)`.
    Read(u64, u64),
    /// `write(start, data)` of `len` bytes.
    Write(u64, u64),
    /// `discard(start, sectors)`.
    Discard(u64, u64),
    /// `write-zeroes(start, sectors)`.
    WriteZeroes(u64, u64),
}

use Request::{Discard, Read, Write, WriteZeroes};

/// A device filled with a pattern, and what its backing held at the start.
struct Fixture {
    device: TestDevice,
    original: Vec<u8>,
    sector_size: u64,
}

impl Fixture {
    fn new(backend: &dyn DeviceBackend, sector_size: u32, read_only: bool) -> Self {
        Self::sized(backend, sector_size, SECTORS, read_only)
    }

    fn sized(backend: &dyn DeviceBackend, sector_size: u32, sectors: u64, read_only: bool) -> Self {
        let spec = DiskSpec {
            sector_size,
            sectors,
            read_only,
        };
        let original = pattern(spec.len(), 11);
        let device = backend.device(&spec, &original);
        assert!(
            (device.backing)() == original,
            "the backing holds the contents the device was made with"
        );
        Self {
            device,
            original,
            sector_size: sector_size.into(),
        }
    }

    /// Bytes in `count` sectors.
    fn len(&self, count: u64) -> u64 {
        count * self.sector_size
    }

    fn byte(&self, sector: u64) -> usize {
        usize::try_from(sector * self.sector_size).unwrap()
    }

    /// The original bytes of `count` sectors from `sector`.
    fn original(&self, sector: u64, count: u64) -> &[u8] {
        &self.original[self.byte(sector)..self.byte(sector + count)]
    }

    fn backing(&self) -> Vec<u8> {
        (self.device.backing)()
    }

    /// Sends `request`: the data of a read, nothing for the others. A read is made twice, by
    /// `read` and by `read_into` (when its length fits a buffer), which must agree.
    fn send(&self, request: Request) -> Result<Vec<u8>, DeviceError> {
        let device = &self.device.device;
        match request {
            Read(start, len) => {
                let read = device.read(start, len);
                if len <= MAX_TRANSFER_BYTES {
                    let mut buf = vec![0; usize::try_from(len).unwrap()];
                    let read_into = device.read_into(start, &mut buf).map(|()| buf);
                    assert_eq!(
                        read_into, read,
                        "read_into and read disagree on {request:?}"
                    );
                }
                read
            }
            Write(start, len) => {
                let data = pattern(usize::try_from(len).unwrap(), 0x5A);
                device.write(start, &data).map(|()| Vec::new())
            }
            Discard(start, sectors) => device.discard(start, sectors).map(|()| Vec::new()),
            WriteZeroes(start, sectors) => device.write_zeroes(start, sectors).map(|()| Vec::new()),
        }
    }

    /// Checks that the device refuses each of `requests` with `error`, changing nothing.
    #[track_caller]
    fn refuses(&self, error: DeviceError, requests: &[Request]) {
        for &request in requests {
            assert_eq!(self.send(request), Err(error.clone()), "{request:?}");
            self.assert_unchanged(request);
        }
    }

    #[track_caller]
    fn assert_unchanged(&self, after: impl std::fmt::Debug) {
        let backing = self.backing();
        assert_eq!(
            backing.len(),
            self.original.len(),
            "the backing's length changed after {after:?}"
        );
        assert!(
            backing == self.original,
            "the backing's bytes changed after {after:?}"
        );
    }
}

fn info_reports_what_the_device_was_made_with(backend: &dyn DeviceBackend, sector_size: u32) {
    for (sectors, read_only) in [(SECTORS, false), (SECTORS, true), (1, false), (0, true)] {
        let f = Fixture::sized(backend, sector_size, sectors, read_only);
        let expected = Info {
            read_write: !read_only,
            sector_size,
            size_sectors: sectors,
        };
        assert_eq!(f.device.device.info(), expected);
    }
}

fn reads_return_the_bytes_at_sector_times_sector_size(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    for read_only in [false, true] {
        let f = Fixture::new(backend, sector_size, read_only);
        for (start, count) in [(0, 1), (5, 3), (SECTORS - 1, 1), (0, SECTORS)] {
            let read = f.send(Read(start, f.len(count))).unwrap();
            assert!(
                read == f.original(start, count),
                "a read of {count} sectors at {start} returns the bytes at {start} * {sector_size}"
            );
        }
        f.assert_unchanged("reads");
    }
}

fn writes_land_at_sector_times_sector_size_and_nowhere_else(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::new(backend, sector_size, false);
    let mut expected = f.original.clone();
    for (start, count, seed) in [(3, 2, 1), (SECTORS - 1, 1, 2), (0, 1, 3)] {
        let data = pattern(f.byte(count), seed);
        f.device.device.write(start, &data).unwrap();
        expected[f.byte(start)..f.byte(start + count)].copy_from_slice(&data);
        assert!(
            f.backing() == expected,
            "a write of {count} sectors at {start} lands at {start} * {sector_size} and nowhere else"
        );
        assert_eq!(f.send(Read(start, f.len(count))).unwrap(), data);
    }
}

fn write_zeroes_zeroes_exactly_its_sectors(backend: &dyn DeviceBackend, sector_size: u32) {
    let f = Fixture::new(backend, sector_size, false);
    let mut expected = f.original.clone();
    for (start, count) in [(4, 3), (SECTORS - 1, 1)] {
        f.device.device.write_zeroes(start, count).unwrap();
        expected[f.byte(start)..f.byte(start + count)].fill(0);
        assert!(
            f.backing() == expected,
            "write-zeroes of {count} sectors at {start} zeroes exactly those"
        );
    }
}

fn discard_changes_nothing_outside_its_sectors(backend: &dyn DeviceBackend, sector_size: u32) {
    let f = Fixture::new(backend, sector_size, false);
    // What a discarded sector reads as is the device's business; its neighbours are not.
    let (start, count) = (6, 2);
    f.device.device.discard(start, count).unwrap();
    let backing = f.backing();
    assert_eq!(backing.len(), f.original.len());
    let (head, tail) = (f.byte(start), f.byte(start + count));
    assert!(
        backing[..head] == f.original[..head] && backing[tail..] == f.original[tail..],
        "a discard of sectors {start}..+{count} changed bytes outside them"
    );
}

fn flush_succeeds_and_changes_nothing(backend: &dyn DeviceBackend, sector_size: u32) {
    for read_only in [false, true] {
        let f = Fixture::new(backend, sector_size, read_only);
        assert_eq!(f.device.device.flush(), Ok(()));
        f.assert_unchanged("a flush");
    }
}

fn requests_past_the_end_are_out_of_bounds_and_change_nothing(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::new(backend, sector_size, false);
    let one = f.len(1);
    f.refuses(
        DeviceError::OutOfBounds,
        &[
            Read(SECTORS, one),
            Write(SECTORS, one),
            Discard(SECTORS, 1),
            WriteZeroes(SECTORS, 1),
            Read(SECTORS + 1, one),
            Write(SECTORS + 1, one),
            Discard(SECTORS + 1, 1),
            WriteZeroes(SECTORS + 1, 1),
            Read(2 * SECTORS, f.len(2)),
            Write(2 * SECTORS, f.len(2)),
        ],
    );
}

fn requests_spanning_the_end_are_out_of_bounds_and_change_nothing(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::new(backend, sector_size, false);
    f.refuses(
        DeviceError::OutOfBounds,
        &[
            Read(SECTORS - 1, f.len(2)),
            Write(SECTORS - 1, f.len(2)),
            Discard(SECTORS - 1, 2),
            WriteZeroes(SECTORS - 1, 2),
            Read(0, f.len(SECTORS + 1)),
            Write(0, f.len(SECTORS + 1)),
            Discard(0, SECTORS + 1),
            WriteZeroes(0, SECTORS + 1),
        ],
    );
}

fn u64_max_and_overflowing_requests_are_out_of_bounds_and_change_nothing(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::new(backend, sector_size, false);
    let ss = f.sector_size;
    let one = f.len(1);
    // The largest whole-sector length: u64::MAX bytes is not whole sectors.
    let max_len = u64::MAX - u64::MAX % ss;
    // The first sector whose byte offset does not fit in a u64: `start * sector_size` wraps
    // to 0 if multiplied without a check.
    let wraps_to_zero = u64::MAX / ss + 1;
    f.refuses(
        DeviceError::OutOfBounds,
        &[
            Read(u64::MAX, one),
            Write(u64::MAX, one),
            Read(u64::MAX, 0),
            Write(u64::MAX, 0),
            Read(0, max_len),
            Read(1, max_len),
            Read(wraps_to_zero, one),
            Write(wraps_to_zero, one),
            // A start that wraps to inside the device if added to without a check.
            Read(u64::MAX - 3, f.len(8)),
            Write(u64::MAX - 3, f.len(8)),
        ],
    );
    for (start, sectors) in [
        (u64::MAX, 1),
        (u64::MAX, 0),
        (0, u64::MAX),
        (1, u64::MAX),
        (u64::MAX, u64::MAX),
        // Sums that wrap to 0 and to inside the device.
        (SECTORS, u64::MAX - SECTORS + 1),
        (u64::MAX - 3, 8),
        // A byte length of exactly 2^64, and one that wraps to a sector.
        (0, wraps_to_zero),
        (0, wraps_to_zero + 1),
        (wraps_to_zero, 1),
    ] {
        f.refuses(
            DeviceError::OutOfBounds,
            &[Discard(start, sectors), WriteZeroes(start, sectors)],
        );
    }
}

fn unaligned_lengths_are_refused_and_change_nothing(backend: &dyn DeviceBackend, sector_size: u32) {
    let f = Fixture::new(backend, sector_size, false);
    let ss = f.sector_size;
    for len in [1, ss - 1, ss + 1, 2 * ss - 1, 3 * ss + 7] {
        f.refuses(DeviceError::Unaligned, &[Read(0, len), Write(0, len)]);
        // Unaligned is found before out of bounds.
        f.refuses(
            DeviceError::Unaligned,
            &[
                Read(SECTORS, len),
                Write(SECTORS, len),
                Write(u64::MAX, len),
            ],
        );
    }
    f.refuses(DeviceError::Unaligned, &[Read(0, u64::MAX)]);
}

fn zero_length_requests_succeed_up_to_the_end_and_change_nothing(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    for read_only in [false, true] {
        let f = Fixture::new(backend, sector_size, read_only);
        for start in [0, SECTORS - 1, SECTORS] {
            assert_eq!(f.send(Read(start, 0)), Ok(Vec::new()), "read at {start}");
            f.assert_unchanged(Read(start, 0));
            if !read_only {
                for request in [Write(start, 0), Discard(start, 0), WriteZeroes(start, 0)] {
                    assert_eq!(f.send(request), Ok(Vec::new()), "{request:?}");
                    f.assert_unchanged(request);
                }
            }
        }
        f.refuses(DeviceError::OutOfBounds, &[Read(SECTORS + 1, 0)]);
        if !read_only {
            f.refuses(
                DeviceError::OutOfBounds,
                &[
                    Write(SECTORS + 1, 0),
                    Discard(SECTORS + 1, 0),
                    WriteZeroes(SECTORS + 1, 0),
                ],
            );
        }
    }
}

fn read_only_device_refuses_every_write_form_and_changes_nothing(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::new(backend, sector_size, true);
    let one = f.len(1);
    // Read-only is found first: before unaligned and out of bounds, even for zero lengths.
    f.refuses(
        DeviceError::ReadOnly,
        &[
            Write(0, one),
            Discard(0, 1),
            WriteZeroes(0, 1),
            Write(0, f.len(SECTORS)),
            Discard(0, SECTORS),
            WriteZeroes(0, SECTORS),
            Write(0, 0),
            Discard(0, 0),
            WriteZeroes(0, 0),
            Write(0, 1),
            Write(SECTORS, one),
            Write(u64::MAX, one),
            Discard(u64::MAX, u64::MAX),
            WriteZeroes(1, u64::MAX),
        ],
    );
    assert_eq!(f.send(Read(2, one)).unwrap(), f.original(2, 1));
}

/// A device's sector size is a power of two of at least 512 that fits the WIT's `u32`; any
/// other is refused when the device is made, never taken and failed on later (a size of 2^32
/// read back as 0).
fn sector_sizes_outside_the_contract_are_refused(backend: &dyn DeviceBackend, sector_size: u32) {
    for bytes in [
        0,
        1,
        256,
        511,
        513,
        1000,
        3 << 10,
        1 << 32,
        (1 << 32) + 512,
        1 << 53,
        u64::MAX,
    ] {
        let made = backend.empty_device_with_sector_size(bytes);
        assert!(made.is_err(), "made a device of {bytes}-byte sectors");
    }
    assert_eq!(
        backend.empty_device_with_sector_size(sector_size.into()),
        Ok(())
    );
}

fn an_empty_device_refuses_every_request_that_is_not_empty(
    backend: &dyn DeviceBackend,
    sector_size: u32,
) {
    let f = Fixture::sized(backend, sector_size, 0, false);
    let one = f.len(1);
    f.refuses(
        DeviceError::OutOfBounds,
        &[
            Read(0, one),
            Write(0, one),
            Discard(0, 1),
            WriteZeroes(0, 1),
            Read(1, 0),
        ],
    );
    for request in [Read(0, 0), Write(0, 0), Discard(0, 0), WriteZeroes(0, 0)] {
        assert_eq!(f.send(request), Ok(Vec::new()), "{request:?}");
        f.assert_unchanged(request);
    }
}

fn the_backing_never_grows(backend: &dyn DeviceBackend, sector_size: u32) {
    let f = Fixture::new(backend, sector_size, false);
    let one = f.len(1);
    let last = SECTORS - 1;
    for request in [
        Write(last, one),
        Discard(last, 1),
        WriteZeroes(last, 1),
        Write(last, f.len(2)),
        Discard(last, 2),
        WriteZeroes(last, 2),
        Write(SECTORS, one),
        WriteZeroes(SECTORS, 1_000),
        Discard(SECTORS, 1_000),
    ] {
        // Whether each is refused is checked above; here, only that the backing stays its size.
        let _ = f.send(request);
        assert_eq!(
            f.backing().len(),
            f.original.len(),
            "the backing grew after {request:?}"
        );
    }
    assert_eq!(f.device.device.flush(), Ok(()));
    assert_eq!(f.backing().len(), f.original.len());
}
