//! An instance of the partitioner, and the handles to its partitions: typed calls into the
//! guest, and the bytes of reads and writes moved by the host.

use blockpart_core::{BlockDevice, Direction, Info};
use wasmtime::component::{Resource, ResourceAny};

use super::bindings::Partitioner;
use super::bindings::exports::blockpart::partition::{partition, partition_table};
use super::state::{Device, DeviceId};
use super::store::GuestStore;
use crate::Error;

/// A partition handle of an [`Instance`]. Valid only in the instance that made it, until it is
/// dropped with [`Instance::drop_partition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionHandle {
    pub(crate) resource: ResourceAny,
    /// The device the host handed over for it: where [`Instance::read`] and
    /// [`Instance::write`] move the bytes. Known to the host, never taken from the guest.
    pub(super) device: DeviceId,
}

impl PartitionHandle {
    /// A partition the guest made from `parent`'s device.
    pub(super) fn of(resource: ResourceAny, parent: DeviceId) -> Self {
        Self {
            resource,
            device: parent,
        }
    }
}

/// An instance of the partitioner: the guest's memory and the devices it was handed.
///
/// A call that traps returns [`Error::Guest`]; the instance must not be used after that (make
/// a fresh one with [`Runtime::instantiate`](crate::Runtime::instantiate)).
pub struct Instance {
    /// `pub(crate)`: the filesystem reader calls its own exports in the same store.
    pub(crate) store: GuestStore,
    exports: partition::Guest,
    pub(super) tables: partition_table::Guest,
}

impl Instance {
    /// The partitioner of `exports`, in `store`: of the partitioner itself, or of a component
    /// that exports its interfaces (the filesystem reader).
    pub(crate) fn new(store: GuestStore, exports: &Partitioner) -> Self {
        Self {
            store,
            exports: exports.blockpart_partition_partition().clone(),
            tables: exports.blockpart_partition_partition_table().clone(),
        }
    }

    /// The whole of `device` as one partition.
    pub fn whole(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<PartitionHandle, Error> {
        let (id, device) = self.hand_over(device)?;
        let whole = self.store.answer("whole", |store| {
            self.exports.partition().call_whole(store, device)
        })?;
        Ok(PartitionHandle::of(whole, id))
    }

    /// `device` split at `first` sectors.
    pub fn connect(
        &mut self,
        first: u64,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let (id, device) = self.hand_over(device)?;
        let (a, b) = self.store.answer("connect", |store| {
            self.exports.partition().call_connect(store, first, device)
        })?;
        Ok((PartitionHandle::of(a, id), PartitionHandle::of(b, id)))
    }

    /// `part` split at `first` sectors, relative to it.
    pub fn subpartition(
        &mut self,
        part: PartitionHandle,
        first: u64,
    ) -> Result<(PartitionHandle, PartitionHandle), Error> {
        let (a, b) = self.store.answer("subpartition", |store| {
            self.exports
                .partition()
                .call_subpartition(store, part.resource, first)
        })?;
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
        let slice = self.store.answer("slice", |store| {
            self.exports
                .partition()
                .call_slice(store, part.resource, start, sectors)
        })?;
        Ok(PartitionHandle::of(slice, part.device))
    }

    /// `part`'s first sector on its device.
    pub fn offset(&mut self, part: PartitionHandle) -> Result<u64, Error> {
        Ok(self.store.call("get-offset", |store| {
            self.exports
                .partition()
                .call_get_offset(store, part.resource)
        })?)
    }

    /// `part`'s access mode, sector size and size.
    pub fn info(&mut self, part: PartitionHandle) -> Result<Info, Error> {
        let info = self.store.call("info", |store| {
            self.exports.partition().call_info(store, part.resource)
        })?;
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
        let state = self.store.state_mut();
        state.host_request(part.device, |device| device.read_into(at, buf))
    }

    /// Writes `data` (whole sectors, at most
    /// [`MAX_TRANSFER_BYTES`](blockpart_core::MAX_TRANSFER_BYTES)) to `part` from sector
    /// `start`, the way [`Instance::read`] reads: checked and mapped by the guest, written by
    /// the host. A refused request writes nothing.
    pub fn write(&mut self, part: PartitionHandle, start: u64, data: &[u8]) -> Result<(), Error> {
        let Some(at) = self.mapped(part, Direction::Write, start, data.len())? else {
            return Ok(());
        };
        let state = self.store.state_mut();
        state.host_request(part.device, |device| device.write(at, data))
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
        let data = self.store.answer("read", |store| {
            self.exports
                .partition()
                .call_read(store, part.resource, start, len)
        })?;
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
        self.store.answer("write", |store| {
            self.exports
                .partition()
                .call_write(store, part.resource, start, data)
        })
    }

    /// Flushes `part`'s device.
    pub fn flush(&mut self, part: PartitionHandle) -> Result<(), Error> {
        self.store.answer("flush", |store| {
            self.exports.partition().call_flush(store, part.resource)
        })
    }

    /// Discards `sectors` sectors of `part` from `start`.
    pub fn discard(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        self.store.answer("discard", |store| {
            self.exports
                .partition()
                .call_discard(store, part.resource, start, sectors)
        })
    }

    /// Zeroes `sectors` sectors of `part` from `start`.
    pub fn write_zeroes(
        &mut self,
        part: PartitionHandle,
        start: u64,
        sectors: u64,
    ) -> Result<(), Error> {
        self.store.answer("write-zeroes", |store| {
            self.exports
                .partition()
                .call_write_zeroes(store, part.resource, start, sectors)
        })
    }

    /// Disconnects `part` only.
    pub fn disconnect(&mut self, part: PartitionHandle) -> Result<(), Error> {
        Ok(self.store.call("disconnect", |store| {
            self.exports
                .partition()
                .call_disconnect(store, part.resource)
        })?)
    }

    /// Drops `part`; the guest drops its device with its last connected partition.
    pub fn drop_partition(&mut self, part: PartitionHandle) -> Result<(), Error> {
        Ok(self
            .store
            .call("drop", |store| part.resource.resource_drop(store))?)
    }

    /// Devices handed to the guest and not yet dropped by it.
    pub fn live_devices(&self) -> usize {
        self.store.state().live_devices()
    }

    /// Requests the devices have received for the guest's partitions: the guest's own (`info`
    /// aside), and those the host made for [`Instance::read`] and [`Instance::write`].
    pub fn device_requests(&self) -> u64 {
        self.store.state().device_requests()
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
        self.store.answer("map", |store| {
            self.exports
                .partition()
                .call_map(store, part.resource, direction.into(), start, len)
        })
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

    fn hand_over(
        &mut self,
        device: impl BlockDevice + Send + 'static,
    ) -> Result<(DeviceId, Resource<Device>), Error> {
        Ok(self.store.state_mut().hand_over(device)?)
    }
}
