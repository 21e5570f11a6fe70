//! `blockpart-core` partitions over a memory device, as a backend: the suite without Wasm.

use blockpart_core::faulty_device::{Faults, Log};
use blockpart_core::{
    BlockDevice, FaultyDevice, MemDevice, Partition, SectorSize, Table, TableError,
};

use crate::{Backend, Direction, Disk, DiskSpec, Error, Handles, Info, Part};

/// The native partitions of `blockpart-core`, as a backend.
pub struct NativeBackend;

impl Backend for NativeBackend {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        let sector_size = SectorSize::new(spec.sector_size).expect("a valid sector size");
        let memory = MemDevice::new(contents.to_vec(), sector_size, !spec.read_only)
            .expect("contents of whole sectors");
        Box::new(NativeDisk {
            memory,
            log: Log::default(),
            parts: Handles::default(),
        })
    }
}

struct NativeDisk {
    memory: MemDevice,
    /// The requests of every handle to the device, and how many handles are live.
    log: Log,
    parts: Handles<Partition<FaultyDevice<MemDevice>>>,
}

impl NativeDisk {
    /// A fresh handle to the memory device, counted in the log until dropped.
    fn device(&self) -> FaultyDevice<MemDevice> {
        FaultyDevice::with_log(self.memory.clone(), Faults::default(), &self.log)
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

    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        self.parts.get_mut(part).map(direction, start, len)
    }

    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        let len = u64::try_from(buf.len()).unwrap();
        let at = self.parts.get(part).map(Direction::Read, start, len)?;
        if !buf.is_empty() {
            self.device().read_into(at, buf)?;
        }
        Ok(())
    }

    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        let len = u64::try_from(data.len()).unwrap();
        let at = self.parts.get(part).map(Direction::Write, start, len)?;
        if !data.is_empty() {
            self.device().write(at, data)?;
        }
        Ok(())
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

    fn read_table(&mut self, part: Part) -> Result<Table, TableError> {
        Table::read(self.parts.get(part))
    }

    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError> {
        let disk = self.parts.get(part);
        let entry = Table::read(disk)?.open(disk, number)?;
        Ok(self.parts.add(entry))
    }

    fn drop_partition(&mut self, part: Part) {
        self.parts.take(part);
    }

    fn live_devices(&self) -> usize {
        self.log.live()
    }

    fn device_requests(&self) -> u64 {
        self.log.request_count()
    }

    fn bytes(&self) -> Vec<u8> {
        self.memory.to_bytes()
    }
}
