//! The disk a command reads, as `--format` (by content under `auto`) and `--backing` say: a
//! raw file, or the virtual disk of an image read by the image-reader component.

use std::io::{self, Write};
use std::path::Path;

use anyhow::Result;
use blockpart_core::SectorSize;
use blockpart_host::{
    AnyDisk, DiskOptions, Format, IMAGE_READER_COMPONENT, ImageError, ImageRuntime, Limits,
};

use crate::args::DiskArgs;

/// Opens `disk` as its `--format` and `--backing` say, read-only unless `writable`, with
/// `sector_size` for a raw disk.
pub fn open_disk(
    disk: &DiskArgs,
    sector_size: SectorSize,
    writable: bool,
    limits: Limits,
) -> Result<AnyDisk> {
    let options = DiskOptions {
        format: disk.format.format(),
        backing: disk.backing.clone(),
        sector_size,
        writable,
        partial_last_sector: false,
    };
    Ok(AnyDisk::open(&disk.disk, &options, || {
        image_runtime(limits)
    })?)
}

/// `--format`: a format, or `auto` (detected by content).
#[derive(Clone, Copy, Debug, Default)]
pub struct FormatArg(Option<Format>);

impl FormatArg {
    /// The format named, `None` for `auto`.
    pub fn format(self) -> Option<Format> {
        self.0
    }
}

impl std::str::FromStr for FormatArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Ok(Self(None));
        }
        Format::from_name(text)
            .map(|format| Self(Some(format)))
            .ok_or_else(|| format!("{text}: expected auto, raw, qcow2, vmdk or vhd"))
    }
}

/// The built-in image reader, its compiled code cached as the partitioner's is.
pub fn image_runtime(limits: Limits) -> Result<ImageRuntime, ImageError> {
    let runtime = match ImageRuntime::cached(IMAGE_READER_COMPONENT) {
        Ok(runtime) => runtime,
        Err(why) => {
            let _ = writeln!(io::stderr(), "blockpart: warning: {why:#}");
            ImageRuntime::new()?
        }
    };
    Ok(runtime.with_limits(limits))
}

/// How a command names `path` read as `format`: the path, with the format when not raw.
pub fn described(path: &Path, format: Format) -> String {
    match format {
        Format::Raw => path.display().to_string(),
        format => format!("{} ({format} image)", path.display()),
    }
}
