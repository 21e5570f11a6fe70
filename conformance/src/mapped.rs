//! The mapped data path, as an adapter: every case runs on it unchanged.

use crate::{
    Backend, Direction, Disk, DiskSpec, Error, Info, MAX_TRANSFER_BYTES, Part, Table, TableError,
};

/// How a case's reads and writes move their bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataPath {
    /// Through the partitioner: `partition.read` and `partition.write`, with `list<u8>`s.
    Lists,
    /// Around it: `partition.map`, then the host moves the bytes on its own device.
    Mapped,
}

impl DataPath {
    /// Both paths, in the order the suite runs them.
    pub const ALL: [Self; 2] = [Self::Lists, Self::Mapped];

    /// The path's name, as reports show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lists => "lists",
            Self::Mapped => "mapped",
        }
    }

    /// Runs `check` on `backend`, its reads and writes made on this path.
    pub fn on<R>(self, backend: &dyn Backend, check: impl FnOnce(&dyn Backend) -> R) -> R {
        match self {
            Self::Lists => check(backend),
            Self::Mapped => check(&Mapped(backend)),
        }
    }
}

/// `backend`, its disks' `read` and `write` made on the mapped path.
pub struct Mapped<'a>(pub &'a dyn Backend);

impl Backend for Mapped<'_> {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        Box::new(MappedDisk(self.0.disk(spec, contents)))
    }
}

/// Lengths a mapped request may be given as a buffer: past this, every partition refuses it as
/// too large, so the request is only mapped (and must be refused).
const BUFFER_LIMIT: u64 = MAX_TRANSFER_BYTES * 2;

struct MappedDisk(Box<dyn Disk>);

impl MappedDisk {
    /// A request too long for a buffer: `map` must refuse it, with the error it returns.
    fn refused(&mut self, part: Part, direction: Direction, start: u64, len: u64) -> Error {
        match self.0.map(part, direction, start, len) {
            Err(error) => error,
            Ok(at) => panic!("`map` mapped a transfer of {len} bytes, to sector {at}"),
        }
    }
}

impl Disk for MappedDisk {
    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        if len > BUFFER_LIMIT {
            return Err(self.refused(part, Direction::Read, start, len));
        }
        let mut buf = vec![0; usize::try_from(len).unwrap()];
        self.0.read_mapped(part, start, &mut buf)?;
        Ok(buf)
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        self.0.write_mapped(part, start, data)
    }

    fn whole(&mut self) -> Result<Part, Error> {
        self.0.whole()
    }
    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error> {
        self.0.connect(first)
    }
    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error> {
        self.0.subpartition(part, first)
    }
    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error> {
        self.0.slice(part, start, sectors)
    }
    fn offset(&mut self, part: Part) -> u64 {
        self.0.offset(part)
    }
    fn info(&mut self, part: Part) -> Info {
        self.0.info(part)
    }
    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        self.0.map(part, direction, start, len)
    }
    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.0.read_mapped(part, start, buf)
    }
    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        self.0.write_mapped(part, start, data)
    }
    fn flush(&mut self, part: Part) -> Result<(), Error> {
        self.0.flush(part)
    }
    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        self.0.discard(part, start, sectors)
    }
    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        self.0.write_zeroes(part, start, sectors)
    }
    fn disconnect(&mut self, part: Part) {
        self.0.disconnect(part);
    }
    fn read_table(&mut self, part: Part) -> Result<Table, TableError> {
        self.0.read_table(part)
    }
    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError> {
        self.0.open_entry(part, number)
    }
    fn drop_partition(&mut self, part: Part) {
        self.0.drop_partition(part);
    }
    fn live_devices(&self) -> usize {
        self.0.live_devices()
    }
    fn device_requests(&self) -> u64 {
        self.0.device_requests()
    }
    fn bytes(&self) -> Vec<u8> {
        self.0.bytes()
    }
}
