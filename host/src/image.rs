//! Disk images: qcow2, VMDK and VHD (and raw) read by the image-reader component
//! (`components/image-reader`), whose virtual disk the host then hands to the partitioner, the
//! filesystem reader or any other user of a [`BlockDevice`](blockpart_core::BlockDevice).
//!
//! The layers are stacked by the host, each in its own instance: the image reader sees only
//! the image files it is handed, read-only, and answers where each range of the virtual disk
//! lands (`disk.map`); the host reads those bytes from the file itself, straight into the
//! caller's buffer, and asks the reader for the bytes only it can produce (compressed
//! clusters). One file a concept: the files handed over ([`file`]), the virtual disk as a
//! block device ([`disk`]), opening an image by path ([`open`]), and a disk in any format,
//! raw included ([`any`]).

mod any;
mod disk;
mod file;
mod open;

pub use any::{AnyDisk, DiskError, DiskOptions};
pub use blockpart_formats::Format;
pub use disk::ImageDisk;
pub use file::ImageFile;
pub use open::ImageError;

use wasmtime::Store;
use wasmtime::component::{HasSelf, InstancePre, Linker};

use crate::runtime::{Compiled, Exports, State, constructors};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../components/image-reader/wit",
        world: "image-reader",
        with: { "blockpart-image:reader/file.file": super::file::ImageFile },
        // Looking a file up in the resource table can fail: that must trap, not panic.
        imports: { default: trappable },
    });
}

use bindings::{ImageReader, ImageReaderIndices};

/// The built-in image reader, as built from `components/image-reader/` by `build.rs`.
pub const IMAGE_READER_COMPONENT: &[u8] = include_bytes!(env!("BLOCKPART_IMAGE_READER_COMPONENT"));

impl Exports for ImageReaderIndices {
    type Loaded = ImageReader;

    fn find(pre: &InstancePre<State>) -> wasmtime::Result<Self> {
        Self::new(pre)
    }

    fn load(
        &self,
        store: &mut Store<State>,
        instance: &wasmtime::component::Instance,
    ) -> wasmtime::Result<ImageReader> {
        ImageReaderIndices::load(self, store, instance)
    }

    fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        ImageReader::add_to_linker::<State, HasSelf<State>>(linker, |state| state)
    }
}

/// A compiled image reader, ready to open images: each [`ImageRuntime::open`] is a fresh
/// instance of its own.
#[derive(Clone)]
pub struct ImageRuntime(Compiled<ImageReaderIndices>);

impl ImageRuntime {
    constructors! {
        /// The built-in image reader.
        new = IMAGE_READER_COMPONENT;

        /// Any component of the `image-reader` world, as the bytes of a binary component.
        from_component;

        /// Like [`ImageRuntime::from_component`], with compiled code kept in wasmtime's cache
        /// directory, under the same rules as [`Runtime::cached`](crate::Runtime::cached).
        cached;

        /// Like [`ImageRuntime::cached`], with the cache in `dir` (an absolute path).
        cached_in;

        /// The same runtime, its instances bound by `limits`.
        with_limits;
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::Engine;
    use wasmtime::component::Component;

    use super::IMAGE_READER_COMPONENT;

    #[test]
    fn the_image_reader_imports_only_its_file_interface() {
        let engine = Engine::default();
        let component = Component::new(&engine, IMAGE_READER_COMPONENT).unwrap();
        let imports: Vec<String> = component
            .component_type()
            .imports(&engine)
            .map(|(name, _)| name.to_owned())
            .collect();
        assert_eq!(imports, ["blockpart-image:reader/file@0.1.0"]);
    }
}
