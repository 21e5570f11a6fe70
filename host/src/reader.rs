//! The filesystem reader composed on the partitioner (feature `fs`): one component, built by
//! `build.rs` with wac, that takes a disk and gives its partitions' files. Its engine, limits,
//! store and devices are the partitioner's (`runtime/`), and it opens its partition as an
//! [`Instance`] does; only the filesystem calls are its own.

use blockpart_core::BlockDevice;
pub use blockpart_fs::{DirEntry, FileKind, FsKind, Metadata};
use wasmtime::Store;
use wasmtime::component::{self, InstancePre, ResourceAny};

use crate::Instance;
use crate::runtime::bindings::{Partitioner, PartitionerIndices};
use crate::runtime::{Compiled, Exports, State, constructors};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../components/fs-reader/wit",
        world: "reader-on-partitioner",
        // The device side is the partitioner's, with its host implementation.
        with: {
            "blockpart:partition/types": crate::runtime::bindings::blockpart::partition::types,
            "blockpart:partition/block-device": crate::runtime::bindings::blockpart::partition::block_device,
        },
        imports: { default: trappable },
    });
}

use bindings::exports::blockpart_fs::reader::filesystem as wit;

/// The filesystem reader composed on the built-in partitioner, as built by `build.rs`.
pub const READER_COMPONENT: &[u8] = include_bytes!(env!("BLOCKPART_READER_COMPONENT"));

/// The filesystem reader on the partitioner on the image reader, composed by `build.rs`: one
/// component of world `reader-on-image` (`components/image-reader/wit`) that imports only the
/// image reader's `file` and exports virtual disks, partitions and files. For hosts that run
/// the whole stack in one sandbox; this crate's own hosts stack the image reader and the
/// partitioner at run time instead, so that the host reads the mapped bytes itself.
pub const READER_ON_IMAGE_COMPONENT: &[u8] =
    include_bytes!(env!("BLOCKPART_READER_ON_IMAGE_COMPONENT"));

/// Why a filesystem call failed.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    /// The filesystem refused the request, or is damaged.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The partition or its table could not be opened (`Error::Guest`: the partitioner
    /// trapped while doing so): make a fresh instance after a trap.
    #[error(transparent)]
    Host(#[from] crate::Error),
    /// A call into the filesystem trapped (a limit, a panic) or broke the contract: in the
    /// reader, or in the partitioner it reads through, as one composed component they cannot
    /// be told apart. Make a fresh instance.
    #[error("the filesystem reader failed: {0:#}")]
    Guest(wasmtime::Error),
}

impl From<wasmtime::Error> for ReaderError {
    fn from(error: wasmtime::Error) -> Self {
        Self::Guest(error)
    }
}

/// The reader's own errors (the WIT `error` of `blockpart-fs:reader/filesystem`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// No such file or directory.
    #[error("no such file or directory")]
    NotFound,
    /// A path component, or the path listed, is not a directory.
    #[error("not a directory")]
    NotADirectory,
    /// A directory, where a file's bytes were asked for.
    #[error("is a directory")]
    IsADirectory,
    /// A special file, with no bytes to read.
    #[error("a special file, with no bytes to read")]
    NotAFile,
    /// Not a symbolic link.
    #[error("not a symbolic link")]
    NotASymlink,
    /// The path names nothing.
    #[error("invalid path: {0}")]
    InvalidPath(String),
    /// A read longer than one call returns (this many bytes).
    #[error("a read longer than the {0} bytes one call returns")]
    TooLarge(u64),
    /// No filesystem the reader knows.
    #[error("unsupported filesystem: {0}")]
    Unsupported(String),
    /// The filesystem is damaged.
    #[error("damaged filesystem: {0}")]
    Damaged(String),
    /// Reading the partition failed.
    #[error("I/O error: {0}")]
    Io(String),
}

impl From<wit::Error> for FsError {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::NotFound => Self::NotFound,
            wit::Error::NotADirectory => Self::NotADirectory,
            wit::Error::IsADirectory => Self::IsADirectory,
            wit::Error::NotAFile => Self::NotAFile,
            wit::Error::NotASymlink => Self::NotASymlink,
            wit::Error::InvalidPath(why) => Self::InvalidPath(why),
            wit::Error::TooLarge(most) => Self::TooLarge(most),
            wit::Error::Unsupported(why) => Self::Unsupported(why),
            wit::Error::Damaged(why) => Self::Damaged(why),
            wit::Error::Io(why) => Self::Io(why),
        }
    }
}

impl From<wit::Metadata> for Metadata {
    fn from(md: wit::Metadata) -> Self {
        Self {
            kind: match md.kind {
                wit::FileKind::File => FileKind::File,
                wit::FileKind::Directory => FileKind::Directory,
                wit::FileKind::Symlink => FileKind::Symlink,
                wit::FileKind::Other => FileKind::Other,
            },
            size: md.size,
            mode: md.mode,
        }
    }
}

/// What the host calls of the composition: the partitioner's exports, and the reader's.
#[derive(Clone)]
pub(crate) struct ReaderExports {
    partitioner: PartitionerIndices,
    files: wit::GuestIndices,
}

impl Exports for ReaderExports {
    type Loaded = (Partitioner, wit::Guest);

    fn find(pre: &InstancePre<State>) -> wasmtime::Result<Self> {
        Ok(Self {
            partitioner: PartitionerIndices::new(pre)?,
            files: wit::GuestIndices::new(pre)?,
        })
    }

    fn load(
        &self,
        store: &mut Store<State>,
        instance: &component::Instance,
    ) -> wasmtime::Result<Self::Loaded> {
        let partitioner = self.partitioner.load(&mut *store, instance)?;
        Ok((partitioner, self.files.load(store, instance)?))
    }
}

/// The composed reader, compiled, ready to be instantiated many times.
#[derive(Clone)]
pub struct ReaderRuntime(Compiled<ReaderExports>);

impl ReaderRuntime {
    constructors! {
        /// The built-in composition.
        new = READER_COMPONENT;

        /// Any component of the `reader-on-partitioner` world.
        from_component;

        /// Like [`ReaderRuntime::from_component`], with compiled code kept in wasmtime's cache
        /// directory, under the same rules as [`Runtime::cached`](crate::Runtime::cached).
        cached;

        /// Like [`ReaderRuntime::cached`], with the cache in `dir` (an absolute path).
        cached_in;

        /// The same runtime, its instances bound by `limits`.
        with_limits;
    }

    /// A fresh instance, with its own memory and no devices.
    pub fn instantiate(&self) -> wasmtime::Result<ReaderInstance> {
        let (store, (partitioner, files)) = self.0.instantiate()?;
        Ok(ReaderInstance {
            partitions: Instance::new(store, &partitioner),
            files,
        })
    }
}

/// A filesystem open in a [`ReaderInstance`], valid in that instance only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsHandle(ResourceAny);

/// An instance of the composed reader. After a trap ([`ReaderError::Guest`], or
/// [`ReaderError::Host`] with [`crate::Error::Guest`]), make a fresh one.
pub struct ReaderInstance {
    /// The partitioner's side of the composition, called as an [`Instance`] is.
    partitions: Instance,
    files: wit::Guest,
}

impl ReaderInstance {
    /// Opens the filesystem on `device`: on the whole of it, or on entry `partition` of its
    /// partition table. The partitioner reads the table; the reader, the filesystem.
    pub fn open(
        &mut self,
        device: impl BlockDevice + Send + 'static,
        partition: Option<u32>,
    ) -> Result<FsHandle, ReaderError> {
        let whole = self.partitions.whole(device)?;
        let part = match partition {
            None => whole,
            Some(number) => {
                let entry = self.partitions.open_entry(whole, number);
                // The entry keeps the device; the whole disk is no longer needed. After a
                // trap, the instance takes no more calls: the trap is the error.
                if !matches!(entry, Err(crate::Error::Guest(_))) {
                    self.partitions.drop_partition(whole)?;
                }
                entry?
            }
        };
        let fs = self
            .partitions
            .store
            .call("filesystem.open", |store| {
                self.files.filesystem().call_open(store, part.resource)
            })?
            .map_err(FsError::from)?;
        Ok(FsHandle(fs))
    }

    /// Which filesystem `fs` is.
    pub fn kind(&mut self, fs: FsHandle) -> Result<FsKind, ReaderError> {
        let kind = self.partitions.store.call("kind", |store| {
            self.files.filesystem().call_kind(store, fs.0)
        })?;
        Ok(match kind {
            wit::FsKind::Ext2 => FsKind::Ext2,
            wit::FsKind::Ext3 => FsKind::Ext3,
            wit::FsKind::Ext4 => FsKind::Ext4,
            wit::FsKind::Fat12 => FsKind::Fat12,
            wit::FsKind::Fat16 => FsKind::Fat16,
            wit::FsKind::Fat32 => FsKind::Fat32,
        })
    }

    /// The entries of directory `path` of `fs`.
    pub fn list_dir(&mut self, fs: FsHandle, path: &[u8]) -> Result<Vec<DirEntry>, ReaderError> {
        let entries = self
            .partitions
            .store
            .call("list-dir", |store| {
                self.files.filesystem().call_list_dir(store, fs.0, path)
            })?
            .map_err(FsError::from)?;
        Ok(entries
            .into_iter()
            .map(|entry| DirEntry {
                name: entry.name,
                metadata: entry.metadata.into(),
            })
            .collect())
    }

    /// What `path` of `fs` is.
    pub fn metadata(&mut self, fs: FsHandle, path: &[u8]) -> Result<Metadata, ReaderError> {
        let md = self
            .partitions
            .store
            .call("metadata", |store| {
                self.files.filesystem().call_metadata(store, fs.0, path)
            })?
            .map_err(FsError::from)?;
        Ok(md.into())
    }

    /// Up to `len` bytes (at most 16 MiB) of file `path` of `fs`, from byte `offset`. The
    /// guest's answer must be no longer than asked.
    pub fn read(
        &mut self,
        fs: FsHandle,
        path: &[u8],
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, ReaderError> {
        let data = self
            .partitions
            .store
            .call("read", |store| {
                self.files
                    .filesystem()
                    .call_read(store, fs.0, path, offset, len)
            })?
            .map_err(FsError::from)?;
        if u64::try_from(data.len()).map_or(true, |got| got > len) {
            return Err(wasmtime::format_err!(
                "asked for {len} bytes, the guest returned {}",
                data.len()
            )
            .into());
        }
        Ok(data)
    }

    /// The target of symbolic link `path` of `fs`.
    pub fn read_link(&mut self, fs: FsHandle, path: &[u8]) -> Result<Vec<u8>, ReaderError> {
        Ok(self
            .partitions
            .store
            .call("read-link", |store| {
                self.files.filesystem().call_read_link(store, fs.0, path)
            })?
            .map_err(FsError::from)?)
    }
}

#[cfg(test)]
mod tests {
    use blockpart_core::faulty_device::Faults;
    use blockpart_core::{FaultyDevice, SectorSize};
    use wasmtime::Engine;
    use wasmtime::component::Component;

    use super::*;
    use crate::FileDevice;

    #[test]
    fn a_failed_read_under_the_reader_is_told_in_words() {
        let file = tempfile::NamedTempFile::new().unwrap();
        file.as_file().set_len(64 * 512).unwrap();
        let disk = FileDevice::open(file.path(), SectorSize::B512, true).unwrap();
        let faults = Faults {
            bad_reads: Some(0..64),
            ..Faults::default()
        };
        let mut instance = ReaderRuntime::new().unwrap().instantiate().unwrap();
        let error = instance
            .open(FaultyDevice::new(disk, faults), None)
            .unwrap_err();
        let ReaderError::Fs(FsError::Io(message)) = &error else {
            panic!("{error}");
        };
        // Not the WIT type's debug text, `Device(DeviceError::Io("injected ...`.
        assert!(
            message.starts_with(
                "reading sector 0: device error: injected fault: Read of sectors 0..+"
            ),
            "{message}"
        );
    }

    #[test]
    fn the_composition_imports_the_device_interfaces_and_exports_partitions_and_files() {
        let engine = Engine::default();
        let component = Component::new(&engine, READER_COMPONENT).unwrap();
        let ty = component.component_type();
        let imports: Vec<_> = ty
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(
            imports,
            [
                "blockpart:partition/types@0.2.0",
                "blockpart:partition/block-device@0.2.0"
            ]
        );
        let exports: Vec<_> = ty
            .exports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(
            exports,
            [
                "blockpart:partition/partition@0.2.0",
                "blockpart:partition/partition-table@0.2.0",
                "blockpart-fs:reader/filesystem@0.1.0"
            ]
        );
    }
}
