//! A disk as a user names it: a path, a format (or `auto`) and a backing chain. Raw disks stay
//! the host's [`FileDevice`], read and written as they are at the file's own speed; any other
//! format is the image reader's [`ImageDisk`], read-only.

use std::path::{Path, PathBuf};

use blockpart_core::{BlockDevice, DeviceError, Info, SectorSize};

use super::{Format, ImageDisk, ImageError, ImageRuntime};
use crate::{FileDevice, OpenError};

/// A disk opened by [`AnyDisk::open`].
#[derive(Debug)]
pub enum AnyDisk {
    /// A raw image or block device.
    Raw(FileDevice),
    /// The virtual disk of a qcow2, VMDK or VHD image (and its backing chain), read-only.
    Image(ImageDisk),
}

/// Why a disk could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The raw disk could not be opened.
    #[error(transparent)]
    File(#[from] OpenError),
    /// The image could not be detected or opened.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// A write was asked of an image that is not raw.
    #[error(
        "{path} is a {format} image: only raw disks are written (convert it with `qemu-img convert -O raw`)"
    )]
    ReadOnlyFormat {
        /// The image.
        path: PathBuf,
        /// Its format.
        format: Format,
    },
    /// A sector size other than 512 for an image, whose virtual disk has 512-byte sectors.
    #[error(
        "{path} is a {format} image, whose disk has 512-byte sectors: a sector size of {sector_size} is for raw disks"
    )]
    SectorSize {
        /// The image.
        path: PathBuf,
        /// Its format.
        format: Format,
        /// The sector size asked for.
        sector_size: u32,
    },
}

/// How to open a disk: its format and backing chain.
#[derive(Clone, Debug)]
pub struct DiskOptions {
    /// The format, or `None` to detect it by content (in the image reader).
    pub format: Option<Format>,
    /// The backing chain, nearest first: the only other files opened.
    pub backing: Vec<PathBuf>,
    /// Bytes per sector of a raw disk.
    pub sector_size: SectorSize,
    /// Whether to open it for writing (raw disks only).
    pub writable: bool,
    /// Whether a raw file may end in a partial sector, left out of the disk
    /// ([`FileDevice::open_whole_sectors`]) rather than refused.
    pub partial_last_sector: bool,
}

impl AnyDisk {
    /// Opens `path` as `options` say. `images` gives the image reader, asked for only when it
    /// is needed: to detect a format, or to read a format other than raw. An explicit raw
    /// format is never second-guessed, whatever header the file holds.
    pub fn open(
        path: &Path,
        options: &DiskOptions,
        images: impl Fn() -> Result<ImageRuntime, ImageError>,
    ) -> Result<Self, DiskError> {
        let raw = options.backing.is_empty();
        let (format, detected_by) = match options.format {
            Some(format) => (format, None),
            None => {
                let reader = images()?;
                (reader.detect(path)?, Some(reader))
            }
        };
        if format == Format::Raw && raw {
            let open = if options.partial_last_sector {
                FileDevice::open_whole_sectors
            } else {
                FileDevice::open
            };
            return Ok(Self::Raw(open(
                path,
                options.sector_size,
                !options.writable,
            )?));
        }
        if options.writable {
            return Err(DiskError::ReadOnlyFormat {
                path: path.to_owned(),
                format,
            });
        }
        if options.sector_size != SectorSize::B512 {
            return Err(DiskError::SectorSize {
                path: path.to_owned(),
                format,
                sector_size: options.sector_size.get(),
            });
        }
        let runtime = match detected_by {
            Some(runtime) => runtime,
            None => images()?,
        };
        Ok(Self::Image(runtime.open(
            path,
            Some(format),
            &options.backing,
        )?))
    }

    /// The format it is read in.
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

impl BlockDevice for AnyDisk {
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
