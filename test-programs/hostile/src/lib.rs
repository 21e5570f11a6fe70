//! A component of the `partitioner` world that misbehaves on purpose, so the host's tests can
//! show that no guest hurts the host. What it does is chosen by the first byte of the disk it
//! is handed (see [`Mode`]); it reads that byte in `whole`, and misbehaves in `read` (and
//! `map`), except for the modes that misuse the device handle, which do it in `whole`, and
//! those that return a bad partition table, which do it in `partition-table.read`.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; handle misuse is the point"
)]

use std::hint::black_box;

use blockpart_hostile_mode::{
    BAD_DISK_GUID, BAD_ENTRY_GUID, Mode, TOO_LONG_NAME, TOO_MANY_ENTRIES,
};

wit_bindgen::generate!({ path: "../../wit", world: "partitioner" });

use blockpart::partition::block_device::Device;
use blockpart::partition::types::{DeviceError, Direction, Error, Info};
use exports::blockpart::partition::partition::{Guest, GuestPartition, Partition as Handle};
use exports::blockpart::partition::partition_table::{
    self, Entry, GptHeader, Label, PartitionType, Table, TableError,
};

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

impl Partition {
    /// For the modes that trap, loop, exhaust memory or exhaust the stack: does it.
    fn misbehave(&self) -> u64 {
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
            Mode::Recurse => recurse(0),
            _ => 0,
        }
    }

    /// For the modes that call the device directly with a request it must refuse: its answer.
    fn around_the_partition(&self, disk: &Device) -> Option<Result<(), DeviceError>> {
        let size = self.info.size_sectors;
        let sector = u64::from(self.info.sector_size);
        let data = |sectors: u64| {
            let len = sector.saturating_mul(sectors);
            vec![0xEE; usize::try_from(len).unwrap_or(0)]
        };
        let read = |start| disk.read(start, sector).map(drop);
        Some(match self.mode {
            Mode::ReadPastEnd => read(size),
            Mode::WritePastEnd => disk.write(size, &data(1)),
            Mode::WriteAcrossEnd => disk.write(size.saturating_sub(1), &data(2)),
            Mode::ReadAtMax => read(u64::MAX),
            Mode::WriteAtMax => disk.write(u64::MAX, &data(1)),
            Mode::ZeroesWrapping => disk.write_zeroes(1, u64::MAX),
            Mode::DiscardTooMany => disk.discard(0, u64::MAX),
            Mode::WriteReadOnly => disk.write(0, &data(1)),
            _ => return None,
        })
    }

    /// For the modes that return a bad table: a GPT with one entry, the GUIDs valid but one;
    /// or with too many entries, or too long a name.
    fn bad_table(&self) -> Option<Table> {
        let (disk_guid, entry_guid) = match self.mode {
            Mode::BadDiskGuid => (BAD_DISK_GUID, GOOD_GUID),
            Mode::BadEntryGuid => (GOOD_GUID, BAD_ENTRY_GUID),
            Mode::TooManyEntries | Mode::TooLongName => (GOOD_GUID, GOOD_GUID),
            _ => return None,
        };
        let mut table = Table {
            label: Label::Gpt(GptHeader {
                disk_guid: disk_guid.to_owned(),
                first_usable: 2,
                last_usable: 5,
                from_backup: false,
            }),
            sector_size: self.info.sector_size,
            size_sectors: self.info.size_sectors,
            entries: vec![Entry {
                number: 1,
                start: 2,
                sectors: 2,
                partition_type: PartitionType::Gpt(LINUX_DATA.to_owned()),
                guid: Some(entry_guid.to_owned()),
                name: "hostile".to_owned(),
                bootable: false,
                attributes: 0,
            }],
        };
        match self.mode {
            Mode::TooManyEntries => {
                let entry = table.entries.first().cloned()?;
                table.entries.resize(TOO_MANY_ENTRIES, entry);
            }
            Mode::TooLongName => {
                table.entries.first_mut()?.name = "n".repeat(TOO_LONG_NAME);
            }
            _ => {}
        }
        Some(table)
    }
}

/// A GUID that parses.
const GOOD_GUID: &str = "8c1f8e8a-6a3e-4b5c-9d3a-2f6e1b7c4d90";
/// The partition type GUID of Linux data.
const LINUX_DATA: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";

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
            Mode::MapAfterDrop => drop(disk.take()),
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
            Mode::Trap | Mode::Loop | Mode::Grow | Mode::Recurse => {
                Ok(vec![0; usize::try_from(self.misbehave()).unwrap_or(0)])
            }
            Mode::Short => Ok(vec![0; asked.saturating_sub(1)]),
            Mode::Long => Ok(vec![0; asked.saturating_add(512)]),
            _ => match &self.disk {
                Some(disk) => match self.around_the_partition(disk) {
                    // The device took what it should have refused: say so with a read that
                    // looks fine.
                    Some(Ok(())) => Ok(vec![0; asked]),
                    Some(Err(error)) => Err(Error::Device(error)),
                    None => disk.read(sector_start, len).map_err(Error::Device),
                },
                None => Err(Error::Disconnected),
            },
        }
    }

    fn map(&self, direction: Direction, sector_start: u64, _len: u64) -> Result<u64, Error> {
        let size = self.info.size_sectors;
        match self.mode {
            Mode::Trap | Mode::Loop | Mode::Grow | Mode::Recurse => Ok(self.misbehave()),
            Mode::MapPastEnd => Ok(size),
            Mode::MapAtMax => Ok(u64::MAX),
            Mode::MapAcrossEnd => Ok(size.saturating_sub(1)),
            Mode::MapWriteReadOnly | Mode::MapAfterDrop => Ok(sector_start),
            // Unchecked but for the access mode: the host's tests send requests that fit.
            _ if direction == Direction::Write && !self.info.read_write => Err(Error::IsReadOnly),
            _ => Ok(sector_start),
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
        disk: exports::blockpart::partition::partition::PartitionBorrow<'_>,
    ) -> Result<Table, TableError> {
        disk.get::<Partition>()
            .bad_table()
            .ok_or(TableError::NoTable)
    }
    fn open(
        _: exports::blockpart::partition::partition::PartitionBorrow<'_>,
        _: u32,
    ) -> Result<Handle, TableError> {
        Err(TableError::NoTable)
    }
}
