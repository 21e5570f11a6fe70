//! Partitions: bounds-checked windows onto a shared block device.

use std::rc::Rc;

use crate::{BlockDevice, Error, Extent, Info, SectorSize};

/// The largest read or write a partition accepts, in bytes (64 MiB).
///
/// A guest allocates every read in its own linear memory; a bound keeps a request for terabytes
/// an error rather than an out-of-memory trap. Larger copies are split by the caller.
pub const MAX_TRANSFER_BYTES: u64 = 64 << 20;

/// Which way a transfer moves bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the device to the caller.
    Read,
    /// From the caller to the device.
    Write,
}

/// A range of a device's sectors, usable as a block device.
///
/// Positions given to a partition are relative to its first sector. Requests are checked in this
/// order, before any device I/O: disconnected, read-only (for writes), unaligned, too large, out
/// of bounds. Partitions of one device share it; the device is dropped with the last partition
/// that is still connected.
#[derive(Debug)]
pub struct Partition<D> {
    /// `None` once disconnected, so a disconnected partition no longer keeps the device alive.
    device: Option<Rc<D>>,
    extent: Extent,
    sector_size: SectorSize,
    read_write: bool,
}

impl<D: BlockDevice> Partition<D> {
    /// The whole device as one partition. Fails only if its sector size is not a power of two
    /// of at least 512 bytes.
    pub fn whole(device: D) -> Result<Self, Error> {
        let info = device.info();
        let sector_size = SectorSize::new(info.sector_size).ok_or_else(|| {
            Error::InvalidDevice(format!(
                "sector size {} is not a power of two of at least 512",
                info.sector_size
            ))
        })?;
        Ok(Self {
            device: Some(Rc::new(device)),
            extent: Extent::whole(info.size_sectors),
            sector_size,
            read_write: info.read_write,
        })
    }

    /// Splits `device` at `first`: `[0, first)` and `[first, size)`. On error the device is
    /// dropped; [`Partition::whole`] and [`Partition::subpartition`] keep it.
    pub fn connect(first: u64, device: D) -> Result<(Self, Self), Error> {
        Self::whole(device)?.subpartition(first)
    }

    /// Splits this partition at `first`, relative to it. Either part may be empty.
    pub fn subpartition(&self, first: u64) -> Result<(Self, Self), Error> {
        let device = self.device()?;
        let (head, tail) = self.extent.split(first)?;
        Ok((self.derive(device, head), self.derive(device, tail)))
    }

    /// The partition of `sectors` sectors from `start`, relative to this one.
    pub fn slice(&self, start: u64, sectors: u64) -> Result<Self, Error> {
        let device = self.device()?;
        let extent = self.extent.slice(start, sectors)?;
        Ok(self.derive(device, extent))
    }

    /// This partition's first sector on the device.
    pub fn offset(&self) -> u64 {
        self.extent.start()
    }

    /// The device's access mode and sector size, with this partition's size.
    pub fn info(&self) -> Info {
        Info {
            read_write: self.read_write,
            sector_size: self.sector_size.get(),
            size_sectors: self.extent.sectors(),
        }
    }

    /// Reads `len` bytes from sector `start`.
    pub fn read(&self, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let (device, at) = self.transfer(start, len)?;
        if at.sectors() == 0 {
            return Ok(Vec::new());
        }
        let data = device.read(at.start(), len)?;
        if u64::try_from(data.len()).ok() != Some(len) {
            return Err(Error::InvalidDevice(format!(
                "asked for {len} bytes, the device read {}",
                data.len()
            )));
        }
        Ok(data)
    }

    /// Writes `data` from sector `start`.
    pub fn write(&self, start: u64, data: &[u8]) -> Result<(), Error> {
        self.writable()?;
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        let (device, at) = self.transfer(start, len)?;
        if at.sectors() > 0 {
            device.write(at.start(), data)?;
        }
        Ok(())
    }

    /// Checks a read (or write) of `len` bytes from sector `start` as [`Partition::read`] (or
    /// [`Partition::write`]) does, and returns the device sector where it lands, without
    /// making it: for a caller that holds the device and moves the bytes itself.
    pub fn map(&self, direction: Direction, start: u64, len: u64) -> Result<u64, Error> {
        if direction == Direction::Write {
            self.writable()?;
        }
        let (_, at) = self.transfer(start, len)?;
        Ok(at.start())
    }

    /// Flushes the device.
    pub fn flush(&self) -> Result<(), Error> {
        Ok(self.device()?.flush()?)
    }

    /// Discards `sectors` sectors from `start`.
    pub fn discard(&self, start: u64, sectors: u64) -> Result<(), Error> {
        self.writable()?;
        let (device, at) = self.access(start, sectors)?;
        if at.sectors() > 0 {
            device.discard(at.start(), at.sectors())?;
        }
        Ok(())
    }

    /// Sets `sectors` sectors from `start` to zero.
    pub fn write_zeroes(&self, start: u64, sectors: u64) -> Result<(), Error> {
        self.writable()?;
        let (device, at) = self.access(start, sectors)?;
        if at.sectors() > 0 {
            device.write_zeroes(at.start(), at.sectors())?;
        }
        Ok(())
    }

    /// Disconnects this partition only, and lets go of its share of the device.
    pub fn disconnect(&mut self) {
        self.device = None;
    }

    fn derive(&self, device: &Rc<D>, extent: Extent) -> Self {
        Self {
            device: Some(Rc::clone(device)),
            extent,
            ..*self
        }
    }

    fn device(&self) -> Result<&Rc<D>, Error> {
        self.device.as_ref().ok_or(Error::Disconnected)
    }

    fn writable(&self) -> Result<(), Error> {
        self.device()?;
        if self.read_write {
            Ok(())
        } else {
            Err(Error::ReadOnly)
        }
    }

    /// Checks a transfer of `len` bytes from sector `start`: the device extent it touches.
    fn transfer(&self, start: u64, len: u64) -> Result<(&Rc<D>, Extent), Error> {
        self.device()?;
        let sectors = self
            .sector_size
            .sectors_in(len)
            .ok_or(Error::Unaligned(len))?;
        if len > MAX_TRANSFER_BYTES {
            return Err(Error::TooLarge(len));
        }
        self.access(start, sectors)
    }

    /// Checks an access of `sectors` sectors from `start`: the device extent it touches.
    fn access(&self, start: u64, sectors: u64) -> Result<(&Rc<D>, Extent), Error> {
        let device = self.device()?;
        Ok((device, self.extent.slice(start, sectors)?))
    }
}
