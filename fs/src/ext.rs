//! ext2, ext3 and ext4, read by the `ext4-view` crate.

use std::cell::RefCell;
use std::rc::Rc;

use ext4_view::{Ext4, Ext4Read, FileType};

use crate::{DirEntry, Error, FileKind, FsKind, Metadata, ReadAt};

/// Where the superblock lies, and the fields of it read here (ext4's `struct ext4_super_block`).
const SUPERBLOCK: usize = 1024;
const MAGIC: usize = 0x38;
const LOG_BLOCK_SIZE: usize = 0x18;
const FEATURE_COMPAT: usize = 0x5C;
const FEATURE_INCOMPAT: usize = 0x60;
const FEATURE_RO_COMPAT: usize = 0x64;
/// `COMPAT_HAS_JOURNAL`: ext3 and later.
const HAS_JOURNAL: u32 = 0x4;
/// Features only ext4 has: `INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG`, and
/// `RO_COMPAT_HUGE_FILE | GDT_CSUM | DIR_NLINK | EXTRA_ISIZE | METADATA_CSUM`.
const EXT4_INCOMPAT: u32 = 0x40 | 0x80 | 0x200;
const EXT4_RO_COMPAT: u32 = 0x8 | 0x10 | 0x20 | 0x40 | 0x400;

/// `INCOMPAT_` features ext4-view 1.0 reads: `filetype` (which it needs), `needs_recovery`,
/// `extent`, `64bit`, `flex_bg`, `metadata_csum_seed` and `encrypt` (an encrypted file is
/// refused on its own). It refuses a filesystem with any other.
const READ_INCOMPAT: u32 = 0x2 | 0x4 | 0x40 | 0x80 | 0x200 | 0x2000 | 0x1_0000;
/// `INCOMPAT_FILETYPE`.
const FILETYPE: u32 = 0x2;
/// The `INCOMPAT_` features by the names `mke2fs -O` and `tune2fs -l` give them.
const INCOMPAT_NAMES: [(u32, &str); 16] = [
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x1_0000, "encrypt"),
    (0x2_0000, "casefold"),
];

/// Why ext4-view refused the filesystem whose superblock is in `head` as incompatible, in
/// the features' own names: its message prints them as bit flags
/// (`IncompatibleFeatures(0x20000)`). `None` when the features are not the reason (the
/// journal's can be), for ext4-view's message to say it.
fn incompatible(head: &[u8]) -> Option<Error> {
    let incompat = field(head, FEATURE_INCOMPAT)?;
    let unread = incompat & !READ_INCOMPAT;
    if unread != 0 {
        let names: Vec<String> = (0..32)
            .map(|bit| 1u32 << bit)
            .filter(|flag| unread & flag != 0)
            .map(
                |flag| match INCOMPAT_NAMES.iter().find(|(f, _)| *f == flag) {
                    Some((_, name)) => (*name).to_owned(),
                    None => format!("{flag:#x}"),
                },
            )
            .collect();
        return Some(Error::Unsupported(format!(
            "ext features this reader does not read: {}",
            names.join(", ")
        )));
    }
    (incompat & FILETYPE == 0).then(|| {
        Error::Unsupported(
            "an ext filesystem without the filetype feature, which this reader needs".into(),
        )
    })
}

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
    /// Bytes per block, from the superblock.
    block_size: u64,
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

/// Checks `md`'s size against the largest file the filesystem can map: 2^32 blocks (extents
/// and block maps both address at most that many). An inode that claims more is damaged; read
/// as it stands, it would stream zeros for petabytes.
fn checked(md: &ext4_view::Metadata, block_size: u64) -> Result<Metadata, Error> {
    let most = block_size.saturating_mul(1 << 32);
    let md = metadata(md);
    if md.size > most {
        return Err(Error::Damaged(format!(
            "an inode claims {} bytes; with {block_size}-byte blocks a file holds at most {most}",
            md.size
        )));
    }
    Ok(md)
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
    /// Opens the ext filesystem whose superblock is in `head` (see [`detect`]).
    pub(crate) fn open(partition: impl ReadAt + 'static, head: &[u8]) -> Result<Self, Error> {
        let shared: Rc<RefCell<dyn ReadAt>> = Rc::new(RefCell::new(partition));
        let fs = Ext4::load(Box::new(Reader(shared))).map_err(|error| {
            match (&error, incompatible(head)) {
                (ext4_view::Ext4Error::Incompatible(_), Some(named)) => named,
                _ => Error::from(error),
            }
        })?;
        // ext4-view checked `s_log_block_size` (1 KiB to 64 KiB) in loading.
        let log = field(head, LOG_BLOCK_SIZE).unwrap_or(0).min(6);
        Ok(Self {
            fs,
            block_size: 1024u64 << log,
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
                metadata: checked(&entry.metadata()?, self.block_size)?,
            });
        }
        Ok(entries)
    }

    pub(crate) fn metadata(&mut self, components: &[&[u8]]) -> Result<Metadata, Error> {
        let bytes = absolute(components);
        checked(&self.fs.symlink_metadata(path(&bytes)?)?, self.block_size)
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
                checked(file.metadata(), self.block_size)?;
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
