//! The partitioning logic of blockpart, free of any Wasm runtime or bindings.
//!
//! A [`Partition`] is a bounds-checked window onto a [`BlockDevice`]: the guest component wraps
//! the device the host hands it, the host's native backend wraps a file or memory. Positions and
//! sizes are in sectors; data lengths are in bytes and must be whole sectors.

#![cfg_attr(test, allow(clippy::arithmetic_side_effects))]

mod device;
mod error;
mod extent;
#[cfg(any(test, feature = "testing"))]
pub mod faulty_device;
mod geometry;
mod mem_device;
mod partition;
mod sector_size;
mod table;

pub use device::{BlockDevice, Info};
pub use error::{DeviceError, Error};
pub use extent::{Extent, OutOfBounds};
#[cfg(any(test, feature = "testing"))]
pub use faulty_device::FaultyDevice;
pub use geometry::Geometry;
pub use mem_device::MemDevice;
pub use partition::{Direction, MAX_TRANSFER_BYTES, Partition};
pub use sector_size::SectorSize;
pub use table::{
    EXTENDED_TYPES, Entry, Label, MAX_ENTRIES, MAX_NAME_BYTES, PartitionType, Table, TableError,
};
pub use uuid::Uuid;
