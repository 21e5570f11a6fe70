//! The disk a command reads: a raw file, or the virtual disk of an image file read by the
//! image-reader component, picked by `--format` (by content under `auto`) and `--backing`.

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Result, bail};
use blockpart_core::{BlockDevice, DeviceError, Info, SectorSize};
use blockpart_host::{FileDevice, Format, IMAGE_READER_COMPONENT, ImageDisk, ImageRuntime, Limits};

use crate::args::DiskArgs;

/// A disk a command hands the partitioner: the file itself (raw), or an image's virtual disk.
pub enum Disk {
    /// A raw image or block device, read and written as it is.
    Raw(FileDevice),
    /// The virtual disk of a qcow2, VMDK or VHD image, read-only.
    Image(ImageDisk),
}

impl Disk {
    /// Opens `disk` as its `--format` says, read-only unless `writable`; `sector_size` for
    /// a raw disk (an image's virtual disk has 512-byte sectors).
    pub fn open(
        disk: &DiskArgs,
        sector_size: SectorSize,
        writable: bool,
        limits: Limits,
    ) -> Result<Self> {
        let path = &disk.disk;
        let format = match disk.format.format() {
            Some(Format::Raw) if disk.backing.is_empty() => Format::Raw,
            Some(format) => format,
            None => image_runtime(limits)?.detect(path)?,
        };
        if format == Format::Raw && disk.backing.is_empty() {
            return Ok(Self::Raw(FileDevice::open(path, sector_size, !writable)?));
        }
        if writable {
            bail!(
                "{} is a {format} image: blockpart writes raw disks only (convert it with \
                 `qemu-img convert -O raw`)",
                path.display()
            );
        }
        if sector_size != SectorSize::B512 {
            bail!(
                "{} is a {format} image, whose disk has 512-byte sectors: --sector-size {} is for \
                 raw disks",
                path.display(),
                sector_size.get()
            );
        }
        let opened = image_runtime(limits)?.open(path, Some(format), &disk.backing)?;
        Ok(Self::Image(opened))
    }

    /// The format it was read in.
    pub fn format(&self) -> Format {
        match self {
            Self::Raw(_) => Format::Raw,
            Self::Image(image) => image.format(),
        }
    }

    fn device(&self) -> &dyn BlockDevice {
        match self {
            Self::Raw(file) => file,
            Self::Image(image) => image,
        }
    }
}

impl BlockDevice for Disk {
    fn info(&self) -> Info {
        self.device().info()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.device().read(sector_start, len)
    }

    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.device().read_into(sector_start, buf)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.device().write(sector_start, data)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.device().flush()
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.device().discard(sector_start, sectors)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.device().write_zeroes(sector_start, sectors)
    }
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
pub fn image_runtime(limits: Limits) -> Result<ImageRuntime> {
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
