//! VMDK images: a hosted sparse extent ("KDMV") holding the whole disk, monolithicSparse or
//! streamOptimized (compressed grains), with its embedded descriptor. Descriptors that put
//! the disk in other files (flat extents, split extents, a descriptor-only file, a delta
//! disk's parent) are reported as [`Error::External`], never followed.

mod descriptor;
mod grains;
mod header;

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

use crate::disk::Layout;
use crate::source::read_exact;
use crate::{Error, Extent, Source};

use descriptor::Descriptor;
use grains::{Grain, Grains};
use header::{GD_AT_END, Header, MAGIC, u32_at, u64_at};

/// The largest grain directory read, in bytes (8 Mi grain tables: 256 TiB of 64 KiB grains).
const MAX_GD_BYTES: u64 = 32 * 1024 * 1024;

/// Markers' types (streamOptimized).
const MARKER_END_OF_STREAM: u32 = 0;
const MARKER_FOOTER: u32 = 3;

/// An opened sparse extent.
pub(crate) struct Vmdk {
    /// The virtual disk's size in bytes.
    size: u64,
    grains: Grains,
}

/// The header in the footer of a streamOptimized extent whose grain directory comes last:
/// a footer marker, the footer (a header), an end-of-stream marker, in the last 1536 bytes.
fn footer(file: &dyn Source) -> Result<Header, Error> {
    let at = file.size().checked_sub(1536).ok_or_else(|| {
        Error::Corrupt(format!(
            "vmdk: gdOffset says the grain directory is in the footer, but the file has only {} bytes",
            file.size()
        ))
    })?;
    let mut tail = [0u8; 1536];
    read_exact(file, at, &mut tail, "vmdk footer")?;
    let marker = tail.get(..512).unwrap_or_default();
    let eos = tail.get(1024..).unwrap_or_default();
    let footer = tail.get(512..1024).unwrap_or_default();
    if u32_at(marker, 8) != 0
        || u32_at(marker, 12) != MARKER_FOOTER
        || u64_at(eos, 0) != 0
        || u32_at(eos, 8) != 0
        || u32_at(eos, 12) != MARKER_END_OF_STREAM
        || footer.get(..4) != Some(&MAGIC[..])
    {
        return Err(Error::Corrupt(format!(
            "vmdk: no footer marker, footer and end-of-stream marker at byte {at}"
        )));
    }
    let header = Header::parse(footer)?;
    if header.gd_offset == GD_AT_END {
        return Err(Error::Corrupt(
            "vmdk: the footer's gdOffset also says the grain directory is in the footer".into(),
        ));
    }
    Ok(header)
}

fn sectors_to_bytes(sectors: u64, what: &str) -> Result<u64, Error> {
    sectors
        .checked_mul(512)
        .ok_or_else(|| Error::Corrupt(format!("vmdk: {what} {sectors} sectors overflows")))
}

impl Vmdk {
    /// Opens a sparse extent, or reports the files a descriptor names.
    pub(crate) fn open(file: &dyn Source) -> Result<Self, Error> {
        let mut first = [0u8; 512];
        let held = usize::try_from(file.size()).unwrap_or(usize::MAX).min(512);
        let first = first.get_mut(..held).unwrap_or_default();
        file.read_at(0, first)?;
        if first.starts_with(descriptor::FILE_MAGIC) {
            let len = usize::try_from(file.size())
                .ok()
                .filter(|&len| len <= descriptor::MAX_BYTES)
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "vmdk: a descriptor file of {} bytes (at most {} are read)",
                        file.size(),
                        descriptor::MAX_BYTES
                    ))
                })?;
            let mut text = vec![0u8; len];
            file.read_at(0, &mut text)?;
            return Err(Descriptor::parse(&text)?.external());
        }
        if first.len() < 512 {
            return Err(Error::Corrupt(format!(
                "vmdk: a file of {} bytes is shorter than its header",
                file.size()
            )));
        }
        let mut header = Header::parse(first)?;
        if header.gd_offset == GD_AT_END {
            header = footer(file)?;
        }
        let size = sectors_to_bytes(header.capacity, "capacity")?;

        // A descriptor offset with no size is no descriptor (qemu reads the header alone).
        if header.descriptor_offset != 0 && header.descriptor_sectors != 0 {
            let at = sectors_to_bytes(header.descriptor_offset, "descriptorOffset")?;
            let len = usize::try_from(header.descriptor_sectors)
                .ok()
                .and_then(|sectors| sectors.checked_mul(512))
                .filter(|&len| len <= descriptor::MAX_BYTES)
                .ok_or_else(|| {
                    Error::Corrupt(format!(
                        "vmdk: descriptorSize {} sectors (at most {} bytes are read)",
                        header.descriptor_sectors,
                        descriptor::MAX_BYTES
                    ))
                })?;
            let mut text = vec![0u8; len];
            read_exact(file, at, &mut text, "vmdk: the embedded descriptor")?;
            Descriptor::parse(&text)?.check_embedded(header.capacity)?;
        }

        // One directory entry per grain table, one table entry per grain.
        let grains = header.capacity.div_ceil(header.grain_sectors);
        let tables = grains.div_ceil(u64::from(header.gtes_per_gt));
        let gd_bytes = tables.saturating_mul(4);
        let gd_at = sectors_to_bytes(header.gd_offset, "gdOffset")?;
        if gd_at
            .checked_add(gd_bytes)
            .is_none_or(|end| end > file.size())
        {
            return Err(Error::Corrupt(format!(
                "vmdk: the grain directory at sector {} ({tables} entries for a capacity of {} sectors) is past the end of the file ({} bytes)",
                header.gd_offset,
                header.capacity,
                file.size()
            )));
        }
        if let Some(rgd) = header.rgd_offset {
            // Not read, but a sector past the end says the header is damaged.
            if rgd.checked_mul(512).is_none_or(|at| at >= file.size()) {
                return Err(Error::Corrupt(format!(
                    "vmdk: rgdOffset sector {rgd} is past the end of the file ({} bytes)",
                    file.size()
                )));
            }
        }
        if gd_bytes > MAX_GD_BYTES {
            return Err(Error::Unsupported(format!(
                "vmdk: a grain directory of {gd_bytes} bytes (at most {MAX_GD_BYTES} are read)"
            )));
        }
        let mut raw = vec![0u8; usize::try_from(gd_bytes).unwrap_or(0)];
        read_exact(file, gd_at, &mut raw, "vmdk: the grain directory")?;
        let directory: Vec<u32> = raw
            .chunks_exact(4)
            .map(|entry| u32::from_le_bytes(header::field(entry, 0)))
            .collect();
        Ok(Self {
            size,
            grains: Grains::new(&header, size, directory),
        })
    }
}

impl Layout for Vmdk {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error> {
        let grain_bytes = self.grains.grain_bytes();
        let index = offset.checked_div(grain_bytes).unwrap_or(0);
        let within = offset.checked_rem(grain_bytes).unwrap_or(0);
        let first = self.grains.grain(file, index)?;
        // What is left of this grain, then whole grains while they continue the run.
        let mut run = grain_bytes.saturating_sub(within).min(len);
        if let Grain::Compressed(_) = first {
            return Ok(Extent::Encoded { len: run });
        }
        let mut next = index;
        let mut merged = 0;
        while run < len && merged < grains::MAX_MERGED {
            next = next.saturating_add(1);
            merged = merged.saturating_add(1);
            // A damaged grain further on ends the run: the next map reports it.
            let Ok(grain) = self.grains.grain(file, next) else {
                break;
            };
            let continues = match (first, grain) {
                (Grain::Data(start), Grain::Data(at)) => {
                    start.checked_add(next.saturating_sub(index).saturating_mul(grain_bytes))
                        == Some(at)
                }
                (Grain::Unallocated, Grain::Unallocated) | (Grain::Zero, Grain::Zero) => true,
                _ => false,
            };
            if !continues {
                break;
            }
            run = run.saturating_add(grain_bytes.min(len.saturating_sub(run)));
        }
        Ok(match first {
            Grain::Data(at) => Extent::Data {
                offset: at.saturating_add(within),
                len: run,
            },
            Grain::Zero => Extent::Zero { len: run },
            Grain::Unallocated | Grain::Compressed(_) => Extent::Backing { len: run },
        })
    }

    fn read_encoded(
        &mut self,
        file: &dyn Source,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        self.grains.read_compressed(file, offset, buf)
    }
}
