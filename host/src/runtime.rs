//! The Wasmtime side: the engine, the partitioner component, and typed calls into it.

use std::collections::HashMap;
use std::path::Path;

use blockpart_core::{BlockDevice, DeviceError, Direction, Info};
use wasmtime::component::{
    Component, HasSelf, Linker, Resource, ResourceAny, ResourceTable, WasmList,
};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store, StoreContextMut, UpdateDeadline};

use crate::Error;
use crate::limits::{self, Clock, Limiter, Limits};

mod table;
mod types;

// `pub(crate)`: the filesystem reader's bindings (`reader.rs`) reuse its device interfaces.
pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "partitioner",
        with: { "blockpart:partition/block-device.device": super::Device },
        // Looking a device up in the resource table can fail: that must trap, not panic.
        imports: { default: trappable },
    });
}

use bindings::blockpart::partition::block_device;
use bindings::blockpart::partition::types as wit;
use bindings::exports::blockpart::partition::{partition, partition_table};
use bindings::{Partitioner, PartitionerPre};

/// The built-in partitioner component, as built from `components/partitioner/` by `build.rs`.
pub const PARTITIONER_COMPONENT: &[u8] = include_bytes!(env!("BLOCKPART_PARTITIONER_COMPONENT"));

/// The built-in partitioner component, under its name before 0.2.0.
#[deprecated(since = "0.2.0", note = "renamed `PARTITIONER_COMPONENT`")]
pub const GUEST_COMPONENT: &[u8] = PARTITIONER_COMPONENT;

/// A device handed to a guest: its key in [`State::devices`], where the host keeps it.
pub struct Device(DeviceId);

/// A device handed to an instance, named by the host. Keys are never reused, so a stale one
/// finds nothing rather than another device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DeviceId(u64);

/// A compiled partitioner component, ready to be instantiated many times.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: PartitionerPre<State>,
    limits: Limits,
    clock: Clock,
}

impl Runtime {
    /// The built-in partitioner.
    pub fn new() -> wasmtime::Result<Self> {
        Self::from_component(PARTITIONER_COMPONENT)
    }

    /// Any component of the `partitioner` world, as the bytes of a binary component.
    pub fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::with_config(&Config::new(), bytes)
    }

    /// Like [`Runtime::from_component`], with compiled code kept in wasmtime's cache directory
    /// (`~/.cache/wasmtime` on Linux) and reused by later runs: the first run compiles, later
    /// ones load. Entries are keyed by the wasmtime version, its settings and the component's
    /// bytes, so a new build or a different component never loads stale code.
    ///
    /// Cached code runs unchecked, so the cache is refused (an error saying why) unless only
    /// this user can write to it: see [`UntrustedCache`](crate::UntrustedCache).
    pub fn cached(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::cached_with(CacheConfig::new(), bytes)
    }

    /// Like [`Runtime::cached`], with the cache in `dir` (an absolute path).
    pub fn cached_in(dir: &Path, bytes: &[u8]) -> wasmtime::Result<Self> {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        Self::cached_with(cache, bytes)
    }

    fn cached_with(cache: CacheConfig, bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::with_config(&cached_config(cache)?, bytes)
    }

    /// The same runtime, its instances bound by `limits` rather than [`Limits::default`].
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    fn with_config(config: &Config, bytes: &[u8]) -> wasmtime::Result<Self> {
        let (engine, clock) = engine(config)?;
        let component = component(&engine, bytes)?;
        let mut linker = Linker::new(&engine);
        Partitioner::add_to_linker::<State, HasSelf<State>>(&mut linker, |state| state)?;
        add_borrowing_write(&mut linker)?;
        let pre = PartitionerPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Self {
            engine,
            pre,
            limits: Limits::default(),
            clock,
        })
    }

    /// A fresh instance, with its own memory and no devices.
    pub fn instantiate(&self) -> wasmtime::Result<Instance> {
        let mut store = new_store(&self.engine, self.limits, &self.clock);
        let bindings = self.pre.instantiate(&mut store)?;
        Ok(Instance {
            exports: bindings.blockpart_partition_partition().clone(),
            tables: bindings.blockpart_partition_partition_table().clone(),
            store,
            ticks: self.limits.ticks(),
        })
    }
}

// Engine and store set-up, shared with the filesystem reader's runtime (`reader.rs`).

/// The configuration of [`Runtime::cached`]: `cache`, if only this user can write to it.
pub(crate) fn cached_config(cache: CacheConfig) -> wasmtime::Result<Config> {
    let cache = Cache::new(cache)?;
    let dir = cache.directory();
    crate::cache::check(dir).map_err(|why| {
        wasmtime::format_err!("not using the compile cache in {}: {why}", dir.display())
    })?;
    let mut config = Config::new();
    config.cache(Some(cache));
    Ok(config)
}

/// `bytes` compiled as a component. A file that does not start as WebAssembly is refused in
/// one line: wasmparser's own message for it spans a dozen, listing the bytes it found.
pub(crate) fn component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    if !bytes.starts_with(b"\0asm") {
        return Err(wasmtime::format_err!(
            "not a WebAssembly component: it does not start with \\0asm"
        ));
    }
    Component::new(engine, bytes)
}

/// An engine with `config`, epoch interruption on, and the clock that ticks it.
pub(crate) fn engine(config: &Config) -> wasmtime::Result<(Engine, Clock)> {
    let mut config = config.clone();
    config.epoch_interruption(true);
    // A trap says what went wrong and in which call; a backtrace through the guest's
    // mangled, merged functions would only mislead.
    config.wasm_backtrace_max_frames(None);
    let engine = Engine::new(&config)?;
    let clock = limits::start_ticking(&engine)?;
    Ok((engine, clock))
}

/// A store for one instance, bound by `limits`.
pub(crate) fn new_store(engine: &Engine, limits: Limits, clock: &Clock) -> Store<State> {
    let state = State {
        limiter: limits.limiter(),
        clock: clock.clone(),
        // Instantiating runs guest code too: its time counts from now.
        call_started: clock.now(),
        ..State::default()
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.limiter);
    let limit = limits.ticks();
    store.set_epoch_deadline(limit);
    // The deadline is wall-clock time; the limit is on the guest's own time. When it
    // passes, take out the time the host spent in device calls for the guest, and give
    // the guest what it has left. Time is counted in whole ticks, and a tick that passes
    // while the guest runs counts whole: one tick of grace keeps a guest that ran for
    // microseconds across a tick from being stopped under a one-tick limit.
    let allowed = limit.saturating_add(1);
    store.epoch_deadline_callback(move |store| {
        let guest = store.data().guest_ticks();
        match allowed.checked_sub(guest).filter(|left| *left > 0) {
            Some(left) => Ok(UpdateDeadline::Continue(left)),
            None => Err(limits.past_call_time()),
        }
    });
    store
}

/// The imported interface whose `write` [`add_borrowing_write`] replaces.
const BLOCK_DEVICE: &str = "blockpart:partition/block-device@0.2.0";

/// Replaces the device's `write` with one that writes the data straight from guest memory.
/// The generated one copies it into a `Vec` first: one more pass over every byte written (a
/// third of the time of a 1 MiB write through the partitioner, measured).
pub(crate) fn add_borrowing_write(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    linker.instance(BLOCK_DEVICE)?.func_wrap(
        "[method]device.write",
        |mut store: StoreContextMut<'_, State>,
         (device, sector_start, data): (Resource<Device>, u64, WasmList<u8>)| {
            let started = store.data().clock.now();
            let device = store.data().device(&device)?;
            let written = device.write(sector_start, data.as_le_slice(&store));
            Ok((store.data_mut().done(started, written),))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Per-instance host state: the devices handed to the guest, what it did with them, and the
/// time of the current call.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) table: ResourceTable,
    limiter: Limiter,
    /// The devices handed over and not yet dropped by the guest.
    devices: HashMap<DeviceId, Box<dyn BlockDevice + Send>>,
    /// The key of the next device handed over.
    next_device: u64,
    device_requests: u64,
    clock: Clock,
    /// When the current call into the guest began.
    call_started: u64,
    /// Time of the current call spent in device requests, which the limit does not count.
    host_ticks: u64,
    /// The last device request of the current call that failed, as the device failed it: what
    /// [`State::refusal`] gives back for the guest's copy of it.
    failed: Option<DeviceError>,
}

impl State {
    /// Keeps `device` under a new key, and makes the guest's handle to it.
    pub(crate) fn hand_over(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> wasmtime::Result<(DeviceId, Resource<Device>)> {
        let id = DeviceId(self.next_device);
        self.next_device = self.next_device.saturating_add(1);
        let handle = self.table.push(Device(id))?;
        self.devices.insert(id, Box::new(device));
        Ok((id, handle))
    }

    /// The device behind the guest's handle; a handle that is not one traps.
    fn device(&self, handle: &Resource<Device>) -> wasmtime::Result<&dyn BlockDevice> {
        let id = self.table.get(handle)?.0;
        match self.devices.get(&id) {
            Some(device) => Ok(&**device),
            None => Err(wasmtime::format_err!("device {} was dropped", id.0)),
        }
    }

    /// Makes a request of `device`, its time kept apart from the guest's.
    fn request<T>(
        &mut self,
        device: &Resource<Device>,
        request: impl FnOnce(&dyn BlockDevice) -> Result<T, DeviceError>,
    ) -> wasmtime::Result<Result<T, wit::DeviceError>> {
        let started = self.clock.now();
        let result = request(self.device(device)?);
        Ok(self.done(started, result))
    }

    /// Counts a device request that began at `started` and ended with `result`, keeps its
    /// error if it failed, and gives the result as the guest gets it.
    fn done<T>(
        &mut self,
        started: u64,
        result: Result<T, DeviceError>,
    ) -> Result<T, wit::DeviceError> {
        self.device_requests = self.device_requests.saturating_add(1);
        let spent = self.clock.now().saturating_sub(started);
        self.host_ticks = self.host_ticks.saturating_add(spent);
        result.map_err(|error| {
            self.failed = Some(error.clone());
            error.into()
        })
    }

    /// The partition's error for the guest's refusal `refused`. A device error the guest
    /// passed on unchanged is given as the device gave it in the current call: the WIT carries
    /// a system error's message, not its `errno`, which the host keeps
    /// ([`DeviceError::System`]).
    pub(crate) fn refusal(&mut self, refused: wit::Error) -> blockpart_core::Error {
        use blockpart_core::Error::Device;
        match (blockpart_core::Error::from(refused), self.failed.take()) {
            (Device(relayed), Some(failed)) if failed.clone().relayed() == relayed => {
                Device(failed)
            }
            (refused, _) => refused,
        }
    }

    /// Ticks of the current call spent in the guest itself.
    fn guest_ticks(&self) -> u64 {
        let elapsed = self.clock.now().saturating_sub(self.call_started);
        elapsed.saturating_sub(self.host_ticks)
    }
}

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

    /// Shadowed by [`add_borrowing_write`], and required by the generated trait. It traps, so
    /// that if the shadowing ever stops applying (the interface's name or version drifting
    /// from [`BLOCK_DEVICE`]), every write fails loudly instead of quietly copying again.
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
        let id = self.table.delete(device)?.0;
        self.devices.remove(&id);
        Ok(())
    }
}

/// A partition handle of an [`Instance`]. Valid only in the instance that made it, until it is
/// dropped with [`Instance::drop_partition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionHandle {
    resource: ResourceAny,
    /// The device the host handed over for it: where [`Instance::read`] and
    /// [`Instance::write`] move the bytes. Known to the host, never taken from the guest.
    device: DeviceId,
}

impl PartitionHandle {
    /// A partition the guest made from `parent`'s device.
    fn of(resource: ResourceAny, parent: DeviceId) -> Self {
        Self {
            resource,
            device: parent,
        }
    }
}

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
        let (id, device) = self.hand_over(device)?;
        let answer = self
            .exports
            .partition()
            .call_whole(armed(&mut self.store, self.ticks), device);
        Ok(PartitionHandle::of(self.answer("whole", answer)?, id))
    }

    /// `device` split at `first` sectors.
    pub fn connect(
        &mut self,
        first: u64,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let (id, device) = self.hand_over(device)?;
        let answer = self.exports.partition().call_connect(
            armed(&mut self.store, self.ticks),
            first,
            device,
        );
        let (a, b) = self.answer("connect", answer)?;
        Ok((PartitionHandle::of(a, id), PartitionHandle::of(b, id)))
    }

    /// `part` split at `first` sectors, relative to it.
    pub fn subpartition(
        &mut self,
        part: PartitionHandle,
        first: u64,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let answer = self.exports.partition().call_subpartition(
            armed(&mut self.store, self.ticks),
            part.resource,
            first,
        );
        let (a, b) = self.answer("subpartition", answer)?;
        Ok((
            PartitionHandle::of(a, part.device),
            PartitionHandle::of(b, part.device),
        ))
    }

    /// `sectors` sectors of `part` from `start`.
    pub fn slice(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<PartitionHandle, Error> {
        let answer = self.exports.partition().call_slice(
            armed(&mut self.store, self.ticks),
            part.resource,
            start,
            sectors,
        );
        let slice = self.answer("slice", answer)?;
        Ok(PartitionHandle::of(slice, part.device))
    }

    /// `part`'s first sector on its device.
    pub fn offset(&mut self, part: PartitionHandle) -> Result<u64, Error> {
        self.exports
            .partition()
            .call_get_offset(armed(&mut self.store, self.ticks), part.resource)
            .map_err(guest("get-offset"))
    }

    /// `part`'s access mode, sector size and size.
    pub fn info(&mut self, part: PartitionHandle) -> Result<Info, Error> {
        let info = self
            .exports
            .partition()
            .call_info(armed(&mut self.store, self.ticks), part.resource)
            .map_err(guest("info"))?;
        Ok(info.into())
    }

    /// Reads `part` from sector `start` into `buf` (whole sectors, at most
    /// [`MAX_TRANSFER_BYTES`](blockpart_core::MAX_TRANSFER_BYTES)).
    ///
    /// The guest checks the request and maps it onto the device (`partition.map`); the host
    /// then reads the device straight into `buf`. The bytes never enter the guest, and a
    /// refused request reads nothing. On a device error `buf` may hold part of the data.
    pub fn read(&mut self, part: PartitionHandle, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        let Some(at) = self.mapped(part, Direction::Read, start, buf.len())? else {
            return Ok(());
        };
        self.on_device(part, |device| device.read_into(at, buf))
    }

    /// Writes `data` (whole sectors, at most
    /// [`MAX_TRANSFER_BYTES`](blockpart_core::MAX_TRANSFER_BYTES)) to `part` from sector
    /// `start`, the way [`Instance::read`] reads: checked and mapped by the guest, written by
    /// the host. A refused request writes nothing.
    pub fn write(&mut self, part: PartitionHandle, start: u64, data: &[u8]) -> Result<(), Error> {
        let Some(at) = self.mapped(part, Direction::Write, start, data.len())? else {
            return Ok(());
        };
        self.on_device(part, |device| device.write(at, data))
    }

    /// Reads `len` bytes of `part` from sector `start` through the guest (`partition.read`,
    /// which returns a `list<u8>`): the bytes pass through its memory. The guest's answer must
    /// be exactly `len` bytes long.
    pub fn read_list(
        &mut self,
        part: PartitionHandle,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>, Error> {
        let answer = self.exports.partition().call_read(
            armed(&mut self.store, self.ticks),
            part.resource,
            start,
            len,
        );
        let data = self.answer("read", answer)?;
        if u64::try_from(data.len()).ok() != Some(len) {
            return Err(Error::Guest(wasmtime::format_err!(
                "asked for {len} bytes, the guest returned {}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Writes `data` to `part` from sector `start` through the guest (`partition.write`).
    pub fn write_list(
        &mut self,
        part: PartitionHandle,
        start: u64,
        data: &[u8],
    ) -> Result<(), Error> {
        let answer = self.exports.partition().call_write(
            armed(&mut self.store, self.ticks),
            part.resource,
            start,
            data,
        );
        self.answer("write", answer)
    }

    /// Flushes `part`'s device.
    pub fn flush(&mut self, part: PartitionHandle) -> Result<(), Error> {
        let answer = self
            .exports
            .partition()
            .call_flush(armed(&mut self.store, self.ticks), part.resource);
        self.answer("flush", answer)
    }

    /// Discards `sectors` sectors of `part` from `start`.
    pub fn discard(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        let answer = self.exports.partition().call_discard(
            armed(&mut self.store, self.ticks),
            part.resource,
            start,
            sectors,
        );
        self.answer("discard", answer)
    }

    /// Zeroes `sectors` sectors of `part` from `start`.
    pub fn write_zeroes(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        let answer = self.exports.partition().call_write_zeroes(
            armed(&mut self.store, self.ticks),
            part.resource,
            start,
            sectors,
        );
        self.answer("write-zeroes", answer)
    }

    /// Disconnects `part` only.
    pub fn disconnect(&mut self, part: PartitionHandle) -> Result<(), Error> {
        self.exports
            .partition()
            .call_disconnect(armed(&mut self.store, self.ticks), part.resource)
            .map_err(guest("disconnect"))
    }

    /// Drops `part`; the guest drops its device with its last connected partition.
    pub fn drop_partition(&mut self, part: PartitionHandle) -> Result<(), Error> {
        part.resource
            .resource_drop(armed(&mut self.store, self.ticks))
            .map_err(guest("drop"))
    }

    /// Devices handed to the guest and not yet dropped by it.
    pub fn live_devices(&self) -> usize {
        self.store.data().devices.len()
    }

    /// Requests the devices have received for the guest's partitions: the guest's own (`info`
    /// aside), and those the host made for [`Instance::read`] and [`Instance::write`].
    pub fn device_requests(&self) -> u64 {
        self.store.data().device_requests
    }

    /// `partition.map` alone: the device sector where the guest maps a read or write of `len`
    /// bytes of `part` from sector `start`, checked as a read or write would be. What
    /// [`Instance::read`] and [`Instance::write`] build on; it moves no byte.
    pub fn map(
        &mut self,
        part: PartitionHandle,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let answer = self.exports.partition().call_map(
            armed(&mut self.store, self.ticks),
            part.resource,
            direction.into(),
            start,
            len,
        );
        self.answer("map", answer)
    }

    /// The guest's `answer` to `call`: a trap is an [`Error::Guest`] that names the call, a
    /// refusal the partition's error, with its device error as the device gave it to the host
    /// if the guest passed that on ([`State::refusal`]).
    fn answer<T>(
        &mut self,
        call: &'static str,
        answer: wasmtime::Result<Result<T, wit::Error>>,
    ) -> Result<T, Error> {
        let answer = answer.map_err(guest(call))?;
        answer.map_err(|refused| Error::Partition(self.store.data_mut().refusal(refused)))
    }

    /// [`Instance::map`] of a transfer of `len` bytes, or `None` for an empty one, which moves
    /// nothing.
    fn mapped(
        &mut self,
        part: PartitionHandle,
        direction: Direction,
        start: u64,
        len: usize,
    ) -> Result<Option<u64>, Error> {
        // A length past u64 is too large for any partition: the guest refuses it as such.
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        let at = self.map(part, direction, start, len)?;
        Ok((len > 0).then_some(at))
    }

    /// Makes `request` of `part`'s device, counted as one of its requests. The device checks
    /// it against its own bounds: a guest that maps a request elsewhere reaches no byte outside
    /// the device it was handed.
    fn on_device(
        &mut self,
        part: PartitionHandle,
        request: impl FnOnce(&dyn BlockDevice) -> Result<(), DeviceError>,
    ) -> Result<(), Error> {
        let state = self.store.data_mut();
        // The guest keeps the device as long as a partition of it is connected, and it
        // mapped the request, so it said this one is.
        let device = state.devices.get(&part.device).ok_or_else(|| {
            Error::Guest(wasmtime::format_err!(
                "mapped a request on a partition whose device it had dropped"
            ))
        })?;
        let result = request(&**device);
        state.device_requests = state.device_requests.saturating_add(1);
        Ok(result.map_err(blockpart_core::Error::from)?)
    }

    fn hand_over(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<(DeviceId, Resource<Device>), Error> {
        Ok(self.store.data_mut().hand_over(device)?)
    }
}

/// Makes a trap or a broken component contract an [`Error::Guest`] that names the call.
pub(crate) fn guest(call: &'static str) -> impl FnOnce(wasmtime::Error) -> Error {
    move |error| Error::Guest(error.context(format!("in `{call}`")))
}

/// `store`, with the next call into the guest given `ticks` epoch ticks of its own time to
/// return.
pub(crate) fn armed(store: &mut Store<State>, ticks: u64) -> &mut Store<State> {
    let state = store.data_mut();
    state.call_started = state.clock.now();
    state.host_ticks = 0;
    state.failed = None;
    store.set_epoch_deadline(ticks);
    store
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_component_is_refused_in_one_line() {
        let module = b"\0asm\x01\0\0\0";
        for bytes in [
            &b"root:x:0:0:root:/root:/bin/bash\n"[..],
            b"",
            b"\0asm",
            module,
        ] {
            let Err(error) = Runtime::from_component(bytes) else {
                panic!("{bytes:?} loaded");
            };
            let message = format!("{error:#}");
            assert!(!message.contains('\n'), "{bytes:?}: {message}");
        }
    }

    #[test]
    fn guest_imports_only_the_block_device_interface_and_its_types() {
        let engine = Engine::default();
        let component = Component::new(&engine, PARTITIONER_COMPONENT).unwrap();
        let imports: Vec<String> = component
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(
            imports,
            [
                "blockpart:partition/types@0.2.0",
                "blockpart:partition/block-device@0.2.0"
            ]
        );
    }
}
