//! The protocol's JSON and `blockpart-core`'s types: every conversion between them, both ways.
//!
//! Values arrive as jco gives them, with field names in camel case, variants as
//! `{"tag", "val"}`, u64 values as decimal strings, bytes as base64 and `none` as null. A value
//! of any other shape is a malformed reply: `Err` says what was wrong, for the case's failure.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use blockpart_core::{
    DeviceError, Entry, Error, Info, Label, OutOfBounds, PartitionType, Table, TableError, Uuid,
};
use serde_json::{Map, Value};

/// A u64, as it travels: a decimal string (a JSON number loses precision past 2^53 in JS).
pub fn from_u64(value: u64) -> Value {
    Value::String(value.to_string())
}

/// Byte data, as it travels: base64.
pub fn from_bytes(data: &[u8]) -> Value {
    Value::String(STANDARD.encode(data))
}

/// A u64 sent as a decimal string.
pub fn u64(value: &Value) -> Result<u64, String> {
    match value {
        Value::String(text)
            if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) =>
        {
            text.parse()
                .map_err(|_| format!("{text} is not a u64 (too large)"))
        }
        _ => Err(format!(
            "{} is not a u64 as a decimal string",
            excerpt(value)
        )),
    }
}

/// A u32 (or a smaller unsigned integer) sent as a JSON number.
pub fn u32(value: &Value) -> Result<u32, String> {
    value
        .as_u64()
        .and_then(|number| u32::try_from(number).ok())
        .ok_or_else(|| format!("{} is not a u32", excerpt(value)))
}

/// A u8 sent as a JSON number.
fn u8(value: &Value) -> Result<u8, String> {
    u8::try_from(u32(value)?).map_err(|_| format!("{} is not a u8", excerpt(value)))
}

/// An id the driver gave: a JSON number.
pub fn id(value: &Value) -> Result<u64, String> {
    value
        .as_u64()
        .ok_or_else(|| format!("{} is not an id", excerpt(value)))
}

/// Two ids, as `connect` and `subpartition` return them.
pub fn id_pair(value: &Value) -> Result<(u64, u64), String> {
    match value.as_array().map(Vec::as_slice) {
        Some([head, tail]) => Ok((id(head)?, id(tail)?)),
        _ => Err(format!("{} is not a pair of ids", excerpt(value))),
    }
}

/// Byte data sent as base64.
pub fn bytes(value: &Value) -> Result<Vec<u8>, String> {
    let text = string(value)?;
    STANDARD
        .decode(text)
        .map_err(|error| format!("{} is not base64: {error}", excerpt(value)))
}

/// `null`, the value of a call that returns nothing.
pub fn unit(value: &Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        _ => Err(format!("{} where null was due", excerpt(value))),
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{} is not a string", excerpt(value)))
}

fn bool(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("{} is not a boolean", excerpt(value)))
}

fn guid(value: &Value) -> Result<Uuid, String> {
    let text = string(value)?;
    Uuid::try_parse(text).map_err(|_| format!("{text:?} is not a GUID"))
}

/// The fields of a record.
struct Record<'a> {
    value: &'a Value,
    fields: &'a Map<String, Value>,
}

impl<'a> Record<'a> {
    fn new(value: &'a Value) -> Result<Self, String> {
        let fields = value
            .as_object()
            .ok_or_else(|| format!("{} is not a record", excerpt(value)))?;
        Ok(Self { value, fields })
    }

    fn get(&self, name: &str) -> Result<&'a Value, String> {
        self.fields
            .get(name)
            .ok_or_else(|| format!("{} has no field {name}", excerpt(self.value)))
    }
}

/// A variant: its tag, and its value if it has one.
fn variant(value: &Value) -> Result<(&str, Option<&Value>), String> {
    let record = Record::new(value)?;
    Ok((string(record.get("tag")?)?, record.fields.get("val")))
}

/// The variant's value, which its tag says it has.
fn payload<'a>(value: Option<&'a Value>, tag: &str) -> Result<&'a Value, String> {
    value.ok_or_else(|| format!("the variant {tag} has no val"))
}

fn unknown_tag(tag: &str, what: &str) -> String {
    format!("{tag:?} is not a case of {what}")
}

/// The WIT `info` record.
pub fn info(value: &Value) -> Result<Info, String> {
    let record = Record::new(value)?;
    Ok(Info {
        read_write: bool(record.get("readWrite")?)?,
        sector_size: u32(record.get("sectorSize")?)?,
        size_sectors: u64(record.get("sizeSectors")?)?,
    })
}

/// The WIT `device-error` variant.
pub fn device_error(value: &Value) -> Result<DeviceError, String> {
    let (tag, val) = variant(value)?;
    Ok(match tag {
        "disconnected" => DeviceError::Disconnected,
        "is-read-only" => DeviceError::ReadOnly,
        "out-of-bounds" => DeviceError::OutOfBounds,
        "unaligned" => DeviceError::Unaligned,
        "io" => DeviceError::Io(string(payload(val, tag)?)?.to_owned()),
        _ => return Err(unknown_tag(tag, "device-error")),
    })
}

/// The WIT `error` variant, a partition's refusal.
pub fn error(value: &Value) -> Result<Error, String> {
    let (tag, val) = variant(value)?;
    Ok(match tag {
        "out-of-bounds" => {
            let access = Record::new(payload(val, tag)?)?;
            Error::OutOfBounds(OutOfBounds {
                sector_start: u64(access.get("sectorStart")?)?,
                sectors: u64(access.get("sectors")?)?,
                size_sectors: u64(access.get("sizeSectors")?)?,
            })
        }
        "unaligned" => Error::Unaligned(u64(payload(val, tag)?)?),
        "too-large" => Error::TooLarge(u64(payload(val, tag)?)?),
        "disconnected" => Error::Disconnected,
        "is-read-only" => Error::ReadOnly,
        "device" => Error::Device(device_error(payload(val, tag)?)?),
        "invalid-device" => Error::InvalidDevice(string(payload(val, tag)?)?.to_owned()),
        _ => return Err(unknown_tag(tag, "error")),
    })
}

/// The WIT `table-error` variant.
pub fn table_error(value: &Value) -> Result<TableError, String> {
    let (tag, val) = variant(value)?;
    Ok(match tag {
        "no-table" => TableError::NoTable,
        "bad-entry" => {
            let entry = Record::new(payload(val, tag)?)?;
            TableError::BadEntry {
                number: u32(entry.get("number")?)?,
                reason: string(entry.get("reason")?)?.to_owned(),
            }
        }
        "corrupt" => TableError::Corrupt(string(payload(val, tag)?)?.to_owned()),
        "no-entry" => TableError::NoEntry(u32(payload(val, tag)?)?),
        "read" => TableError::Read(error(payload(val, tag)?)?),
        _ => return Err(unknown_tag(tag, "table-error")),
    })
}

/// The WIT `table` record.
pub fn table(value: &Value) -> Result<Table, String> {
    let record = Record::new(value)?;
    let entries = record.get("entries")?;
    let entries = entries
        .as_array()
        .ok_or_else(|| format!("{} is not a list of entries", excerpt(entries)))?;
    Ok(Table {
        label: label(record.get("label")?)?,
        sector_size: u32(record.get("sectorSize")?)?,
        size_sectors: u64(record.get("sizeSectors")?)?,
        entries: entries.iter().map(entry).collect::<Result<_, _>>()?,
    })
}

fn label(value: &Value) -> Result<Label, String> {
    let (tag, val) = variant(value)?;
    Ok(match tag {
        "mbr" => Label::Mbr {
            id: u32(payload(val, tag)?)?,
        },
        "gpt" => {
            let header = Record::new(payload(val, tag)?)?;
            Label::Gpt {
                id: guid(header.get("diskGuid")?)?,
                first_usable: u64(header.get("firstUsable")?)?,
                last_usable: u64(header.get("lastUsable")?)?,
                from_backup: bool(header.get("fromBackup")?)?,
            }
        }
        _ => return Err(unknown_tag(tag, "label")),
    })
}

fn entry(value: &Value) -> Result<Entry, String> {
    let record = Record::new(value)?;
    let (tag, val) = variant(record.get("partitionType")?)?;
    let partition_type = match tag {
        "mbr" => PartitionType::Mbr(u8(payload(val, tag)?)?),
        "gpt" => PartitionType::Gpt(guid(payload(val, tag)?)?),
        _ => return Err(unknown_tag(tag, "partition-type")),
    };
    let guid = match record.get("guid")? {
        Value::Null => None,
        value => Some(guid(value)?),
    };
    Ok(Entry {
        number: u32(record.get("number")?)?,
        start: u64(record.get("start")?)?,
        sectors: u64(record.get("sectors")?)?,
        partition_type,
        guid,
        name: string(record.get("name")?)?.to_owned(),
        bootable: bool(record.get("bootable")?)?,
        attributes: u64(record.get("attributes")?)?,
    })
}

/// What `counts` returns of a disk's devices.
pub struct Counts {
    /// Requests they received from the partitioner.
    pub requests: u64,
    /// Devices handed to the partitioner and not yet dropped by it.
    pub live_devices: usize,
}

/// The `counts` record: `{requests, liveDevices}`.
pub fn counts(value: &Value) -> Result<Counts, String> {
    let record = Record::new(value)?;
    let live = record.get("liveDevices")?;
    Ok(Counts {
        requests: u64(record.get("requests")?)?,
        live_devices: live
            .as_u64()
            .and_then(|live| usize::try_from(live).ok())
            .ok_or_else(|| format!("{} is not a count of devices", excerpt(live)))?,
    })
}

/// The start of `value`'s JSON, for messages: a reply may carry megabytes of base64.
pub fn excerpt<T: std::fmt::Display + ?Sized>(value: &T) -> String {
    const LONGEST: usize = 200;
    let text = value.to_string();
    match text.char_indices().nth(LONGEST) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn u64_values_travel_as_decimal_strings_up_to_u64_max() {
        for value in [0, 1, 1 << 53, (1 << 53) + 1, u64::MAX] {
            assert_eq!(u64(&from_u64(value)), Ok(value));
        }
        for bad in [
            json!(5),
            json!("18446744073709551616"),
            json!("-1"),
            json!(""),
            json!("1e3"),
            json!(" 7"),
        ] {
            assert!(u64(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bytes_travel_as_base64() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(bytes(&from_bytes(&data)), Ok(data));
        assert!(bytes(&json!("not base64!")).is_err());
    }

    #[test]
    fn errors_arrive_as_jco_gives_them() {
        let out_of_bounds = json!({
            "tag": "out-of-bounds",
            "val": {"sectorStart": "18446744073709551615", "sectors": "1", "sizeSectors": "64"},
        });
        assert_eq!(
            error(&out_of_bounds),
            Ok(Error::OutOfBounds(OutOfBounds {
                sector_start: u64::MAX,
                sectors: 1,
                size_sectors: 64
            }))
        );
        let device = json!({"tag": "device", "val": {"tag": "io", "val": "gone"}});
        assert_eq!(
            error(&device),
            Ok(Error::Device(DeviceError::Io("gone".to_owned())))
        );
        let read = json!({"tag": "read", "val": {"tag": "is-read-only"}});
        assert_eq!(table_error(&read), Ok(TableError::Read(Error::ReadOnly)));
        assert!(
            error(&json!({"tag": "unaligned"})).is_err(),
            "a missing val"
        );
        assert!(
            error(&json!({"tag": "exploded"})).is_err(),
            "an unknown tag"
        );
    }

    #[test]
    fn a_table_arrives_with_its_guids_and_options() {
        let gpt = json!({
            "label": {"tag": "gpt", "val": {
                "diskGuid": "6C3A1B6E-3D1B-4E1F-9A59-1F3C1E6D2A01",
                "firstUsable": "34", "lastUsable": "4062", "fromBackup": false,
            }},
            "sectorSize": 512,
            "sizeSectors": "4096",
            "entries": [{
                "number": 1, "start": "2048", "sectors": "1024",
                "partitionType": {"tag": "gpt", "val": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
                "guid": "1CF4AA75-3DEC-D343-840B-0A1EDF2B5951", "name": "only",
                "bootable": false, "attributes": "0",
            }],
        });
        let table = table(&gpt).unwrap();
        assert!(matches!(
            table.label,
            Label::Gpt {
                last_usable: 4062,
                ..
            }
        ));
        assert_eq!(table.entries.len(), 1);
        let mut mbr_entry = gpt["entries"][0].clone();
        mbr_entry["partitionType"] = json!({"tag": "mbr", "val": 131});
        mbr_entry["guid"] = Value::Null;
        let entry = entry(&mbr_entry).unwrap();
        assert_eq!(
            (entry.partition_type, entry.guid),
            (PartitionType::Mbr(0x83), None)
        );
        mbr_entry["guid"] = json!("not a guid");
        assert!(super::entry(&mbr_entry).is_err());
    }
}
