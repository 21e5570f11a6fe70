//! The Wasmtime host of blockpart: the built-in partitioner component, file-backed devices, disk
//! images read by the image-reader component ([`ImageRuntime`]),
//! per-instance limits, and typed calls into the component.
//!
//! ```no_run
//! use blockpart_core::SectorSize;
//! use blockpart_host::{FileDevice, Runtime};
//!
//! let runtime = Runtime::new()?;
//! let mut instance = runtime.instantiate()?;
//! let disk = FileDevice::open("disk.img".as_ref(), SectorSize::B512, false)?;
//! let (_boot, rest) = instance.connect(2048, disk)?;
//! // Read into (and write from) your own buffers: the partitioner checks and maps each
//! // request, the host moves the bytes; they never enter the guest.
//! let mut first_sector = [0; 512];
//! instance.read(rest, 0, &mut first_sector)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

mod cache;
mod file_device;
mod image;
mod limits;
#[cfg(feature = "fs")]
mod reader;
mod runtime;

// The fault-injecting device lives in `blockpart-core`; with the `testing` feature it is here
// too, next to `FileDevice`, for tests of what a host builds on the partitioner.
#[cfg(feature = "testing")]
pub use blockpart_core::faulty_device::{self, FaultyDevice};
pub use cache::UntrustedCache;
pub use file_device::{FileDevice, OpenError};
pub use image::{
    AnyDisk, DiskError, DiskOptions, Format, IMAGE_READER_COMPONENT, ImageDisk, ImageError,
    ImageFile, ImageRuntime,
};
pub use limits::{Limits, TICK};
#[allow(
    deprecated,
    reason = "re-exported for embedders that still use the old name"
)]
pub use runtime::GUEST_COMPONENT;
pub use runtime::{Instance, PARTITIONER_COMPONENT, PartitionHandle, Runtime};
// The filesystem reader composed on the partitioner, with the `fs` feature.
#[cfg(feature = "fs")]
pub use reader::{
    DirEntry, FileKind, FsError, FsHandle, FsKind, Metadata, READER_COMPONENT,
    READER_ON_IMAGE_COMPONENT, ReaderError, ReaderInstance, ReaderRuntime,
};

/// The version of wasmtime this host runs components with.
pub const WASMTIME_VERSION: &str = env!("BLOCKPART_WASMTIME_VERSION");

/// Why a call into the partitioner failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The partition refused the request or its device failed it.
    #[error(transparent)]
    Partition(#[from] blockpart_core::Error),
    /// The partition table could not be read, or has no such entry.
    #[error(transparent)]
    Table(#[from] blockpart_core::TableError),
    /// The guest trapped or broke the component contract. The instance must not be used again.
    #[error("the partitioner failed: {0:#}")]
    Guest(wasmtime::Error),
}

impl From<wasmtime::Error> for Error {
    fn from(error: wasmtime::Error) -> Self {
        Self::Guest(error)
    }
}

/// The examples of `docs/embedding.md`, run as doctests so that the page stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/embedding.md")]
struct EmbeddingDoc;
