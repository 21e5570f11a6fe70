//! Read-only disk image formats over an image file's bytes: qcow2 (versions 2 and 3), VMDK
//! (monolithicSparse and streamOptimized) and VHD (fixed, dynamic and differencing), and raw.
//!
//! Plain Rust, `no_std` with `alloc`: the image-reader component (`components/image-reader`)
//! is thin glue over this crate, and its tests run natively on images `qemu-img` made. An image
//! is untrusted: every size, offset and count in it is checked before it drives an allocation,
//! a loop or a read; memory is bounded whatever the header declares; a reference to another
//! file (a backing file, an external data file, an extent in another file, a parent) is never
//! followed: opening such an image fails with [`Error::External`], naming it, unless the
//! caller hands over the backing disk itself ([`Disk::open`]'s `backing`).
//!
//! ```
//! use blockpart_formats::{Disk, Format};
//!
//! let file = vec![0u8; 4096]; // any `Source`: here, a raw image in memory
//! let mut disk = Disk::open(file, None, None)?;
//! assert_eq!(disk.format(), Format::Raw);
//! let mut sector = [0u8; 512];
//! disk.read(0, &mut sector)?;
//! # Ok::<(), blockpart_formats::Error>(())
//! ```

#![no_std]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects))]

extern crate alloc;
#[cfg(test)]
extern crate std;

// The readers, behind the default `read` feature: without it the crate is its types alone
// (`Format`, `Error`), for a host that only receives them from the image-reader component.
#[cfg(feature = "read")]
mod decompress;
#[cfg(feature = "read")]
mod detect;
#[cfg(feature = "read")]
mod disk;
mod error;
#[cfg(feature = "read")]
mod extent;
mod format;
#[cfg(feature = "read")]
mod qcow2;
#[cfg(feature = "read")]
mod raw;
#[cfg(feature = "read")]
mod source;
#[cfg(feature = "read")]
mod vhd;
#[cfg(feature = "read")]
mod vmdk;

#[cfg(feature = "read")]
pub use detect::detect;
#[cfg(feature = "read")]
pub use disk::Disk;
pub use error::{Error, Reference};
#[cfg(feature = "read")]
pub use extent::Extent;
pub use format::Format;
#[cfg(feature = "read")]
pub use source::Source;
