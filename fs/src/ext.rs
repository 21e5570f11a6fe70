//! ext2, ext3 and ext4, read by the `ext4-view` crate.

use std::cell::RefCell;
use std::rc::Rc;

use ext4_view::{Ext4, Ext4Read, FileType};

use crate::{DirEntry, Error, FileKind, FsKind, Metadata, ReadAt};

/// Where the superblock lies, and the fields of it read here (ext4's `struct ext4_super_block`).
const SUPERBLOCK: usize = 1024;
const MAGIC: usize = 0x38;
const FEATURE_COMPAT: usize = 0x5C;
const FEATURE_INCOMPAT: usize = 0x60;
const FEATURE_RO_COMPAT: usize = 0x64;
/// `COMPAT_HAS_JOURNAL`: ext3 and later.
const HAS_JOURNAL: u32 = 0x4;
/// Features only ext4 has: `INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG`, and
/// `RO_COMPAT_HUGE_FILE | GDT_CSUM | DIR_NLINK | EXTRA_ISIZE | METADATA_CSUM`.
const EXT4_INCOMPAT: u32 = 0x40 | 0x80 | 0x200;
const EXT4_RO_COMPAT: u32 = 0x8 | 0x10 | 0x20 | 0x40 | 0x400;

fn field(head: &[u8], at: usize) -> Option<u32> {
    let at = SUPERBLOCK.checked_add(at)?;
    let bytes = head.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Which ext it is, from the superblock in `head` (the partition's first 2 KiB), if any.
pub(crate) fn detect(head: &[u8]) -> Option<FsKind> {
    let magic = SUPERBLOCK.checked_add(MAGIC)?;
    if head.get(magic..magic.checked_add(2)?) != Some(&[0x53, 0xEF][..]) {
        return None;
    }
    let incompat = field(head, FEATURE_INCOMPAT)?;
    let ro_compat = field(head, FEATURE_RO_COMPAT)?;
    Some(
        if incompat & EXT4_INCOMPAT != 0 || ro_compat & EXT4_RO_COMPAT != 0 {
            FsKind::Ext4
        } else if field(head, FEATURE_COMPAT)? & HAS_JOURNAL != 0 {
            FsKind::Ext3
        } else {
            FsKind::Ext2
        },
    )
}

/// The partition, shared with ext4-view, which wants it boxed and `'static`.
struct Reader(Rc<RefCell<dyn ReadAt>>);

impl Ext4Read for Reader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        Ok(self.0.borrow_mut().read_at(start_byte, dst)?)
    }
}

pub(crate) struct Ext {
    fs: Ext4,
    /// The file the last read left off in, and its path: a read that goes on from there
    /// continues it, where a fresh open would walk the file's blocks from its start.
    open: Option<(Vec<u8>, ext4_view::File)>,
}

/// `/` and the components joined, as ext4-view wants an absolute path.
fn absolute(path: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for component in path {
        out.push(b'/');
        out.extend_from_slice(component);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn path(bytes: &[u8]) -> Result<ext4_view::Path<'_>, Error> {
    ext4_view::Path::try_from(bytes).map_err(|e| Error::InvalidPath(e.to_string()))
}

fn metadata(md: &ext4_view::Metadata) -> Metadata {
    let kind = match md.file_type() {
        FileType::Regular => FileKind::File,
        FileType::Directory => FileKind::Directory,
        FileType::Symlink => FileKind::Symlink,
        _ => FileKind::Other,
    };
    Metadata {
        kind,
        size: md.len(),
        mode: Some(md.mode()),
    }
}

impl Ext {
    pub(crate) fn open(partition: impl ReadAt + 'static) -> Result<Self, Error> {
        let shared: Rc<RefCell<dyn ReadAt>> = Rc::new(RefCell::new(partition));
        Ok(Self {
            fs: Ext4::load(Box::new(Reader(shared)))?,
            open: None,
        })
    }

    pub(crate) fn list_dir(&mut self, components: &[&[u8]]) -> Result<Vec<DirEntry>, Error> {
        let bytes = absolute(components);
        let mut entries = Vec::new();
        for entry in self.fs.read_dir(path(&bytes)?)? {
            let entry = entry?;
            let name = entry.file_name();
            if name.as_ref() == b"." || name.as_ref() == b".." {
                continue;
            }
            entries.push(DirEntry {
                name: name.as_ref().to_vec(),
                metadata: metadata(&entry.metadata()?),
            });
        }
        Ok(entries)
    }

    pub(crate) fn metadata(&mut self, components: &[&[u8]]) -> Result<Metadata, Error> {
        let bytes = absolute(components);
        Ok(metadata(&self.fs.symlink_metadata(path(&bytes)?)?))
    }

    pub(crate) fn read(
        &mut self,
        components: &[&[u8]],
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, Error> {
        let bytes = absolute(components);
        let mut file = match self.open.take() {
            Some((open, file)) if open == bytes && file.position() == offset => file,
            _ => {
                let mut file = self.fs.open(path(&bytes)?)?;
                // ext4-view seeks by stepping through the blocks before `offset`: never
                // past the end, where there is nothing to read.
                if offset >= file.metadata().len() {
                    return Ok(Vec::new());
                }
                file.seek_to(offset)?;
                file
            }
        };
        let size = file.metadata().len();
        let want = size.saturating_sub(offset).min(len);
        let mut data = vec![
            0;
            usize::try_from(want).map_err(|_| Error::TooLarge {
                asked: len,
                most: crate::MAX_READ
            })?
        ];
        let mut filled = 0usize;
        while let Some(rest) = data.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            match file.read_bytes(rest)? {
                0 => break,
                n => filled = filled.saturating_add(n),
            }
        }
        data.truncate(filled);
        self.open = Some((bytes, file));
        Ok(data)
    }

    pub(crate) fn read_link(&mut self, components: &[&[u8]]) -> Result<Vec<u8>, Error> {
        let bytes = absolute(components);
        let target = self.fs.read_link(path(&bytes)?)?;
        Ok(target.as_ref().to_vec())
    }
}
