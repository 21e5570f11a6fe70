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

/// The most bytes one read of the reader's may ask for: more than any table it reads at once
/// (an L1 table or a grain directory is at most 32 MiB), and a bound on what a guest can make
/// the host allocate for it, whatever the file's size.
const MAX_READ: u64 = 64 << 20;

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
        if len > MAX_READ {
            return Ok(Err(format!(
                "a read of {len} bytes is over the {MAX_READ} one read may ask for"
            )));
        }
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use wasmtime::component::Resource;

    use super::super::bindings::blockpart_image::reader::file::HostFile;
    use super::*;

    fn state_with(bytes: &[u8]) -> (State, Resource<ImageFile>) {
        let mut temp = tempfile::tempfile().unwrap();
        temp.write_all(bytes).unwrap();
        let size = u64::try_from(bytes.len()).unwrap();
        let mut state = State::default();
        let handle = state.table_mut().push(ImageFile::new(temp, size)).unwrap();
        (state, handle)
    }

    fn again(handle: &Resource<ImageFile>) -> Resource<ImageFile> {
        Resource::new_borrow(handle.rep())
    }

    #[test]
    fn a_read_the_reader_asks_for_is_refused_outside_the_file_or_over_the_bound() {
        let (mut state, file) = state_with(&[7; 4096]);
        assert_eq!(state.read(again(&file), 4000, 96).unwrap(), Ok(vec![7; 96]));
        for (offset, len) in [(4000, 97), (4096, 1), (u64::MAX, 1), (0, u64::MAX)] {
            let refused = state.read(again(&file), offset, len).unwrap();
            assert!(refused.is_err(), "{offset} {len}");
        }
        // Over the bound, even where the file would hold it: nothing is allocated for it.
        let refused = state.read(again(&file), 0, MAX_READ + 1).unwrap();
        assert!(refused.unwrap_err().contains("over the"));
    }
}
