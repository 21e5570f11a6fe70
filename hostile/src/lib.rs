//! A component of the `partitioner` world that misbehaves on purpose, so the host's tests can
//! show that no guest hurts the host. What it does is chosen by the first byte of the disk it
//! is handed (see [`Mode`]); it reads that byte in `whole`, and misbehaves in `read`, except
//! for the modes that misuse the device handle, which do it in `whole`.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; handle misuse is the point"
)]

use std::hint::black_box;

wit_bindgen::generate!({ path: "../wit", world: "partitioner" });

use blockpart::partition::block_device::Device;
use blockpart::partition::types::{Error, Info};
use exports::blockpart::partition::partition::{Guest, GuestPartition, Partition as Handle};
use exports::blockpart::partition::partition_table::{self, Table, TableError};

/// What to do wrong.
#[derive(Clone, Copy)]
enum Mode {
    /// `T`: `read` traps (a panic: `unreachable`).
    Trap,
    /// `L`: `read` never returns.
    Loop,
    /// `M`: `read` allocates until memory runs out.
    Grow,
    /// `R`: `read` recurses until the stack runs out.
    Recurse,
    /// `S`: `read` returns one byte less than asked for.
    Short,
    /// `G`: `read` returns a sector more than asked for.
    Long,
    /// `K`: `whole` keeps the device forever: it is never dropped while the instance lives.
    Keep,
    /// `D`: `whole` drops the device handle twice.
    DropTwice,
    /// `U`: `whole` drops the device handle, then calls it.
    UseAfterDrop,
    /// Reads as it should: the disk's bytes.
    Honest,
}

impl Mode {
    fn of(byte: u8) -> Self {
        match byte {
            b'T' => Mode::Trap,
            b'L' => Mode::Loop,
            b'M' => Mode::Grow,
            b'R' => Mode::Recurse,
            b'S' => Mode::Short,
            b'G' => Mode::Long,
            b'K' => Mode::Keep,
            b'D' => Mode::DropTwice,
            b'U' => Mode::UseAfterDrop,
            _ => Mode::Honest,
        }
    }
}

struct Component;

export!(Component);

impl Guest for Component {
    type Partition = Partition;
}

struct Partition {
    /// `None` once kept away (`Mode::Keep`).
    disk: Option<Device>,
    info: Info,
    mode: Mode,
}

thread_local! {
    /// Devices `Mode::Keep` never lets go of.
    static KEPT: std::cell::RefCell<Vec<Device>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Recurses until the stack runs out: the test the optimizer cannot see through never stops it.
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    black_box(recurse(depth.wrapping_add(1))).wrapping_add(1)
}

impl GuestPartition for Partition {
    fn whole(disk: Device) -> Result<Handle, Error> {
        let info = disk.info();
        let first = disk.read(0, u64::from(info.sector_size));
        let mode = Mode::of(
            first
                .ok()
                .and_then(|sector| sector.first().copied())
                .unwrap_or(0),
        );
        let mut disk = Some(disk);
        match mode {
            Mode::Keep => KEPT.with_borrow_mut(|kept| kept.extend(disk.take())),
            Mode::DropTwice => {
                let handle = disk.as_ref().map_or(0, Device::handle);
                // SAFETY: none; a second owner of the same handle is the misbehaviour.
                drop(unsafe { Device::from_handle(handle) });
                drop(disk.take());
            }
            Mode::UseAfterDrop => {
                let handle = disk.as_ref().map_or(0, Device::handle);
                // SAFETY: none; calling a dropped handle is the misbehaviour.
                drop(unsafe { Device::from_handle(handle) });
                black_box(disk.as_ref().map(Device::info));
            }
            _ => {}
        }
        Ok(Handle::new(Partition { disk, info, mode }))
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let asked = usize::try_from(len).unwrap_or(usize::MAX);
        match self.mode {
            Mode::Trap => panic!("a hostile guest traps"),
            Mode::Loop => loop {
                black_box(());
            },
            Mode::Grow => {
                let mut hoard = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            Mode::Recurse => Ok(vec![0; usize::try_from(recurse(0)).unwrap_or(0)]),
            Mode::Short => Ok(vec![0; asked.saturating_sub(1)]),
            Mode::Long => Ok(vec![0; asked.saturating_add(512)]),
            _ => match &self.disk {
                Some(disk) => disk.read(sector_start, len).map_err(Error::Device),
                None => Err(Error::Disconnected),
            },
        }
    }

    fn info(&self) -> Info {
        self.info
    }

    // Nothing below is needed to misbehave.
    fn connect(_: u64, _: Device) -> Result<(Handle, Handle), Error> {
        Err(Error::Disconnected)
    }
    fn subpartition(&self, _: u64) -> Result<(Handle, Handle), Error> {
        Err(Error::Disconnected)
    }
    fn slice(&self, _: u64, _: u64) -> Result<Handle, Error> {
        Err(Error::Disconnected)
    }
    fn get_offset(&self) -> u64 {
        0
    }
    fn write(&self, _: u64, _: Vec<u8>) -> Result<(), Error> {
        Err(Error::Disconnected)
    }
    fn flush(&self) -> Result<(), Error> {
        Err(Error::Disconnected)
    }
    fn discard(&self, _: u64, _: u64) -> Result<(), Error> {
        Err(Error::Disconnected)
    }
    fn write_zeroes(&self, _: u64, _: u64) -> Result<(), Error> {
        Err(Error::Disconnected)
    }
    fn disconnect(&self) {}
}

impl partition_table::Guest for Component {
    fn read(
        _: exports::blockpart::partition::partition::PartitionBorrow<'_>,
    ) -> Result<Table, TableError> {
        Err(TableError::NoTable)
    }
    fn open(
        _: exports::blockpart::partition::partition::PartitionBorrow<'_>,
        _: u32,
    ) -> Result<Handle, TableError> {
        Err(TableError::NoTable)
    }
}
