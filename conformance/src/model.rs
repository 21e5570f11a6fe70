//! A plain model of the specification: a byte vector and a list of ranges.
//!
//! It shares no code with `blockpart-core`: bounds are compared in `u128`, where nothing can
//! overflow, so the two implementations check each other.

use std::collections::BTreeSet;

use crate::{
    Backend, Direction, Disk, DiskSpec, Error, Handles, Info, MAX_TRANSFER_BYTES, OutOfBounds,
    Part, Table, TableError,
};

/// The model, as a backend.
pub struct ModelBackend;

impl Backend for ModelBackend {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        assert_eq!(contents.len(), spec.len());
        Box::new(ModelDisk {
            bytes: contents.to_vec(),
            spec: *spec,
            parts: Handles::default(),
            devices: 0,
            requests: 0,
        })
    }
}

struct ModelDisk {
    bytes: Vec<u8>,
    spec: DiskSpec,
    /// Every partition made, by handle; `None` once dropped.
    parts: Handles<ModelPart>,
    /// Device handles handed out so far.
    devices: usize,
    requests: u64,
}

#[derive(Clone, Copy)]
struct ModelPart {
    device: usize,
    start: u64,
    sectors: u64,
    connected: bool,
}

fn refused(start: u64, sectors: u64, size: u64) -> Error {
    Error::OutOfBounds(OutOfBounds {
        sector_start: start,
        sectors,
        size_sectors: size,
    })
}

fn fits(start: u64, sectors: u64, size: u64) -> bool {
    u128::from(start) + u128::from(sectors) <= u128::from(size)
}

impl ModelDisk {
    fn part(&self, part: Part) -> ModelPart {
        *self.parts.get(part)
    }

    fn connected(&self, part: Part) -> Result<ModelPart, Error> {
        let p = self.part(part);
        if p.connected {
            Ok(p)
        } else {
            Err(Error::Disconnected)
        }
    }

    fn writable(&self, part: Part) -> Result<ModelPart, Error> {
        let p = self.connected(part)?;
        if self.spec.read_only {
            Err(Error::ReadOnly)
        } else {
            Ok(p)
        }
    }

    /// The byte range of a checked access of `len` bytes, or `None` for an empty one.
    fn transfer(
        &self,
        p: ModelPart,
        start: u64,
        len: u64,
    ) -> Result<Option<(usize, usize)>, Error> {
        let sector_size = u64::from(self.spec.sector_size);
        if !len.is_multiple_of(sector_size) {
            return Err(Error::Unaligned(len));
        }
        if len > MAX_TRANSFER_BYTES {
            return Err(Error::TooLarge(len));
        }
        self.access(p, start, len / sector_size)
    }

    fn access(
        &self,
        p: ModelPart,
        start: u64,
        sectors: u64,
    ) -> Result<Option<(usize, usize)>, Error> {
        if !fits(start, sectors, p.sectors) {
            return Err(refused(start, sectors, p.sectors));
        }
        let sector_size = u64::from(self.spec.sector_size);
        let byte = |sector: u64| usize::try_from((p.start + sector) * sector_size).unwrap();
        Ok((sectors > 0).then(|| (byte(start), byte(start + sectors))))
    }

    fn split(&mut self, p: ModelPart, first: u64) -> Result<(Part, Part), Error> {
        if first > p.sectors {
            return Err(refused(first, 0, p.sectors));
        }
        let head = self.parts.add(ModelPart {
            sectors: first,
            ..p
        });
        let tail = self.parts.add(ModelPart {
            start: p.start + first,
            sectors: p.sectors - first,
            ..p
        });
        Ok((head, tail))
    }

    fn new_device(&mut self) -> usize {
        self.devices += 1;
        self.devices
    }
}

impl Disk for ModelDisk {
    fn whole(&mut self) -> Result<Part, Error> {
        let device = self.new_device();
        Ok(self.parts.add(ModelPart {
            device,
            start: 0,
            sectors: self.spec.sectors,
            connected: true,
        }))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error> {
        let device = self.new_device();
        self.split(
            ModelPart {
                device,
                start: 0,
                sectors: self.spec.sectors,
                connected: true,
            },
            first,
        )
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error> {
        let p = self.connected(part)?;
        self.split(p, first)
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error> {
        let p = self.connected(part)?;
        if !fits(start, sectors, p.sectors) {
            return Err(refused(start, sectors, p.sectors));
        }
        Ok(self.parts.add(ModelPart {
            start: p.start + start,
            sectors,
            ..p
        }))
    }

    fn offset(&mut self, part: Part) -> u64 {
        self.part(part).start
    }

    fn info(&mut self, part: Part) -> Info {
        Info {
            read_write: !self.spec.read_only,
            sector_size: self.spec.sector_size,
            size_sectors: self.part(part).sectors,
        }
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let p = self.connected(part)?;
        let Some((from, to)) = self.transfer(p, start, len)? else {
            return Ok(Vec::new());
        };
        self.requests += 1;
        Ok(self.bytes[from..to].to_vec())
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        let p = self.writable(part)?;
        if let Some((from, to)) = self.transfer(p, start, data.len() as u64)? {
            self.requests += 1;
            self.bytes[from..to].copy_from_slice(data);
        }
        Ok(())
    }

    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let p = match direction {
            Direction::Read => self.connected(part)?,
            Direction::Write => self.writable(part)?,
        };
        self.transfer(p, start, len)?;
        // Inside the partition, so inside the disk: no overflow.
        Ok(p.start + start)
    }

    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        // The model is the specification: both paths do the same.
        buf.copy_from_slice(&self.read(part, start, buf.len() as u64)?);
        Ok(())
    }

    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        self.write(part, start, data)
    }

    fn flush(&mut self, part: Part) -> Result<(), Error> {
        self.connected(part)?;
        self.requests += 1;
        Ok(())
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        // Every backend here reads discarded sectors back as zeroes.
        self.write_zeroes(part, start, sectors)
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        let p = self.writable(part)?;
        if let Some((from, to)) = self.access(p, start, sectors)? {
            self.requests += 1;
            self.bytes[from..to].fill(0);
        }
        Ok(())
    }

    fn disconnect(&mut self, part: Part) {
        self.parts.get_mut(part).connected = false;
    }

    fn read_table(&mut self, _: Part) -> Result<Table, TableError> {
        panic!("the model does not read partition tables: table cases run on implementations only")
    }

    fn open_entry(&mut self, _: Part, _: u32) -> Result<Part, TableError> {
        panic!("the model does not read partition tables: table cases run on implementations only")
    }

    fn drop_partition(&mut self, part: Part) {
        self.parts.take(part);
    }

    fn live_devices(&self) -> usize {
        let live: BTreeSet<usize> = self
            .parts
            .live()
            .filter(|p| p.connected)
            .map(|p| p.device)
            .collect();
        live.len()
    }

    fn device_requests(&self) -> u64 {
        self.requests
    }

    fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}
