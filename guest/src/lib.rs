//! The partitioner component: exports `partition` and `partition-table` over the imported
//! `block-device`, and imports nothing else.
//!
//! All logic lives in `blockpart-core`; this file only converts between WIT types and its types.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

use std::cell::RefCell;

use blockpart_core as core;

wit_bindgen::generate!({ path: "../wit", world: "partitioner" });

mod table;

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
        let info = self.0.borrow().info();
        wit::Info {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, wit::Error> {
        Ok(self.0.borrow().read(sector_start, len)?)
    }

    fn write(&self, sector_start: u64, data: Vec<u8>) -> Result<(), wit::Error> {
        Ok(self.0.borrow().write(sector_start, &data)?)
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
        let info = self.0.info();
        core::Info {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
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

impl From<wit::DeviceError> for core::DeviceError {
    fn from(error: wit::DeviceError) -> Self {
        match error {
            wit::DeviceError::Disconnected => Self::Disconnected,
            wit::DeviceError::IsReadOnly => Self::ReadOnly,
            wit::DeviceError::OutOfBounds => Self::OutOfBounds,
            wit::DeviceError::Unaligned => Self::Unaligned,
            wit::DeviceError::Io(message) => Self::Io(message),
        }
    }
}

impl From<core::DeviceError> for wit::DeviceError {
    fn from(error: core::DeviceError) -> Self {
        match error {
            core::DeviceError::Disconnected => Self::Disconnected,
            core::DeviceError::ReadOnly => Self::IsReadOnly,
            core::DeviceError::OutOfBounds => Self::OutOfBounds,
            core::DeviceError::Unaligned => Self::Unaligned,
            core::DeviceError::Io(message) => Self::Io(message),
        }
    }
}

impl From<core::Error> for wit::Error {
    fn from(error: core::Error) -> Self {
        match error {
            core::Error::OutOfBounds(refused) => Self::OutOfBounds(wit::Access {
                sector_start: refused.sector_start,
                sectors: refused.sectors,
                size_sectors: refused.size_sectors,
            }),
            core::Error::Unaligned(len) => Self::Unaligned(len),
            core::Error::TooLarge(len) => Self::TooLarge(len),
            core::Error::Disconnected => Self::Disconnected,
            core::Error::ReadOnly => Self::IsReadOnly,
            core::Error::Device(error) => Self::Device(error.into()),
            core::Error::InvalidDevice(message) => Self::InvalidDevice(message),
        }
    }
}
