//! The device contract on the devices of `blockpart-core`: the memory device, and the
//! fault-injecting device over it with no faults.

use blockpart_conformance::{DiskSpec, TestDevice, device_trials};
use blockpart_core::faulty_device::Faults;
use blockpart_core::{FaultyDevice, MemDevice, SectorSize};
use libtest_mimic::{Arguments, Trial};

fn memory(spec: &DiskSpec, contents: &[u8]) -> MemDevice {
    let sector_size = SectorSize::new(spec.sector_size).expect("a valid sector size");
    MemDevice::new(contents.to_vec(), sector_size, !spec.read_only)
        .expect("contents of whole sectors")
}

fn mem_device(spec: &DiskSpec, contents: &[u8]) -> TestDevice {
    let device = memory(spec, contents);
    let view = device.clone();
    TestDevice {
        device: Box::new(device),
        backing: Box::new(move || view.to_bytes()),
    }
}

fn faulty_device(spec: &DiskSpec, contents: &[u8]) -> TestDevice {
    let device = memory(spec, contents);
    let view = device.clone();
    TestDevice {
        device: Box::new(FaultyDevice::new(device, Faults::default())),
        backing: Box::new(move || view.to_bytes()),
    }
}

fn contract(
    name: &'static str,
    backend: fn(&DiskSpec, &[u8]) -> TestDevice,
) -> impl Iterator<Item = Trial> {
    device_trials(name, backend).map(|(name, check)| Trial::test(name, move || Ok(check()?)))
}

fn main() {
    let trials = contract("mem_device", mem_device)
        .chain(contract("faulty_device", faulty_device))
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
