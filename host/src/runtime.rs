//! The Wasmtime side: the engine, the partitioner component, and typed calls into it.

use blockpart_core::{BlockDevice, DeviceError, Info, OutOfBounds};
use wasmtime::component::{
    Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable, WasmList,
};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, StoreContextMut, StoreLimits};

use crate::Error;
use crate::limits::{self, Limits};

mod table;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "partitioner",
        with: { "blockpart:partition/block-device.device": super::Device },
        // Looking a device up in the resource table can fail: that must trap, not panic.
        imports: { default: trappable },
    });
}

use bindings::blockpart::partition::{block_device, types};
use bindings::exports::blockpart::partition::{partition, partition_table};
use bindings::{Partitioner, PartitionerPre};

/// The built-in partitioner component, as built from `guest/` by `build.rs`.
pub const GUEST_COMPONENT: &[u8] = include_bytes!(env!("BLOCKPART_GUEST_COMPONENT"));

/// A device handed to a guest: any [`BlockDevice`], owned by the store's resource table.
pub struct Device(Box<dyn BlockDevice + Send>);

/// A compiled partitioner component, ready to be instantiated many times.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: PartitionerPre<State>,
    limits: Limits,
}

impl Runtime {
    /// The built-in partitioner.
    pub fn new() -> wasmtime::Result<Self> {
        Self::from_component(GUEST_COMPONENT)
    }

    /// Any component of the `partitioner` world, as bytes of a binary or text component.
    pub fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::with_config(&Config::new(), bytes)
    }

    /// Like [`Runtime::from_component`], with compiled code kept in wasmtime's cache directory
    /// (`~/.cache/wasmtime` on Linux) and reused by later runs: the first run compiles, later
    /// ones load. Entries are keyed by the wasmtime version, its settings and the component's
    /// bytes, so a new build or a different component never loads stale code.
    pub fn cached(bytes: &[u8]) -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.cache(Some(Cache::new(CacheConfig::new())?));
        Self::with_config(&config, bytes)
    }

    /// The same runtime, its instances bound by `limits` rather than [`Limits::default`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn with_config(config: &Config, bytes: &[u8]) -> wasmtime::Result<Self> {
        let mut config = config.clone();
        config.epoch_interruption(true);
        let engine = Engine::new(&config)?;
        limits::start_ticking(&engine)?;
        let component = Component::new(&engine, bytes)?;
        let mut linker = Linker::new(&engine);
        Partitioner::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        add_borrowing_write(&mut linker)?;
        let pre = PartitionerPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            pre,
            limits: Limits::default(),
        })
    }

    /// A fresh instance, with its own memory and no devices.
    pub fn instantiate(&self) -> wasmtime::Result<Instance> {
        let state = State {
            limits: self.limits.store_limits(),
            ..State::default()
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.limits.ticks());
        let bindings = self.pre.instantiate(&mut store)?;
        Ok(Instance {
            exports: bindings.blockpart_partition_partition().clone(),
            tables: bindings.blockpart_partition_partition_table().clone(),
            store,
            ticks: self.limits.ticks(),
        })
    }
}

/// Replaces the device's `write` with one that writes the data straight from guest memory.
/// The generated one copies it into a `Vec` first: one more pass over every byte written (a
/// third of the time of a 1 MiB write through the partitioner, measured).
fn add_borrowing_write(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker
        .instance("blockpart:partition/block-device@0.1.0")?
        .func_wrap(
            "[method]device.write",
            |mut store: StoreContextMut<'_, State>,
             (device, sector_start, data): (Resource<Device>, u64, WasmList<u8>)| {
                let state = store.data_mut();
                state.device_requests = state.device_requests.saturating_add(1);
                let device = &store.data().table.get(&device)?.0;
                let written = device.write(sector_start, data.as_le_slice(&store));
                Ok((written.map_err(types::DeviceError::from),))
            },
        )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Per-instance host state: the devices handed to the guest, and what it did with them.
#[derive(Default)]
struct State {
    table: ResourceTable,
    limits: StoreLimits,
    live_devices: usize,
    device_requests: u64,
}

impl State {
    fn request(&mut self, device: &Resource<Device>) -> wasmtime::Result<&dyn BlockDevice> {
        self.device_requests = self.device_requests.saturating_add(1);
        Ok(&*self.table.get(device)?.0)
    }
}

impl types::Host for State {}
impl block_device::Host for State {}

impl block_device::HostDevice for State {
    fn info(&mut self, device: Resource<Device>) -> wasmtime::Result<types::Info> {
        let info = self.table.get(&device)?.0.info();
        Ok(types::Info {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        })
    }

    fn read(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        len: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, types::DeviceError>> {
        Ok(self
            .request(&device)?
            .read(sector_start, len)
            .map_err(Into::into))
    }

    /// Shadowed by [`add_borrowing_write`]; kept because the generated trait requires it.
    fn write(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), types::DeviceError>> {
        Ok(self
            .request(&device)?
            .write(sector_start, &data)
            .map_err(Into::into))
    }

    fn flush(
        &mut self,
        device: Resource<Device>,
    ) -> wasmtime::Result<Result<(), types::DeviceError>> {
        Ok(self.request(&device)?.flush().map_err(Into::into))
    }

    fn discard(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        sectors: u64,
    ) -> wasmtime::Result<Result<(), types::DeviceError>> {
        Ok(self
            .request(&device)?
            .discard(sector_start, sectors)
            .map_err(Into::into))
    }

    fn write_zeroes(
        &mut self,
        device: Resource<Device>,
        sector_start: u64,
        sectors: u64,
    ) -> wasmtime::Result<Result<(), types::DeviceError>> {
        Ok(self
            .request(&device)?
            .write_zeroes(sector_start, sectors)
            .map_err(Into::into))
    }

    fn disconnect(&mut self, _device: Resource<Device>) -> wasmtime::Result<()> {
        // Devices here have no connection to close: dropping the handle releases the file.
        Ok(())
    }

    fn drop(&mut self, device: Resource<Device>) -> wasmtime::Result<()> {
        self.table.delete(device)?;
        self.live_devices = self.live_devices.saturating_sub(1);
        Ok(())
    }
}

/// A partition handle of an [`Instance`]. Valid only in the instance that made it, until it is
/// dropped with [`Instance::drop_partition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionHandle(ResourceAny);

/// An instance of the partitioner: the guest's memory and the devices it was handed.
///
/// A call that traps returns [`Error::Guest`]; the instance must not be used after that (make
/// a fresh one with [`Runtime::instantiate`]).
pub struct Instance {
    store: Store<State>,
    exports: partition::Guest,
    tables: partition_table::Guest,
    /// [`Limits::call_time`], in epoch ticks.
    ticks: u64,
}

impl Instance {
    /// The whole of `device` as one partition.
    pub fn whole(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<PartitionHandle, Error> {
        let device = self.hand_over(device)?;
        let whole = self
            .exports
            .partition()
            .call_whole(armed(&mut self.store, self.ticks), device)?;
        Ok(PartitionHandle(whole?))
    }

    /// `device` split at `first` sectors.
    pub fn connect(
        &mut self,
        first: u64,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let device = self.hand_over(device)?;
        let (a, b) = self.exports.partition().call_connect(
            armed(&mut self.store, self.ticks),
            first,
            device,
        )??;
        Ok((PartitionHandle(a), PartitionHandle(b)))
    }

    /// `part` split at `first` sectors, relative to it.
    pub fn subpartition(
        &mut self,
        part: PartitionHandle,
        first: u64,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let (a, b) = self.exports.partition().call_subpartition(
            armed(&mut self.store, self.ticks),
            part.0,
            first,
        )??;
        Ok((PartitionHandle(a), PartitionHandle(b)))
    }

    /// `sectors` sectors of `part` from `start`.
    pub fn slice(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<PartitionHandle, Error> {
        let slice = self.exports.partition().call_slice(
            armed(&mut self.store, self.ticks),
            part.0,
            start,
            sectors,
        )??;
        Ok(PartitionHandle(slice))
    }

    /// `part`'s first sector on its device.
    pub fn offset(&mut self, part: PartitionHandle) -> Result<u64, Error> {
        Ok(self
            .exports
            .partition()
            .call_get_offset(armed(&mut self.store, self.ticks), part.0)?)
    }

    /// `part`'s access mode, sector size and size.
    pub fn info(&mut self, part: PartitionHandle) -> Result<Info, Error> {
        let info = self
            .exports
            .partition()
            .call_info(armed(&mut self.store, self.ticks), part.0)?;
        Ok(Info {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        })
    }

    /// Reads `len` bytes of `part` from sector `start`. The guest's answer must be exactly
    /// `len` bytes long.
    pub fn read(&mut self, part: PartitionHandle, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let data = self.exports.partition().call_read(
            armed(&mut self.store, self.ticks),
            part.0,
            start,
            len,
        )??;
        if u64::try_from(data.len()).ok() != Some(len) {
            return Err(Error::Guest(wasmtime::format_err!(
                "asked for {len} bytes, the guest returned {}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Writes `data` to `part` from sector `start`.
    pub fn write(&mut self, part: PartitionHandle, start: u64, data: &[u8]) -> Result<(), Error> {
        Ok(self.exports.partition().call_write(
            armed(&mut self.store, self.ticks),
            part.0,
            start,
            data,
        )??)
    }

    /// Flushes `part`'s device.
    pub fn flush(&mut self, part: PartitionHandle) -> Result<(), Error> {
        Ok(self
            .exports
            .partition()
            .call_flush(armed(&mut self.store, self.ticks), part.0)??)
    }

    /// Discards `sectors` sectors of `part` from `start`.
    pub fn discard(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        Ok(self.exports.partition().call_discard(
            armed(&mut self.store, self.ticks),
            part.0,
            start,
            sectors,
        )??)
    }

    /// Zeroes `sectors` sectors of `part` from `start`.
    pub fn write_zeroes(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        Ok(self.exports.partition().call_write_zeroes(
            armed(&mut self.store, self.ticks),
            part.0,
            start,
            sectors,
        )??)
    }

    /// Disconnects `part` only.
    pub fn disconnect(&mut self, part: PartitionHandle) -> Result<(), Error> {
        Ok(self
            .exports
            .partition()
            .call_disconnect(armed(&mut self.store, self.ticks), part.0)?)
    }

    /// Drops `part`; the guest drops its device with its last connected partition.
    pub fn drop_partition(&mut self, part: PartitionHandle) -> Result<(), Error> {
        Ok(part.0.resource_drop(armed(&mut self.store, self.ticks))?)
    }

    /// Devices handed to the guest and not yet dropped by it.
    pub fn live_devices(&self) -> usize {
        self.store.data().live_devices
    }

    /// Requests the guest has made of its devices (`info` aside).
    pub fn device_requests(&self) -> u64 {
        self.store.data().device_requests
    }

    fn hand_over(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<Resource<Device>, Error> {
        let state = self.store.data_mut();
        let device = state
            .table
            .push(Device(Box::new(device)))
            .map_err(wasmtime::Error::from)?;
        state.live_devices = state.live_devices.saturating_add(1);
        Ok(device)
    }
}

/// `store`, with the next call into the guest given `ticks` epoch ticks to return.
fn armed(store: &mut Store<State>, ticks: u64) -> &mut Store<State> {
    store.set_epoch_deadline(ticks);
    store
}

impl From<DeviceError> for types::DeviceError {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::Disconnected => Self::Disconnected,
            DeviceError::ReadOnly => Self::IsReadOnly,
            DeviceError::OutOfBounds => Self::OutOfBounds,
            DeviceError::Unaligned => Self::Unaligned,
            DeviceError::Io(message) => Self::Io(message),
        }
    }
}

impl From<types::Error> for Error {
    fn from(error: types::Error) -> Self {
        use blockpart_core::Error as E;
        Self::Partition(match error {
            types::Error::OutOfBounds(access) => E::OutOfBounds(OutOfBounds {
                sector_start: access.sector_start,
                sectors: access.sectors,
                size_sectors: access.size_sectors,
            }),
            types::Error::Unaligned(len) => E::Unaligned(len),
            types::Error::TooLarge(len) => E::TooLarge(len),
            types::Error::Disconnected => E::Disconnected,
            types::Error::IsReadOnly => E::ReadOnly,
            types::Error::Device(error) => E::Device(match error {
                types::DeviceError::Disconnected => DeviceError::Disconnected,
                types::DeviceError::IsReadOnly => DeviceError::ReadOnly,
                types::DeviceError::OutOfBounds => DeviceError::OutOfBounds,
                types::DeviceError::Unaligned => DeviceError::Unaligned,
                types::DeviceError::Io(message) => DeviceError::Io(message),
            }),
            types::Error::InvalidDevice(message) => E::InvalidDevice(message),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_imports_only_the_block_device_interface_and_its_types() {
        let engine = Engine::default();
        let component = Component::new(&engine, GUEST_COMPONENT).unwrap();
        let imports: Vec<String> = component
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(
            imports,
            [
                "blockpart:partition/types@0.1.0",
                "blockpart:partition/block-device@0.1.0"
            ]
        );
    }
}
