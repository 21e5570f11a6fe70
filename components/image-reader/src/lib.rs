//! The image reader as a component: `image` over imported image `file`s, each disk also a
//! `block-device` of the contract (`device.rs`). Glue only: `blockpart-formats` does the
//! reading, here a file becomes its `Source` and its types become the WIT's.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

use std::cell::RefCell;
use std::rc::Rc;

use blockpart_formats::{Disk as FormatDisk, Error, Extent, Format, Reference, Source};

wit_bindgen::generate!({ path: "wit", world: "image-reader" });

mod device;

use blockpart_image::reader::file::File;
use exports::blockpart_image::reader::image as wit;

/// The most bytes one `map` or `read` covers.
pub(crate) const MAX_TRANSFER: u64 = 64 << 20;

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Disk = Disk;
}

/// A disk, shared with the devices made of it: a component instance is never re-entered, so
/// the borrows of the `RefCell` cannot overlap.
type Shared = Rc<RefCell<FormatDisk<HostFile>>>;

/// The host's file, as `blockpart-formats` reads it.
struct HostFile(File);

impl Source for HostFile {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let len = u64::try_from(buf.len()).map_err(|e| Error::Read(e.to_string()))?;
        let data = self.0.read(offset, len).map_err(Error::Read)?;
        if data.len() != buf.len() {
            return Err(Error::Read(format!(
                "the file returned {} bytes for {len} at {offset}",
                data.len()
            )));
        }
        buf.copy_from_slice(&data);
        Ok(())
    }
}

/// A borrowed file, for detection.
struct Borrowed<'a>(&'a File);

impl Source for Borrowed<'_> {
    fn size(&self) -> u64 {
        self.0.size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let len = u64::try_from(buf.len()).map_err(|e| Error::Read(e.to_string()))?;
        let data = self.0.read(offset, len).map_err(Error::Read)?;
        let data = data.get(..buf.len()).filter(|_| data.len() == buf.len());
        buf.copy_from_slice(data.ok_or_else(|| Error::Read("a short read".into()))?);
        Ok(())
    }
}

struct Disk(Shared);

impl wit::GuestDisk for Disk {
    fn detect(image: &File) -> Result<wit::Format, wit::Error> {
        blockpart_formats::detect(&Borrowed(image))
            .map(format)
            .map_err(error)
    }

    fn open(
        image: File,
        format: Option<wit::Format>,
        backing: Option<wit::Disk>,
    ) -> Result<wit::Disk, wit::Error> {
        let backing = match backing {
            None => None,
            Some(disk) => Some(
                Rc::try_unwrap(disk.into_inner::<Self>().0)
                    .map_err(|_| {
                        wit::Error::Chain("the backing disk is still in use by a device".into())
                    })?
                    .into_inner(),
            ),
        };
        let disk =
            FormatDisk::open(HostFile(image), format.map(from_wit), backing).map_err(error)?;
        Ok(wit::Disk::new(Self(Rc::new(RefCell::new(disk)))))
    }

    fn format(&self) -> wit::Format {
        format(self.0.borrow().format())
    }

    fn size(&self) -> u64 {
        self.0.borrow().size()
    }

    fn linear(&self) -> Option<u64> {
        self.0.borrow().linear()
    }

    fn map(&self, offset: u64, len: u64) -> Result<Vec<wit::Extent>, wit::Error> {
        bounded(len)?;
        let mut disk = self.0.borrow_mut();
        let mut extents: Vec<wit::Extent> = Vec::new();
        let mut done = 0u64;
        while done < len {
            // `done < len`, and `offset + len` is checked by `locate`.
            let at = offset.saturating_add(done);
            let (layer, extent) = disk.locate(at, len.saturating_sub(done)).map_err(error)?;
            done = done.saturating_add(extent.len());
            push(&mut extents, layer, extent);
        }
        if len == 0 {
            disk.locate(offset, 0).map_err(error)?;
        }
        Ok(extents)
    }

    fn read(&self, offset: u64, len: u64) -> Result<Vec<u8>, wit::Error> {
        let len = usize::try_from(bounded(len)?).map_err(|e| wit::Error::Read(e.to_string()))?;
        let mut buf = vec![0; len];
        self.0.borrow_mut().read(offset, &mut buf).map_err(error)?;
        Ok(buf)
    }

    fn device(&self) -> device::Handle {
        device::Device::of(Rc::clone(&self.0))
    }
}

/// Appends `extent` of `layer`, merged with the last one where it continues it.
fn push(extents: &mut Vec<wit::Extent>, layer: u32, extent: Extent) {
    use wit::{DataExtent, Extent as E};
    let merged = match (extents.last_mut(), extent) {
        (Some(E::Data(last)), Extent::Data { offset, len })
            if last.layer == layer && last.offset.checked_add(last.len) == Some(offset) =>
        {
            last.len = last.len.saturating_add(len);
            true
        }
        (Some(E::Zero(last)), Extent::Zero { len }) => {
            *last = last.saturating_add(len);
            true
        }
        _ => false,
    };
    if merged {
        return;
    }
    extents.push(match extent {
        Extent::Data { offset, len } => E::Data(DataExtent { layer, offset, len }),
        Extent::Zero { len } | Extent::Backing { len } => E::Zero(len),
        Extent::Encoded { len } => E::Encoded(len),
    });
}

fn bounded(len: u64) -> Result<u64, wit::Error> {
    if len > MAX_TRANSFER {
        return Err(wit::Error::OutOfBounds(format!(
            "{len} bytes at once is over the {MAX_TRANSFER} one call covers"
        )));
    }
    Ok(len)
}

fn format(format: Format) -> wit::Format {
    match format {
        Format::Raw => wit::Format::Raw,
        Format::Qcow2 => wit::Format::Qcow2,
        Format::Vmdk => wit::Format::Vmdk,
        Format::Vhd => wit::Format::Vhd,
    }
}

fn from_wit(format: wit::Format) -> Format {
    match format {
        wit::Format::Raw => Format::Raw,
        wit::Format::Qcow2 => Format::Qcow2,
        wit::Format::Vmdk => Format::Vmdk,
        wit::Format::Vhd => Format::Vhd,
    }
}

/// The crate's error as the WIT's: the one place they meet.
fn error(error: Error) -> wit::Error {
    match error {
        Error::Read(why) => wit::Error::Read(why),
        Error::Corrupt(why) => wit::Error::Corrupt(why),
        Error::Unsupported(what) => wit::Error::Unsupported(what),
        Error::External { kind, name } => wit::Error::External(wit::Reference {
            kind: match kind {
                Reference::BackingFile => wit::ReferenceKind::BackingFile,
                Reference::DataFile => wit::ReferenceKind::DataFile,
                Reference::Extent => wit::ReferenceKind::Extent,
                Reference::Parent => wit::ReferenceKind::Parent,
            },
            name,
        }),
        Error::Ambiguous(why) => wit::Error::Ambiguous(why),
        Error::Chain(why) => wit::Error::Chain(why),
        error @ Error::OutOfBounds { .. } => wit::Error::OutOfBounds(error.to_string()),
        // `Error` is non-exhaustive: a variant added later reads as corrupt until mapped.
        other => wit::Error::Corrupt(other.to_string()),
    }
}
