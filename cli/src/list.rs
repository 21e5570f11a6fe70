//! `blockpart list`: a partition table as a readable table with a picture of the disk, or as
//! JSON in the shape `sfdisk --json` prints.

use std::io;

use blockpart_core::{Entry, Label, PartitionType, Table, Uuid};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Columns of the picture of the disk.
const PICTURE_WIDTH: u64 = 64;

/// Writes the table as `sfdisk --json DEVICE` prints it: `partitiontable` with `label`, `id`,
/// `device`, `unit`, `firstlba` and `lastlba` (GPT), `sectorsize` and `partitions`. Each
/// partition has `node`, `start`, `size` and `type`; MBR partitions `bootable` when set; GPT
/// partitions `uuid`, and `name` and `attrs` when not empty.
///
/// Partitions are made into JSON one at a time as they are written, so a table of many
/// entries costs the host no more than the table itself.
pub fn write_sfdisk_json(
    out: &mut impl io::Write,
    table: &Table,
    device: &str,
) -> serde_json::Result<()> {
    serde_json::to_writer_pretty(out, &SfdiskJson { table, device })
}

/// `{ "partitiontable": ... }`, serialized without building it.
struct SfdiskJson<'a> {
    table: &'a Table,
    device: &'a str,
}

impl Serialize for SfdiskJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut outer = serializer.serialize_map(Some(1))?;
        outer.serialize_entry("partitiontable", &PartitionTable(self))?;
        outer.end()
    }
}

struct PartitionTable<'a>(&'a SfdiskJson<'a>);

impl Serialize for PartitionTable<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let SfdiskJson { table, device } = *self.0;
        let mut fields = serializer.serialize_map(None)?;
        let (label, id) = match table.label {
            Label::Mbr { id } => ("dos", format!("{id:#010x}")),
            Label::Gpt { id, .. } => ("gpt", guid(id)),
        };
        fields.serialize_entry("label", label)?;
        fields.serialize_entry("id", &id)?;
        fields.serialize_entry("device", device)?;
        fields.serialize_entry("unit", "sectors")?;
        if let Label::Gpt {
            first_usable,
            last_usable,
            ..
        } = table.label
        {
            fields.serialize_entry("firstlba", &first_usable)?;
            fields.serialize_entry("lastlba", &last_usable)?;
        }
        fields.serialize_entry("sectorsize", &table.sector_size)?;
        fields.serialize_entry("partitions", &Partitions(self.0))?;
        fields.end()
    }
}

struct Partitions<'a>(&'a SfdiskJson<'a>);

impl Serialize for Partitions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let SfdiskJson { table, device } = *self.0;
        serializer.collect_seq(
            table
                .entries
                .iter()
                .map(|entry| sfdisk_partition(entry, device)),
        )
    }
}

fn sfdisk_partition(entry: &Entry, device: &str) -> Value {
    // As Linux names partition nodes: `sda1`, but `nvme0n1p1` and `loop0p1`.
    let separator = if device.ends_with(|c: char| c.is_ascii_digit()) {
        "p"
    } else {
        ""
    };
    let mut fields = Map::new();
    fields.insert(
        "node".into(),
        format!("{device}{separator}{}", entry.number).into(),
    );
    fields.insert("start".into(), entry.start.into());
    fields.insert("size".into(), entry.sectors.into());
    match entry.partition_type {
        PartitionType::Mbr(kind) => {
            fields.insert("type".into(), format!("{kind:x}").into());
            if entry.bootable {
                fields.insert("bootable".into(), true.into());
            }
        }
        PartitionType::Gpt(kind) => {
            fields.insert("type".into(), guid(kind).into());
            if let Some(unique) = entry.guid {
                fields.insert("uuid".into(), guid(unique).into());
            }
            if !entry.name.is_empty() {
                fields.insert("name".into(), entry.name.clone().into());
            }
            if let Some(attrs) = sfdisk_attrs(entry.attributes) {
                fields.insert("attrs".into(), attrs.into());
            }
        }
    }
    Value::Object(fields)
}

/// GPT attribute bits as sfdisk names them: the three UEFI bits by name, then the bits for the
/// partition type's own use (48 to 63) as `GUID:48,60`. sfdisk shows no other bit.
fn sfdisk_attrs(attributes: u64) -> Option<String> {
    let set = |bit: u32| attributes & (1u64 << bit) != 0;
    let mut words: Vec<String> = [
        (0, "RequiredPartition"),
        (1, "NoBlockIOProtocol"),
        (2, "LegacyBIOSBootable"),
    ]
    .into_iter()
    .filter(|&(bit, _)| set(bit))
    .map(|(_, name)| name.to_owned())
    .collect();
    let type_bits: Vec<String> = (48..64)
        .filter(|&bit| set(bit))
        .map(|bit| bit.to_string())
        .collect();
    if !type_bits.is_empty() {
        words.push(format!("GUID:{}", type_bits.join(",")));
    }
    (!words.is_empty()).then(|| words.join(" "))
}

fn guid(guid: Uuid) -> String {
    format!("{guid:X}")
}

/// Writes the table for people: a heading, one line per partition, and a picture of the disk.
/// Text from the disk (GPT names) is escaped: see [`printable`].
pub fn write_readable(out: &mut impl io::Write, table: &Table, device: &str) -> io::Result<()> {
    let bytes = u128::from(table.size_sectors).saturating_mul(u128::from(table.sector_size));
    write!(
        out,
        "{device}: {} sectors of {} bytes ({}), ",
        table.size_sectors,
        table.sector_size,
        human(bytes)
    )?;
    match table.label {
        Label::Mbr { id } => writeln!(out, "MBR, disk signature {id:#010x}")?,
        Label::Gpt {
            id,
            first_usable,
            last_usable,
            from_backup,
        } => {
            writeln!(
                out,
                "GPT, disk GUID {}, usable sectors {first_usable}..={last_usable}",
                guid(id)
            )?;
            if from_backup {
                writeln!(
                    out,
                    "the primary GPT header or its entries are damaged: read from the backup"
                )?;
            }
        }
    }
    if table.entries.is_empty() {
        return writeln!(out, "no partitions");
    }
    writeln!(
        out,
        "\n{:>4} {:>10} {:>10} {:>10} {:>10}  {:<4} {:<24} name",
        "#", "start", "end", "sectors", "size", "boot", "type"
    )?;
    for entry in &table.entries {
        let end = entry.start.saturating_add(entry.sectors).saturating_sub(1);
        let size = u128::from(entry.sectors).saturating_mul(u128::from(table.sector_size));
        let line = format!(
            "{:>4} {:>10} {:>10} {:>10} {:>10}  {:<4} {:<24} {}",
            entry.number,
            entry.start,
            end,
            entry.sectors,
            human(size),
            if entry.bootable { "*" } else { "" },
            type_name(entry.partition_type),
            printable(&entry.name),
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out, "\n|{}|", picture(table))?;
    let last = table.size_sectors.saturating_sub(1).to_string();
    let width = usize::try_from(PICTURE_WIDTH)
        .unwrap_or(0)
        .saturating_sub(7);
    writeln!(out, " sector 0{last:>width$}")
}

/// `text` from the disk, safe to print on a terminal: control and other unprintable
/// characters (escape sequences, newlines, bidirectional overrides) are shown escaped, as
/// `\u{1b}` or `\n`, and so is a backslash; other characters, accents included, are kept.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\'' => c.to_string(),
            _ => c.escape_debug().to_string(),
        })
        .collect()
}

/// One character per 64th of the disk: the number of the smallest partition in it (its last
/// digit, or a letter past 9), `.` where there is none.
fn picture(table: &Table) -> String {
    // The first sector of column `i`: computed in 128 bits, it cannot overflow.
    let at = |i: u64| {
        let sector = u128::from(table.size_sectors)
            .saturating_mul(u128::from(i))
            .checked_div(u128::from(PICTURE_WIDTH))
            .unwrap_or(0);
        u64::try_from(sector).unwrap_or(u64::MAX)
    };
    let column = |index: u64| {
        let first = at(index);
        let end = at(index.saturating_add(1)).max(first.saturating_add(1));
        table
            .entries
            .iter()
            .filter(|entry| entry.start < end && entry.start.saturating_add(entry.sectors) > first)
            .min_by_key(|entry| entry.sectors)
            .map_or('.', |entry| mark(entry.number))
    };
    (0..PICTURE_WIDTH).map(column).collect()
}

fn mark(number: u32) -> char {
    char::from_digit(number.checked_rem(36).unwrap_or(0), 36).unwrap_or('#')
}

/// `bytes` in the largest binary unit it reaches, with one decimal when not whole.
fn human(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut scaled = (1u128, units[0]);
    for (shift, unit) in (0..).step_by(10).zip(units) {
        let scale = 1u128 << shift;
        if bytes >= scale {
            scaled = (scale, unit);
        }
    }
    let (scale, unit) = scaled;
    let tenths = bytes.saturating_mul(10).checked_div(scale).unwrap_or(0);
    match (tenths / 10, tenths % 10) {
        (whole, 0) => format!("{whole} {unit}"),
        (whole, tenth) => format!("{whole}.{tenth} {unit}"),
    }
}

/// sfdisk's name for a common partition type, or the number itself.
fn type_name(kind: PartitionType) -> String {
    let known = match kind {
        PartitionType::Mbr(id) => match id {
            0x05 => "Extended",
            0x07 => "HPFS/NTFS/exFAT",
            0x0b => "W95 FAT32",
            0x0c => "W95 FAT32 (LBA)",
            0x0f => "W95 Ext'd (LBA)",
            0x82 => "Linux swap / Solaris",
            0x83 => "Linux",
            0x85 => "Linux extended",
            0x8e => "Linux LVM",
            0xef => "EFI (FAT-12/16/32)",
            0xfd => "Linux raid autodetect",
            _ => return format!("{id:#04x}"),
        },
        PartitionType::Gpt(id) => match guid(id).as_str() {
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" => "EFI System",
            "21686148-6449-6E6F-744E-656564454649" => "BIOS boot",
            "0FC63DAF-8483-4772-8E79-3D69D8477DE4" => "Linux filesystem",
            "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F" => "Linux swap",
            "E6D6D379-F507-44C2-A23C-238F2A3DF928" => "Linux LVM",
            "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709" => "Linux root (x86-64)",
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" => "Microsoft basic data",
            other => return other.to_owned(),
        },
    };
    known.to_owned()
}

#[cfg(test)]
mod tests {
    use blockpart_core::{Entry, Label, PartitionType, Table, Uuid};

    use super::write_readable;

    #[test]
    fn names_from_the_disk_cannot_drive_the_terminal_or_forge_lines() {
        let hostile = "\u{1b}[2J\u{1b}]0;pwned\u{7}\n   9 forged\u{202e}";
        let table = Table {
            label: Label::Gpt {
                id: Uuid::nil(),
                first_usable: 34,
                last_usable: 2014,
                from_backup: false,
            },
            sector_size: 512,
            size_sectors: 2048,
            entries: vec![Entry {
                number: 1,
                start: 34,
                sectors: 100,
                partition_type: PartitionType::Gpt(Uuid::nil()),
                guid: Some(Uuid::nil()),
                name: format!("caf\u{e9} {hostile}"),
                bootable: false,
                attributes: 0,
            }],
        };
        let mut text = Vec::new();
        write_readable(&mut text, &table, "disk.img").unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(!text.contains('\u{202e}'), "{text:?}");
        let line = text.lines().find(|line| line.contains("caf")).unwrap();
        assert!(
            line.ends_with(r"café \u{1b}[2J\u{1b}]0;pwned\u{7}\n   9 forged\u{202e}"),
            "{line}"
        );
        assert!(
            !text
                .lines()
                .any(|line| line.trim_start().starts_with("9 forged"))
        );
    }
}
