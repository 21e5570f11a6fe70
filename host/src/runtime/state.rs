//! The host's state of one instance: the devices handed to its guest, the requests they
//! received, and the time of the current call, less what the host spent in device requests.

use std::collections::HashMap;

use blockpart_core::{BlockDevice, DeviceError};
use wasmtime::component::{Resource, ResourceTable};

use super::bindings::blockpart::partition::types as wit;
use crate::Error;
use crate::limits::{Clock, Limiter};

/// A device handed to a guest: its key in [`State::devices`], where the host keeps it.
pub struct Device(DeviceId);

/// A device handed to an instance, named by the host. Keys are never reused, so a stale one
/// finds nothing rather than another device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DeviceId(u64);

/// Per-instance host state: the devices handed to the guest, what it did with them, and the
/// time of the current call.
#[derive(Default)]
pub(crate) struct State {
    table: ResourceTable,
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
    /// The state of an instance held by `limiter`, timed by `clock` from now.
    pub(crate) fn new(limiter: Limiter, clock: Clock) -> Self {
        Self {
            limiter,
            call_started: clock.now(),
            clock,
            ..Self::default()
        }
    }

    /// What holds the instance's memories and tables to its limits.
    pub(crate) fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// A call into the guest begins now: its time, its device requests' time and its failed
    /// request start afresh.
    pub(crate) fn start_call(&mut self) {
        self.call_started = self.clock.now();
        self.host_ticks = 0;
        self.failed = None;
    }

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
    pub(super) fn device(&self, handle: &Resource<Device>) -> wasmtime::Result<&dyn BlockDevice> {
        let id = self.table.get(handle)?.0;
        match self.devices.get(&id) {
            Some(device) => Ok(&**device),
            None => Err(wasmtime::format_err!("device {} was dropped", id.0)),
        }
    }

    /// Forgets the guest's handle and the device behind it: the guest dropped it.
    pub(super) fn drop_device(&mut self, handle: Resource<Device>) -> wasmtime::Result<()> {
        let id = self.table.delete(handle)?.0;
        self.devices.remove(&id);
        Ok(())
    }

    /// Makes a request of `device` for the guest, its time kept apart from the guest's.
    pub(super) fn request<T>(
        &mut self,
        device: &Resource<Device>,
        request: impl FnOnce(&dyn BlockDevice) -> Result<T, DeviceError>,
    ) -> wasmtime::Result<Result<T, wit::DeviceError>> {
        let started = self.clock.now();
        let result = request(self.device(device)?);
        Ok(self.done(started, result))
    }

    /// When a device request begins, for [`State::done`].
    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Counts a device request that began at `started` and ended with `result`, keeps its
    /// error if it failed, and gives the result as the guest gets it.
    pub(super) fn done<T>(
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

    /// Makes `request` of device `id` for the host itself (the bytes of a read or write the
    /// guest mapped), counted as one of its requests. The device checks it against its own
    /// bounds: a guest that maps a request elsewhere reaches no byte outside the device it was
    /// handed.
    pub(super) fn host_request(
        &mut self,
        id: DeviceId,
        request: impl FnOnce(&dyn BlockDevice) -> Result<(), DeviceError>,
    ) -> Result<(), Error> {
        // The guest keeps the device as long as a partition of it is connected, and it
        // mapped the request, so it said this one is.
        let device = self.devices.get(&id).ok_or_else(|| {
            Error::Guest(wasmtime::format_err!(
                "mapped a request on a partition whose device it had dropped"
            ))
        })?;
        let result = request(&**device);
        self.device_requests = self.device_requests.saturating_add(1);
        Ok(result.map_err(blockpart_core::Error::from)?)
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

    /// The instance's resource table, where the image reader's files are kept.
    pub(crate) fn table_mut(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// Does `work` for the guest (a read of an image file), counted as a request of the
    /// host's, its time kept apart from the guest's as a device request's is.
    pub(crate) fn for_guest<T>(&mut self, work: impl FnOnce(&mut Self) -> T) -> T {
        let started = self.clock.now();
        let result = work(self);
        self.device_requests = self.device_requests.saturating_add(1);
        let spent = self.clock.now().saturating_sub(started);
        self.host_ticks = self.host_ticks.saturating_add(spent);
        result
    }

    /// Devices handed to the guest and not yet dropped by it.
    pub(super) fn live_devices(&self) -> usize {
        self.devices.len()
    }

    /// Requests the devices have received, for the guest and for the host.
    pub(super) fn device_requests(&self) -> u64 {
        self.device_requests
    }

    /// Ticks of the current call spent in the guest itself.
    pub(super) fn guest_ticks(&self) -> u64 {
        let elapsed = self.clock.now().saturating_sub(self.call_started);
        elapsed.saturating_sub(self.host_ticks)
    }
}
