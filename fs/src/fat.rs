//! FAT12, FAT16 and FAT32, read by the `fatfs` crate.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

use fatfs::{FatType, FileSystem, FsOptions};

use crate::error::from_fat;
use crate::{DirEntry, Error, FileKind, FsKind, Metadata, ReadAt};

/// Whether `head` (the partition's first bytes) starts with a FAT boot sector: a jump
/// instruction, a sector size fatfs reads, and the boot signature. fatfs checks the rest.
pub(crate) fn detect(head: &[u8]) -> bool {
    let jump = matches!(head.first(), Some(0xEB | 0xE9));
    let sector_size = head
        .get(11..13)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_le_bytes)
        .is_some_and(|size| size.is_power_of_two() && (512..=4096).contains(&size));
    let signature = head.get(510..512) == Some(&[0x55, 0xAA][..]);
    jump && sector_size && signature
}

/// The partition as fatfs wants it: a stream with a position. It never writes.
struct Disk {
    partition: Rc<RefCell<dyn ReadAt>>,
    position: u64,
}

impl Read for Disk {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut partition = self.partition.borrow_mut();
        let left = partition.size().saturating_sub(self.position);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let dst = buf.get_mut(..n).unwrap_or_default();
        partition
            .read_at(self.position, dst)
            .map_err(io::Error::other)?;
        self.position = self.position.saturating_add(u64::try_from(n).unwrap_or(0));
        Ok(n)
    }
}

impl Write for Disk {
    fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Disk {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let size = self.partition.borrow().size();
        let position = match to {
            SeekFrom::Start(at) => Some(at),
            SeekFrom::End(delta) => size.checked_add_signed(delta),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
        };
        self.position = position.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start")
        })?;
        Ok(self.position)
    }
}

/// Most entries a FAT directory may hold (65536 slots of 32 bytes): a listing past this is
/// a cluster chain that loops, stopped here rather than read forever.
const MAX_ENTRIES: usize = 65536;

type Entry<'a> = fatfs::DirEntry<'a, Disk>;
type Dir<'a> = fatfs::Dir<'a, Disk>;

pub(crate) struct Fat {
    fs: FileSystem<Disk>,
}

fn kind(entry: &Entry<'_>) -> FileKind {
    if entry.is_dir() {
        FileKind::Directory
    } else {
        FileKind::File
    }
}

fn metadata(entry: &Entry<'_>) -> Metadata {
    Metadata {
        kind: kind(entry),
        size: if entry.is_dir() { 0 } else { entry.len() },
        mode: None,
    }
}

/// `entry`'s name as Linux and Windows show it: its long name as stored (`Makefile`,
/// `MiXeD.TxT`), or, for an entry with none, its short name, upper case on disk, with a flag
/// each for a base and an extension to show in lower case (as mtools writes `hello.txt` or
/// `données`).
///
/// fatfs says which it has only through the text: without a long name, `file_name` is the
/// short name with the ASCII letters of each flagged part lowered, and only those. A name
/// that is exactly that is taken for the flags, and the rest of each flagged part is lowered
/// here; any other is a long name. (A long name that is its short name with whole parts
/// ASCII-lowered and other capitals kept, `donnÉes`, shows as `données`: a tool writes flags
/// for it, not a long name.)
fn name(entry: &Entry<'_>) -> String {
    let long = entry.file_name();
    let short = entry.short_file_name();
    let (base, ext) = match short.rsplit_once('.') {
        Some((base, ext)) => (base, Some(ext)),
        None => (short.as_str(), None),
    };
    let shown = |lower: fn(&str) -> String, lower_base: bool, lower_ext: bool| {
        let part = |part: &str, flagged: bool| {
            if flagged {
                lower(part)
            } else {
                part.to_owned()
            }
        };
        match ext {
            Some(ext) => format!("{}.{}", part(base, lower_base), part(ext, lower_ext)),
            None => part(base, lower_base),
        }
    };
    let flags = [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .find(|&(lower_base, lower_ext)| {
            shown(str::to_ascii_lowercase, lower_base, lower_ext) == long
        });
    match flags {
        Some((lower_base, lower_ext)) => shown(str::to_lowercase, lower_base, lower_ext),
        None => long,
    }
}

/// Whether `name` names `entry`: FAT compares names without regard to case, long or short.
fn names(entry: &Entry<'_>, name: &str) -> bool {
    let upper = |s: &str| s.chars().flat_map(char::to_uppercase).collect::<String>();
    let name = upper(name);
    upper(&self::name(entry)) == name || upper(&entry.short_file_name()) == name
}

/// Every entry of `dir` but `.` and `..`, at most [`MAX_ENTRIES`] of them.
fn entries<'a>(dir: &Dir<'a>) -> Result<Vec<Entry<'a>>, Error> {
    let mut out = Vec::new();
    for (count, entry) in dir.iter().enumerate() {
        if count >= MAX_ENTRIES {
            return Err(Error::Damaged(format!(
                "a directory of more than {MAX_ENTRIES} entries: its cluster chain loops"
            )));
        }
        let entry = entry.map_err(|e| from_fat(&e))?;
        let short = entry.short_file_name();
        if short != "." && short != ".." {
            out.push(entry);
        }
    }
    Ok(out)
}

impl Fat {
    pub(crate) fn open(partition: impl ReadAt + 'static) -> Result<Self, Error> {
        let disk = Disk {
            partition: Rc::new(RefCell::new(partition)),
            position: 0,
        };
        // Reading must not write: no access dates.
        let options = FsOptions::new()
            .update_accessed_date(false)
            .oem_cp_converter(&crate::code_page::CP850);
        let fs = FileSystem::new(disk, options).map_err(|e| match from_fat(&e) {
            Error::Damaged(why) => Error::Damaged(format!("FAT boot sector: {why}")),
            other => other,
        })?;
        Ok(Self { fs })
    }

    pub(crate) fn kind(&self) -> FsKind {
        match self.fs.fat_type() {
            FatType::Fat12 => FsKind::Fat12,
            FatType::Fat16 => FsKind::Fat16,
            FatType::Fat32 => FsKind::Fat32,
        }
    }

    /// The entry `path` names; `None` for the root, which has none.
    fn find(&self, path: &[&[u8]]) -> Result<Option<Entry<'_>>, Error> {
        let mut found: Option<Entry<'_>> = None;
        for component in path {
            let dir = match &found {
                None => self.fs.root_dir(),
                Some(entry) if entry.is_dir() => entry.to_dir(),
                Some(_) => return Err(Error::NotADirectory),
            };
            // Names on FAT are Unicode: bytes that are not UTF-8 name nothing.
            let name = std::str::from_utf8(component).map_err(|_| Error::NotFound)?;
            let entry = entries(&dir)?
                .into_iter()
                .find(|entry| names(entry, name))
                .ok_or(Error::NotFound)?;
            found = Some(entry);
        }
        Ok(found)
    }

    pub(crate) fn list_dir(&mut self, path: &[&[u8]]) -> Result<Vec<DirEntry>, Error> {
        let dir = match self.find(path)? {
            None => self.fs.root_dir(),
            Some(entry) if entry.is_dir() => entry.to_dir(),
            Some(_) => return Err(Error::NotADirectory),
        };
        Ok(entries(&dir)?
            .iter()
            .map(|entry| DirEntry {
                name: name(entry).into_bytes(),
                metadata: metadata(entry),
            })
            .collect())
    }

    pub(crate) fn metadata(&mut self, path: &[&[u8]]) -> Result<Metadata, Error> {
        Ok(match self.find(path)? {
            None => Metadata {
                kind: FileKind::Directory,
                size: 0,
                mode: None,
            },
            Some(entry) => metadata(&entry),
        })
    }

    pub(crate) fn read(&mut self, path: &[&[u8]], offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        let entry = match self.find(path)? {
            Some(entry) if !entry.is_dir() => entry,
            _ => return Err(Error::IsADirectory),
        };
        let size = entry.len();
        let want = size.saturating_sub(offset).min(len);
        let mut data = vec![0; usize::try_from(want).unwrap_or(0)];
        if data.is_empty() {
            return Ok(data);
        }
        let mut file = entry.to_file();
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| from_fat(&e))?;
        let mut filled = 0usize;
        while let Some(rest) = data.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            match file.read(rest).map_err(|e| from_fat(&e))? {
                0 => {
                    return Err(Error::Damaged(format!(
                        "the file's clusters end before its size ({size} bytes)"
                    )));
                }
                n => filled = filled.saturating_add(n),
            }
        }
        Ok(data)
    }
}
