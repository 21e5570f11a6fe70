//! The partitioner component as a conformance backend: each disk is a temporary file, handed
//! to a fresh instance through [`FileDevice`]s.

use std::io::Write;

use blockpart_conformance::{
    Backend, Direction, Disk, DiskSpec, Error as PartitionError, Handles, Info, Part, Table,
    TableError,
};
use blockpart_core::SectorSize;
use tempfile::NamedTempFile;

use blockpart_host::{Error, FileDevice, Instance, PartitionHandle, Runtime};

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
        file.write_all(contents)
            .expect("filling the temporary disk");
        let instance = self
            .runtime
            .instantiate()
            .expect("instantiating the partitioner");
        Box::new(ComponentDisk {
            file,
            spec: *spec,
            instance,
            parts: Handles::default(),
        })
    }
}

struct ComponentDisk {
    file: NamedTempFile,
    spec: DiskSpec,
    instance: Instance,
    parts: Handles<PartitionHandle>,
}

/// The partition's answer; a guest failure, or a table error, fails the case.
fn answer<T>(result: Result<T, Error>) -> Result<T, PartitionError> {
    match result {
        Ok(value) => Ok(value),
        Err(Error::Partition(error)) => Err(error),
        Err(error) => panic!("{error}"),
    }
}

/// The partition table's answer; a guest failure, or a partition error, fails the case.
fn table_answer<T>(result: Result<T, Error>) -> Result<T, TableError> {
    match result {
        Ok(value) => Ok(value),
        Err(Error::Table(error)) => Err(error),
        Err(error) => panic!("{error}"),
    }
}

impl ComponentDisk {
    fn device(&self) -> FileDevice {
        let sector_size = SectorSize::new(self.spec.sector_size).expect("a valid sector size");
        FileDevice::open(self.file.path(), sector_size, self.spec.read_only)
            .expect("opening the temporary disk")
    }
}

impl Disk for ComponentDisk {
    fn whole(&mut self) -> Result<Part, PartitionError> {
        let device = self.device();
        let whole = answer(self.instance.whole(device))?;
        Ok(self.parts.add(whole))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), PartitionError> {
        let device = self.device();
        let pair = answer(self.instance.connect(first, device))?;
        Ok(self.parts.add_pair(pair))
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), PartitionError> {
        let pair = answer(self.instance.subpartition(*self.parts.get(part), first))?;
        Ok(self.parts.add_pair(pair))
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, PartitionError> {
        let slice = answer(self.instance.slice(*self.parts.get(part), start, sectors))?;
        Ok(self.parts.add(slice))
    }

    fn offset(&mut self, part: Part) -> u64 {
        answer(self.instance.offset(*self.parts.get(part))).expect("get-offset cannot fail")
    }

    fn info(&mut self, part: Part) -> Info {
        answer(self.instance.info(*self.parts.get(part))).expect("info cannot fail")
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, PartitionError> {
        answer(self.instance.read_list(*self.parts.get(part), start, len))
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), PartitionError> {
        answer(self.instance.write_list(*self.parts.get(part), start, data))
    }

    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, PartitionError> {
        answer(
            self.instance
                .map(*self.parts.get(part), direction, start, len),
        )
    }

    fn read_mapped(
        &mut self,
        part: Part,
        start: u64,
        buf: &mut [u8],
    ) -> Result<(), PartitionError> {
        answer(self.instance.read(*self.parts.get(part), start, buf))
    }

    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), PartitionError> {
        answer(self.instance.write(*self.parts.get(part), start, data))
    }

    fn flush(&mut self, part: Part) -> Result<(), PartitionError> {
        answer(self.instance.flush(*self.parts.get(part)))
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), PartitionError> {
        answer(self.instance.discard(*self.parts.get(part), start, sectors))
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), PartitionError> {
        answer(
            self.instance
                .write_zeroes(*self.parts.get(part), start, sectors),
        )
    }

    fn disconnect(&mut self, part: Part) {
        answer(self.instance.disconnect(*self.parts.get(part))).expect("disconnect cannot fail");
    }

    fn read_table(&mut self, part: Part) -> Result<Table, TableError> {
        table_answer(self.instance.read_table(*self.parts.get(part)))
    }

    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError> {
        let entry = table_answer(self.instance.open_entry(*self.parts.get(part), number))?;
        Ok(self.parts.add(entry))
    }

    fn drop_partition(&mut self, part: Part) {
        let handle = self.parts.take(part);
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
