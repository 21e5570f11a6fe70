//! An open filesystem: ext2/3/4 through ext4-view, FAT through fatfs, detected by its first
//! bytes.

use crate::{DirEntry, Error, FsKind, MAX_READ, Metadata, ReadAt, ext, fat};

/// An open filesystem, read-only.
pub struct Filesystem {
    kind: FsKind,
    inner: Inner,
}

enum Inner {
    // Boxed: ext4-view's state is large beside fatfs's.
    Ext(Box<ext::Ext>),
    Fat(fat::Fat),
}

impl Filesystem {
    /// Detects the filesystem on `partition` and opens it.
    pub fn open(partition: impl ReadAt + 'static) -> Result<Self, Error> {
        let mut partition = partition;
        let head = read_head(&mut partition)?;
        if let Some(kind) = ext::detect(&head) {
            return Ok(Self {
                kind,
                inner: Inner::Ext(Box::new(guarded(|| ext::Ext::open(partition, &head))?)),
            });
        }
        if fat::detect(&head) {
            let fat = guarded(|| fat::Fat::open(partition))?;
            return Ok(Self {
                kind: fat.kind(),
                inner: Inner::Fat(fat),
            });
        }
        Err(Error::Unsupported(
            "no ext2/3/4 superblock or FAT boot sector".into(),
        ))
    }

    /// Which filesystem it is.
    pub fn kind(&self) -> FsKind {
        self.kind
    }

    /// The entries of directory `path` (`.` and `..` left out), in the directory's order.
    /// A final symbolic link is followed.
    pub fn list_dir(&mut self, path: &[u8]) -> Result<Vec<DirEntry>, Error> {
        let path = components(path)?;
        match &mut self.inner {
            Inner::Ext(fs) => guarded(|| fs.list_dir(&path)),
            Inner::Fat(fs) => guarded(|| fs.list_dir(&path)),
        }
    }

    /// What `path` is; a final symbolic link is not followed.
    pub fn metadata(&mut self, path: &[u8]) -> Result<Metadata, Error> {
        let path = components(path)?;
        match &mut self.inner {
            Inner::Ext(fs) => guarded(|| fs.metadata(&path)),
            Inner::Fat(fs) => guarded(|| fs.metadata(&path)),
        }
    }

    /// Up to `len` bytes of file `path` from byte `offset`: fewer only at the end of the file,
    /// none from its end on. A final symbolic link is followed. `len` is at most [`MAX_READ`].
    pub fn read(&mut self, path: &[u8], offset: u64, len: u64) -> Result<Vec<u8>, Error> {
        if len > MAX_READ {
            return Err(Error::TooLarge {
                asked: len,
                most: MAX_READ,
            });
        }
        let path = components(path)?;
        match &mut self.inner {
            Inner::Ext(fs) => guarded(|| fs.read(&path, offset, len)),
            Inner::Fat(fs) => guarded(|| fs.read(&path, offset, len)),
        }
    }

    /// The target of symbolic link `path`, as stored.
    pub fn read_link(&mut self, path: &[u8]) -> Result<Vec<u8>, Error> {
        let path = components(path)?;
        match &mut self.inner {
            Inner::Ext(fs) => guarded(|| fs.read_link(&path)),
            // FAT has no symbolic links; the path still has to exist.
            Inner::Fat(fs) => guarded(|| fs.metadata(&path)).and(Err(Error::NotASymlink)),
        }
    }
}

/// Runs `f`, a call into ext4-view or fatfs. Both are meant to return errors on bad images,
/// but have panicking paths (ext4-view 1.0.0 unwraps when reading past a hole it could not
/// map): where panics unwind (native builds), one becomes [`Error::Damaged`]. In the
/// component, built with `panic = "abort"`, it is a trap, which the host reports as the
/// call's failure.
fn guarded<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    #[cfg(panic = "unwind")]
    {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
            Err(Error::Damaged(
                "the filesystem reader gave up on it (a panic inside it)".into(),
            ))
        })
    }
    #[cfg(not(panic = "unwind"))]
    {
        f()
    }
}

/// Bytes the longest path may have, as Linux's `PATH_MAX`.
const MAX_PATH: usize = 4096;

/// `path`'s components, with empty ones and `.` left out: `/a//b/.` is `a`, `b`; relative
/// paths are from the root.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, Error> {
    if path.len() > MAX_PATH {
        return Err(Error::InvalidPath(format!(
            "{} bytes long; at most {MAX_PATH}",
            path.len()
        )));
    }
    if path.contains(&0) {
        return Err(Error::InvalidPath("a NUL byte in it".into()));
    }
    Ok(path
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect())
}

/// The first 2 KiB of the partition (less if it is smaller): where both superblocks lie.
fn read_head(partition: &mut impl ReadAt) -> Result<Vec<u8>, Error> {
    let len = partition.size().min(2048);
    let mut head = vec![0; usize::try_from(len).unwrap_or(0)];
    partition.read_at(0, &mut head)?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_into_their_named_components() {
        assert_eq!(components(b"/a//b/./c/").unwrap(), [b"a", b"b", b"c"]);
        assert!(components(b"/").unwrap().is_empty());
        assert!(components(b"").unwrap().is_empty());
        assert_eq!(components(b"a/../b").unwrap(), [&b"a"[..], b"..", b"b"]);
        assert!(matches!(components(b"a\0b"), Err(Error::InvalidPath(_))));
    }

    #[test]
    fn bytes_that_hold_no_filesystem_are_unsupported() {
        for bytes in [vec![], vec![0; 100], vec![0xff; 1 << 20]] {
            assert!(matches!(
                Filesystem::open(bytes),
                Err(Error::Unsupported(_))
            ));
        }
    }
}
