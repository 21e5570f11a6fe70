//! The exported `partition-table` interface: tables are read by `blockpart-core`, inside this
//! component; this file only converts its types to WIT ones.

use blockpart_core as core;

use crate::exports::blockpart::partition::partition::{Partition as Handle, PartitionBorrow};
use crate::exports::blockpart::partition::partition_table as wit;
use crate::{Component, Partition};

impl wit::Guest for Component {
    fn read(disk: PartitionBorrow<'_>) -> Result<wit::Table, wit::TableError> {
        let disk = disk.get::<Partition>().0.borrow();
        Ok(core::Table::read(&disk)?.into())
    }

    fn open(disk: PartitionBorrow<'_>, number: u32) -> Result<Handle, wit::TableError> {
        let disk = disk.get::<Partition>().0.borrow();
        let opened = core::Table::read(&disk)?.open(&disk, number)?;
        Ok(Handle::new(Partition::new(opened)))
    }
}

fn guid(guid: core::Uuid) -> String {
    format!("{guid:X}")
}

impl From<core::Table> for wit::Table {
    fn from(table: core::Table) -> Self {
        let label = match table.label {
            core::Label::Mbr { id } => wit::Label::Mbr(id),
            core::Label::Gpt {
                id,
                first_usable,
                last_usable,
                from_backup,
            } => wit::Label::Gpt(wit::GptHeader {
                disk_guid: guid(id),
                first_usable,
                last_usable,
                from_backup,
            }),
        };
        Self {
            label,
            sector_size: table.sector_size,
            size_sectors: table.size_sectors,
            entries: table.entries.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<core::Entry> for wit::Entry {
    fn from(entry: core::Entry) -> Self {
        Self {
            number: entry.number,
            start: entry.start,
            sectors: entry.sectors,
            partition_type: match entry.partition_type {
                core::PartitionType::Mbr(id) => wit::PartitionType::Mbr(id),
                core::PartitionType::Gpt(id) => wit::PartitionType::Gpt(guid(id)),
            },
            guid: entry.guid.map(guid),
            name: entry.name,
            bootable: entry.bootable,
            attributes: entry.attributes,
        }
    }
}

impl From<core::TableError> for wit::TableError {
    fn from(error: core::TableError) -> Self {
        match error {
            core::TableError::NoTable => Self::NoTable,
            core::TableError::BadEntry { number, reason } => {
                Self::BadEntry(wit::BadEntry { number, reason })
            }
            core::TableError::Corrupt(why) => Self::Corrupt(why),
            core::TableError::NoEntry(number) => Self::NoEntry(number),
            core::TableError::Read(error) => Self::Read(error.into()),
        }
    }
}
