//! The descriptor: text naming the disk's type and its extents, embedded in a sparse extent
//! or a file of its own. Only a disk whose one extent is the file itself is read; every
//! other file it names is reported, never opened.

use alloc::format;
use alloc::vec::Vec;

use crate::error::escaped;
use crate::{Error, Reference};

/// The largest descriptor read: qemu writes 10 KiB, VMware a few KiB.
pub(super) const MAX_BYTES: usize = 64 * 1024;
/// The most lines read from a descriptor.
const MAX_LINES: usize = 2048;

/// The first line of a descriptor in a file of its own.
pub(super) const FILE_MAGIC: &[u8] = b"# Disk DescriptorFile";

/// An extent line: `RW 2097152 SPARSE "name.vmdk"`.
#[derive(Debug)]
struct ExtentLine<'a> {
    /// Its size in sectors, when it parses.
    sectors: Option<u64>,
    /// Its type, as written (SPARSE, FLAT, ZERO, VMFS, ...).
    kind: &'a [u8],
    /// The file it names (ZERO extents name none).
    name: Option<&'a [u8]>,
}

/// The parts of a descriptor that decide whether the file can be read alone.
#[derive(Debug, Default)]
pub(super) struct Descriptor<'a> {
    create_type: Option<&'a [u8]>,
    parent_cid: Option<&'a [u8]>,
    parent_hint: Option<&'a [u8]>,
    extents: Vec<ExtentLine<'a>>,
}

fn trim(mut text: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = text {
        if !first.is_ascii_whitespace() {
            break;
        }
        text = rest;
    }
    while let [rest @ .., last] = text {
        if !last.is_ascii_whitespace() {
            break;
        }
        text = rest;
    }
    text
}

fn unquote(text: &[u8]) -> &[u8] {
    match text {
        [b'"', inner @ .., b'"'] => inner,
        _ => text,
    }
}

/// `text` split at its first run of whitespace: (word, rest trimmed).
fn word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = trim(text);
    let end = text
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    (word, trim(rest))
}

/// Parses an extent line, or None when `line` is not one.
fn extent_line(line: &[u8]) -> Option<ExtentLine<'_>> {
    let (access, rest) = word(line);
    if !matches!(access, b"RW" | b"RDONLY" | b"NOACCESS") {
        return None;
    }
    let (size, rest) = word(rest);
    let sectors = core::str::from_utf8(size).ok().and_then(|s| s.parse().ok());
    let (kind, rest) = word(rest);
    let name = match rest {
        [b'"', quoted @ ..] => {
            let end = quoted.iter().position(|&b| b == b'"')?;
            quoted.get(..end)
        }
        [] => None,
        other => Some(word(other).0),
    };
    Some(ExtentLine {
        sectors,
        kind,
        name,
    })
}

impl<'a> Descriptor<'a> {
    /// Parses descriptor text (up to its first NUL byte, the padding of an embedded one).
    pub(super) fn parse(text: &'a [u8]) -> Result<Self, Error> {
        if text.len() > MAX_BYTES {
            return Err(Error::Corrupt(format!(
                "vmdk: the descriptor is {} bytes (at most {MAX_BYTES} are read)",
                text.len()
            )));
        }
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let text = text.get(..end).unwrap_or_default();
        let mut descriptor = Self::default();
        for (number, line) in text.split(|&b| b == b'\n').enumerate() {
            if number >= MAX_LINES {
                return Err(Error::Corrupt(format!(
                    "vmdk: the descriptor has more than {MAX_LINES} lines"
                )));
            }
            let line = trim(line);
            if line.is_empty() || line.starts_with(b"#") {
                continue;
            }
            if let Some(extent) = extent_line(line) {
                descriptor.extents.push(extent);
                continue;
            }
            let Some(equals) = line.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = line.split_at(equals);
            let value = unquote(trim(value.get(1..).unwrap_or_default()));
            match trim(key) {
                b"createType" => descriptor.create_type = Some(value),
                b"parentCID" => descriptor.parent_cid = Some(value),
                b"parentFileNameHint" => descriptor.parent_hint = Some(value),
                _ => {}
            }
        }
        Ok(descriptor)
    }

    /// The first extent's file, as [`Error::External`]: the answer for a descriptor in a
    /// file of its own, whatever its type (qemu would open that file: CVE-2022-47951).
    pub(super) fn external(&self) -> Error {
        match self.extents.iter().find_map(|extent| extent.name) {
            Some(name) => Error::External {
                kind: Reference::Extent,
                name: escaped(name),
            },
            None => Error::Corrupt("vmdk: the descriptor names no extent file".into()),
        }
    }

    /// Checks that a descriptor embedded in a sparse extent of `capacity` sectors describes
    /// that extent alone: a monolithicSparse or streamOptimized disk with one SPARSE extent
    /// of that size and no parent.
    pub(super) fn check_embedded(&self, capacity: u64) -> Result<(), Error> {
        // Without a createType, the extent lines still decide (qemu reads the header alone).
        let create_type = self.create_type.unwrap_or(b"monolithicSparse");
        if !matches!(create_type, b"monolithicSparse" | b"streamOptimized") {
            return match self.extents.iter().find_map(|extent| extent.name) {
                Some(_) => Err(self.external()),
                None => Err(Error::Unsupported(format!(
                    "vmdk: createType \"{}\"",
                    escaped(create_type)
                ))),
            };
        }
        for (index, extent) in self.extents.iter().enumerate() {
            if index == 0 && extent.kind == b"SPARSE" {
                continue;
            }
            // Any other extent lies in another file (or is a ZERO extent, which a
            // monolithic disk does not have).
            return Err(match extent.name {
                Some(name) => Error::External {
                    kind: Reference::Extent,
                    name: escaped(name),
                },
                None => Error::Unsupported(format!(
                    "vmdk: a {} extent in a {} disk",
                    escaped(extent.kind),
                    escaped(create_type)
                )),
            });
        }
        let first = self.extents.first().ok_or_else(|| {
            Error::Corrupt("vmdk: the embedded descriptor names no extent".into())
        })?;
        if first.sectors != Some(capacity) {
            return Err(Error::Corrupt(format!(
                "vmdk: the descriptor's extent has {} sectors, the header's capacity is {capacity}",
                first
                    .sectors
                    .map_or_else(|| "an unreadable number of".into(), |s| format!("{s}"))
            )));
        }
        if let Some(hint) = self.parent_hint {
            return Err(Error::External {
                kind: Reference::Parent,
                name: escaped(hint),
            });
        }
        match self.parent_cid {
            None => Ok(()),
            Some(cid) if cid.eq_ignore_ascii_case(b"ffffffff") => Ok(()),
            Some(cid) => Err(Error::Unsupported(format!(
                "vmdk: a delta disk (parentCID={}) naming no parent file",
                escaped(cid)
            ))),
        }
    }
}
