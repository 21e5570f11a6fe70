//! Partition tables, read by the guest: typed calls, and the guest's answers checked and turned
//! into `blockpart-core`'s types.

use blockpart_core::{
    Entry, Label, MAX_ENTRIES, MAX_NAME_BYTES, PartitionType, Table, TableError, Uuid,
};

use super::bindings::exports::blockpart::partition::partition_table as wit;
use super::{Instance, PartitionHandle};
use crate::Error;

impl Instance {
    /// Reads the partition table of `disk`. The guest parses it; the host only checks that
    /// the GUIDs it returns are GUIDs.
    pub fn read_table(&mut self, disk: PartitionHandle) -> Result<Table, Error> {
        let table = self
            .store
            .call("read", |store| self.tables.call_read(store, disk.resource))??;
        Table::try_from(table)
    }

    /// Entry `number` of `disk`'s partition table, as a partition of `disk`.
    pub fn open_entry(
        &mut self,
        disk: PartitionHandle,
        number: u32,
    ) -> Result<PartitionHandle, Error> {
        let part = self.store.call("open", |store| {
            self.tables.call_open(store, disk.resource, number)
        })??;
        Ok(PartitionHandle::of(part, disk.device))
    }
}

fn guid(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| guest_error(format!("the guest returned {text:?} as a GUID")))
}

fn guest_error(message: String) -> Error {
    Error::Guest(wasmtime::Error::msg(message))
}

impl TryFrom<wit::Table> for Table {
    type Error = Error;

    fn try_from(table: wit::Table) -> Result<Self, Error> {
        let label = match table.label {
            wit::Label::Mbr(id) => Label::Mbr { id },
            wit::Label::Gpt(header) => Label::Gpt {
                id: guid(&header.disk_guid)?,
                first_usable: header.first_usable,
                last_usable: header.last_usable,
                from_backup: header.from_backup,
            },
        };
        // What the host keeps of a guest's answer is bounded by what a disk can hold.
        if table.entries.len() > MAX_ENTRIES {
            return Err(guest_error(format!(
                "the guest returned {} entries; a table has at most {MAX_ENTRIES}",
                table.entries.len()
            )));
        }
        if let Some(entry) = table.entries.iter().find(|e| e.name.len() > MAX_NAME_BYTES) {
            return Err(guest_error(format!(
                "the guest returned a name of {} bytes for entry {}; a GPT name has at most {MAX_NAME_BYTES}",
                entry.name.len(),
                entry.number
            )));
        }
        let entries = table
            .entries
            .into_iter()
            .map(|entry| {
                Ok(Entry {
                    number: entry.number,
                    start: entry.start,
                    sectors: entry.sectors,
                    partition_type: match entry.partition_type {
                        wit::PartitionType::Mbr(id) => PartitionType::Mbr(id),
                        wit::PartitionType::Gpt(id) => PartitionType::Gpt(guid(&id)?),
                    },
                    guid: entry.guid.as_deref().map(guid).transpose()?,
                    name: entry.name,
                    bootable: entry.bootable,
                    attributes: entry.attributes,
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self {
            label,
            sector_size: table.sector_size,
            size_sectors: table.size_sectors,
            entries,
        })
    }
}

impl From<wit::TableError> for Error {
    fn from(error: wit::TableError) -> Self {
        Self::Table(match error {
            wit::TableError::NoTable => TableError::NoTable,
            wit::TableError::BadEntry(bad) => TableError::BadEntry {
                number: bad.number,
                reason: bad.reason,
            },
            wit::TableError::Corrupt(why) => TableError::Corrupt(why),
            wit::TableError::NoEntry(number) => TableError::NoEntry(number),
            wit::TableError::Read(error) => TableError::Read(error.into()),
        })
    }
}
