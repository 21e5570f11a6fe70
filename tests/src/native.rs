//! `blockpart-core` partitions over a memory device, as a backend: the suite without Wasm.

use std::cell::Cell;
use std::rc::Rc;

use blockpart_core::{BlockDevice, DeviceError, MemDevice, Partition, SectorSize};

use crate::{Backend, Disk, DiskSpec, Error, Handles, Info, Part};

/// The native partitions of `blockpart-core`, as a backend.
pub struct NativeBackend;

impl Backend for NativeBackend {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        let sector_size = SectorSize::new(spec.sector_size).expect("a valid sector size");
        let memory = MemDevice::new(contents.to_vec(), sector_size, !spec.read_only)
            .expect("contents of whole sectors");
        Box::new(NativeDisk {
            memory,
            counters: Rc::default(),
            parts: Handles::default(),
        })
    }
}

struct NativeDisk {
    memory: MemDevice,
    counters: Rc<Counters>,
    parts: Handles<Partition<Counted>>,
}

#[derive(Default)]
struct Counters {
    live: Cell<usize>,
    requests: Cell<u64>,
}

/// A handle to the memory device that counts requests, and live handles until dropped.
struct Counted {
    memory: MemDevice,
    counters: Rc<Counters>,
}

impl Counted {
    fn request(&self) -> &MemDevice {
        self.counters.requests.set(self.counters.requests.get() + 1);
        &self.memory
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.counters.live.set(self.counters.live.get() - 1);
    }
}

impl BlockDevice for Counted {
    fn info(&self) -> Info {
        self.memory.info()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.request().read(sector_start, len)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.request().write(sector_start, data)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.request().flush()
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.request().discard(sector_start, sectors)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.request().write_zeroes(sector_start, sectors)
    }
}

impl NativeDisk {
    fn device(&self) -> Counted {
        self.counters.live.set(self.counters.live.get() + 1);
        Counted {
            memory: self.memory.clone(),
            counters: Rc::clone(&self.counters),
        }
    }
}

impl Disk for NativeDisk {
    fn whole(&mut self) -> Result<Part, Error> {
        let whole = Partition::whole(self.device())?;
        Ok(self.parts.add(whole))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error> {
        let pair = Partition::connect(first, self.device())?;
        Ok(self.parts.add_pair(pair))
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error> {
        let pair = self.parts.get_mut(part).subpartition(first)?;
        Ok(self.parts.add_pair(pair))
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error> {
        let slice = self.parts.get_mut(part).slice(start, sectors)?;
        Ok(self.parts.add(slice))
    }

    fn offset(&mut self, part: Part) -> u64 {
        self.parts.get_mut(part).offset()
    }

    fn info(&mut self, part: Part) -> Info {
        self.parts.get_mut(part).info()
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.parts.get_mut(part).read(start, len)
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        self.parts.get_mut(part).write(start, data)
    }

    fn flush(&mut self, part: Part) -> Result<(), Error> {
        self.parts.get_mut(part).flush()
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        self.parts.get_mut(part).discard(start, sectors)
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        self.parts.get_mut(part).write_zeroes(start, sectors)
    }

    fn disconnect(&mut self, part: Part) {
        self.parts.get_mut(part).disconnect();
    }

    fn drop_partition(&mut self, part: Part) {
        self.parts.take(part);
    }

    fn live_devices(&self) -> usize {
        self.counters.live.get()
    }

    fn device_requests(&self) -> u64 {
        self.counters.requests.get()
    }

    fn bytes(&self) -> Vec<u8> {
        self.memory.to_bytes()
    }
}
