//! RAM disks as exported `block-device`s: `ram-disk.create` makes one, and each checks its own
//! requests (`blockpart-core`'s `MemDevice`), so it is a device any partitioner can be given.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

use std::cell::Cell;

use blockpart_core::{self as core, BlockDevice, MemDevice, SectorSize};

// `wit/`: this component's own package, with the blockpart contract in `wit/deps/partition`.
wit_bindgen::generate!({ path: "wit", world: "ram-disk-provider" });

use exports::blockpart::partition::block_device::{self, Device, GuestDevice};
use exports::blockpart::partition::types::{DeviceError, Info};
use exports::blockpart_examples::ram_disk::ram_disk;

/// The largest disk `create` makes: memory for a test or an example, not a real disk.
const MAX_BYTES: u64 = 1 << 30;

struct Component;

export!(Component);

impl block_device::Guest for Component {
    type Device = RamDisk;
}

impl ram_disk::Guest for Component {
    fn create(sector_size: u32, sectors: u64) -> Result<Device, String> {
        let size = SectorSize::new(sector_size)
            .ok_or_else(|| format!("{sector_size} is not a power of two of at least 512"))?;
        let bytes = size
            .bytes_in(sectors)
            .filter(|bytes| *bytes <= MAX_BYTES)
            .ok_or_else(|| format!("{sectors} sectors is over the {MAX_BYTES}-byte limit"))?;
        let bytes = usize::try_from(bytes).map_err(|error| error.to_string())?;
        let disk = MemDevice::new(vec![0; bytes], size, true).ok_or("not whole sectors")?;
        Ok(Device::new(RamDisk {
            disk,
            connected: Cell::new(true),
        }))
    }
}

struct RamDisk {
    disk: MemDevice,
    connected: Cell<bool>,
}

impl RamDisk {
    fn connected(&self) -> Result<&MemDevice, DeviceError> {
        if self.connected.get() {
            Ok(&self.disk)
        } else {
            Err(DeviceError::Disconnected)
        }
    }
}

fn wit(error: core::DeviceError) -> DeviceError {
    match error {
        core::DeviceError::Disconnected => DeviceError::Disconnected,
        core::DeviceError::ReadOnly => DeviceError::IsReadOnly,
        core::DeviceError::OutOfBounds => DeviceError::OutOfBounds,
        core::DeviceError::Unaligned => DeviceError::Unaligned,
        core::DeviceError::Io(message) | core::DeviceError::System { message, .. } => {
            DeviceError::Io(message)
        }
    }
}

impl GuestDevice for RamDisk {
    fn info(&self) -> Info {
        let info = self.disk.info();
        Info {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.connected()?.read(sector_start, len).map_err(wit)
    }

    fn write(&self, sector_start: u64, data: Vec<u8>) -> Result<(), DeviceError> {
        self.connected()?.write(sector_start, &data).map_err(wit)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.connected()?.flush().map_err(wit)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.connected()?
            .discard(sector_start, sectors)
            .map_err(wit)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.connected()?
            .write_zeroes(sector_start, sectors)
            .map_err(wit)
    }

    fn disconnect(&self) {
        self.connected.set(false);
    }
}
