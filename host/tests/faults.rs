//! A failing disk under the component's partitions: each failure comes back as the device's
//! error, in device sectors, and nothing outside the partition is ever read or written.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::sync::OnceLock;
use std::time::Duration;

use blockpart_core::faulty_device::{Faults, Log, Op};
use blockpart_core::{
    BlockDevice, DeviceError, Error as PartitionError, FaultyDevice, Info, SectorSize,
};
use blockpart_host::{Error, FileDevice, Instance, Limits, PartitionHandle, Runtime};
use proptest::prelude::*;
use tempfile::NamedTempFile;

/// Device sectors of the partition under test: the middle of three.
const MID: std::ops::Range<u64> = 16..32;
const DISK_SECTORS: u64 = 64;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new().unwrap())
}

struct Setup {
    file: NamedTempFile,
    instance: Instance,
    mid: PartitionHandle,
    log: Log,
}

/// A 64-sector disk split into sectors 0..16, 16..32 (`mid`) and 32..64, over a device that
/// fails as `faults` say.
fn setup(faults: Faults) -> Setup {
    let file = NamedTempFile::new().unwrap();
    let bytes: Vec<u8> = (0..=250u8)
        .cycle()
        .take(DISK_SECTORS as usize * 512)
        .collect();
    std::fs::write(file.path(), bytes).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, false).unwrap();
    let device = FaultyDevice::new(device, faults);
    let log = device.log();
    let mut instance = runtime().instantiate().unwrap();
    let (_head, tail) = instance.connect(MID.start, device).unwrap();
    let (mid, _rest) = instance.subpartition(tail, MID.end - MID.start).unwrap();
    Setup {
        file,
        instance,
        mid,
        log,
    }
}

fn device_error<T: std::fmt::Debug>(result: Result<T, Error>) -> DeviceError {
    match result {
        Err(Error::Partition(PartitionError::Device(error))) => error,
        other => panic!("expected a device error, got {other:?}"),
    }
}

#[test]
fn a_failing_sector_is_reported_in_device_sectors() {
    let mut s = setup(Faults {
        bad_reads: Some(20..21),
        bad_writes: Some(31..32),
        ..Faults::default()
    });
    let error = device_error(s.instance.read_list(s.mid, 4, 512));
    assert_eq!(
        error,
        DeviceError::Io("injected fault: Read of sectors 20..+1".into())
    );
    assert!(s.instance.read_list(s.mid, 5, 512).is_ok());
    // A read of several sectors that reaches the bad one fails whole.
    device_error(s.instance.read_list(s.mid, 2, 4 * 512));

    let before = std::fs::read(s.file.path()).unwrap();
    let error = device_error(s.instance.write_list(s.mid, 15, &[9; 512]));
    assert_eq!(
        error,
        DeviceError::Io("injected fault: Write of sectors 31..+1".into())
    );
    assert!(std::fs::read(s.file.path()).unwrap() == before);
}

#[test]
fn the_nth_request_fails_and_the_others_go_through() {
    let mut s = setup(Faults {
        fail_nth: Some(2),
        ..Faults::default()
    });
    s.instance.write_list(s.mid, 0, &[1; 512]).unwrap();
    device_error(s.instance.write_list(s.mid, 1, &[2; 512]));
    s.instance.write_list(s.mid, 2, &[3; 512]).unwrap();
    let file = std::fs::read(s.file.path()).unwrap();
    assert_eq!(file[16 * 512], 1);
    assert_eq!(
        file[17 * 512],
        (17 * 512 % 251) as u8,
        "the failed write left it as it was"
    );
    assert_eq!(file[18 * 512], 3);
}

#[test]
fn a_device_that_disconnects_midway_fails_every_later_request() {
    let mut s = setup(Faults {
        disconnect_at: Some(2),
        ..Faults::default()
    });
    assert!(s.instance.read_list(s.mid, 0, 512).is_ok());
    for _ in 0..3 {
        assert_eq!(
            device_error(s.instance.read_list(s.mid, 0, 512)),
            DeviceError::Disconnected
        );
    }
    assert_eq!(
        device_error(s.instance.flush(s.mid)),
        DeviceError::Disconnected
    );
}

#[derive(Clone, Debug)]
enum Request {
    Read(u64, u64),
    Write(u64, u64, u8),
    Discard(u64, u64),
    WriteZeroes(u64, u64),
    Flush,
}

/// Sector numbers and counts near the partition's edges, and far past them.
fn number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..20, Just(u64::MAX), Just(u64::MAX - 3), 1u64..1 << 40]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (number(), 0u64..6).prop_map(|(s, n)| Request::Read(s, n)),
        (number(), 0u64..6, any::<u8>()).prop_map(|(s, n, b)| Request::Write(s, n, b)),
        (number(), number()).prop_map(|(s, n)| Request::Discard(s, n)),
        (number(), number()).prop_map(|(s, n)| Request::WriteZeroes(s, n)),
        Just(Request::Flush),
    ]
}

fn faults() -> impl Strategy<Value = Faults> {
    let range = (0u64..DISK_SECTORS, 1u64..8).prop_map(|(s, n)| s..s + n);
    (
        prop::option::of(1u64..30),
        prop::option::of(range.clone()),
        prop::option::of(range),
        prop::option::weighted(0.2, 1u64..30),
    )
        .prop_map(|(fail_nth, bad_reads, bad_writes, disconnect_at)| Faults {
            fail_nth,
            bad_reads,
            bad_writes,
            disconnect_at,
            delay: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever is asked of the middle partition, and however the device fails, the bytes of
    /// its siblings and everything else on the disk stay the same, the device never sees a
    /// request outside the partition, and no request traps the guest.
    #[test]
    fn requests_on_a_partition_never_touch_its_siblings(
        faults in faults(),
        requests in prop::collection::vec(request(), 1..30),
    ) {
        let mut s = setup(faults);
        let checksum = |path: &std::path::Path| {
            let bytes = std::fs::read(path).unwrap();
            let outside = [&bytes[..MID.start as usize * 512], &bytes[MID.end as usize * 512..]];
            outside.map(crc32fast::hash)
        };
        let before = checksum(s.file.path());
        for request in requests {
            let result = match request {
                Request::Read(start, n) => s.instance.read_list(s.mid, start, n * 512).map(drop),
                Request::Write(start, n, byte) => {
                    s.instance.write_list(s.mid, start, &vec![byte; n as usize * 512])
                }
                Request::Discard(start, n) => s.instance.discard(s.mid, start, n),
                Request::WriteZeroes(start, n) => s.instance.write_zeroes(s.mid, start, n),
                Request::Flush => s.instance.flush(s.mid),
            };
            prop_assert!(!matches!(result, Err(Error::Guest(_))), "{result:?}");
        }
        prop_assert_eq!(checksum(s.file.path()), before);
        for seen in s.log.requests() {
            if seen.op != Op::Flush {
                prop_assert!(
                    seen.sector_start >= MID.start && seen.sector_start + seen.sectors <= MID.end,
                    "{seen:?}"
                );
            }
        }
    }
}

#[test]
fn flush_reaches_the_device_after_the_writes_before_it() {
    let mut s = setup(Faults::default());
    s.instance.write_list(s.mid, 0, &[1; 512]).unwrap();
    s.instance.flush(s.mid).unwrap();
    let ops: Vec<Op> = s.log.requests().iter().map(|request| request.op).collect();
    assert_eq!(ops, [Op::Write, Op::Flush]);
}

#[test]
fn a_slow_device_does_not_count_against_the_guests_time_limit() {
    // Each request takes 4 times the guest's whole limit; a call makes several.
    let limit = Duration::from_millis(50);
    let runtime = Runtime::new().unwrap().with_limits(Limits {
        call_time: limit,
        ..Limits::default()
    });
    let file = NamedTempFile::new().unwrap();
    file.as_file().set_len(DISK_SECTORS * 512).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, false).unwrap();
    let faults = Faults {
        delay: Some(limit * 4),
        ..Faults::default()
    };
    let device = FaultyDevice::new(device, faults);
    let log = device.log();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    let data = vec![0x5a; 1024];
    instance.write_list(whole, 3, &data).unwrap();
    instance.flush(whole).unwrap();
    assert_eq!(instance.read_list(whole, 3, 1024).unwrap(), data);
    assert_eq!(log.request_count(), 3);
    assert_eq!(
        std::fs::read(file.path()).unwrap()[3 * 512..5 * 512],
        data[..]
    );
}

/// A disk that is full: it reads, and fails every write with the system's `ENOSPC`.
struct Full(FileDevice);

impl Full {
    fn no_space() -> DeviceError {
        DeviceError::System {
            errno: rustix::io::Errno::NOSPC.raw_os_error(),
            message: "No space left on device".into(),
        }
    }
}

impl BlockDevice for Full {
    fn info(&self) -> Info {
        self.0.info()
    }
    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.0.read(sector_start, len)
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), DeviceError> {
        Err(Self::no_space())
    }
    fn flush(&self) -> Result<(), DeviceError> {
        Err(Self::no_space())
    }
    fn discard(&self, _: u64, _: u64) -> Result<(), DeviceError> {
        Err(Self::no_space())
    }
    fn write_zeroes(&self, _: u64, _: u64) -> Result<(), DeviceError> {
        Err(Self::no_space())
    }
}

/// The WIT's device error carries a message, not an `errno`: a system error the guest passes
/// back unchanged still reaches the host's caller with its `errno` (the nbdkit plugin answers
/// it, as nbdkit's `file` plugin answers `ENOSPC`), on every path, through the guest or not.
#[test]
fn a_system_error_keeps_its_errno_through_the_guest() {
    let file = NamedTempFile::new().unwrap();
    file.as_file().set_len(DISK_SECTORS * 512).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, false).unwrap();
    let mut instance = runtime().instantiate().unwrap();
    let whole = instance.whole(Full(device)).unwrap();
    let results = [
        ("write", instance.write(whole, 1, &[1; 512])),
        ("write_list", instance.write_list(whole, 1, &[1; 512])),
        ("write_zeroes", instance.write_zeroes(whole, 1, 2)),
        ("discard", instance.discard(whole, 1, 2)),
        ("flush", instance.flush(whole)),
    ];
    for (call, result) in results {
        assert_eq!(device_error(result), Full::no_space(), "{call}");
    }
    // What the guest makes of an error that is not the device's stays the guest's.
    assert!(matches!(
        instance.write_zeroes(whole, DISK_SECTORS, 1),
        Err(Error::Partition(PartitionError::OutOfBounds(_)))
    ));
}
