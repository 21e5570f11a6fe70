//! A guest that misbehaves on purpose (`test-programs/hostile/`): every misbehaviour must come back as an
//! error for that call, never a panic or a hang of the host, and a fresh instance must work.
//! A guest that goes around its partition and calls the device out of bounds, or maps a
//! request there, is refused by the device, and no byte of the file changes. And the memory
//! limit every guest runs under: high enough for the largest transfer through it.
//!
//! [`expected`] says what the host must make of each mode of the guest, and each test below
//! takes the modes of one kind from it: a mode added to the guest is run by a test, or this
//! file does not compile.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::time::Duration;

use blockpart_core::faulty_device::{Faults, Op, Request};
use blockpart_core::{DeviceError, Direction, Error as PartitionError, FaultyDevice, SectorSize};
use blockpart_host::{Error, FileDevice, Instance, Limits, PartitionHandle, Runtime};
use blockpart_test_artifacts::hostile::{
    BAD_DISK_GUID, BAD_ENTRY_GUID, Mode, TOO_LONG_NAME, TOO_MANY_ENTRIES,
};
use tempfile::NamedTempFile;

/// What the host must make of a mode of the hostile guest.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expect {
    /// `read` and `map` fail as a trap whose message has this in it.
    Trap(&'static str),
    /// `read` returns this many bytes for 512, and the host refuses them.
    WrongLength(usize),
    /// `whole` misuses the device handle: a trap, "unknown handle".
    UnknownHandle,
    /// The guest keeps the device until its instance is dropped.
    KeepsTheDevice,
    /// `read` sends the device this request itself (in device sectors, on a disk of
    /// [`SECTORS`]), and the device refuses it with this error.
    DeviceRefuses(Op, u64, u64, DeviceError),
    /// `map` maps a transfer of this many sectors to this device sector, and the device
    /// refuses the host's request there with this error.
    DeviceRefusesMapped(Direction, u64, u64, DeviceError),
    /// `map` maps a request onto a device the guest has dropped: a guest failure.
    MapsADroppedDevice,
    /// `partition-table.read` returns this text as a GUID, and the host refuses it.
    BadGuid(&'static str),
    /// `partition-table.read` returns more than a disk can hold, and the host refuses it with a
    /// message that has this in it.
    Oversized(&'static str),
    /// `read` reads the disk.
    ReadsTheDisk,
}

/// What the host must make of each mode: no wildcard, so a new mode needs an answer here.
fn expected(mode: Mode) -> Expect {
    use DeviceError::{OutOfBounds, ReadOnly};
    use Expect::DeviceRefuses;
    match mode {
        Mode::Trap => Expect::Trap("unreachable"),
        Mode::Loop => Expect::Trap("the guest ran past its time limit of 200 ms"),
        Mode::Grow => Expect::Trap("the guest reached its memory limit of 32 MiB"),
        Mode::Recurse => Expect::Trap("call stack exhausted"),
        Mode::Short => Expect::WrongLength(511),
        Mode::Long => Expect::WrongLength(1024),
        Mode::DropTwice | Mode::UseAfterDrop => Expect::UnknownHandle,
        Mode::Keep => Expect::KeepsTheDevice,
        Mode::ReadPastEnd => DeviceRefuses(Op::Read, SECTORS, 1, OutOfBounds),
        Mode::WritePastEnd => DeviceRefuses(Op::Write, SECTORS, 1, OutOfBounds),
        Mode::WriteAcrossEnd => DeviceRefuses(Op::Write, SECTORS - 1, 2, OutOfBounds),
        Mode::ReadAtMax => DeviceRefuses(Op::Read, u64::MAX, 1, OutOfBounds),
        Mode::WriteAtMax => DeviceRefuses(Op::Write, u64::MAX, 1, OutOfBounds),
        Mode::ZeroesWrapping => DeviceRefuses(Op::WriteZeroes, 1, u64::MAX, OutOfBounds),
        Mode::DiscardTooMany => DeviceRefuses(Op::Discard, 0, u64::MAX, OutOfBounds),
        Mode::WriteReadOnly => DeviceRefuses(Op::Write, 0, 1, ReadOnly),
        Mode::BadDiskGuid => Expect::BadGuid(BAD_DISK_GUID),
        Mode::BadEntryGuid => Expect::BadGuid(BAD_ENTRY_GUID),
        Mode::TooManyEntries => Expect::Oversized("131073 entries; a table has at most 131072"),
        Mode::TooLongName => Expect::Oversized("a name of 109 bytes"),
        Mode::MapPastEnd => Expect::DeviceRefusesMapped(Direction::Read, SECTORS, 1, OutOfBounds),
        Mode::MapAtMax => Expect::DeviceRefusesMapped(Direction::Write, u64::MAX, 1, OutOfBounds),
        Mode::MapAcrossEnd => {
            Expect::DeviceRefusesMapped(Direction::Write, SECTORS - 1, 2, OutOfBounds)
        }
        Mode::MapWriteReadOnly => Expect::DeviceRefusesMapped(Direction::Write, 0, 1, ReadOnly),
        Mode::MapAfterDrop => Expect::MapsADroppedDevice,
        Mode::Honest => Expect::ReadsTheDisk,
    }
}

/// Every mode of the guest, by a first byte that selects it, with what the host must make of
/// it.
fn modes() -> Vec<(u8, Mode, Expect)> {
    let mut modes: Vec<(u8, Mode, Expect)> = Vec::new();
    for byte in 0..=u8::MAX {
        let mode = Mode::of(byte);
        if modes.iter().all(|&(_, seen, _)| seen != mode) {
            modes.push((byte, mode, expected(mode)));
        }
    }
    modes
}

/// A test's share of [`modes`]: the modes whose expectation `kind` takes, by first byte, with
/// what it takes from it.
fn modes_where<T>(kind: impl Fn(Expect) -> Option<T>) -> Vec<(u8, T)> {
    let modes: Vec<(u8, T)> = modes()
        .into_iter()
        .filter_map(|(byte, _, expect)| Some((byte, kind(expect)?)))
        .collect();
    assert!(!modes.is_empty(), "the guest has no mode of this kind");
    modes
}

/// The hostile guest with limits small enough that its loops and its growth end quickly.
fn hostile() -> Runtime {
    hostile_within(Duration::from_millis(200))
}

/// The hostile guest with `call_time` per call, for modes that do much honest work first (a
/// table of 131,073 entries takes about as long as the 200 ms of [`hostile`] on a loaded
/// machine): their outcome must not depend on the machine's speed.
fn hostile_within(call_time: Duration) -> Runtime {
    let component = std::fs::read(blockpart_test_artifacts::HOSTILE_COMPONENT).unwrap();
    Runtime::from_component(&component)
        .unwrap()
        .with_limits(Limits {
            memory_bytes: 32 << 20,
            call_time,
            ..Limits::default()
        })
}

/// Sectors of the hostile guest's disks.
const SECTORS: u64 = 8;

/// A read-only disk of 8 sectors whose first byte tells the hostile guest what to do.
fn disk(mode: u8) -> (NamedTempFile, FileDevice) {
    disk_of(mode, true)
}

/// A disk of 8 sectors whose first byte tells the hostile guest what to do.
fn disk_of(mode: u8, read_only: bool) -> (NamedTempFile, FileDevice) {
    let file = NamedTempFile::new().unwrap();
    let mut bytes: Vec<u8> = (0..=252u8).cycle().take(SECTORS as usize * 512).collect();
    bytes[0] = mode;
    std::fs::write(file.path(), &bytes).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, read_only).unwrap();
    (file, device)
}

fn guest_error(error: Error) -> String {
    match error {
        Error::Guest(error) => format!("{error:?}"),
        other => panic!("expected a guest failure, got {other:?}"),
    }
}

/// After `instance` failed, a fresh instance of the same runtime reads an honest disk.
fn fresh_instance_works(runtime: &Runtime) {
    for (honest, ()) in modes_where(|expect| (expect == Expect::ReadsTheDisk).then_some(())) {
        let (_file, device) = disk(honest);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        assert_eq!(instance.read_list(whole, 0, 512).unwrap()[..2], [honest, 1]);
        let mut sector = [0; 512];
        instance.read(whole, 0, &mut sector).unwrap();
        assert_eq!(sector[..2], [honest, 1]);
    }
}

#[test]
fn an_honest_guest_reads_the_disk() {
    fresh_instance_works(&hostile());
}

#[test]
fn a_guest_that_traps_loops_or_exhausts_memory_or_stack_fails_that_call_only() {
    let runtime = hostile();
    let traps = modes_where(|expect| match expect {
        Expect::Trap(expected) => Some(expected),
        _ => None,
    });
    for (mode, expected) in traps {
        for mapped in [false, true] {
            let (_file, device) = disk(mode);
            let mut instance = runtime.instantiate().unwrap();
            let whole = instance.whole(device).unwrap();
            let mut sector = [0; 512];
            let mut read = |instance: &mut blockpart_host::Instance| {
                if mapped {
                    instance.read(whole, 0, &mut sector)
                } else {
                    instance.read_list(whole, 0, 512).map(drop)
                }
            };
            let message = guest_error(read(&mut instance).unwrap_err());
            assert!(
                message.to_lowercase().contains(&expected.to_lowercase()),
                "{} (mapped: {mapped}): {message}",
                char::from(mode)
            );
            // The broken instance keeps failing cleanly; the runtime still makes good ones.
            assert!(matches!(read(&mut instance), Err(Error::Guest(_))));
            fresh_instance_works(&runtime);
        }
    }
}

#[test]
fn a_read_of_the_wrong_length_is_refused() {
    let runtime = hostile();
    let wrong = modes_where(|expect| match expect {
        Expect::WrongLength(returned) => Some(returned),
        _ => None,
    });
    for (mode, returned) in wrong {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        let message = guest_error(instance.read_list(whole, 0, 512).unwrap_err());
        assert!(
            message.contains(&format!(
                "asked for 512 bytes, the guest returned {returned}"
            )),
            "{message}"
        );
    }
}

#[test]
fn dropping_or_using_a_dropped_device_handle_is_a_trap() {
    let runtime = hostile();
    for (mode, ()) in modes_where(|expect| (expect == Expect::UnknownHandle).then_some(())) {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let message = guest_error(instance.whole(device).unwrap_err());
        assert!(
            message.contains("unknown handle"),
            "{}: {message}",
            char::from(mode)
        );
        fresh_instance_works(&runtime);
    }
}

#[test]
fn a_device_the_guest_keeps_is_released_with_its_instance() {
    let runtime = hostile();
    for (mode, ()) in modes_where(|expect| (expect == Expect::KeepsTheDevice).then_some(())) {
        let (_file, device) = disk(mode);
        // The fault-injecting device with no faults: its log counts the handle's drop.
        let device = FaultyDevice::new(device, Faults::default());
        let log = device.log();
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        instance.drop_partition(whole).unwrap();
        assert_eq!(instance.live_devices(), 1, "the guest kept it");
        assert_eq!((log.made(), log.dropped()), (1, 0));
        drop(instance);
        assert_eq!((log.made(), log.dropped()), (1, 1));
    }
}

/// On a fresh instance of `runtime` over a disk that selects `mode` (read-only when `error` is
/// `ReadOnly`), `request` of the whole disk must fail with the device's `error`, the device must
/// have seen `seen` as its last request, and the file must not change.
fn device_refuses(
    runtime: &Runtime,
    mode: u8,
    error: DeviceError,
    seen: Request,
    request: impl FnOnce(&mut Instance, PartitionHandle) -> Result<(), Error>,
) {
    let name = char::from(mode);
    let (file, device) = disk_of(mode, error == DeviceError::ReadOnly);
    let before = std::fs::read(file.path()).unwrap();
    let device = FaultyDevice::new(device, Faults::default());
    let log = device.log();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    match request(&mut instance, whole) {
        Err(Error::Partition(PartitionError::Device(refused))) => {
            assert_eq!(refused, error, "{name}");
        }
        other => panic!("{name}: expected the device to refuse with {error:?}, got {other:?}"),
    }
    assert_eq!(log.requests().last(), Some(&seen), "{name}");
    assert_eq!(
        instance.device_requests(),
        2,
        "{name}: `whole`'s read, then this one"
    );
    let after = std::fs::read(file.path()).unwrap();
    assert!(after == before, "{name}: the file changed");
}

#[test]
fn a_guest_that_calls_its_device_out_of_bounds_or_writes_a_read_only_one_is_refused_by_it() {
    let runtime = hostile();
    let refused = modes_where(|expect| match expect {
        Expect::DeviceRefuses(op, sector_start, sectors, error) => {
            Some((op, sector_start, sectors, error))
        }
        _ => None,
    });
    for (mode, (op, sector_start, sectors, error)) in refused {
        // The guest goes around the partition: the device sees the request itself.
        let seen = Request {
            op,
            sector_start,
            sectors,
            failed: false,
        };
        device_refuses(&runtime, mode, error, seen, |instance, whole| {
            instance.read_list(whole, 0, 512).map(drop)
        });
    }
}

#[test]
fn a_request_the_guest_maps_out_of_bounds_or_onto_a_read_only_device_is_refused_by_it() {
    let runtime = hostile();
    let refused = modes_where(|expect| match expect {
        Expect::DeviceRefusesMapped(direction, at, sectors, error) => {
            Some((direction, at, sectors, error))
        }
        _ => None,
    });
    for (mode, (direction, at, sectors, error)) in refused {
        // The host makes the request where the guest mapped it.
        let op = match direction {
            Direction::Read => Op::Read,
            Direction::Write => Op::Write,
        };
        let seen = Request {
            op,
            sector_start: at,
            sectors,
            failed: false,
        };
        let mut data = vec![0xEE; sectors as usize * 512];
        device_refuses(
            &runtime,
            mode,
            error,
            seen,
            |instance, whole| match direction {
                Direction::Read => instance.read(whole, 0, &mut data),
                Direction::Write => instance.write(whole, 0, &data),
            },
        );
    }
}

#[test]
fn a_request_mapped_onto_a_device_the_guest_dropped_is_a_guest_error() {
    let runtime = hostile();
    for (mode, ()) in modes_where(|expect| (expect == Expect::MapsADroppedDevice).then_some(())) {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        assert_eq!(instance.live_devices(), 0);
        let mut sector = [0; 512];
        let message = guest_error(instance.read(whole, 0, &mut sector).unwrap_err());
        assert!(message.contains("device it had dropped"), "{message}");
    }
}

#[test]
fn a_table_with_a_malformed_guid_is_a_guest_error_naming_it() {
    let runtime = hostile();
    let bad = modes_where(|expect| match expect {
        Expect::BadGuid(text) => Some(text),
        _ => None,
    });
    for (mode, text) in bad {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        let message = guest_error(instance.read_table(whole).unwrap_err());
        assert!(
            message.contains(&format!("{text:?}")),
            "{}: {message}",
            char::from(mode)
        );
    }
}

#[test]
fn a_table_larger_than_any_disk_holds_is_a_guest_error() {
    assert_eq!(TOO_MANY_ENTRIES, blockpart_core::MAX_ENTRIES + 1);
    assert_eq!(TOO_LONG_NAME, blockpart_core::MAX_NAME_BYTES + 1);
    let runtime = hostile_within(Limits::default().call_time);
    let oversized = modes_where(|expect| match expect {
        Expect::Oversized(text) => Some(text),
        _ => None,
    });
    for (mode, text) in oversized {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        let message = guest_error(instance.read_table(whole).unwrap_err());
        assert!(message.contains(text), "{}: {message}", char::from(mode));
    }
}

#[test]
fn handles_used_oddly_by_the_host_are_errors() {
    let runtime = Runtime::new().unwrap();
    let (_file, device) = disk(0);
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    instance.drop_partition(whole).unwrap();
    let mut sector = [0; 512];
    assert!(matches!(
        instance.read_list(whole, 0, 512),
        Err(Error::Guest(_))
    ));
    assert!(matches!(
        instance.read(whole, 0, &mut sector),
        Err(Error::Guest(_))
    ));
    assert!(matches!(
        instance.drop_partition(whole),
        Err(Error::Guest(_))
    ));

    // A handle of one instance, given to another.
    let (_file, device) = disk(0);
    let mut first = runtime.instantiate().unwrap();
    let mut second = runtime.instantiate().unwrap();
    let theirs = first.whole(device).unwrap();
    assert!(matches!(
        second.read_list(theirs, 0, 512),
        Err(Error::Guest(_))
    ));
    assert!(matches!(
        second.read(theirs, 0, &mut sector),
        Err(Error::Guest(_))
    ));
    assert_eq!(first.read_list(theirs, 0, 512).unwrap().len(), 512);
    first.read(theirs, 0, &mut sector).unwrap();
}

/// A sparse disk of 65 MiB, for transfers of the largest size.
fn big_disk() -> (NamedTempFile, FileDevice) {
    let file = NamedTempFile::new().unwrap();
    file.as_file().set_len(65 << 20).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, false).unwrap();
    (file, device)
}

#[test]
fn the_largest_transfer_fits_the_default_memory_limit() {
    let runtime = Runtime::new().unwrap();
    let (_file, device) = big_disk();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    let largest = blockpart_core::MAX_TRANSFER_BYTES;
    let data = vec![7u8; largest as usize];
    instance.write_list(whole, 1, &data).unwrap();
    assert!(instance.read_list(whole, 1, largest).unwrap() == data);
}

#[test]
fn a_memory_limit_below_a_transfer_fails_that_transfer_only() {
    let runtime = Runtime::new().unwrap().with_limits(Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    });
    let (_file, device) = big_disk();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    let message = guest_error(instance.read_list(whole, 0, 32 << 20).unwrap_err());
    assert!(
        message.contains("the guest reached its memory limit of 16 MiB"),
        "{message}"
    );
    // Smaller transfers work in a fresh instance under the same limit.
    let (_file, device) = big_disk();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    assert_eq!(
        instance.read_list(whole, 0, 1 << 20).unwrap().len(),
        1 << 20
    );
    // A transfer whose bytes do not pass through the guest is not bound by its memory.
    let largest = vec![7u8; blockpart_core::MAX_TRANSFER_BYTES as usize];
    instance.write(whole, 1, &largest).unwrap();
    let mut back = vec![0u8; largest.len()];
    instance.read(whole, 1, &mut back).unwrap();
    assert!(back == largest);
}
