//! The image files the host hands the image reader (`blockpart-image:reader/file`): read-only,
//! and every read checked against the file's size before it is made.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use wasmtime::component::Resource;

use super::bindings::blockpart_image::reader::file as wit;
use crate::runtime::State;

/// An image file, opened read-only, with its size when it was opened.
#[derive(Clone, Debug)]
pub struct ImageFile {
    file: Arc<File>,
    size: u64,
}

impl ImageFile {
    /// `file`, of `size` bytes.
    pub(crate) fn new(file: File, size: u64) -> Self {
        Self {
            file: Arc::new(file),
            size,
        }
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from byte `offset`: refused, reading nothing, unless it lies in the file.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        if offset.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(format!(
                "{len} bytes from byte {offset} are outside the {}-byte image file",
                self.size
            ));
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|error| format!("reading {len} bytes at byte {offset}: {error}"))
    }
}

impl wit::Host for State {}

impl wit::HostFile for State {
    fn size(&mut self, file: Resource<ImageFile>) -> wasmtime::Result<u64> {
        Ok(self.table_mut().get(&file)?.size())
    }

    fn read(
        &mut self,
        file: Resource<ImageFile>,
        offset: u64,
        len: u64,
    ) -> wasmtime::Result<Result<Vec<u8>, String>> {
        let file = self.table_mut().get(&file)?.clone();
        // A length past the file is refused before anything is allocated for it.
        let Some(len) = usize::try_from(len).ok().filter(|&len| {
            u64::try_from(len).is_ok_and(|len| {
                offset
                    .checked_add(len)
                    .is_some_and(|end| end <= file.size())
            })
        }) else {
            return Ok(Err(format!(
                "{len} bytes from byte {offset} are outside the {}-byte image file",
                file.size()
            )));
        };
        Ok(self.for_guest(|_| {
            let mut buf = vec![0; len];
            file.read_at(offset, &mut buf).map(|()| buf)
        }))
    }

    fn drop(&mut self, file: Resource<ImageFile>) -> wasmtime::Result<()> {
        self.table_mut().delete(file)?;
        Ok(())
    }
}
