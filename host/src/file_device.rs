//! A block device backed by a file, with positional I/O.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::Path;

use blockpart_core::{BlockDevice, DeviceError, Geometry, Info, SectorSize};
use rustix::fs::{FallocateFlags, OFlags, fallocate, fcntl_getfl, fcntl_setfl};
use rustix::io::Errno;

/// `O_NONBLOCK`, as `OpenOptionsExt::custom_flags` takes it.
const NONBLOCK: i32 = OFlags::NONBLOCK.bits().cast_signed();

/// Why a file could not be opened as a block device.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The file could not be opened or measured.
    #[error("cannot open {path}")]
    Io {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file's end cannot be found (a regular file of `/proc` or `/sys`, say), so neither
    /// can its size.
    #[error("cannot tell the size of {path}: it is not a disk image")]
    Size {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The path is neither a regular file nor a block device.
    #[error("{path} is not a disk image or block device")]
    NotADisk {
        /// The path.
        path: String,
    },
    /// The file's size is not a whole number of sectors.
    #[error("{path} is {len} bytes, not a whole number of {sector_size}-byte sectors")]
    NotWholeSectors {
        /// The file.
        path: String,
        /// Its size in bytes.
        len: u64,
        /// The sector size asked for.
        sector_size: u32,
    },
}

/// A file as a block device: reads and writes at `sector * sector_size`, `flush` as
/// `fdatasync`, `discard` as hole punching, `write-zeroes` as zero-range allocation.
///
/// Requests are checked against the file's size when it was opened; the device never grows
/// the file.
#[derive(Debug)]
pub struct FileDevice {
    file: File,
    geometry: Geometry,
}

impl FileDevice {
    /// Opens `path`, a regular file or a block device, with `sector_size`, read-only or
    /// read-write. Its size must be a whole number of sectors.
    pub fn open(path: &Path, sector_size: SectorSize, read_only: bool) -> Result<Self, OpenError> {
        Self::opened(path, sector_size, read_only, false)
    }

    /// Like [`FileDevice::open`], with a partial sector at the end of the file left out of the
    /// device instead of refused: the device is the file's whole sectors, as Linux sees a
    /// disk image of that size. For serving a partition of it, which lies outside that sector.
    pub fn open_whole_sectors(
        path: &Path,
        sector_size: SectorSize,
        read_only: bool,
    ) -> Result<Self, OpenError> {
        Self::opened(path, sector_size, read_only, true)
    }

    fn opened(
        path: &Path,
        sector_size: SectorSize,
        read_only: bool,
        leave_out_partial: bool,
    ) -> Result<Self, OpenError> {
        let (file, len) = open_disk_file(path, read_only)?;
        let whole = if leave_out_partial {
            len.checked_div(u64::from(sector_size.get()))
        } else {
            sector_size.sectors_in(len)
        };
        let sectors = whole.ok_or_else(|| OpenError::NotWholeSectors {
            path: path.display().to_string(),
            len,
            sector_size: sector_size.get(),
        })?;
        Ok(Self {
            file,
            geometry: Geometry {
                sector_size,
                sectors,
                read_write: !read_only,
            },
        })
    }

    /// `fallocate` with `mode`, or writing zeroes where the file system cannot.
    fn fallocate_or_zero(
        &self,
        mode: FallocateFlags,
        start: u64,
        sectors: u64,
    ) -> Result<(), DeviceError> {
        self.geometry.writable()?;
        let (offset, len) = self.geometry.bytes(start, sectors)?;
        if len == 0 {
            // Checked, and nothing to do: `fallocate` refuses a zero length (EINVAL).
            return Ok(());
        }
        match fallocate(&self.file, mode | FallocateFlags::KEEP_SIZE, offset, len) {
            Ok(()) => Ok(()),
            Err(Errno::OPNOTSUPP | Errno::NOSYS) => self.write_zero_bytes(offset, len),
            Err(errno) => Err(system_error(errno.into())),
        }
    }

    #[expect(
        clippy::arithmetic_side_effects,
        reason = "offset < end inside the loop, and end was added with a check"
    )]
    fn write_zero_bytes(&self, mut offset: u64, len: u64) -> Result<(), DeviceError> {
        const CHUNK: u64 = 1 << 20;
        let zeroes = vec![0; usize::try_from(len.min(CHUNK)).map_err(io_error)?];
        let end = offset.checked_add(len).ok_or(DeviceError::OutOfBounds)?;
        while offset < end {
            let n = (end - offset).min(CHUNK);
            let chunk = zeroes.get(..usize::try_from(n).map_err(io_error)?);
            self.file
                .write_all_at(chunk.ok_or(DeviceError::OutOfBounds)?, offset)
                .map_err(system_error)?;
            offset += n;
        }
        Ok(())
    }
}

fn io_error(error: impl std::fmt::Display) -> DeviceError {
    DeviceError::Io(error.to_string())
}

/// A failed system call's error, with its `errno` (`ENOSPC` on a full disk, ...) kept for a
/// host that passes it on, as nbdkit's `file` plugin passes it to its clients.
fn system_error(error: std::io::Error) -> DeviceError {
    match error.raw_os_error() {
        Some(errno) => DeviceError::System {
            errno,
            message: error.to_string(),
        },
        None => DeviceError::Io(error.to_string()),
    }
}

/// Opens `path` as a disk: a regular file or a block device (a FIFO, a terminal or a file with
/// no end is refused, without hanging), read-only unless `read_only` is false; with its length.
pub(crate) fn open_disk_file(path: &Path, read_only: bool) -> Result<(File, u64), OpenError> {
    let io = |source| OpenError::Io {
        path: path.display().to_string(),
        source,
    };
    // Non-blocking, so that a FIFO or a terminal is refused below instead of hanging the
    // open; the flag does nothing to I/O on files and block devices, and is cleared anyway.
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .custom_flags(NONBLOCK)
        .open(path)
        .map_err(io)?;
    let kind = file.metadata().map_err(io)?.file_type();
    if !kind.is_file() && !kind.is_block_device() {
        return Err(OpenError::NotADisk {
            path: path.display().to_string(),
        });
    }
    let flags = fcntl_getfl(&file).map_err(|errno| io(errno.into()))?;
    fcntl_setfl(&file, flags.difference(OFlags::NONBLOCK)).map_err(|errno| io(errno.into()))?;
    // The end, not the metadata's length, which is 0 for a block device.
    let len = (&file)
        .seek(SeekFrom::End(0))
        .map_err(|source| OpenError::Size {
            path: path.display().to_string(),
            source,
        })?;
    Ok((file, len))
}

impl BlockDevice for FileDevice {
    fn info(&self) -> Info {
        self.geometry.info()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        let offset = self.geometry.transfer(sector_start, len)?;
        let len = usize::try_from(len).map_err(io_error)?;
        // pread into the vector's spare capacity: zeroing it first would cost a pass over the
        // data (8% of a 1 MiB read through the partitioner, measured).
        let mut data = Vec::with_capacity(len);
        while data.len() < len {
            let done = u64::try_from(data.len()).map_err(io_error)?;
            let at = offset.checked_add(done).ok_or(DeviceError::OutOfBounds)?;
            let read = rustix::io::pread(&self.file, rustix::buffer::spare_capacity(&mut data), at)
                .map_err(|errno| system_error(errno.into()))?;
            if read == 0 {
                return Err(DeviceError::Io(format!(
                    "the file ends {done} bytes into a read of {len}"
                )));
            }
        }
        // The capacity may exceed `len`, and pread fill all of it.
        data.truncate(len);
        Ok(data)
    }

    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(buf.len()).map_err(io_error)?;
        let offset = self.geometry.transfer(sector_start, len)?;
        self.file
            .read_exact_at(buf, offset)
            .map_err(|error| match error.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    DeviceError::Io(format!("the file ends inside a read of {len} bytes"))
                }
                _ => system_error(error),
            })
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.geometry.writable()?;
        let len = u64::try_from(data.len()).map_err(io_error)?;
        let offset = self.geometry.transfer(sector_start, len)?;
        self.file.write_all_at(data, offset).map_err(system_error)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.file.sync_data().map_err(system_error)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.fallocate_or_zero(FallocateFlags::PUNCH_HOLE, sector_start, sectors)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.fallocate_or_zero(FallocateFlags::ZERO_RANGE, sector_start, sectors)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Opens `path` on a thread, so that a hang fails the test instead of stalling it.
    fn open_within_a_second(path: &Path, read_only: bool) -> Result<FileDevice, OpenError> {
        let (send, receive) = mpsc::channel();
        let path = path.to_owned();
        std::thread::spawn(move || {
            let _ = send.send(FileDevice::open(&path, SectorSize::B512, read_only));
        });
        receive
            .recv_timeout(Duration::from_secs(1))
            .expect("opening did not return within a second")
    }

    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        for read_only in [true, false] {
            let error = open_within_a_second(&fifo, read_only).unwrap_err();
            assert!(
                matches!(error, OpenError::NotADisk { .. } | OpenError::Io { .. }),
                "{error}"
            );
        }
    }

    #[test]
    fn a_partial_last_sector_is_refused_or_left_out() {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(4096 + 100).unwrap();
        let error = FileDevice::open(file.path(), SectorSize::B512, true).unwrap_err();
        assert!(
            matches!(error, OpenError::NotWholeSectors { len: 4196, .. }),
            "{error}"
        );
        let device = FileDevice::open_whole_sectors(file.path(), SectorSize::B512, true).unwrap();
        assert_eq!(device.info().size_sectors, 8);
    }

    #[test]
    fn a_file_opens_blocking_as_it_should() {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(4096).unwrap();
        let device = open_within_a_second(file.path(), false).unwrap();
        let flags = fcntl_getfl(&device.file).unwrap();
        assert!(!flags.contains(OFlags::NONBLOCK));
        assert_eq!(device.info().size_sectors, 8);
    }
}
