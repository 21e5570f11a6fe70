//! The blockpart conformance suite.
//!
//! What it holds an implementation to is the contract, `docs/contract.md` in the repository
//! (the WIT world, the semantics and the order of refusals); that page says which of the
//! modules here check each part of it.
//!
//! It is written against [`Disk`]: a disk, and a partitioner reaching it, behind opaque
//! partition handles. Any implementation of the `partitioner` world can be checked by
//! implementing [`Backend`]: the host does so for the guest component, this crate for the
//! native `blockpart-core` partitions ([`NativeBackend`]) and for a plain model of the
//! specification ([`ModelBackend`]). The disk's own bytes, read around the partitioner, are the
//! oracle.
//!
//! The `partition-table` interface has its own cases, [`TABLE_CASES`], on disks made from the
//! sfdisk fixtures (embedded; sfdisk's JSON is their oracle), each run with the sector sizes of
//! its fixtures by [`run_table_case`]. The model reads no tables: they run on implementations.
//!
//! Devices are held to their own contract by [`DEVICE_CASES`], through a [`DeviceBackend`]: a
//! guest holds the whole device it was handed, so a device's own checks are what stop a hostile
//! one.
//!
//! Reads and writes have two paths, and every case runs on both ([`DataPath`]): through the
//! partitioner (`partition.read` and `write`, whose bytes cross into it), and mapped
//! (`partition.map` checks the request and says where it lands; the host moves the bytes on
//! the device it handed over). [`Mapped`] turns any backend's reads and writes into mapped ones.
//!
//! A case panics on failure, like a test; [`run_case`] turns that into an error.
//!
//! Every runner takes its checks from one list, [`Selection::checks`]: each [`Check`] has its
//! name, sector size and data path, and runs itself ([`Check::run`]).
//!
//! A host in another language runs the same suite through a small driver program of its own,
//! which [`driven`] talks to ([`driven::DrivenBackend`]); its module page is the protocol.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    reason = "test code, with small known numbers: a panic is how a case reports a failure"
)]

mod cases;
mod device;
pub mod driven;
mod handles;
mod mapped;
mod model;
mod native;
pub mod random;
mod sfdisk;
mod suite;
mod tables;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use blockpart_core::{DeviceError, Direction, Error, Info, MAX_TRANSFER_BYTES, OutOfBounds};
pub use blockpart_core::{Entry, Label, PartitionType, Table, TableError};
pub use cases::{CASES, Case};
pub use device::{
    DEVICE_CASES, DeviceBackend, DeviceCase, TestDevice, device_trials, run_device_case,
};
pub use handles::Handles;
pub use mapped::{DataPath, Mapped};
pub use model::ModelBackend;
pub use native::NativeBackend;
pub use sfdisk::fixture;
pub use suite::{Check, RANDOM_SEQUENCES, Selection};
pub use tables::{TABLE_CASES, TableCase, run_table_case};

/// The sector sizes every case runs with.
pub const SECTOR_SIZES: [u32; 2] = [512, 4096];

/// A partition handle, numbered by the backend in the order partitions are made (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Part(pub u32);

/// The disk a case needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpec {
    /// Bytes per sector.
    pub sector_size: u32,
    /// Size in sectors.
    pub sectors: u64,
    /// Whether the device refuses writes.
    pub read_only: bool,
}

impl DiskSpec {
    /// The disk's size in bytes.
    pub fn len(&self) -> usize {
        usize::try_from(self.sectors.saturating_mul(u64::from(self.sector_size)))
            .unwrap_or(usize::MAX)
    }

    /// Whether the disk has no sectors.
    pub fn is_empty(&self) -> bool {
        self.sectors == 0
    }
}

/// An implementation of the partitioner under test.
pub trait Backend {
    /// A disk of `spec` holding `contents` (exactly `spec.len()` bytes).
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk>;
}

/// A disk under test and the partitioner reaching it.
///
/// The operations are those of the WIT `partition` resource; `whole` and `connect` hand the
/// partitioner a fresh handle to the device each time. A backend panics if its implementation
/// fails in a way the WIT has no error for (a guest trap).
pub trait Disk {
    /// `partition.whole` of the device.
    fn whole(&mut self) -> Result<Part, Error>;
    /// `partition.connect` of the device at `first`.
    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error>;
    /// `partition.subpartition`.
    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error>;
    /// `partition.slice`.
    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error>;
    /// `partition.get-offset`.
    fn offset(&mut self, part: Part) -> u64;
    /// `partition.info`.
    fn info(&mut self, part: Part) -> Info;
    /// `partition.read`.
    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error>;
    /// `partition.write`.
    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error>;
    /// `partition.map`: where a read or write of `len` bytes from `start` lands on the device.
    fn map(&mut self, part: Part, direction: Direction, start: u64, len: u64)
    -> Result<u64, Error>;
    /// A read on the mapped path: `partition.map`, then the host reads the device into `buf`.
    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error>;
    /// A write on the mapped path: `partition.map`, then the host writes `data` to the device.
    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error>;
    /// `partition.flush`.
    fn flush(&mut self, part: Part) -> Result<(), Error>;
    /// `partition.discard`.
    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error>;
    /// `partition.write-zeroes`.
    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error>;
    /// `partition.disconnect`.
    fn disconnect(&mut self, part: Part);
    /// `partition-table.read` of the table at the start of `part`.
    fn read_table(&mut self, part: Part) -> Result<Table, TableError>;
    /// `partition-table.open`: entry `number` of `part`'s table, as a partition of `part`.
    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError>;
    /// Drops the partition handle.
    fn drop_partition(&mut self, part: Part);
    /// Device handles the partitioner holds: given to it and not yet dropped.
    fn live_devices(&self) -> usize;
    /// Requests the device has received from the partitioner.
    fn device_requests(&self) -> u64;
    /// The disk's bytes, read around the partitioner.
    fn bytes(&self) -> Vec<u8>;
}

/// Runs `case` with `sector_size` against `backend`: `Err` with the failure if it panicked.
pub fn run_case(case: &Case, backend: &dyn Backend, sector_size: u32) -> Result<(), String> {
    caught(|| (case.run)(backend, sector_size))
}

/// Runs `check`: `Err` with its panic message if it panicked.
fn caught(check: impl FnOnce()) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(check)).map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the case panicked".to_owned())
    })
}

/// `len` bytes of a pattern that differs with `seed` and along the buffer, so misplaced data
/// shows.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(0x9E37_79B9) | 1;
    (0..len)
        .map(|_| {
            // xorshift32: cheap, and never a run of equal bytes.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}
