//! The device contract (`blockpart_conformance::DEVICE_CASES`) on `FileDevice`, read-write and
//! read-only over a temporary file, and on the fault-injecting device over it with no faults.
//! The file's bytes and length, read around the device, are the oracle.

use blockpart_conformance::{DiskSpec, TestDevice, device_trials};
use blockpart_core::SectorSize;
use blockpart_core::faulty_device::{Faults, FaultyDevice};
use blockpart_host::FileDevice;
use libtest_mimic::{Arguments, Trial};
use tempfile::NamedTempFile;

/// A temporary file holding `contents`, opened as `spec` says; the file lives as long as the
/// backing reader.
fn file(spec: &DiskSpec, contents: &[u8]) -> (FileDevice, Box<dyn Fn() -> Vec<u8>>) {
    let file = NamedTempFile::new().expect("creating a temporary disk");
    std::fs::write(file.path(), contents).expect("filling the temporary disk");
    let sector_size = SectorSize::new(spec.sector_size).expect("a valid sector size");
    let device =
        FileDevice::open(file.path(), sector_size, spec.read_only).expect("opening the disk");
    let backing = move || std::fs::read(file.path()).expect("reading the disk around the device");
    (device, Box::new(backing))
}

fn file_device(spec: &DiskSpec, contents: &[u8]) -> TestDevice {
    let (device, backing) = file(spec, contents);
    TestDevice {
        device: Box::new(device),
        backing,
    }
}

fn faulty_file_device(spec: &DiskSpec, contents: &[u8]) -> TestDevice {
    let (device, backing) = file(spec, contents);
    TestDevice {
        device: Box::new(FaultyDevice::new(device, Faults::default())),
        backing,
    }
}

fn contract(
    name: &'static str,
    backend: fn(&DiskSpec, &[u8]) -> TestDevice,
) -> impl Iterator<Item = Trial> {
    device_trials(name, backend).map(|(name, check)| Trial::test(name, move || Ok(check()?)))
}

fn main() {
    let trials = contract("file_device", file_device)
        .chain(contract("faulty_device", faulty_file_device))
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
