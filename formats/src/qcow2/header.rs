//! The qcow2 header, its extensions and its backing file name: read once, every field
//! checked before it is trusted.

use alloc::format;
use alloc::string::String;
use alloc::vec;

use crate::error::escaped;
use crate::source::read_exact;
use crate::{Error, Reference, Source};

/// The largest active L1 table read, in bytes (qemu's own limit).
pub(super) const MAX_L1_BYTES: u64 = 32 << 20;

/// The fixed part of a version 2 header; version 3 adds fields through `header_length`.
const V2_HEADER: usize = 72;
/// The shortest version 3 header.
const V3_HEADER: u32 = 104;
/// The same, as a length.
const V3_LEN: usize = 104;

/// Incompatible feature bits.
const DIRTY: u64 = 1 << 0;
const CORRUPT: u64 = 1 << 1;
const DATA_FILE: u64 = 1 << 2;
const COMPRESSION_TYPE: u64 = 1 << 3;
const EXTENDED_L2: u64 = 1 << 4;
const KNOWN: u64 = DIRTY | CORRUPT | DATA_FILE | COMPRESSION_TYPE | EXTENDED_L2;

/// Header extension types.
const EXT_END: u32 = 0;
const EXT_BACKING_FORMAT: u32 = 0xe279_2aca;
const EXT_ENCRYPTION: u32 = 0x0537_be77;
const EXT_DATA_FILE: u32 = 0x4441_5441;

/// The longest backing file name the spec allows.
const MAX_BACKING_NAME: u32 = 1023;

/// How compressed clusters are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compression {
    /// Raw deflate, without a zlib header.
    Deflate,
    /// One zstd frame.
    Zstd,
}

/// What the rest of the reader needs from the header, all of it checked.
pub(super) struct Header {
    /// log2 of the cluster size, in 9..=21.
    pub(super) cluster_bits: u32,
    /// The virtual disk's size in bytes.
    pub(super) size: u64,
    /// Entries of the active L1 table that map the virtual disk (the table may be longer).
    pub(super) l1_size: u32,
    /// Where the active L1 table is: cluster aligned, the whole table inside the file.
    pub(super) l1_offset: u64,
    /// 128-bit L2 entries with subcluster bitmaps.
    pub(super) extended_l2: bool,
    /// The compression of compressed clusters.
    pub(super) compression: Compression,
    /// The backing file name, escaped.
    pub(super) backing: Option<String>,
}

/// A big-endian `u32` at `at` of `bytes` (the caller made sure it is there).
fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(field) = at.checked_add(4).and_then(|end| bytes.get(at..end)) {
        word.copy_from_slice(field);
    }
    u32::from_be_bytes(word)
}

/// A big-endian `u64` at `at` of `bytes` (the caller made sure it is there).
pub(super) fn be64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(field) = at.checked_add(8).and_then(|end| bytes.get(at..end)) {
        word.copy_from_slice(field);
    }
    u64::from_be_bytes(word)
}

/// `offset` is a multiple of the cluster size and, when `len > 0`, `len` bytes from it lie
/// inside the file: else Corrupt naming `what`.
fn check_region(
    what: &str,
    offset: u64,
    len: u64,
    cluster_size: u64,
    file_size: u64,
) -> Result<(), Error> {
    if !offset.is_multiple_of(cluster_size) {
        return Err(Error::Corrupt(format!(
            "{what} {offset} is not aligned to the {cluster_size}-byte cluster"
        )));
    }
    if len == 0 {
        return Ok(());
    }
    match offset.checked_add(len) {
        Some(end) if end <= file_size => Ok(()),
        _ => Err(Error::Corrupt(format!(
            "{what} {offset} ({len} bytes) is past the end of the file ({file_size} bytes)"
        ))),
    }
}

impl Header {
    /// Reads and checks the header of `file`.
    pub(super) fn read(file: &dyn Source) -> Result<Self, Error> {
        let file_size = file.size();
        let mut fixed = [0u8; V3_LEN];
        let held = usize::try_from(file_size).unwrap_or(usize::MAX);
        let fixed = fixed.get_mut(..held.min(V3_LEN)).unwrap_or_default();
        if fixed.len() < V2_HEADER {
            return Err(Error::Corrupt(format!(
                "the file is {file_size} bytes, shorter than a qcow2 header ({V2_HEADER})"
            )));
        }
        file.read_at(0, fixed)?;
        let fixed: &[u8] = fixed;
        if !fixed.starts_with(b"QFI\xfb") {
            return Err(Error::Corrupt("no qcow2 magic (QFI\\xfb) at byte 0".into()));
        }
        let version = be32(fixed, 4);
        if version != 2 && version != 3 {
            return Err(Error::Unsupported(format!("qcow2 version {version}")));
        }
        let backing_offset = be64(fixed, 8);
        let backing_size = be32(fixed, 16);
        let cluster_bits = be32(fixed, 20);
        if !(9..=21).contains(&cluster_bits) {
            return Err(Error::Corrupt(format!(
                "cluster_bits {cluster_bits} is outside 9..=21 (512 bytes to 2 MiB clusters)"
            )));
        }
        let cluster_size = 1u64 << cluster_bits;
        let size = be64(fixed, 24);
        let crypt_method = be32(fixed, 32);
        let l1_size = be32(fixed, 36);
        let l1_offset = be64(fixed, 40);
        let refcount_offset = be64(fixed, 48);
        let refcount_clusters = be32(fixed, 56);
        let snapshots = be32(fixed, 60);
        let snapshots_offset = be64(fixed, 64);

        // Version 2 has none of the fields from byte 72 on: they read as their defaults.
        let (incompatible, header_length, compression_type) = if version == 2 {
            (0, 72u32, 0u8)
        } else {
            if fixed.len() < V3_LEN {
                return Err(Error::Corrupt(format!(
                    "the file is {file_size} bytes, shorter than a qcow2 version 3 header \
                     ({V3_HEADER})"
                )));
            }
            let refcount_order = be32(fixed, 96);
            if refcount_order > 6 {
                return Err(Error::Corrupt(format!(
                    "refcount_order {refcount_order} is over 6 (64-bit refcounts)"
                )));
            }
            let header_length = be32(fixed, 100);
            if header_length < V3_HEADER
                || !header_length.is_multiple_of(8)
                || u64::from(header_length) > cluster_size.min(file_size)
            {
                return Err(Error::Corrupt(format!(
                    "header_length {header_length} is not a multiple of 8 from {V3_HEADER} to \
                     the cluster size ({cluster_size}) inside the file"
                )));
            }
            // compression_type is byte 104, present only in a longer header.
            let mut byte = [0u8; 1];
            if header_length > V3_HEADER {
                file.read_at(u64::from(V3_HEADER), &mut byte)?;
            }
            (be64(fixed, 72), header_length, byte[0])
        };

        let unknown = incompatible & !KNOWN;
        if unknown != 0 {
            let bits: alloc::vec::Vec<String> = (0..64)
                .filter(|bit| unknown & (1u64 << bit) != 0)
                .map(|bit| format!("{bit}"))
                .collect();
            return Err(Error::Unsupported(format!(
                "qcow2 incompatible features {unknown:#x} (unknown bits {})",
                bits.join(", ")
            )));
        }
        if incompatible & CORRUPT != 0 {
            return Err(Error::Corrupt(
                "the image is marked corrupt (incompatible feature bit 1): qemu found its \
                 metadata inconsistent; repair it with `qemu-img check -r all` first"
                    .into(),
            ));
        }
        if crypt_method != 0 {
            return Err(Error::Unsupported(format!(
                "encrypted qcow2 (crypt_method {crypt_method})"
            )));
        }
        let compression = match (incompatible & COMPRESSION_TYPE != 0, compression_type) {
            (false, 0) => Compression::Deflate,
            (true, 1) => Compression::Zstd,
            (false, other) => {
                return Err(Error::Corrupt(format!(
                    "compression_type {other} without the compression type feature bit"
                )));
            }
            (true, other) => {
                return Err(Error::Unsupported(format!(
                    "qcow2 compression type {other}"
                )));
            }
        };
        let extended_l2 = incompatible & EXTENDED_L2 != 0;
        if extended_l2 && cluster_bits < 14 {
            return Err(Error::Corrupt(format!(
                "extended L2 entries with cluster_bits {cluster_bits} (at least 14 needed)"
            )));
        }

        // The L1 table: as many entries as the virtual size needs, no more, no fewer.
        let entry_bits = if extended_l2 { 4 } else { 3 };
        // Bytes of the virtual disk one L1 entry maps: an L2 table's clusters.
        let l1_span_bits = cluster_bits.saturating_mul(2).saturating_sub(entry_bits);
        let needed = size.div_ceil(1u64 << l1_span_bits);
        let l1_bytes = u64::from(l1_size).saturating_mul(8);
        if l1_bytes > MAX_L1_BYTES {
            return Err(Error::Corrupt(format!(
                "l1_size {l1_size} ({l1_bytes} bytes) is over the 32 MiB limit of an L1 table"
            )));
        }
        if u64::from(l1_size) < needed {
            return Err(Error::Corrupt(format!(
                "l1_size {l1_size} is too small for the {size}-byte disk, which needs {needed} \
                 entries"
            )));
        }
        // A larger L1 is valid: `qemu-img resize --shrink` keeps the table, and saving a VM
        // state grows it. Its entries past the disk are never read, so only those needed are
        // loaded; the whole table must still be inside the file, as qemu checks.
        let l1_used = u32::try_from(needed).unwrap_or(l1_size);
        check_region(
            "l1_table_offset",
            l1_offset,
            l1_bytes,
            cluster_size,
            file_size,
        )?;
        let refcount_bytes = u64::from(refcount_clusters).saturating_mul(cluster_size);
        check_region(
            "refcount_table_offset",
            refcount_offset,
            refcount_bytes.max(1),
            cluster_size,
            file_size,
        )?;
        let snapshot_bytes = if snapshots == 0 { 0 } else { 1 };
        check_region(
            "snapshots_offset",
            snapshots_offset,
            snapshot_bytes,
            cluster_size,
            file_size,
        )?;

        // The backing file name: in the header cluster, after the extensions.
        let mut backing = None;
        if backing_offset != 0 && backing_size != 0 {
            if backing_size > MAX_BACKING_NAME {
                return Err(Error::Corrupt(format!(
                    "backing_file_size {backing_size} is over {MAX_BACKING_NAME} bytes"
                )));
            }
            let mut name = vec![0u8; usize::try_from(backing_size).unwrap_or(0)];
            read_exact(file, backing_offset, &mut name, "the backing file name")?;
            backing = Some(escaped(&name));
        }

        let extensions = Extensions::read(file, header_length, backing_offset, cluster_size)?;
        if incompatible & DATA_FILE != 0 {
            return Err(Error::External {
                kind: Reference::DataFile,
                name: extensions.data_file.unwrap_or_else(|| "(unnamed)".into()),
            });
        }
        Ok(Self {
            cluster_bits,
            size,
            l1_size: l1_used,
            l1_offset,
            extended_l2,
            compression,
            backing,
        })
    }
}

/// What the header extensions say that matters to a reader.
struct Extensions {
    /// The external data file's name, escaped.
    data_file: Option<String>,
}

impl Extensions {
    /// Walks the extensions from `start` to the end of the header cluster (or the backing
    /// file name, which follows them): each one's length is checked to stay inside, so the
    /// walk is bounded by the cluster.
    fn read(
        file: &dyn Source,
        start: u32,
        backing_offset: u64,
        cluster_size: u64,
    ) -> Result<Self, Error> {
        let start = u64::from(start);
        let mut end = cluster_size.min(file.size());
        if backing_offset > start {
            end = end.min(backing_offset);
        }
        let mut found = Self { data_file: None };
        let Some(area_len) = end.checked_sub(start).filter(|&len| len > 0) else {
            return Ok(found);
        };
        // At most one cluster (2 MiB): the header cluster.
        let mut area = vec![0u8; usize::try_from(area_len).unwrap_or(0)];
        read_exact(file, start, &mut area, "the header extensions")?;
        let mut at = 0usize;
        while let Some(head) = at.checked_add(8).and_then(|end| area.get(at..end)) {
            let kind = be32(head, 0);
            let len = be32(head, 4);
            if kind == EXT_END {
                break;
            }
            let data_start = at.saturating_add(8);
            let data = usize::try_from(len)
                .ok()
                .and_then(|len| data_start.checked_add(len))
                .and_then(|data_end| area.get(data_start..data_end))
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "header extension {kind:#010x} at byte {} has length {len}, past the end \
                         of the header cluster (byte {end})",
                        start.saturating_add(u64::try_from(at).unwrap_or(u64::MAX))
                    ))
                })?;
            match kind {
                EXT_ENCRYPTION => {
                    return Err(Error::Unsupported(
                        "encrypted qcow2 (full disk encryption header extension)".into(),
                    ));
                }
                EXT_DATA_FILE => found.data_file = Some(escaped(data)),
                // The backing file's format is the caller's to know: it opens the backing
                // disk itself.
                EXT_BACKING_FORMAT => {}
                // Feature names, bitmaps and unknown extensions are not needed to read the
                // active disk.
                _ => {}
            }
            // Padded to 8: a length near u32::MAX was refused above, so this cannot wrap.
            let padded =
                usize::try_from(u64::from(len).div_ceil(8).saturating_mul(8)).unwrap_or(usize::MAX);
            at = data_start.saturating_add(padded);
        }
        Ok(found)
    }
}
