//! `blockpart list` and `blockpart info`: what the partitioner sees of a disk.

use std::io::{self, BufWriter, Write};

use anyhow::{Context, Result};
use blockpart_cli::list;
use blockpart_host::{Format, Limits};

use crate::args::{DiskArgs, Opened, Range, open, print, sector_size_hint};
use crate::disk::described;

/// Prints the disk's partition table, readable or as `sfdisk --json` does.
pub fn list(disk: &DiskArgs, json: bool, limits: Limits) -> Result<()> {
    let Opened {
        mut instance,
        format,
        part,
        lock: _lock,
    } = open(disk, None, true, limits)?;
    let table = instance
        .read_table(part)
        .with_context(|| format!("{}{}", disk.disk.display(), sector_size_hint(disk, limits)))?;
    let device = disk.disk.display().to_string();
    let described = described(&disk.disk, format);
    let mut out = BufWriter::new(io::stdout().lock());
    let written = if json {
        list::write_sfdisk_json(&mut out, &table, &device)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        list::write_readable(&mut out, &table, &described)
    };
    written
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// Prints the size, offset and mode of the disk, its partition or a range of either.
pub fn info(disk: &DiskArgs, range: Option<Range>, limits: Limits) -> Result<()> {
    let Opened {
        mut instance,
        format,
        part,
        lock: _lock,
    } = open(disk, range, true, limits)?;
    let info = instance.info(part)?;
    let offset = instance.offset(part)?;
    #[expect(
        clippy::arithmetic_side_effects,
        reason = "two 64-bit factors fit in 128 bits"
    )]
    let bytes = u128::from(info.size_sectors) * u128::from(info.sector_size);
    // `info` reads through a read-only device; the mode a user wants is what `write` gets.
    let writable = format == Format::Raw
        && rustix::fs::access(&disk.disk, rustix::fs::Access::WRITE_OK).is_ok();
    let mode = if writable { "writable" } else { "read-only" };
    print(&format!(
        "{}: {} sectors of {} bytes ({bytes} bytes) from sector {offset}, {mode}\n",
        described(&disk.disk, format),
        info.size_sectors,
        info.sector_size,
    ))
}
