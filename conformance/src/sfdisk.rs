//! The partition-table fixtures of `conformance/fixtures/tables` (disk images partitioned by sfdisk,
//! see its `make.sh`), embedded so the suite runs with no files around, and what
//! `sfdisk --json` printed for each: the oracle of the table cases.
//!
//! sfdisk's JSON is read here on its own terms, into the `Table` a partitioner must return; no
//! code is shared with a reader or with `blockpart list --json`.

use std::io::Read;

use blockpart_core::Uuid;
use serde_json::Value;

use crate::{Entry, Label, PartitionType, Table};

/// A disk image of the fixtures.
pub(crate) struct Image {
    /// The fixture's name: `NAME.img.gz` and `NAME.json`.
    pub name: &'static str,
    /// Bytes per sector: an image does not record it.
    pub sector_size: u32,
    /// What a partitioner must make of it.
    pub outcome: Outcome,
    gz: &'static [u8],
    json: &'static str,
}

/// What a partitioner must make of an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Its table, as sfdisk read it.
    Read,
    /// Its table as sfdisk read it, from the backup GPT header: the primary is damaged.
    ReadFromBackup,
    /// Refused as `corrupt`, where sfdisk reads on (so its JSON is no oracle): an EBR chain
    /// that loops (sfdisk lists partitions 5 to 60 over the same two), both GPT headers
    /// damaged (sfdisk reads the protective MBR as a DOS table).
    Corrupt,
}

macro_rules! image {
    ($name:literal, $sector_size:literal, $outcome:ident) => {
        Image {
            name: $name,
            sector_size: $sector_size,
            outcome: Outcome::$outcome,
            gz: include_bytes!(concat!("../fixtures/tables/", $name, ".img.gz")),
            json: include_str!(concat!("../fixtures/tables/", $name, ".json")),
        }
    };
}

/// Every fixture.
pub(crate) const IMAGES: &[Image] = &[
    image!("mbr-one", 512, Read),
    image!("mbr-primaries", 512, Read),
    image!("mbr-logical", 512, Read),
    image!("gpt-one", 512, Read),
    image!("gpt-128", 512, Read),
    image!("gpt-slots", 512, Read),
    image!("gpt-primary-corrupt", 512, ReadFromBackup),
    image!("gpt-4k", 4096, Read),
    image!("mbr-ebr-loop", 512, Corrupt),
    image!("gpt-both-corrupt", 512, Corrupt),
];

impl Image {
    /// The disk's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(self.gz)
            .read_to_end(&mut bytes)
            .unwrap_or_else(|error| panic!("{}: unpacking the image: {error}", self.name));
        assert!(
            !bytes.is_empty()
                && bytes.len() % self.sector_size as usize == 0
                && bytes.len() as u64 == self.sectors() * u64::from(self.sector_size),
            "{}: {} bytes are not {} whole sectors of {}",
            self.name,
            bytes.len(),
            self.sectors(),
            self.sector_size
        );
        bytes
    }

    /// The disk's size in sectors, from the gzip trailer (the size mod 2^32: the images are
    /// far smaller), so that it takes no unpacking.
    pub fn sectors(&self) -> u64 {
        let size = self.gz.last_chunk::<4>().expect("a gzip trailer");
        u64::from(u32::from_le_bytes(*size)) / u64::from(self.sector_size)
    }

    /// Whether a partitioner must read a table from it.
    pub fn readable(&self) -> bool {
        self.outcome != Outcome::Corrupt
    }

    /// The table a partitioner must read, from what sfdisk printed: `None` for an image that
    /// must be refused.
    pub fn table(&self) -> Option<Table> {
        if !self.readable() {
            return None;
        }
        let json: Value = serde_json::from_str(self.json)
            .unwrap_or_else(|error| panic!("{}.json: {error}", self.name));
        Some(
            table(&json["partitiontable"], self.sectors(), self.outcome)
                .unwrap_or_else(|why| panic!("{}.json: {why}", self.name)),
        )
    }

    /// The table a partitioner must read; panics for an image that must be refused.
    pub fn expected(&self) -> Table {
        self.table()
            .unwrap_or_else(|| panic!("{} has no table to read", self.name))
    }
}

/// `partitiontable` of sfdisk's JSON, as the table of a disk of `sectors`.
fn table(json: &Value, sectors: u64, outcome: Outcome) -> Result<Table, String> {
    let text = |field: &str| {
        json[field]
            .as_str()
            .ok_or_else(|| format!("no text {field:?}"))
    };
    let number = |field: &str| {
        json[field]
            .as_u64()
            .ok_or_else(|| format!("no number {field:?}"))
    };
    let label = match text("label")? {
        "dos" => {
            let id = text("id")?;
            Label::Mbr {
                id: id
                    .strip_prefix("0x")
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .ok_or_else(|| format!("disk id {id:?} is not 0x and hex digits"))?,
            }
        }
        "gpt" => Label::Gpt {
            id: guid(text("id")?)?,
            first_usable: number("firstlba")?,
            last_usable: number("lastlba")?,
            from_backup: outcome == Outcome::ReadFromBackup,
        },
        other => return Err(format!("label {other:?}")),
    };
    let device = text("device")?;
    let mut entries = json["partitions"]
        .as_array()
        .ok_or("no \"partitions\"")?
        .iter()
        .map(|partition| entry(partition, device, &label))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.number);
    Ok(Table {
        label,
        sector_size: u32::try_from(number("sectorsize")?).map_err(|error| error.to_string())?,
        size_sectors: sectors,
        entries,
    })
}

/// One of `partitions`: `node` (the device's name and the partition's number), `start`, `size`,
/// `type`; for a GPT `uuid`, and `name` and `attrs` when not empty; for an MBR `bootable` when
/// set.
fn entry(json: &Value, device: &str, label: &Label) -> Result<Entry, String> {
    let text = |field: &str| json[field].as_str();
    let number = |field: &str| {
        json[field]
            .as_u64()
            .ok_or_else(|| format!("a partition with no number {field:?}"))
    };
    let node = text("node").ok_or("a partition with no \"node\"")?;
    // `disk.img3`; a device whose name ends in a digit gets a `p`, as in `loop0p3`.
    let number_text = node
        .strip_prefix(device)
        .map(|rest| rest.strip_prefix('p').unwrap_or(rest))
        .ok_or_else(|| format!("node {node:?} is not on {device:?}"))?;
    let partition_number = number_text
        .parse()
        .map_err(|_| format!("node {node:?} does not end in a number"))?;
    let kind = text("type").ok_or_else(|| format!("{node}: no \"type\""))?;
    let (start, sectors) = (number("start")?, number("size")?);
    let entry = match label {
        Label::Mbr { .. } => Entry {
            number: partition_number,
            start,
            sectors,
            partition_type: PartitionType::Mbr(
                u8::from_str_radix(kind, 16).map_err(|_| format!("{node}: type {kind:?}"))?,
            ),
            guid: None,
            name: String::new(),
            bootable: json["bootable"].as_bool().unwrap_or(false),
            attributes: 0,
        },
        Label::Gpt { .. } => {
            let attributes = attributes(text("attrs").unwrap_or(""))
                .map_err(|why| format!("{node}: attrs: {why}"))?;
            Entry {
                number: partition_number,
                start,
                sectors,
                partition_type: PartitionType::Gpt(guid(kind)?),
                guid: Some(guid(
                    text("uuid").ok_or_else(|| format!("{node}: no uuid"))?,
                )?),
                name: text("name").unwrap_or("").to_owned(),
                // The WIT's `bootable` of a GPT entry: attribute bit 2, legacy BIOS bootable.
                bootable: attributes & 1 << 2 != 0,
                attributes,
            }
        }
    };
    Ok(entry)
}

fn guid(text: &str) -> Result<Uuid, String> {
    Uuid::try_parse(text).map_err(|_| format!("{text:?} is not a GUID"))
}

/// The attribute bits of libfdisk's text for them: the names of bits 0 to 2, and
/// `GUID:48,60,63` for the type-specific bits 48 to 63 (the only ones it prints).
fn attributes(text: &str) -> Result<u64, String> {
    let mut bits = 0;
    for word in text.split_whitespace() {
        bits |= match word {
            "RequiredPartition" => 1 << 0,
            "NoBlockIOProtocol" => 1 << 1,
            "LegacyBIOSBootable" => 1 << 2,
            _ => {
                let list = word
                    .strip_prefix("GUID:")
                    .ok_or_else(|| format!("unknown attribute {word:?}"))?;
                let mut bits = 0;
                for bit in list.split(',') {
                    match bit.parse::<u32>() {
                        Ok(bit @ 48..=63) => bits |= 1 << bit,
                        _ => return Err(format!("{bit:?} is not a bit from 48 to 63")),
                    }
                }
                bits
            }
        };
    }
    Ok(bits)
}

/// The disk image of the sfdisk fixture `name` (`conformance/fixtures/tables/NAME.img.gz`, made by
/// its `make.sh`), unpacked; `None` if there is no such fixture.
pub fn fixture(name: &str) -> Option<Vec<u8>> {
    IMAGES
        .iter()
        .find(|image| image.name == name)
        .map(Image::bytes)
}
