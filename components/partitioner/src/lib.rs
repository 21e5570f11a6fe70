//! The partitioner component: exports `partition` and `partition-table` over the imported
//! `block-device`, and imports nothing else.
//!
//! All logic lives in `blockpart-core`; this file hands each call to it. The conversions between
//! WIT types and its types are in `types` (for the `types` interface) and `table` (for
//! `partition-table`), once each.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

use std::cell::RefCell;

use blockpart_core as core;

wit_bindgen::generate!({ path: "../../wit", world: "partitioner" });

mod table;
mod types;

use blockpart::partition::block_device::Device;
use blockpart::partition::types as wit;
use exports::blockpart::partition::partition::{Guest, GuestPartition, Partition as Handle};

struct Component;

export!(Component);

impl Guest for Component {
    type Partition = Partition;
}

/// An exported partition. The `RefCell` only serves `disconnect`, which takes `&self` here: a
/// component instance is never re-entered, so the borrows cannot overlap.
struct Partition(RefCell<core::Partition<Imported>>);

impl Partition {
    fn new(inner: core::Partition<Imported>) -> Self {
        Self(RefCell::new(inner))
    }

    fn handles(
        (head, tail): (core::Partition<Imported>, core::Partition<Imported>),
    ) -> (Handle, Handle) {
        (Handle::new(Self::new(head)), Handle::new(Self::new(tail)))
    }
}

impl GuestPartition for Partition {
    fn whole(disk: Device) -> Result<Handle, wit::Error> {
        let inner = core::Partition::whole(Imported(disk))?;
        Ok(Handle::new(Self::new(inner)))
    }

    fn connect(first_sectors: u64, disk: Device) -> Result<(Handle, Handle), wit::Error> {
        Ok(Self::handles(core::Partition::connect(
            first_sectors,
            Imported(disk),
        )?))
    }

    fn subpartition(&self, first_sectors: u64) -> Result<(Handle, Handle), wit::Error> {
        Ok(Self::handles(self.0.borrow().subpartition(first_sectors)?))
    }

    fn slice(&self, sector_start: u64, sectors: u64) -> Result<Handle, wit::Error> {
        let inner = self.0.borrow().slice(sector_start, sectors)?;
        Ok(Handle::new(Self::new(inner)))
    }

    fn get_offset(&self) -> u64 {
        self.0.borrow().offset()
    }

    fn info(&self) -> wit::Info {
        self.0.borrow().info().into()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, wit::Error> {
        Ok(self.0.borrow().read(sector_start, len)?)
    }

    fn write(&self, sector_start: u64, data: Vec<u8>) -> Result<(), wit::Error> {
        Ok(self.0.borrow().write(sector_start, &data)?)
    }

    fn map(
        &self,
        direction: wit::Direction,
        sector_start: u64,
        len: u64,
    ) -> Result<u64, wit::Error> {
        Ok(self.0.borrow().map(direction.into(), sector_start, len)?)
    }

    fn flush(&self) -> Result<(), wit::Error> {
        Ok(self.0.borrow().flush()?)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), wit::Error> {
        Ok(self.0.borrow().discard(sector_start, sectors)?)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), wit::Error> {
        Ok(self.0.borrow().write_zeroes(sector_start, sectors)?)
    }

    fn disconnect(&self) {
        self.0.borrow_mut().disconnect();
    }
}

/// The imported device, seen as a `blockpart-core` device.
struct Imported(Device);

impl core::BlockDevice for Imported {
    fn info(&self) -> core::Info {
        self.0.info().into()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, core::DeviceError> {
        Ok(self.0.read(sector_start, len)?)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), core::DeviceError> {
        Ok(self.0.write(sector_start, data)?)
    }

    fn flush(&self) -> Result<(), core::DeviceError> {
        Ok(self.0.flush()?)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), core::DeviceError> {
        Ok(self.0.discard(sector_start, sectors)?)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), core::DeviceError> {
        Ok(self.0.write_zeroes(sector_start, sectors)?)
    }
}
