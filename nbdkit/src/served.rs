//! A partition served to one NBD connection: a component instance of its own, the sectors a
//! request touches read, changed and written back, and a fresh instance after a trap.

use std::io::ErrorKind;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

use blockpart_core::{DeviceError, Info};
use blockpart_host::{
    AnyDisk, DiskError, DiskOptions, IMAGE_READER_COMPONENT, ImageRuntime, Instance, OpenError,
    PartitionHandle, Runtime,
};

use crate::config::Settings;
use crate::request::{Piece, pieces};

/// A request failed: the errno the client gets and the message nbdkit logs.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    /// What the NBD client is told.
    pub errno: i32,
    /// What nbdkit logs.
    pub message: String,
}

impl Failure {
    fn new(errno: i32, message: impl Into<String>) -> Self {
        Self {
            errno,
            message: message.into(),
        }
    }

    /// `EIO`, for what the client can do nothing about.
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(libc::EIO, message)
    }
}

impl From<blockpart_host::Error> for Failure {
    fn from(error: blockpart_host::Error) -> Self {
        Self::new(errno(&error), error.to_string())
    }
}

/// The errno for a failed call into the partitioner: a device's failure its own errno, as
/// nbdkit's `file` plugin answers (nbdkit turns it into the NBD error: `ENOSPC`, `EDQUOT` and
/// `EFBIG` into `ENOSPC`, ...). nbdkit checks bounds and read-only before it calls the plugin,
/// so the partition's own refusals mean a bug; they get the errno that says what they are all
/// the same.
pub fn errno(error: &blockpart_host::Error) -> i32 {
    use blockpart_core::Error as Refused;
    match error {
        blockpart_host::Error::Partition(refused) => match refused {
            Refused::ReadOnly | Refused::Device(DeviceError::ReadOnly) => libc::EROFS,
            Refused::OutOfBounds(_)
            | Refused::Unaligned(_)
            | Refused::TooLarge(_)
            | Refused::Device(DeviceError::OutOfBounds | DeviceError::Unaligned) => libc::EINVAL,
            Refused::Disconnected | Refused::Device(DeviceError::Disconnected) => libc::ESHUTDOWN,
            // As nbdkit's `file` plugin does: the system's own errno (`ENOSPC` for a full
            // disk, which QEMU by default stops the VM for rather than fail its guest's I/O).
            Refused::Device(DeviceError::System { errno, .. }) => *errno,
            Refused::Device(DeviceError::Io(_)) | Refused::InvalidDevice(_) => libc::EIO,
        },
        blockpart_host::Error::Table(_) | blockpart_host::Error::Guest(_) => libc::EIO,
    }
}

/// Serialises read-modify-writes against all other writes, on every connection: a sector
/// read, patched and written back must not undo a write that landed on it meanwhile (nbdkit's
/// `blocksize` filter takes the same kind of lock). Whole-sector writes share it.
static RMW: RwLock<()> = RwLock::new(());

/// What every connection opens: the compiled component and the settings.
pub struct Opener {
    runtime: Runtime,
    /// The image reader, compiled on first use: never for a raw disk named raw.
    images: std::sync::OnceLock<ImageRuntime>,
    settings: Settings,
}

/// An open partition: the instance it lives in, its handle and its geometry.
struct Open {
    instance: Instance,
    part: PartitionHandle,
    info: Info,
}

impl Opener {
    /// Compiles the component the settings name (the built-in one by default).
    pub fn new(settings: Settings) -> Result<Self, Failure> {
        let runtime = match &settings.component {
            None => Runtime::new(),
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|error| {
                    Failure::io(format!("component={}: {error}", path.display()))
                })?;
                Runtime::from_component(&bytes)
            }
        }
        .map_err(|error| Failure::io(format!("loading the partitioner component: {error:#}")))?
        .with_limits(settings.limits);
        Ok(Self {
            runtime,
            images: std::sync::OnceLock::new(),
            settings,
        })
    }

    /// The partition in a fresh instance, read-only if asked or if the file is.
    fn open(&self, read_only: bool) -> Result<Open, Failure> {
        let file = &self.settings.file;
        let sector_size = self.settings.sector_size;
        // A partition lies within the file's whole sectors: a partial one at the end, which no
        // partition holds, is left out, as nbdkit's partition filter leaves it out.
        let mut options = DiskOptions {
            format: self.settings.format,
            backing: self.settings.backing.clone(),
            sector_size,
            writable: !read_only,
            partial_last_sector: self.settings.partition.is_some(),
        };
        let opened = match AnyDisk::open(file, &options, || self.images()) {
            // As nbdkit's file plugin does: a file this user cannot write is served read-only.
            Err(DiskError::File(OpenError::Io { source, .. }))
                if !read_only
                    && matches!(
                        source.kind(),
                        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
                    ) =>
            {
                options.writable = false;
                AnyDisk::open(file, &options, || self.images())
            }
            // An image other than raw is read-only: served so, as a read-only file is.
            Err(DiskError::ReadOnlyFormat { .. }) if !read_only => {
                options.writable = false;
                AnyDisk::open(file, &options, || self.images())
            }
            other => other,
        };
        let device = opened.map_err(|error| Failure::io(with_sources(&error)))?;
        let mut instance = self
            .runtime
            .instantiate()
            .map_err(|error| Failure::io(format!("instantiating the partitioner: {error:#}")))?;
        let mut part = instance.whole(device)?;
        if let Some(number) = self.settings.partition {
            part = instance.open_entry(part, number).map_err(|error| {
                let mut failure = Failure::from(error);
                failure.message = format!(
                    "opening partition {number} of {} ({}-byte sectors): {}",
                    file.display(),
                    sector_size.get(),
                    failure.message
                );
                failure
            })?;
        }
        let info = instance.info(part)?;
        Ok(Open {
            instance,
            part,
            info,
        })
    }

    /// The image reader, compiled the first time it is needed.
    fn images(&self) -> Result<ImageRuntime, blockpart_host::ImageError> {
        if let Some(images) = self.images.get() {
            return Ok(images.clone());
        }
        let images =
            ImageRuntime::from_component(IMAGE_READER_COMPONENT)?.with_limits(self.settings.limits);
        Ok(self.images.get_or_init(|| images).clone())
    }

    /// Opens the partition once, as a check before nbdkit serves: a missing entry or a damaged
    /// table is an error at start-up, not at the first connection.
    pub fn check(&self) -> Result<(), Failure> {
        self.open(true).map(drop)
    }

    /// The partition for one connection.
    pub fn connect(&'static self, read_only: bool) -> Result<Served, Failure> {
        let open = self.open(read_only)?;
        let size = open
            .info
            .size_sectors
            .checked_mul(u64::from(open.info.sector_size))
            .ok_or_else(|| Failure::io("the partition's size in bytes overflows"))?;
        Ok(Served {
            opener: self,
            read_only: !open.info.read_write,
            info: open.info,
            size,
            open: Mutex::new(Some(open)),
        })
    }
}

/// One connection's partition.
pub struct Served {
    opener: &'static Opener,
    read_only: bool,
    info: Info,
    size: u64,
    /// The instance, or `None` after a trap until the next request makes a fresh one.
    open: Mutex<Option<Open>>,
}

impl Served {
    /// The size, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Runs `f` on the open partition, opening a fresh instance if the last one trapped. A
    /// trap (or a panic) leaves no instance behind.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Instance, PartitionHandle) -> Result<T, blockpart_host::Error>,
    ) -> Result<T, Failure> {
        let mut guard = self.open.lock().unwrap_or_else(|poisoned| {
            // A panic while the lock was held: the instance may be mid-call; drop it.
            let mut guard = poisoned.into_inner();
            *guard = None;
            guard
        });
        let open = self.reopened(&mut guard)?;
        let result = f(&mut open.instance, open.part);
        if let Err(blockpart_host::Error::Guest(_)) = &result {
            *guard = None;
        }
        result.map_err(Failure::from)
    }

    fn reopened<'a>(
        &self,
        guard: &'a mut MutexGuard<'_, Option<Open>>,
    ) -> Result<&'a mut Open, Failure> {
        if guard.is_none() {
            let open = self.opener.open(self.read_only)?;
            if open.info != self.info {
                return Err(Failure::io(format!(
                    "the partition changed: {} after a fresh instance, {} before",
                    open.info, self.info
                )));
            }
            **guard = Some(open);
        }
        guard
            .as_mut()
            .ok_or_else(|| Failure::io("no partitioner instance"))
    }

    fn pieces(&self, offset: u64, len: usize) -> Result<Vec<Piece>, Failure> {
        let len = u32::try_from(len).map_err(|_| Failure::new(libc::EINVAL, "request too long"))?;
        pieces(self.info.sector_size, offset, len)
            .map_err(|_| Failure::new(libc::EINVAL, "request past the end"))
    }

    fn sector_bytes(&self) -> u64 {
        u64::from(self.info.sector_size)
    }

    /// Reads `buf.len()` bytes at byte `offset`: whole sectors straight into `buf` (the
    /// partitioner maps them, the bytes go from the file to nbdkit's buffer), partial ones
    /// through a sector of our own.
    pub fn read(&self, buf: &mut [u8], offset: u64) -> Result<(), Failure> {
        let pieces = self.pieces(offset, buf.len())?;
        let mut sector_buf = self.sector_buffer(&pieces)?;
        self.with(|instance, part| {
            for piece in pieces {
                match piece {
                    Piece::Whole {
                        sector, buf: range, ..
                    } => {
                        let dst = buf.get_mut(range).ok_or_else(|| bug("buffer"))?;
                        instance.read(part, sector, dst)?;
                    }
                    Piece::Partial {
                        sector,
                        within,
                        buf: range,
                    } => {
                        instance.read(part, sector, &mut sector_buf)?;
                        let data = sector_buf.get(within).ok_or_else(|| bug("sector"))?;
                        put(buf, range, data)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// A buffer of one sector for the partial sectors at either end of a request, or an empty
    /// one when `pieces` are all whole sectors (most requests: no allocation).
    fn sector_buffer(&self, pieces: &[Piece]) -> Result<Vec<u8>, Failure> {
        if !pieces.iter().any(|p| matches!(p, Piece::Partial { .. })) {
            return Ok(Vec::new());
        }
        let len = usize::try_from(self.sector_bytes()).map_err(|_| Failure::io("sector size"))?;
        Ok(vec![0; len])
    }

    /// Writes `data` at byte `offset`; `Some(0)` bytes of it instead, for `zero`.
    fn patch(&self, offset: u64, len: usize, data: Option<&[u8]>) -> Result<(), Failure> {
        let pieces = self.pieces(offset, len)?;
        let mut sector_buf = self.sector_buffer(&pieces)?;
        let partial = !sector_buf.is_empty();
        // A poisoned lock guards nothing broken: the data is on the disk, not in the lock.
        let _exclusive;
        let _shared;
        if partial {
            _exclusive = RMW.write().unwrap_or_else(PoisonError::into_inner);
        } else {
            _shared = RMW.read().unwrap_or_else(PoisonError::into_inner);
        }
        self.with(|instance, part| {
            for piece in pieces {
                match piece {
                    Piece::Whole {
                        sector,
                        sectors,
                        buf: range,
                    } => match data {
                        Some(data) => {
                            let data = data.get(range).ok_or_else(|| bug("buffer"))?;
                            instance.write(part, sector, data)?;
                        }
                        None => instance.write_zeroes(part, sector, sectors)?,
                    },
                    Piece::Partial {
                        sector,
                        within,
                        buf: range,
                    } => {
                        instance.read(part, sector, &mut sector_buf)?;
                        let new = sector_buf.get_mut(within).ok_or_else(|| bug("sector"))?;
                        match data {
                            Some(data) => {
                                new.copy_from_slice(data.get(range).ok_or_else(|| bug("buffer"))?);
                            }
                            None => new.fill(0),
                        }
                        instance.write(part, sector, &sector_buf)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Writes `data` at byte `offset`.
    pub fn write(&self, data: &[u8], offset: u64) -> Result<(), Failure> {
        self.patch(offset, data.len(), Some(data))
    }

    /// Zeroes `len` bytes at byte `offset`.
    pub fn zero(&self, len: u32, offset: u64) -> Result<(), Failure> {
        self.patch(offset, usize::try_from(len).unwrap_or(usize::MAX), None)
    }

    /// Discards the whole sectors among `len` bytes at byte `offset`; the partial sectors at
    /// either end are left as they are (a trim is only advice).
    pub fn trim(&self, len: u32, offset: u64) -> Result<(), Failure> {
        let pieces = self.pieces(offset, usize::try_from(len).unwrap_or(usize::MAX))?;
        let _shared = RMW.read().unwrap_or_else(PoisonError::into_inner);
        self.with(|instance, part| {
            for piece in pieces {
                if let Piece::Whole {
                    sector, sectors, ..
                } = piece
                {
                    instance.discard(part, sector, sectors)?;
                }
            }
            Ok(())
        })
    }

    /// Makes every write so far durable: `fdatasync` of the file, whichever connection wrote.
    pub fn flush(&self) -> Result<(), Failure> {
        self.with(|instance, part| instance.flush(part))
    }
}

/// `error` and what caused it, on one line: `cannot open disk.img: No such file or directory`.
fn with_sources(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        message.push_str(": ");
        message.push_str(&error.to_string());
        cause = error.source();
    }
    message
}

/// A broken invariant of this plugin, as an error of the request rather than a panic.
fn bug(what: &str) -> blockpart_host::Error {
    blockpart_core::Error::InvalidDevice(format!("blockpart-nbdkit: bad {what} range")).into()
}

/// Copies `data` into `buf[range]`, which must be as long.
fn put(
    buf: &mut [u8],
    range: std::ops::Range<usize>,
    data: &[u8],
) -> Result<(), blockpart_host::Error> {
    buf.get_mut(range)
        .filter(|dst| dst.len() == data.len())
        .ok_or_else(|| bug("buffer"))?
        .copy_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use blockpart_core::SectorSize;
    use blockpart_host::Limits;

    use super::*;

    /// mbr-primaries' partition 2: sectors 2048..4096 of 512 bytes.
    const START: usize = 2048 * 512;
    const LEN: usize = 2048 * 512;

    fn disk(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
        let bytes = blockpart_conformance::fixture("mbr-primaries").unwrap();
        let path = dir.join("disk.img");
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    fn opener(file: &Path, partition: Option<u32>) -> &'static Opener {
        Box::leak(Box::new(
            Opener::new(Settings {
                file: file.to_owned(),
                partition,
                sector_size: SectorSize::B512,
                format: None,
                backing: Vec::new(),
                component: None,
                limits: Limits::default(),
            })
            .unwrap(),
        ))
    }

    /// A small deterministic generator, for offsets and data.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn unaligned_reads_writes_and_zeroes_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut model) = disk(dir.path());
        let served = opener(&path, Some(2)).connect(false).unwrap();
        assert_eq!(served.size(), LEN as u64);
        assert!(!served.read_only());
        let mut rng = Lcg(7);
        for round in 0..300 {
            let offset = (rng.next() as usize) % LEN;
            let len = ((rng.next() as usize) % 3000).min(LEN - offset);
            match round % 4 {
                0 | 1 => {
                    let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    served.write(&data, offset as u64).unwrap();
                    model[START + offset..START + offset + len].copy_from_slice(&data);
                }
                2 => {
                    served.zero(len as u32, offset as u64).unwrap();
                    model[START + offset..START + offset + len].fill(0);
                }
                _ => {
                    let mut buf = vec![0xAA; len];
                    served.read(&mut buf, offset as u64).unwrap();
                    assert_eq!(buf, model[START + offset..START + offset + len], "{round}");
                }
            }
        }
        served.flush().unwrap();
        assert!(
            std::fs::read(&path).unwrap() == model,
            "the file differs from the model"
        );
    }

    #[test]
    fn a_request_past_the_end_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = disk(dir.path());
        let served = opener(&path, Some(2)).connect(false).unwrap();
        let failure = served.write(&[1; 1024], LEN as u64 - 512).unwrap_err();
        assert_eq!(failure.errno, libc::EINVAL, "{failure:?}");
        assert_eq!(
            served.read(&mut [0; 1], LEN as u64).unwrap_err().errno,
            libc::EINVAL
        );
        assert!(std::fs::read(&path).unwrap() == before);
    }

    #[test]
    fn a_read_only_connection_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, before) = disk(dir.path());
        let served = opener(&path, Some(2)).connect(true).unwrap();
        assert!(served.read_only());
        assert_eq!(served.write(&[1; 7], 3).unwrap_err().errno, libc::EROFS);
        assert_eq!(served.zero(512, 0).unwrap_err().errno, libc::EROFS);
        assert!(std::fs::read(&path).unwrap() == before);
    }

    #[test]
    fn a_missing_partition_is_refused_at_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = disk(dir.path());
        let failure = opener(&path, Some(9)).check().unwrap_err();
        assert!(
            failure.message.contains("partition 9"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn trim_leaves_partial_sectors_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = disk(dir.path());
        let served = opener(&path, Some(2)).connect(false).unwrap();
        served.write(&[0x5A; 2048], 0).unwrap();
        served.trim(1536, 256).unwrap();
        let mut buf = [0; 2048];
        served.read(&mut buf, 0).unwrap();
        // Sectors 1 and 2 (bytes 512..1536) are discarded: zeroes, in a sparse file.
        assert!(buf[..512].iter().all(|b| *b == 0x5A));
        assert!(buf[512..1536].iter().all(|b| *b == 0));
        assert!(buf[1536..].iter().all(|b| *b == 0x5A));
    }
}
