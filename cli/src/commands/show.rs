//! `blockpart list` and `blockpart info`: what the partitioner sees of a disk.

use anyhow::{Context, Result};
use blockpart_cli::list;
use blockpart_host::Limits;

use crate::args::{DiskArgs, Range, open};

/// Prints the disk's partition table, readable or as `sfdisk --json` does.
pub fn list(disk: &DiskArgs, json: bool, limits: Limits) -> Result<()> {
    let (mut instance, part) = open(disk, None, true, limits)?;
    let table = instance
        .read_table(part)
        .with_context(|| format!("reading the partition table of {}", disk.disk.display()))?;
    let device = disk.disk.display().to_string();
    if json {
        let json = serde_json::to_string_pretty(&list::sfdisk_json(&table, &device))?;
        println!("{json}");
    } else {
        print!("{}", list::readable(&table, &device));
    }
    Ok(())
}

/// Prints the size, offset and mode of the disk, its partition or a range of either.
pub fn info(disk: &DiskArgs, range: Option<Range>, limits: Limits) -> Result<()> {
    let (mut instance, part) = open(disk, range, true, limits)?;
    let info = instance.info(part)?;
    let offset = instance.offset(part)?;
    #[expect(
        clippy::arithmetic_side_effects,
        reason = "two 64-bit factors fit in 128 bits"
    )]
    let bytes = u128::from(info.size_sectors) * u128::from(info.sector_size);
    let mode = if info.read_write {
        "read-write"
    } else {
        "read-only"
    };
    println!(
        "{}: {} sectors of {} bytes ({bytes} bytes) from sector {offset}, {mode}",
        disk.disk.display(),
        info.size_sectors,
        info.sector_size,
    );
    Ok(())
}
