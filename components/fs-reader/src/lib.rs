//! The filesystem reader as a component: `filesystem` over an imported `partition`. Glue only:
//! `blockpart-fs` does the reading, here the partition becomes its sectors and its types
//! become the WIT's.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

use std::cell::RefCell;

use blockpart_fs::{Aligned, FileKind, FsKind, IoError, Sectors};

// `wit/`: this component's own package; the contract is in `wit/deps/partition`.
// `generate_all`: bindings for the contract's interfaces too.
wit_bindgen::generate!({ path: "wit", world: "reader", generate_all });

use blockpart::partition::partition::Partition;
use blockpart::partition::types as partition;
use exports::blockpart_fs::reader::filesystem as wit;

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Filesystem = Filesystem;
}

/// The partition, as `blockpart-fs` reads it.
struct PartitionSectors {
    part: Partition,
    sector_size: u32,
    sectors: u64,
}

impl Sectors for PartitionSectors {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read_sectors(&mut self, start: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let len = u64::try_from(buf.len()).map_err(|e| IoError::Device(e.to_string()))?;
        let data = self
            .part
            .read(start, len)
            .map_err(|e| IoError::Device(format!("reading sector {start}: {}", refusal(e))))?;
        if data.len() != buf.len() {
            return Err(IoError::Device(format!(
                "the partition returned {} bytes for {len}",
                data.len()
            )));
        }
        buf.copy_from_slice(&data);
        Ok(())
    }
}

struct Filesystem(RefCell<blockpart_fs::Filesystem>);

impl wit::GuestFilesystem for Filesystem {
    fn open(part: Partition) -> Result<wit::Filesystem, wit::Error> {
        let info = part.info();
        let sectors = PartitionSectors {
            part,
            sector_size: info.sector_size,
            sectors: info.size_sectors,
        };
        let fs = blockpart_fs::Filesystem::open(Aligned::new(sectors)).map_err(error)?;
        Ok(wit::Filesystem::new(Self(RefCell::new(fs))))
    }

    fn kind(&self) -> wit::FsKind {
        match self.0.borrow().kind() {
            FsKind::Ext2 => wit::FsKind::Ext2,
            FsKind::Ext3 => wit::FsKind::Ext3,
            FsKind::Ext4 => wit::FsKind::Ext4,
            FsKind::Fat12 => wit::FsKind::Fat12,
            FsKind::Fat16 => wit::FsKind::Fat16,
            FsKind::Fat32 => wit::FsKind::Fat32,
        }
    }

    fn list_dir(&self, path: Vec<u8>) -> Result<Vec<wit::DirEntry>, wit::Error> {
        let entries = self.0.borrow_mut().list_dir(&path).map_err(error)?;
        Ok(entries
            .into_iter()
            .map(|entry| wit::DirEntry {
                name: entry.name,
                metadata: metadata(entry.metadata),
            })
            .collect())
    }

    fn metadata(&self, path: Vec<u8>) -> Result<wit::Metadata, wit::Error> {
        self.0
            .borrow_mut()
            .metadata(&path)
            .map(metadata)
            .map_err(error)
    }

    fn read(&self, path: Vec<u8>, offset: u64, len: u64) -> Result<Vec<u8>, wit::Error> {
        self.0.borrow_mut().read(&path, offset, len).map_err(error)
    }

    fn read_link(&self, path: Vec<u8>) -> Result<Vec<u8>, wit::Error> {
        self.0.borrow_mut().read_link(&path).map_err(error)
    }
}

fn metadata(md: blockpart_fs::Metadata) -> wit::Metadata {
    wit::Metadata {
        kind: match md.kind {
            FileKind::File => wit::FileKind::File,
            FileKind::Directory => wit::FileKind::Directory,
            FileKind::Symlink => wit::FileKind::Symlink,
            FileKind::Other => wit::FileKind::Other,
        },
        size: md.size,
        mode: md.mode,
    }
}

/// The one place the crate's errors become the WIT's.
fn error(error: blockpart_fs::Error) -> wit::Error {
    use blockpart_fs::Error as E;
    match error {
        E::NotFound => wit::Error::NotFound,
        E::NotADirectory => wit::Error::NotADirectory,
        E::IsADirectory => wit::Error::IsADirectory,
        E::NotAFile => wit::Error::NotAFile,
        E::NotASymlink => wit::Error::NotASymlink,
        E::InvalidPath(why) => wit::Error::InvalidPath(why),
        E::TooLarge { most, .. } => wit::Error::TooLarge(most),
        E::Unsupported(why) => wit::Error::Unsupported(why),
        E::Io(why) => wit::Error::Io(why),
        E::Damaged(why) => wit::Error::Damaged(why),
        // Whatever a later version of the crate adds.
        other => wit::Error::Damaged(other.to_string()),
    }
}

/// The partition's refusal of a read, as `blockpart-core` words it: the one place the WIT's
/// error becomes the crate's, for its message.
fn refusal(error: partition::Error) -> blockpart_core::Error {
    use blockpart_core::{DeviceError, Error, OutOfBounds};
    match error {
        partition::Error::OutOfBounds(access) => Error::OutOfBounds(OutOfBounds {
            sector_start: access.sector_start,
            sectors: access.sectors,
            size_sectors: access.size_sectors,
        }),
        partition::Error::Unaligned(len) => Error::Unaligned(len),
        partition::Error::TooLarge(len) => Error::TooLarge(len),
        partition::Error::Disconnected => Error::Disconnected,
        partition::Error::IsReadOnly => Error::ReadOnly,
        partition::Error::Device(device) => Error::Device(match device {
            partition::DeviceError::Disconnected => DeviceError::Disconnected,
            partition::DeviceError::IsReadOnly => DeviceError::ReadOnly,
            partition::DeviceError::OutOfBounds => DeviceError::OutOfBounds,
            partition::DeviceError::Unaligned => DeviceError::Unaligned,
            partition::DeviceError::Io(message) => DeviceError::Io(message),
        }),
        partition::Error::InvalidDevice(message) => Error::InvalidDevice(message),
    }
}
