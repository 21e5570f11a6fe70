//! Arguments several commands share, and the partitioner instance they open.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use blockpart_core::SectorSize;
use blockpart_host::{Format, Instance, Limits, PARTITIONER_COMPONENT, PartitionHandle, Runtime};
use clap::Args;

use crate::disk::{FormatArg, open_disk};
use rustix::fs::{FlockOperation, OFlags, flock};
use rustix::io::Errno;

/// Bounds on the partitioner component, which a hostile or broken one cannot pass.
#[derive(Args)]
pub struct LimitArgs {
    /// Most memory the component may use, in MiB (a 64 MiB transfer needs a little more).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    memory_limit: u32,
    /// Most time one call into the component may take, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 10_000,
          value_parser = milliseconds)]
    time_limit: u64,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        let mib = usize::try_from(self.memory_limit).unwrap_or(usize::MAX);
        Limits {
            memory_bytes: mib.saturating_mul(1 << 20),
            call_time: Duration::from_millis(self.time_limit),
            ..Limits::default()
        }
    }
}

#[derive(Args)]
pub struct DiskArgs {
    /// The disk image: a file whose size is a whole number of sectors.
    pub disk: PathBuf,
    /// Bytes per sector: a power of two, at least 512.
    #[arg(long, value_name = "BYTES", default_value = "512", value_parser = sector_size)]
    pub sector_size: SectorSize,
    /// Partition N of the disk's partition table, as `blockpart list` numbers them, instead of
    /// the whole disk. A `--range` is then relative to it.
    #[arg(short, long, value_name = "N")]
    pub partition: Option<u32>,
    /// The image's format: auto (by its content, never its name), raw, qcow2, vmdk or vhd.
    /// `raw` reads the file as it is, whatever header it holds.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    pub format: FormatArg,
    /// A backing file of the image (a qcow2 overlay's base), nearest first; repeat it for a
    /// chain. Only the files named here are opened: a backing file the image names is never.
    #[arg(long, value_name = "FILE")]
    pub backing: Vec<PathBuf>,
}

/// `START:LEN`, in sectors.
#[derive(Clone, Copy)]
pub struct Range {
    pub start: u64,
    pub sectors: u64,
}

impl FromStr for Range {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (start, sectors) = text
            .split_once(':')
            .ok_or("expected START:LEN, in sectors")?;
        let number = |s: &str| s.parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
        Ok(Self {
            start: number(start)?,
            sectors: number(sectors)?,
        })
    }
}

/// A time limit in milliseconds: at least 1, since a call cannot take no time.
fn milliseconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) => Err("0 ms: a call takes some time; the limit is at least 1".to_owned()),
        Ok(ms) => Ok(ms),
        Err(_) => Err(format!("{text} is not a whole number of milliseconds")),
    }
}

pub fn sector_size(text: &str) -> Result<SectorSize, String> {
    text.parse::<u32>()
        .ok()
        .and_then(SectorSize::new)
        .ok_or_else(|| format!("{text} is not a power of two of at least 512"))
}

/// A disk opened for a command: the partitioner instance with the disk handed to it, the
/// partition the arguments select, and the lock that keeps other programs from writing the
/// disk meanwhile (bind it, `lock: _lock`, to hold it).
pub struct Opened {
    pub instance: Instance,
    /// The format the disk was read in.
    pub format: Format,
    pub part: PartitionHandle,
    pub lock: File,
}

/// Opens `disk` for a command: its whole, or its `--partition`, then `range` of that.
///
/// The disk is locked as util-linux's tools lock a disk (`flock`): shared to read, exclusive to
/// write, so two `blockpart write`s, or a write and an `sfdisk`, never interleave. A disk
/// locked by another program is an error, not a wait.
pub fn open(
    disk: &DiskArgs,
    range: Option<Range>,
    read_only: bool,
    limits: Limits,
) -> Result<Opened> {
    let device = open_disk(disk, disk.sector_size, !read_only, limits)?;
    let format = device.format();
    let lock = lock(&disk.disk, !read_only)?;
    let mut instance = runtime(limits)?.instantiate()?;
    let mut part = instance.whole(device)?;
    let mut what = disk.disk.display().to_string();
    if let Some(number) = disk.partition {
        part = instance.open_entry(part, number).with_context(|| {
            format!(
                "opening partition {number} of {what}{}",
                sector_size_hint(disk, limits)
            )
        })?;
        what = format!("partition {number}");
    }
    if let Some(range) = range {
        part = instance
            .slice(part, range.start, range.sectors)
            .with_context(|| {
                format!(
                    "--range {}:{} is not within {what}",
                    range.start, range.sectors
                )
            })?;
    }
    Ok(Opened {
        instance,
        format,
        part,
        lock,
    })
}

/// Takes the advisory lock on `path`, exclusive or shared, without waiting.
pub fn lock(path: &Path, exclusive: bool) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .with_context(|| format!("opening {} to lock it", path.display()))?;
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    match flock(&file, operation) {
        Ok(()) => Ok(file),
        Err(Errno::WOULDBLOCK) => bail!(
            "{} is in use: another program holds a lock on it, as a write or a partitioning \
             tool does; try again when it is done",
            path.display()
        ),
        Err(errno) => {
            Err(io::Error::from(errno)).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// When `disk`'s partition table cannot be read with its `--sector-size` but can with the
/// other common one, a hint saying so (images do not record their sector size); else nothing.
pub fn sector_size_hint(disk: &DiskArgs, limits: Limits) -> String {
    let other = if disk.sector_size == SectorSize::B512 {
        SectorSize::B4096
    } else {
        SectorSize::B512
    };
    let reads = || -> Result<()> {
        let device = open_disk(disk, other, false, limits)?;
        let mut instance = runtime(limits)?.instantiate()?;
        let whole = instance.whole(device)?;
        instance.read_table(whole)?;
        Ok(())
    };
    match reads() {
        Ok(()) => format!(
            " (it reads as a partition table with {0}-byte sectors: try --sector-size {0})",
            other.get()
        ),
        Err(_) => String::new(),
    }
}

/// The built-in partitioner, its compiled code cached across runs when the cache directory can
/// be set up and is safe to load from (compiling takes tens of milliseconds; loading, about
/// one). When it cannot be used, says why on standard error and compiles.
pub fn runtime(limits: Limits) -> Result<Runtime> {
    let runtime = match Runtime::cached(PARTITIONER_COMPONENT) {
        Ok(runtime) => runtime,
        Err(why) => {
            let _ = writeln!(io::stderr(), "blockpart: warning: {why:#}");
            Runtime::new()?
        }
    };
    Ok(runtime.with_limits(limits))
}

/// Writes `text` to standard output and flushes it. A closed pipe or a full disk is an error
/// for the caller to report, not a panic as `print!` makes it.
pub fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}
