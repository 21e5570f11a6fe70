//! A guest that misbehaves on purpose (`hostile/`): every misbehaviour must come back as an
//! error for that call, never a panic or a hang of the host, and a fresh instance must work.
//! And the memory limit every guest runs under: high enough for the largest transfer.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use blockpart_core::{BlockDevice, DeviceError, Info, SectorSize};
use blockpart_host::{Error, FileDevice, Limits, Runtime};
use tempfile::NamedTempFile;

fn hostile() -> Runtime {
    let component = std::fs::read(blockpart_test_artifacts::HOSTILE_COMPONENT).unwrap();
    Runtime::from_component(&component)
        .unwrap()
        .with_limits(Limits {
            memory_bytes: 32 << 20,
            call_time: Duration::from_millis(200),
            ..Limits::default()
        })
}

/// A disk of 8 sectors whose first byte tells the hostile guest what to do.
fn disk(mode: u8) -> (NamedTempFile, FileDevice) {
    let file = NamedTempFile::new().unwrap();
    let mut bytes: Vec<u8> = (0..=252u8).cycle().take(8 * 512).collect();
    bytes[0] = mode;
    std::fs::write(file.path(), &bytes).unwrap();
    let device = FileDevice::open(file.path(), SectorSize::B512, true).unwrap();
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
    let (_file, device) = disk(b'h');
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    assert_eq!(instance.read(whole, 0, 512).unwrap()[..2], [b'h', 1]);
}

#[test]
fn a_guest_that_traps_loops_or_exhausts_memory_or_stack_fails_that_call_only() {
    let runtime = hostile();
    let cases = [
        (b'T', "unreachable"),
        (b'L', "interrupt"),
        (b'M', "growing memory"),
        (b'R', "call stack exhausted"),
    ];
    for (mode, expected) in cases {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        let message = guest_error(instance.read(whole, 0, 512).unwrap_err());
        assert!(
            message.to_lowercase().contains(expected),
            "{}: {message}",
            char::from(mode)
        );
        // The broken instance keeps failing cleanly; the runtime still makes good ones.
        assert!(matches!(instance.read(whole, 0, 512), Err(Error::Guest(_))));
        fresh_instance_works(&runtime);
    }
}

#[test]
fn a_read_of_the_wrong_length_is_refused() {
    let runtime = hostile();
    for (mode, returned) in [(b'S', 511), (b'G', 1024)] {
        let (_file, device) = disk(mode);
        let mut instance = runtime.instantiate().unwrap();
        let whole = instance.whole(device).unwrap();
        let message = guest_error(instance.read(whole, 0, 512).unwrap_err());
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
    for mode in [b'D', b'U'] {
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

/// A device that says when it is dropped.
struct Watched(FileDevice, Arc<AtomicBool>);

impl Drop for Watched {
    fn drop(&mut self) {
        self.1.store(true, Ordering::SeqCst);
    }
}

impl BlockDevice for Watched {
    fn info(&self) -> Info {
        self.0.info()
    }
    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.0.read(sector_start, len)
    }
    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.0.write(sector_start, data)
    }
    fn flush(&self) -> Result<(), DeviceError> {
        self.0.flush()
    }
    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.0.discard(sector_start, sectors)
    }
    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.0.write_zeroes(sector_start, sectors)
    }
}

#[test]
fn a_device_the_guest_keeps_is_released_with_its_instance() {
    let runtime = hostile();
    let (_file, device) = disk(b'K');
    let dropped = Arc::new(AtomicBool::new(false));
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance
        .whole(Watched(device, Arc::clone(&dropped)))
        .unwrap();
    instance.drop_partition(whole).unwrap();
    assert_eq!(instance.live_devices(), 1, "the guest kept it");
    assert!(!dropped.load(Ordering::SeqCst));
    drop(instance);
    assert!(dropped.load(Ordering::SeqCst));
}

#[test]
fn handles_used_oddly_by_the_host_are_errors() {
    let runtime = Runtime::new().unwrap();
    let (_file, device) = disk(0);
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    instance.drop_partition(whole).unwrap();
    assert!(matches!(instance.read(whole, 0, 512), Err(Error::Guest(_))));
    assert!(matches!(
        instance.drop_partition(whole),
        Err(Error::Guest(_))
    ));

    // A handle of one instance, given to another.
    let (_file, device) = disk(0);
    let mut first = runtime.instantiate().unwrap();
    let mut second = runtime.instantiate().unwrap();
    let theirs = first.whole(device).unwrap();
    assert!(matches!(second.read(theirs, 0, 512), Err(Error::Guest(_))));
    assert_eq!(first.read(theirs, 0, 512).unwrap().len(), 512);
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
    instance.write(whole, 1, &data).unwrap();
    assert!(instance.read(whole, 1, largest).unwrap() == data);
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
    let message = guest_error(instance.read(whole, 0, 32 << 20).unwrap_err());
    assert!(message.contains("growing memory"), "{message}");
    // Smaller transfers work in a fresh instance under the same limit.
    let (_file, device) = big_disk();
    let mut instance = runtime.instantiate().unwrap();
    let whole = instance.whole(device).unwrap();
    assert_eq!(instance.read(whole, 0, 1 << 20).unwrap().len(), 1 << 20);
}
