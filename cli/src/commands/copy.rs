//! `blockpart cat` and `blockpart write`: copies out of and into a partition.

use std::io::{self, IsTerminal, Read, Write};

use anyhow::{Context, Result, bail};
use blockpart_core::{Error as PartitionError, MAX_TRANSFER_BYTES, SectorSize};
use blockpart_host::{Error, Instance, Limits, PartitionHandle};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::{DiskArgs, Opened, Range, open};

/// Sectors per request on long copies: 1 MiB, or one sector if that is larger.
fn chunk_sectors(sector_size: SectorSize) -> u64 {
    (1u64 << 20)
        .checked_div(sector_size.get().into())
        .unwrap_or(1)
        .max(1)
}

/// Copies the disk, its partition or a range of either to standard output.
pub fn cat(disk: &DiskArgs, range: Option<Range>, limits: Limits) -> Result<()> {
    let Opened {
        mut instance,
        part,
        lock: _lock,
        ..
    } = open(disk, range, true, limits)?;
    let sectors = instance.info(part)?.size_sectors;
    copy_out(&mut instance, part, disk.sector_size, sectors)
}

/// Copies standard input into the disk, its partition or a range of either, from sector `at`.
pub fn write(disk: &DiskArgs, range: Option<Range>, at: u64, limits: Limits) -> Result<()> {
    let Opened {
        mut instance,
        part,
        lock: _lock,
        ..
    } = open(disk, range, false, limits)?;
    let sectors = instance.info(part)?.size_sectors;
    let target = instance
        .slice(part, at, sectors.saturating_sub(at))
        .with_context(|| format!("--at {at} is not within its {sectors} sectors"))?;
    copy_in(&mut instance, target, disk.sector_size)
}

fn copy_out(
    instance: &mut Instance,
    part: PartitionHandle,
    sector_size: SectorSize,
    sectors: u64,
) -> Result<()> {
    let chunk = chunk_sectors(sector_size);
    let progress = progress(sector_size.bytes_in(sectors));
    let mut out = io::stdout().lock();
    let chunk_bytes = sector_size
        .bytes_in(chunk)
        .context("a chunk is at most 1 MiB")?;
    // One buffer for the whole copy: the device reads into it, stdout takes from it.
    let mut buffer = vec![0; usize::try_from(chunk_bytes)?];
    let mut at = 0;
    while at < sectors {
        let count = chunk.min(sectors.saturating_sub(at));
        let len = sector_size
            .bytes_in(count)
            .context("a chunk is at most 1 MiB")?;
        let data = buffer
            .get_mut(..usize::try_from(len)?)
            .context("a chunk fits its buffer")?;
        instance.read(part, at, data)?;
        out.write_all(data).context("writing to standard output")?;
        progress.inc(len);
        at = at.saturating_add(count);
    }
    out.flush().context("writing to standard output")?;
    progress.finish_and_clear();
    Ok(())
}

fn copy_in(instance: &mut Instance, part: PartitionHandle, sector_size: SectorSize) -> Result<()> {
    let info = instance.info(part)?;
    let capacity = sector_size.bytes_in(info.size_sectors);
    let mut input = io::stdin().lock();
    let known_len = input_len();
    if let Some(len) = known_len {
        if sector_size.sectors_in(len).is_none() {
            bail!(
                "the input is {len} bytes, not a whole number of {}-byte sectors",
                sector_size.get()
            );
        }
        if capacity.is_some_and(|capacity| len > capacity) {
            bail!(
                "the input is {len} bytes; the range holds {} sectors",
                info.size_sectors
            );
        }
    }
    let chunk = sector_size
        .bytes_in(chunk_sectors(sector_size))
        .context("a chunk fits")?;
    let chunk = usize::try_from(chunk.min(MAX_TRANSFER_BYTES))?;
    let progress = progress(known_len);
    let mut buffer = vec![0; chunk];
    let mut at = 0u64;
    // Past the pre-check, every failure says how much of the input had landed.
    let landed = |at: u64| match at {
        0 => "nothing was written".to_owned(),
        _ => format!("its first {at} sectors were written"),
    };
    loop {
        let filled = read_full(&mut input, &mut buffer).with_context(|| landed(at))?;
        let Some(data) = buffer.get(..filled).filter(|data| !data.is_empty()) else {
            break;
        };
        if let Err(error) = instance.write(part, at, data) {
            let what = match error {
                Error::Partition(PartitionError::OutOfBounds(_)) => "the input does not fit",
                Error::Partition(PartitionError::Unaligned(_)) => {
                    "the input is not a whole number of sectors"
                }
                _ => "the write failed",
            };
            return Err(anyhow::Error::new(error).context(format!("{what}: {}", landed(at))));
        }
        let written = u64::try_from(filled)?;
        progress.inc(written);
        at = at.saturating_add(sector_size.sectors_in(written).unwrap_or(0));
    }
    instance.flush(part).with_context(|| {
        format!("all {at} sectors were written, but flushing them to the disk failed")
    })?;
    progress.finish_and_clear();
    Ok(())
}

/// What is left to read of standard input when it is a regular file that says its size: from
/// the descriptor's own offset, which a caller may have moved (`(head -c 100 >/dev/null;
/// blockpart write ...) < file`). Files in `/proc` and `/sys` say 0 whatever they hold: those
/// are read as a pipe is.
fn input_len() -> Option<u64> {
    let stdin = io::stdin();
    let stat = rustix::fs::fstat(&stdin).ok()?;
    let size = u64::try_from(stat.st_size).ok()?;
    let is_file = rustix::fs::FileType::from_raw_mode(stat.st_mode).is_file();
    let at = rustix::fs::seek(&stdin, rustix::fs::SeekFrom::Current(0)).ok()?;
    (is_file && size > 0).then(|| size.saturating_sub(at))
}

/// Reads until `buffer` is full or the input ends; returns the bytes read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while let Some(rest) = buffer.get_mut(filled..).filter(|rest| !rest.is_empty()) {
        match input.read(rest) {
            Ok(0) => break,
            Ok(n) => filled = filled.saturating_add(n),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error).context("reading standard input"),
        }
    }
    Ok(filled)
}

/// A progress bar on standard error when it is a terminal; hidden otherwise.
pub fn progress(len: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = len.map_or_else(ProgressBar::new_spinner, ProgressBar::new);
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} {wide_bar} {bytes_per_sec} {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
