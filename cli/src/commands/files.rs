//! `blockpart ls` and `blockpart get`: the files of a disk's filesystem, read inside the
//! sandbox by the filesystem reader composed on the partitioner.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result, bail};
use blockpart_cli::list::printable;
use blockpart_host::{
    FileKind, FsError, FsHandle, Limits, READER_COMPONENT, ReaderError, ReaderInstance,
    ReaderRuntime,
};

use crate::args::{DiskArgs, lock, runtime, sector_size_hint};
use crate::commands::copy::progress;
use crate::disk::open_disk;

/// Bytes per read of a file: well under the reader's 16 MiB bound and the guest's memory, so
/// `get` of any size runs in bounded memory.
const CHUNK_BYTES: u64 = 4 << 20;

/// An open filesystem, and the shared lock that keeps writers off the disk meanwhile.
struct Opened {
    instance: ReaderInstance,
    fs: FsHandle,
    _lock: File,
}

/// Opens the filesystem of `disk`: its `--partition`, or the whole disk.
fn open(disk: &DiskArgs, limits: Limits) -> Result<Opened> {
    let device = open_disk(disk, disk.sector_size, false, limits)?;
    let lock = lock(&disk.disk, false)?;
    let mut instance = reader_runtime(limits)?.instantiate()?;
    let what = match disk.partition {
        Some(number) => format!("partition {number} of {}", disk.disk.display()),
        None => disk.disk.display().to_string(),
    };
    match instance.open(device, disk.partition) {
        Ok(fs) => Ok(Opened {
            instance,
            fs,
            _lock: lock,
        }),
        // A whole disk with no filesystem of its own: say if it has partitions to pick.
        Err(ReaderError::Fs(FsError::Unsupported(why))) if disk.partition.is_none() => {
            if has_table(disk, limits) {
                bail!(
                    "{what} holds a partition table, not a filesystem: pick a partition with \
                     -p N (`blockpart list {}` shows them)",
                    disk.disk.display()
                );
            }
            let hint = sector_size_hint(disk, limits);
            bail!("{what}: unsupported filesystem: {why}{hint}")
        }
        Err(error) => {
            let hint = sector_size_hint(disk, limits);
            Err(anyhow::Error::new(error).context(format!("opening {what}{hint}")))
        }
    }
}

/// Whether the partitioner reads a partition table on `disk`.
fn has_table(disk: &DiskArgs, limits: Limits) -> bool {
    let reads = || -> Result<()> {
        let device = open_disk(disk, disk.sector_size, false, limits)?;
        let mut instance = runtime(limits)?.instantiate()?;
        let whole = instance.whole(device)?;
        instance.read_table(whole)?;
        Ok(())
    };
    reads().is_ok()
}

/// The built-in reader, compiled code cached as [`runtime`] caches the partitioner's.
fn reader_runtime(limits: Limits) -> Result<ReaderRuntime> {
    let runtime = match ReaderRuntime::cached(READER_COMPONENT) {
        Ok(runtime) => runtime,
        Err(why) => {
            let _ = writeln!(io::stderr(), "blockpart: warning: {why:#}");
            ReaderRuntime::new()?
        }
    };
    Ok(runtime.with_limits(limits))
}

/// An entry `ls` prints, with its path (to read a link's target).
type Listed = (blockpart_host::DirEntry, Vec<u8>);

/// How a name is printed: as a name in a directory, or as a path.
type Show = fn(&[u8]) -> String;

/// Prints the entries of directory `path` (or the one entry, for a file): names one a line,
/// sorted; with `long`, type, permission bits (`-` where the filesystem has none), size and
/// a link's target. A link to a directory lists the directory, as `ls` does; any other link
/// (to a file, dangling, looping) lists itself.
pub fn ls(disk: &DiskArgs, path: &OsStr, long: bool, limits: Limits) -> Result<()> {
    let Opened {
        mut instance, fs, ..
    } = open(disk, limits)?;
    let path = path.as_bytes();
    let shown = || printable_bytes(path);
    let metadata = instance.metadata(fs, path).with_context(shown)?;
    let listed = match metadata.kind {
        FileKind::Directory => Some(instance.list_dir(fs, path).with_context(shown)?),
        FileKind::Symlink => match instance.list_dir(fs, path) {
            Ok(entries) => Some(entries),
            Err(ReaderError::Fs(
                FsError::NotADirectory | FsError::NotFound | FsError::InvalidPath(_),
            )) => None,
            Err(error) => return Err(anyhow::Error::new(error).context(shown())),
        },
        FileKind::File | FileKind::Other => None,
    };
    // Each entry with its path, for a link's target. Names in a directory are shown as names;
    // a file (or link) listed itself, as its path.
    let (mut entries, show): (Vec<Listed>, Show) = match listed {
        Some(entries) => {
            let listed = entries
                .into_iter()
                .map(|entry| {
                    let mut full = path.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&entry.name);
                    (entry, full)
                })
                .collect();
            (listed, printable_name)
        }
        None => {
            let entry = blockpart_host::DirEntry {
                name: path.to_vec(),
                metadata,
            };
            (vec![(entry, path.to_vec())], printable_bytes)
        }
    };
    entries.sort_by(|(a, _), (b, _)| a.name.cmp(&b.name));
    let mut out = io::stdout().lock();
    for (entry, full) in &entries {
        let name = show(&entry.name);
        let line = if long {
            let md = entry.metadata;
            let kind = match md.kind {
                FileKind::File => "file",
                FileKind::Directory => "dir",
                FileKind::Symlink => "link",
                FileKind::Other => "other",
            };
            let mode = md
                .mode
                .map_or_else(|| "-".to_owned(), |mode| format!("{mode:04o}"));
            let target = if md.kind == FileKind::Symlink {
                let target = instance
                    .read_link(fs, full)
                    .with_context(|| printable_bytes(full))?;
                format!(" -> {}", printable_bytes(&target))
            } else {
                String::new()
            };
            format!("{kind:<5} {mode:>4} {:>12} {name}{target}\n", md.size)
        } else {
            format!("{name}\n")
        };
        out.write_all(line.as_bytes())
            .context("writing to standard output")?;
    }
    out.flush().context("writing to standard output")
}

/// Copies file `path` to standard output, in chunks of [`CHUNK_BYTES`].
pub fn get(disk: &DiskArgs, path: &OsStr, limits: Limits) -> Result<()> {
    let Opened {
        mut instance, fs, ..
    } = open(disk, limits)?;
    let path = path.as_bytes();
    let shown = || printable_bytes(path);
    let metadata = instance.metadata(fs, path).with_context(shown)?;
    match metadata.kind {
        FileKind::Directory => bail!("{}: is a directory", shown()),
        FileKind::Other => bail!("{}: a special file, with no bytes to read", shown()),
        FileKind::File | FileKind::Symlink => {}
    }
    // A link's size is its target's length: no use for the bar.
    let progress = progress((metadata.kind == FileKind::File).then_some(metadata.size));
    let mut out = io::stdout().lock();
    let mut offset = 0u64;
    loop {
        let data = instance
            .read(fs, path, offset, CHUNK_BYTES)
            .with_context(|| format!("{}: reading at byte {offset}", shown()))?;
        if data.is_empty() {
            break;
        }
        out.write_all(&data).context("writing to standard output")?;
        let len = u64::try_from(data.len())?;
        progress.inc(len);
        offset = offset
            .checked_add(len)
            .context("a file of more than 2^64 bytes")?;
    }
    out.flush().context("writing to standard output")?;
    progress.finish_and_clear();
    Ok(())
}

/// A name or path from the disk, safe to print: UTF-8 as [`printable`] shows it, any other
/// byte as `\xNN`.
fn printable_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&printable(chunk.valid()));
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out
}

/// A name from a directory, as [`printable_bytes`] shows it, with a `/` in it (which no name
/// reached through a path holds, but a damaged or hostile filesystem's may) shown as `\x2f`,
/// so that it cannot pass for a path.
fn printable_name(name: &[u8]) -> String {
    name.split(|byte| *byte == b'/')
        .map(printable_bytes)
        .collect::<Vec<_>>()
        .join("\\x2f")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_disk_are_printed_escaped() {
        assert_eq!(printable_bytes(b"plain caf\xc3\xa9"), "plain café");
        assert_eq!(printable_bytes(b"a\x1b[2Jb\nc"), "a\\u{1b}[2Jb\\nc");
        assert_eq!(printable_bytes(b"bad\xff\xfe"), "bad\\xff\\xfe");
    }

    #[test]
    fn a_name_holding_a_slash_cannot_pass_for_a_path() {
        assert_eq!(printable_name(b"/etc/passwd"), "\\x2fetc\\x2fpasswd");
        assert_eq!(printable_name(b"a\nb/\xff"), "a\\nb\\x2f\\xff");
        assert_eq!(printable_bytes(b"/etc/passwd"), "/etc/passwd");
    }
}
