//! The device interface the guest imports (`blockpart:partition/block-device`), served from
//! the devices in [`State`].

use wasmtime::component::Resource;

use super::bindings::blockpart::partition::block_device;
use super::bindings::blockpart::partition::types as wit;
use super::borrowing_write::BLOCK_DEVICE;
use super::state::{Device, State};

impl wit::Host for State {}
impl block_device::Host for State {}

impl block_device::HostDevice for State {
    fn info(&mut self, device: Resource<Device>) -> wasmtime::Result<wit::Info> {
        Ok(self.device(&device)?.info().into())
    }

    fn read(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        len: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, wit::DeviceError>> {
        self.request(&device, |device| device.read(sector_start, len))
    }

    /// Shadowed by [`add_borrowing_write`](super::borrowing_write::add_borrowing_write), and
    /// required by the generated trait. It traps, so that if the shadowing ever stops applying
    /// (the interface's name or version drifting from [`BLOCK_DEVICE`]), every write fails
    /// loudly instead of quietly copying again.
    fn write(
        &mut self,
        _device: Resource<Device>,
        _sector_start: u64,
        _data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), wit::DeviceError>> {
        Err(wasmtime::format_err!(
            "the device's write reached the copying binding, not the one linked over it for {BLOCK_DEVICE}"
        ))
    }

    fn flush(
        &mut self,
        device: Resource<Device>,
    ) -> wasmtime::Result<Result<(), wit::DeviceError>> {
        self.request(&device, |device| device.flush())
    }

    fn discard(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        sectors: u64,
    ) -> wasmtime::Result<Result<(), wit::DeviceError>> {
        self.request(&device, |device| device.discard(sector_start, sectors))
    }

    fn write_zeroes(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        sectors: u64,
    ) -> wasmtime::Result<Result<(), wit::DeviceError>> {
        self.request(&device, |device| device.write_zeroes(sector_start, sectors))
    }

    fn disconnect(&mut self, _device: Resource<Device>) -> wasmtime::Result<()> {
        // Devices here have no connection to close: dropping the handle releases the file.
        Ok(())
    }

    fn drop(&mut self, device: Resource<Device>) -> wasmtime::Result<()> {
        self.drop_device(device)
    }
}
