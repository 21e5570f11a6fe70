//! Whether a compile cache directory is safe to load native code from.
//!
//! Code loaded from the cache runs outside the sandbox, unchecked: whoever can write an entry
//! can run code as us. So, as ssh does with its files, the cache is used only if nobody else
//! can write to it: every entry must be ours and writable by us alone, and every directory
//! above it ours or root's, and not writable by others (unless sticky, as `/tmp` is).

use std::fs::{self, Metadata};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a cache directory is not used.
#[derive(Debug, thiserror::Error)]
pub enum UntrustedCache {
    /// A path belongs to another user.
    #[error("{path} belongs to user {owner}, not to this user ({us})")]
    Owner {
        /// The path.
        path: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// Our effective uid.
        us: u32,
    },
    /// A path can be written by users other than its owner.
    #[error("{path} can be written by other users (mode {mode:o})")]
    Writable {
        /// The path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// An entry is a symbolic link, which could point anywhere.
    #[error("{path} is a symbolic link")]
    Symlink {
        /// The path.
        path: PathBuf,
    },
    /// A path could not be inspected.
    #[error("cannot inspect {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

const GROUP_OR_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;
const ROOT: u32 = 0;

/// Checks `dir` (absolute, as wasmtime makes it), everything inside it, and every directory
/// above it.
pub fn check(dir: &Path) -> Result<(), UntrustedCache> {
    let us = rustix::process::geteuid().as_raw();
    for ancestor in dir.ancestors().skip(1) {
        let metadata = inspect(ancestor)?;
        owned_by(ancestor, &metadata, &[us, ROOT], us)?;
        let mode = metadata.permissions().mode();
        if mode & GROUP_OR_OTHER_WRITE != 0 && mode & STICKY == 0 {
            return Err(writable(ancestor, mode));
        }
    }
    check_tree(dir, us)
}

/// `path` and, if it is a directory, everything in it: ours, writable by us alone, and no
/// symbolic links.
fn check_tree(path: &Path, us: u32) -> Result<(), UntrustedCache> {
    let metadata = inspect(path)?;
    if metadata.file_type().is_symlink() {
        return Err(UntrustedCache::Symlink {
            path: path.to_owned(),
        });
    }
    owned_by(path, &metadata, &[us], us)?;
    let mode = metadata.permissions().mode();
    if mode & GROUP_OR_OTHER_WRITE != 0 {
        return Err(writable(path, mode));
    }
    if metadata.is_dir() {
        let entries = fs::read_dir(path).map_err(|source| io(path, source))?;
        for entry in entries {
            let entry = entry.map_err(|source| io(path, source))?;
            check_tree(&entry.path(), us)?;
        }
    }
    Ok(())
}

fn inspect(path: &Path) -> Result<Metadata, UntrustedCache> {
    fs::symlink_metadata(path).map_err(|source| io(path, source))
}

fn owned_by(
    path: &Path,
    metadata: &Metadata,
    owners: &[u32],
    us: u32,
) -> Result<(), UntrustedCache> {
    if owners.contains(&metadata.uid()) {
        return Ok(());
    }
    Err(UntrustedCache::Owner {
        path: path.to_owned(),
        owner: metadata.uid(),
        us,
    })
}

fn writable(path: &Path, mode: u32) -> UntrustedCache {
    UntrustedCache::Writable {
        path: path.to_owned(),
        mode: mode & 0o7777,
    }
}

fn io(path: &Path, source: std::io::Error) -> UntrustedCache {
    UntrustedCache::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn set_mode(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A cache directory as wasmtime leaves it, in a private temporary directory.
    fn cache() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        fs::create_dir_all(dir.join("modules/wasmtime-48")).unwrap();
        fs::write(dir.join("modules/wasmtime-48/entry"), b"code").unwrap();
        set_mode(root.path(), 0o700);
        (root, dir)
    }

    #[test]
    fn a_cache_only_we_can_write_is_used() {
        let (_root, dir) = cache();
        check(&dir).unwrap();
    }

    #[test]
    fn an_entry_others_can_write_is_refused() {
        let (_root, dir) = cache();
        let entry = dir.join("modules/wasmtime-48/entry");
        set_mode(&entry, 0o666);
        let error = check(&dir).unwrap_err();
        assert!(matches!(&error, UntrustedCache::Writable { path, mode: 0o666 } if *path == entry));
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let (_root, dir) = cache();
        set_mode(&dir.join("modules"), 0o777);
        assert!(matches!(check(&dir), Err(UntrustedCache::Writable { .. })));
        // Above the cache too, unless sticky.
        let (root, dir) = cache();
        set_mode(root.path(), 0o777);
        assert!(matches!(check(&dir), Err(UntrustedCache::Writable { .. })));
        set_mode(root.path(), 0o1777);
        check(&dir).unwrap();
    }

    #[test]
    fn a_symbolic_link_in_the_cache_is_refused() {
        let (_root, dir) = cache();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("modules/link")).unwrap();
        assert!(matches!(check(&dir), Err(UntrustedCache::Symlink { .. })));
    }

    #[test]
    fn an_entry_of_another_user_is_refused() {
        if !rustix::process::geteuid().is_root() {
            return; // Only root can give a file away; the check itself is the same.
        }
        let (_root, dir) = cache();
        let entry = dir.join("modules/wasmtime-48/entry");
        std::os::unix::fs::chown(&entry, Some(12345), None).unwrap();
        let error = check(&dir).unwrap_err();
        assert!(
            matches!(error, UntrustedCache::Owner { owner: 12345, .. }),
            "{error}"
        );
    }
}
