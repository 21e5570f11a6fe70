//! The partitioner component as a conformance backend: each disk is a temporary file, handed
//! to a fresh instance through [`FileDevice`]s.

use std::io::Write;

use blockpart_conformance::{Backend, Disk, DiskSpec, Error as PartitionError, Info, Part};
use blockpart_core::SectorSize;
use tempfile::NamedTempFile;

use crate::{Error, FileDevice, Instance, PartitionHandle, Runtime};

/// A partitioner component under test.
pub struct ComponentBackend {
    runtime: Runtime,
}

impl ComponentBackend {
    /// Tests the component `runtime` was made from.
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime }
    }
}

impl Backend for ComponentBackend {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        let mut file = NamedTempFile::new().expect("creating a temporary disk");
        file.write_all(contents).expect("filling the temporary disk");
        let instance = self.runtime.instantiate().expect("instantiating the partitioner");
        Box::new(ComponentDisk { file, spec: *spec, instance, parts: Vec::new() })
    }
}

struct ComponentDisk {
    file: NamedTempFile,
    spec: DiskSpec,
    instance: Instance,
    parts: Vec<Option<PartitionHandle>>,
}

/// The partition's answer; a guest failure fails the case.
fn answer<T>(result: Result<T, Error>) -> Result<T, PartitionError> {
    match result {
        Ok(value) => Ok(value),
        Err(Error::Partition(error)) => Err(error),
        Err(Error::Guest(error)) => panic!("the partitioner failed: {error:#}"),
    }
}

impl ComponentDisk {
    fn device(&self) -> FileDevice {
        let sector_size = SectorSize::new(self.spec.sector_size).expect("a valid sector size");
        FileDevice::open(self.file.path(), sector_size, self.spec.read_only)
            .expect("opening the temporary disk")
    }

    fn part(&self, part: Part) -> PartitionHandle {
        self.parts[part.0 as usize].expect("the case used a dropped partition")
    }

    fn add(&mut self, handle: PartitionHandle) -> Part {
        self.parts.push(Some(handle));
        Part(u32::try_from(self.parts.len() - 1).expect("fewer than 2^32 partitions"))
    }

    fn add_pair(&mut self, (a, b): (PartitionHandle, PartitionHandle)) -> (Part, Part) {
        (self.add(a), self.add(b))
    }
}

impl Disk for ComponentDisk {
    fn whole(&mut self) -> Result<Part, PartitionError> {
        let device = self.device();
        let whole = answer(self.instance.whole(device))?;
        Ok(self.add(whole))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), PartitionError> {
        let device = self.device();
        let pair = answer(self.instance.connect(first, device))?;
        Ok(self.add_pair(pair))
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), PartitionError> {
        let pair = answer(self.instance.subpartition(self.part(part), first))?;
        Ok(self.add_pair(pair))
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, PartitionError> {
        let slice = answer(self.instance.slice(self.part(part), start, sectors))?;
        Ok(self.add(slice))
    }

    fn offset(&mut self, part: Part) -> u64 {
        answer(self.instance.offset(self.part(part))).expect("get-offset cannot fail")
    }

    fn info(&mut self, part: Part) -> Info {
        answer(self.instance.info(self.part(part))).expect("info cannot fail")
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, PartitionError> {
        answer(self.instance.read(self.part(part), start, len))
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), PartitionError> {
        answer(self.instance.write(self.part(part), start, data))
    }

    fn flush(&mut self, part: Part) -> Result<(), PartitionError> {
        answer(self.instance.flush(self.part(part)))
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), PartitionError> {
        answer(self.instance.discard(self.part(part), start, sectors))
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), PartitionError> {
        answer(self.instance.write_zeroes(self.part(part), start, sectors))
    }

    fn disconnect(&mut self, part: Part) {
        answer(self.instance.disconnect(self.part(part))).expect("disconnect cannot fail");
    }

    fn drop_partition(&mut self, part: Part) {
        let handle = self.parts[part.0 as usize].take().expect("dropped once");
        answer(self.instance.drop_partition(handle)).expect("drop cannot fail");
    }

    fn live_devices(&self) -> usize {
        self.instance.live_devices()
    }

    fn device_requests(&self) -> u64 {
        self.instance.device_requests()
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.file.path()).expect("reading the temporary disk")
    }
}
