//! Arguments several commands share, and the partitioner instance they open.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use blockpart_core::SectorSize;
use blockpart_host::{FileDevice, GUEST_COMPONENT, Instance, Limits, PartitionHandle, Runtime};
use clap::Args;

/// Bounds on the partitioner component, which a hostile or broken one cannot pass.
#[derive(Args)]
pub struct LimitArgs {
    /// Most memory the component may use, in MiB (a 64 MiB transfer needs a little more).
    #[arg(long, global = true, value_name = "MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=4096))]
    memory_limit: u32,
    /// Most time one call into the component may take, in milliseconds.
    #[arg(long, global = true, value_name = "MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
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

pub fn sector_size(text: &str) -> Result<SectorSize, String> {
    text.parse::<u32>()
        .ok()
        .and_then(SectorSize::new)
        .ok_or_else(|| format!("{text} is not a power of two of at least 512"))
}

/// An instance of the built-in partitioner with `disk` handed to it, and the partition the
/// arguments select: the whole disk or its `--partition`, then `range` of that.
pub fn open(
    disk: &DiskArgs,
    range: Option<Range>,
    read_only: bool,
    limits: Limits,
) -> Result<(Instance, PartitionHandle)> {
    let device = FileDevice::open(&disk.disk, disk.sector_size, read_only)?;
    let mut instance = runtime(limits)?.instantiate()?;
    let mut part = instance.whole(device)?;
    let mut what = disk.disk.display().to_string();
    if let Some(number) = disk.partition {
        part = instance
            .open_entry(part, number)
            .with_context(|| format!("opening partition {number} of {what}"))?;
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
    Ok((instance, part))
}

/// The built-in partitioner, its compiled code cached across runs when the cache directory can
/// be set up (compiling takes tens of milliseconds; loading, about one).
pub fn runtime(limits: Limits) -> Result<Runtime> {
    let runtime = Runtime::cached(GUEST_COMPONENT).or_else(|_| Runtime::new())?;
    Ok(runtime.with_limits(limits))
}
