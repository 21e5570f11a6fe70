//! Read-only disk image formats over an image file's bytes: qcow2 (versions 2 and 3), VMDK
//! (monolithicSparse and streamOptimized) and VHD (fixed and dynamic), and raw.
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

mod decompress;
mod detect;
mod disk;
mod error;
mod extent;
mod qcow2;
mod raw;
mod source;
mod vhd;
mod vmdk;

pub use detect::{Format, detect};
pub use disk::Disk;
pub use error::{Error, Reference};
pub use extent::Extent;
pub use source::Source;
