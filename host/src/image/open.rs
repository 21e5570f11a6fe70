//! Opening an image: its files, read-only, handed to a fresh image-reader instance, the backing
//! chain opened from the bottom up, exactly as the user named it.

use std::path::{Path, PathBuf};

use blockpart_formats::{Error as FormatError, Reference};
use wasmtime::component::{Resource, ResourceAny};

use super::bindings::exports::blockpart_image::reader::image as wit;
use super::disk::Reader;
use super::{Format, ImageDisk, ImageFile, ImageRuntime};
use crate::OpenError;
use crate::file_device::open_disk_file;

/// Why an image could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An image file could not be opened or measured, or is not a file or block device.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The image reader refused the image: damaged, hostile, unsupported, or naming a file
    /// that is not followed. The reason is the error's source.
    #[error("{path}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why, in the reader's words.
        source: FormatError,
    },
    /// The image reader trapped (a limit, a panic) or broke its contract. Not a source: the
    /// message holds it, as the partitioner's `Error::Guest` does.
    #[error("the image reader failed: {0:#}")]
    Guest(wasmtime::Error),
}

impl From<wasmtime::Error> for ImageError {
    fn from(error: wasmtime::Error) -> Self {
        Self::Guest(error)
    }
}

impl ImageRuntime {
    /// The format of the file at `path`, by its content, as the image reader detects it.
    pub fn detect(&self, path: &Path) -> Result<Format, ImageError> {
        let file = open_file(path)?;
        let (mut store, exports) = self.0.instantiate()?;
        let image = exports.blockpart_image_reader_image();
        let handle: Resource<ImageFile> = store
            .state_mut()
            .table_mut()
            .push(file)
            .map_err(wasmtime::Error::from)?;
        let borrowed = Resource::new_borrow(handle.rep());
        let detected = store.call("detect", |store| image.disk().call_detect(store, borrowed))?;
        detected.map(format).map_err(|refused| ImageError::Image {
            path: path.to_owned(),
            source: from_wit(refused),
        })
    }

    /// Opens the image at `path` as `format` (detected when `None`), over the backing chain
    /// `backing`, nearest first: each is opened through the same reader, and the chain must be
    /// the image's own (an image naming a backing file needs one; the last one given must name
    /// none). No other file is opened.
    pub fn open(
        &self,
        path: &Path,
        format: Option<Format>,
        backing: &[PathBuf],
    ) -> Result<ImageDisk, ImageError> {
        // From the bottom of the chain up; the backing disks' formats are detected.
        let chain = backing
            .iter()
            .rev()
            .map(|path| (path.as_path(), None))
            .chain([(path, format)]);
        let mut chain: Vec<Layer> = chain
            .map(|(path, format)| {
                Ok(Layer {
                    path: path.to_owned(),
                    format,
                    file: open_file(path)?,
                })
            })
            .collect::<Result<_, ImageError>>()?;
        let (reader, format, bytes) = self.reader(&chain)?;
        // A helper opens the image as the first reader found it.
        if let Some(top) = chain.last_mut() {
            top.format = Some(format);
        }
        let helpers = Helpers {
            runtime: self.clone(),
            chain,
        };
        Ok(ImageDisk::new(reader, helpers, format, bytes))
    }

    /// A fresh instance with `chain` opened in it, bottom first: the reader, the image's
    /// format and its virtual size in bytes.
    fn reader(&self, chain: &[Layer]) -> Result<(Reader, Format, u64), ImageError> {
        let (mut store, exports) = self.0.instantiate()?;
        let image = exports.blockpart_image_reader_image().clone();
        let mut layers = Vec::new();
        let mut below: Option<ResourceAny> = None;
        for layer in chain {
            layers.insert(0, layer.file.clone());
            let handle: Resource<ImageFile> = store
                .state_mut()
                .table_mut()
                .push(layer.file.clone())
                .map_err(wasmtime::Error::from)?;
            let opened = store.call("open", |store| {
                image
                    .disk()
                    .call_open(store, handle, layer.format.map(to_wit), below)
            })?;
            below = Some(opened.map_err(|refused| ImageError::Image {
                path: layer.path.clone(),
                source: from_wit(refused),
            })?);
        }
        let disk = below.ok_or_else(|| wasmtime::format_err!("no image was opened"))?;
        let (format, bytes, linear) = store.call("disk", |store| {
            let format = image.disk().call_format(&mut *store, disk)?;
            let bytes = image.disk().call_size(&mut *store, disk)?;
            let linear = image.disk().call_linear(&mut *store, disk)?;
            Ok((format, bytes, linear))
        })?;
        // The host applies a linear disk itself: it must lie inside its file.
        let linear = linear.filter(|base| {
            base.checked_add(bytes)
                .is_some_and(|end| layers.first().is_some_and(|file| end <= file.size()))
        });
        let reader = Reader {
            store,
            image,
            disk,
            layers,
            linear,
        };
        Ok((reader, self::format(format), bytes))
    }
}

/// A file of a chain, opened once: every instance over the chain reads the same open file.
struct Layer {
    path: PathBuf,
    format: Option<Format>,
    file: ImageFile,
}

/// What opens more instances of the reader over a disk's chain, for decompressing on more
/// than one core.
pub(super) struct Helpers {
    runtime: ImageRuntime,
    chain: Vec<Layer>,
}

impl Helpers {
    /// A reader over the same open files, or why none could be made.
    pub(super) fn reader(&self) -> Result<Reader, ImageError> {
        Ok(self.runtime.reader(&self.chain)?.0)
    }
}

/// Opens `path` read-only, as an image file: a regular file or a block device.
fn open_file(path: &Path) -> Result<ImageFile, ImageError> {
    let (file, size) = open_disk_file(path, true)?;
    Ok(ImageFile::new(file, size))
}

fn format(format: wit::Format) -> Format {
    match format {
        wit::Format::Raw => Format::Raw,
        wit::Format::Qcow2 => Format::Qcow2,
        wit::Format::Vmdk => Format::Vmdk,
        wit::Format::Vhd => Format::Vhd,
    }
}

fn to_wit(format: Format) -> wit::Format {
    match format {
        Format::Raw => wit::Format::Raw,
        Format::Qcow2 => wit::Format::Qcow2,
        Format::Vmdk => wit::Format::Vmdk,
        Format::Vhd => wit::Format::Vhd,
    }
}

/// The reader's error as the formats crate's, whose messages the host shows.
pub(super) fn from_wit(error: wit::Error) -> FormatError {
    match error {
        wit::Error::Read(why) => FormatError::Read(why),
        wit::Error::Corrupt(why) | wit::Error::OutOfBounds(why) => FormatError::Corrupt(why),
        wit::Error::Unsupported(what) => FormatError::Unsupported(what),
        wit::Error::External(reference) => FormatError::External {
            kind: match reference.kind {
                wit::ReferenceKind::BackingFile => Reference::BackingFile,
                wit::ReferenceKind::DataFile => Reference::DataFile,
                wit::ReferenceKind::Extent => Reference::Extent,
                wit::ReferenceKind::Parent => Reference::Parent,
            },
            name: reference.name,
        },
        wit::Error::Ambiguous(why) => FormatError::Ambiguous(why),
        wit::Error::Chain(why) => FormatError::Chain(why),
    }
}
