//! Every request the suite sends a driver, typed, and its JSON: the one place a request line is
//! made.
//!
//! A request is an object of the op's fields, in the order the variant lists them, then `op`.
//! Ids, `sectorSize`, `number` and `protocol` are JSON numbers, `readOnly` a boolean, u64
//! values decimal strings and byte data base64 (`wire::from_u64`, `wire::from_bytes`).

use serde_json::{Map, Value};

use super::{DeviceKind, wire};
use crate::Direction;

/// A request to the driver: a variant per op, with the op's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `hello`: the protocol the suite speaks.
    Hello {
        /// The protocol's version.
        protocol: u64,
    },
    /// `disk`: a file the suite made, and a fresh partitioner instance for it.
    Disk {
        /// The file.
        path: &'a str,
        /// Bytes per sector.
        sector_size: u32,
        /// Whether the devices over it refuse writes.
        read_only: bool,
    },
    /// `whole`: `partition.whole` of a fresh device over the disk.
    Whole {
        /// The disk's id.
        disk: u64,
    },
    /// `connect`: `partition.connect` of a fresh device over the disk.
    Connect {
        /// The disk's id.
        disk: u64,
        /// Sectors of the first partition.
        first_sectors: u64,
    },
    /// `subpartition`.
    Subpartition {
        /// The partition's id.
        part: u64,
        /// Sectors of the first partition.
        first_sectors: u64,
    },
    /// `slice`.
    Slice {
        /// The partition's id.
        part: u64,
        /// The first sector of the slice.
        sector_start: u64,
        /// Its length in sectors.
        sectors: u64,
    },
    /// `get-offset`.
    GetOffset {
        /// The partition's id.
        part: u64,
    },
    /// `info`.
    Info {
        /// The partition's id.
        part: u64,
    },
    /// `read`: `partition.read`, the bytes through the partitioner.
    Read {
        /// The partition's id.
        part: u64,
        /// The first sector read.
        sector_start: u64,
        /// Bytes to read.
        len: u64,
    },
    /// `write`: `partition.write`.
    Write {
        /// The partition's id.
        part: u64,
        /// The first sector written.
        sector_start: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// `map`: `partition.map`.
    Map {
        /// The partition's id.
        part: u64,
        /// Whether a read or a write is mapped.
        direction: Direction,
        /// The first sector.
        sector_start: u64,
        /// Bytes to move.
        len: u64,
    },
    /// `read-mapped`: the host's own mapped read.
    ReadMapped {
        /// The partition's id.
        part: u64,
        /// The first sector read.
        sector_start: u64,
        /// The length of the buffer.
        len: u64,
    },
    /// `write-mapped`: the host's own mapped write.
    WriteMapped {
        /// The partition's id.
        part: u64,
        /// The first sector written.
        sector_start: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// `flush`.
    Flush {
        /// The partition's id.
        part: u64,
    },
    /// `discard`.
    Discard {
        /// The partition's id.
        part: u64,
        /// The first sector discarded.
        sector_start: u64,
        /// Sectors to discard.
        sectors: u64,
    },
    /// `write-zeroes`.
    WriteZeroes {
        /// The partition's id.
        part: u64,
        /// The first sector zeroed.
        sector_start: u64,
        /// Sectors to zero.
        sectors: u64,
    },
    /// `disconnect`.
    Disconnect {
        /// The partition's id.
        part: u64,
    },
    /// `drop`: the partition handle is dropped.
    Drop {
        /// The partition's id.
        part: u64,
    },
    /// `table-read`: `partition-table.read`.
    TableRead {
        /// The partition's id.
        part: u64,
    },
    /// `table-open`: `partition-table.open`.
    TableOpen {
        /// The partition's id.
        part: u64,
        /// The entry's number.
        number: u32,
    },
    /// `counts`: requests the disk's devices received, and devices still held.
    Counts {
        /// The disk's id.
        disk: u64,
    },
    /// `drop-disk`: every partition of the disk left is dropped.
    DropDisk {
        /// The disk's id.
        disk: u64,
    },
    /// `device`: one of the host's own devices, over a file.
    Device {
        /// Which of the host's devices.
        kind: DeviceKind,
        /// The file.
        path: &'a str,
        /// Bytes per sector, as the case gives it: the host may have to refuse it.
        sector_size: u64,
        /// Whether the device refuses writes.
        read_only: bool,
    },
    /// `device-info`.
    DeviceInfo {
        /// The device's id.
        device: u64,
    },
    /// `device-read`.
    DeviceRead {
        /// The device's id.
        device: u64,
        /// The first sector read.
        sector_start: u64,
        /// Bytes to read.
        len: u64,
    },
    /// `device-write`.
    DeviceWrite {
        /// The device's id.
        device: u64,
        /// The first sector written.
        sector_start: u64,
        /// The bytes.
        data: &'a [u8],
    },
    /// `device-flush`.
    DeviceFlush {
        /// The device's id.
        device: u64,
    },
    /// `device-discard`.
    DeviceDiscard {
        /// The device's id.
        device: u64,
        /// The first sector discarded.
        sector_start: u64,
        /// Sectors to discard.
        sectors: u64,
    },
    /// `device-write-zeroes`.
    DeviceWriteZeroes {
        /// The device's id.
        device: u64,
        /// The first sector zeroed.
        sector_start: u64,
        /// Sectors to zero.
        sectors: u64,
    },
    /// `device-bytes`: the bytes of the device's backing, read around it.
    DeviceBytes {
        /// The device's id.
        device: u64,
    },
    /// `drop-device`.
    DropDevice {
        /// The device's id.
        device: u64,
    },
}

/// A request's fields as they travel, in order.
struct Fields(Map<String, Value>);

impl Fields {
    fn new() -> Self {
        Self(Map::new())
    }

    /// An id, a count or a small integer: a JSON number.
    fn number(mut self, name: &str, value: impl Into<u64>) -> Self {
        self.0.insert(name.to_owned(), Value::from(value.into()));
        self
    }

    /// A u64 value: a decimal string.
    fn u64(mut self, name: &str, value: u64) -> Self {
        self.0.insert(name.to_owned(), wire::from_u64(value));
        self
    }

    /// Byte data: base64.
    fn bytes(mut self, name: &str, data: &[u8]) -> Self {
        self.0.insert(name.to_owned(), wire::from_bytes(data));
        self
    }

    fn string(mut self, name: &str, value: &str) -> Self {
        self.0.insert(name.to_owned(), Value::from(value));
        self
    }

    fn bool(mut self, name: &str, value: bool) -> Self {
        self.0.insert(name.to_owned(), Value::Bool(value));
        self
    }

    /// The fields of a request about partition `part`.
    fn part(part: u64) -> Self {
        Self::new().number("part", part)
    }

    /// The fields of a request about disk `disk`.
    fn disk(disk: u64) -> Self {
        Self::new().number("disk", disk)
    }

    /// The fields of a request about device `device`.
    fn device(device: u64) -> Self {
        Self::new().number("device", device)
    }

    /// A range of sectors: `sectorStart` and `sectors`.
    fn range(self, sector_start: u64, sectors: u64) -> Self {
        self.u64("sectorStart", sector_start)
            .u64("sectors", sectors)
    }

    /// A transfer's length: `sectorStart` and `len`.
    fn extent(self, sector_start: u64, len: u64) -> Self {
        self.u64("sectorStart", sector_start).u64("len", len)
    }

    /// Data to write: `sectorStart` and `data`.
    fn data(self, sector_start: u64, data: &[u8]) -> Self {
        self.u64("sectorStart", sector_start).bytes("data", data)
    }
}

impl Request<'_> {
    /// The op, as the request names it.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Disk { .. } => "disk",
            Self::Whole { .. } => "whole",
            Self::Connect { .. } => "connect",
            Self::Subpartition { .. } => "subpartition",
            Self::Slice { .. } => "slice",
            Self::GetOffset { .. } => "get-offset",
            Self::Info { .. } => "info",
            Self::Read { .. } => "read",
            Self::Write { .. } => "write",
            Self::Map { .. } => "map",
            Self::ReadMapped { .. } => "read-mapped",
            Self::WriteMapped { .. } => "write-mapped",
            Self::Flush { .. } => "flush",
            Self::Discard { .. } => "discard",
            Self::WriteZeroes { .. } => "write-zeroes",
            Self::Disconnect { .. } => "disconnect",
            Self::Drop { .. } => "drop",
            Self::TableRead { .. } => "table-read",
            Self::TableOpen { .. } => "table-open",
            Self::Counts { .. } => "counts",
            Self::DropDisk { .. } => "drop-disk",
            Self::Device { .. } => "device",
            Self::DeviceInfo { .. } => "device-info",
            Self::DeviceRead { .. } => "device-read",
            Self::DeviceWrite { .. } => "device-write",
            Self::DeviceFlush { .. } => "device-flush",
            Self::DeviceDiscard { .. } => "device-discard",
            Self::DeviceWriteZeroes { .. } => "device-write-zeroes",
            Self::DeviceBytes { .. } => "device-bytes",
            Self::DropDevice { .. } => "drop-device",
        }
    }

    /// The request as it travels: its fields, then `op`.
    pub fn to_json(&self) -> Value {
        let fields = match *self {
            Self::Hello { protocol } => Fields::new().number("protocol", protocol),
            Self::Disk {
                path,
                sector_size,
                read_only,
            } => Fields::new()
                .string("path", path)
                .number("sectorSize", sector_size)
                .bool("readOnly", read_only),
            Self::Whole { disk } | Self::Counts { disk } | Self::DropDisk { disk } => {
                Fields::disk(disk)
            }
            Self::Connect {
                disk,
                first_sectors,
            } => Fields::disk(disk).u64("firstSectors", first_sectors),
            Self::Subpartition {
                part,
                first_sectors,
            } => Fields::part(part).u64("firstSectors", first_sectors),
            Self::Slice {
                part,
                sector_start,
                sectors,
            }
            | Self::Discard {
                part,
                sector_start,
                sectors,
            }
            | Self::WriteZeroes {
                part,
                sector_start,
                sectors,
            } => Fields::part(part).range(sector_start, sectors),
            Self::GetOffset { part }
            | Self::Info { part }
            | Self::Flush { part }
            | Self::Disconnect { part }
            | Self::Drop { part }
            | Self::TableRead { part } => Fields::part(part),
            Self::Read {
                part,
                sector_start,
                len,
            }
            | Self::ReadMapped {
                part,
                sector_start,
                len,
            } => Fields::part(part).extent(sector_start, len),
            Self::Write {
                part,
                sector_start,
                data,
            }
            | Self::WriteMapped {
                part,
                sector_start,
                data,
            } => Fields::part(part).data(sector_start, data),
            Self::Map {
                part,
                direction,
                sector_start,
                len,
            } => {
                let direction = match direction {
                    Direction::Read => "read",
                    Direction::Write => "write",
                };
                Fields::part(part)
                    .string("direction", direction)
                    .extent(sector_start, len)
            }
            Self::TableOpen { part, number } => Fields::part(part).number("number", number),
            Self::Device {
                kind,
                path,
                sector_size,
                read_only,
            } => Fields::new()
                .string("kind", kind.wire_name())
                .string("path", path)
                .number("sectorSize", sector_size)
                .bool("readOnly", read_only),
            Self::DeviceInfo { device }
            | Self::DeviceFlush { device }
            | Self::DeviceBytes { device }
            | Self::DropDevice { device } => Fields::device(device),
            Self::DeviceRead {
                device,
                sector_start,
                len,
            } => Fields::device(device).extent(sector_start, len),
            Self::DeviceWrite {
                device,
                sector_start,
                data,
            } => Fields::device(device).data(sector_start, data),
            Self::DeviceDiscard {
                device,
                sector_start,
                sectors,
            }
            | Self::DeviceWriteZeroes {
                device,
                sector_start,
                sectors,
            } => Fields::device(device).range(sector_start, sectors),
        };
        Value::Object(fields.string("op", self.op()).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(request: &Request<'_>) -> String {
        request.to_json().to_string()
    }

    #[test]
    fn u64_values_travel_as_decimal_strings_and_ids_as_numbers() {
        let read = Request::Read {
            part: 3,
            sector_start: u64::MAX,
            len: 512,
        };
        assert_eq!(
            line(&read),
            r#"{"part":3,"sectorStart":"18446744073709551615","len":"512","op":"read"}"#
        );
        let connect = Request::Connect {
            disk: 0,
            first_sectors: u64::MAX,
        };
        assert_eq!(
            line(&connect),
            r#"{"disk":0,"firstSectors":"18446744073709551615","op":"connect"}"#
        );
        let slice = Request::DeviceDiscard {
            device: 7,
            sector_start: 1 << 53,
            sectors: (1 << 53) + 1,
        };
        assert_eq!(
            line(&slice),
            r#"{"device":7,"sectorStart":"9007199254740992","sectors":"9007199254740993","op":"device-discard"}"#
        );
    }

    #[test]
    fn byte_data_travels_as_padded_base64() {
        let write = Request::Write {
            part: 1,
            sector_start: 0,
            data: &[0xab, 0xcd],
        };
        assert_eq!(
            line(&write),
            r#"{"part":1,"sectorStart":"0","data":"q80=","op":"write"}"#
        );
        let empty = Request::DeviceWrite {
            device: 2,
            sector_start: 5,
            data: &[],
        };
        assert_eq!(
            line(&empty),
            r#"{"device":2,"sectorStart":"5","data":"","op":"device-write"}"#
        );
    }

    #[test]
    fn records_have_camel_case_fields_and_enums_their_wit_names() {
        let disk = Request::Disk {
            path: "/tmp/disk",
            sector_size: 4096,
            read_only: true,
        };
        assert_eq!(
            line(&disk),
            r#"{"path":"/tmp/disk","sectorSize":4096,"readOnly":true,"op":"disk"}"#
        );
        let device = Request::Device {
            kind: DeviceKind::Memory,
            path: "/tmp/dev",
            sector_size: u64::from(u32::MAX) + 1,
            read_only: false,
        };
        assert_eq!(
            line(&device),
            r#"{"kind":"memory","path":"/tmp/dev","sectorSize":4294967296,"readOnly":false,"op":"device"}"#
        );
        let map = Request::Map {
            part: 4,
            direction: Direction::Write,
            sector_start: 2,
            len: 1024,
        };
        assert_eq!(
            line(&map),
            r#"{"part":4,"direction":"write","sectorStart":"2","len":"1024","op":"map"}"#
        );
        let open = Request::TableOpen {
            part: 9,
            number: 128,
        };
        assert_eq!(line(&open), r#"{"part":9,"number":128,"op":"table-open"}"#);
        assert_eq!(
            line(&Request::Hello { protocol: 2 }),
            r#"{"protocol":2,"op":"hello"}"#
        );
    }
}
