//! A virtual disk of an image, as a read-only [`BlockDevice`]: the image reader says where each
//! range lands, and the host reads the image files itself.

use std::ops::Range;
use std::sync::{Mutex, OnceLock};

use blockpart_core::{BlockDevice, DeviceError, Info, SectorSize};
use wasmtime::component::ResourceAny;

use super::bindings::exports::blockpart_image::reader::image as wit;
use super::open::Helpers;
use super::{Format, ImageFile};
use crate::runtime::GuestStore;

/// The most bytes one call to the image reader covers (`MAX_TRANSFER` of the component).
const MAX_CALL: usize = 64 << 20;

/// The virtual disk of an image file (and its backing chain), read-only, in 512-byte sectors.
///
/// A read asks the image reader's instance where the bytes are (`disk.map`), then reads them
/// from the image files into the caller's buffer: only bytes the reader alone can produce (a
/// compressed cluster) pass through its memory. Every read the host makes is checked against
/// the file it reads, whatever the reader answered. Writes are refused: `is-read-only`.
///
/// A read with compressed clusters to decode shares them out among more instances of the
/// reader over the same open files, one per core (up to four), made the first time one is
/// needed: decompression is the one part of reading an image that is all computation.
pub struct ImageDisk {
    // Boxed: the store is large, and a disk is moved around by value.
    reader: Box<Mutex<Reader>>,
    helpers: OnceLock<Vec<Mutex<Reader>>>,
    opener: Box<Helpers>,
    format: Format,
    bytes: u64,
    info: Info,
}

/// The instance that opened the image, and the files of its chain.
pub(super) struct Reader {
    pub(super) store: GuestStore,
    pub(super) image: wit::Guest,
    pub(super) disk: ResourceAny,
    /// The image's file, then its backing disks' files, nearest first: the `layer` of an extent.
    pub(super) layers: Vec<ImageFile>,
    /// Where the whole disk lies in the image's own file, if it does.
    pub(super) linear: Option<u64>,
}

impl std::fmt::Debug for ImageDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageDisk")
            .field("format", &self.format)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl ImageDisk {
    /// The disk `reader` opened, of `bytes` bytes in `format`; `opener` makes more readers.
    pub(super) fn new(reader: Reader, opener: Helpers, format: Format, bytes: u64) -> Self {
        Self {
            reader: Box::new(Mutex::new(reader)),
            helpers: OnceLock::new(),
            opener: Box::new(opener),
            format,
            bytes,
            info: Info {
                read_write: false,
                sector_size: SectorSize::B512.get(),
                // Sectors of the disk; a last partial sector (a qcow2 may be any byte size) is
                // not addressable by sector.
                size_sectors: bytes / 512,
            },
        }
    }

    /// The image's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The virtual disk's size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.bytes
    }

    /// Fills `buf` with the disk's bytes from byte `offset`, checked against its size.
    pub fn read_bytes(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(buf.len()).map_err(|_| DeviceError::OutOfBounds)?;
        if offset.checked_add(len).is_none_or(|end| end > self.bytes) {
            return Err(DeviceError::OutOfBounds);
        }
        let mut reader = self
            .reader
            .lock()
            .map_err(|_| DeviceError::Io("the image reader failed in another thread".into()))?;
        let mut at = offset;
        for chunk in buf.chunks_mut(MAX_CALL) {
            let encoded = reader.read(at, chunk)?;
            self.decode(&mut reader, at, chunk, &encoded)?;
            at = at.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        }
        Ok(())
    }

    /// Fills the `encoded` ranges of `chunk`, which holds the disk's bytes from `offset`: with
    /// `reader` alone, or shared out among it and the helpers when there are several.
    fn decode(
        &self,
        reader: &mut Reader,
        offset: u64,
        chunk: &mut [u8],
        encoded: &[Range<usize>],
    ) -> Result<(), DeviceError> {
        let mut pieces = Vec::with_capacity(encoded.len());
        let mut rest = chunk;
        let mut done = 0usize;
        for range in encoded {
            let gap = range.start.checked_sub(done);
            let (_, tail) = gap
                .and_then(|gap| rest.split_at_mut_checked(gap))
                .ok_or_else(|| broke("mapped encoded bytes out of order"))?;
            let (piece, tail) = tail
                .split_at_mut_checked(range.len())
                .ok_or_else(|| broke("mapped more bytes than were asked for"))?;
            let at = offset.saturating_add(u64::try_from(range.start).unwrap_or(u64::MAX));
            pieces.push((at, piece));
            rest = tail;
            done = range.end;
        }
        let helpers = match pieces.len() {
            0 | 1 => &[][..],
            _ => self.helpers.get_or_init(|| self.make_helpers()),
        };
        if helpers.is_empty() {
            return pieces
                .into_iter()
                .try_for_each(|(at, piece)| reader.read_encoded(at, piece));
        }
        // Contiguous shares, the first for `reader`, in this thread.
        let share = pieces.len().div_ceil(helpers.len().saturating_add(1));
        let mut shares = pieces.chunks_mut(share.max(1));
        let mine = shares.next().unwrap_or_default();
        std::thread::scope(|scope| {
            let others: Vec<_> = shares
                .zip(helpers)
                .map(|(share, helper)| {
                    scope.spawn(move || {
                        let mut helper = helper.lock().map_err(|_| {
                            DeviceError::Io("an image reader failed in another thread".into())
                        })?;
                        share
                            .iter_mut()
                            .try_for_each(|(at, piece)| helper.read_encoded(*at, piece))
                    })
                })
                .collect();
            let first = mine
                .iter_mut()
                .try_for_each(|(at, piece)| reader.read_encoded(*at, piece));
            // Every thread joined before the first error is returned.
            others.into_iter().fold(first, |so_far, other| {
                let other = other
                    .join()
                    .unwrap_or_else(|_| Err(DeviceError::Io("an image reader panicked".into())));
                so_far.and(other)
            })
        })
    }

    /// One more reader per core past the first, up to four in all; none where they cannot be
    /// made (the disk is then read by its own reader alone).
    fn make_helpers(&self) -> Vec<Mutex<Reader>> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (1..cores.min(4))
            .map_while(|_| self.opener.reader().ok().map(Mutex::new))
            .collect()
    }
}

impl Reader {
    /// Fills `buf` with the disk's bytes from `offset`, but for the ranges of it that are
    /// encoded, which it returns, in order, for [`Reader::read_encoded`].
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<Vec<Range<usize>>, DeviceError> {
        let mut encoded = Vec::new();
        if let Some(base) = self.linear {
            let at = base.checked_add(offset).ok_or(DeviceError::OutOfBounds)?;
            self.layer(0)?.read_at(at, buf).map_err(DeviceError::Io)?;
            return Ok(encoded);
        }
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        let extents = self.call("map", |store, image, disk| {
            image.disk().call_map(store, disk, offset, len)
        })?;
        let mut done = 0usize;
        for extent in extents {
            let piece_len = match &extent {
                wit::Extent::Data(data) => data.len,
                wit::Extent::Zero(len) | wit::Extent::Encoded(len) => *len,
            };
            let piece = usize::try_from(piece_len)
                .ok()
                .and_then(|piece_len| buf.get_mut(done..done.checked_add(piece_len)?))
                .ok_or_else(|| broke("mapped more bytes than were asked for"))?;
            match extent {
                wit::Extent::Data(data) => self
                    .layer(data.layer)?
                    .read_at(data.offset, piece)
                    .map_err(DeviceError::Io)?,
                wit::Extent::Zero(_) => piece.fill(0),
                wit::Extent::Encoded(_) => encoded.push(done..done.saturating_add(piece.len())),
            }
            done = done.saturating_add(piece.len());
        }
        if done != buf.len() {
            return Err(broke("mapped fewer bytes than were asked for"));
        }
        Ok(encoded)
    }

    /// Fills `piece` with the disk's encoded bytes from `offset`, decoded by the reader.
    fn read_encoded(&mut self, offset: u64, piece: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(piece.len()).unwrap_or(u64::MAX);
        let bytes = self.call("read", |store, image, disk| {
            image.disk().call_read(store, disk, offset, len)
        })?;
        if bytes.len() != piece.len() {
            return Err(broke("read another number of bytes than were asked for"));
        }
        piece.copy_from_slice(&bytes);
        Ok(())
    }

    fn layer(&self, layer: u32) -> Result<&ImageFile, DeviceError> {
        usize::try_from(layer)
            .ok()
            .and_then(|layer| self.layers.get(layer))
            .ok_or_else(|| broke("mapped bytes to a file it was not handed"))
    }

    /// Calls the reader's `disk`, named `name`: a refusal or a trap is the device's error.
    fn call<T>(
        &mut self,
        name: &'static str,
        call: impl FnOnce(
            &mut wasmtime::Store<crate::runtime::State>,
            &wit::Guest,
            ResourceAny,
        ) -> wasmtime::Result<Result<T, wit::Error>>,
    ) -> Result<T, DeviceError> {
        let (image, disk) = (&self.image, self.disk);
        match self.store.call(name, |store| call(store, image, disk)) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(refused)) => Err(DeviceError::Io(super::open::from_wit(refused).to_string())),
            Err(trap) => Err(DeviceError::Io(format!(
                "the image reader failed: {trap:#}"
            ))),
        }
    }
}

/// The reader broke its contract: a device error saying how.
fn broke(how: &str) -> DeviceError {
    DeviceError::Io(format!("the image reader {how}"))
}

impl BlockDevice for ImageDisk {
    fn info(&self) -> Info {
        self.info
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        // Checked before the buffer is made: a length of nearly 2^64 is refused, never
        // allocated (a capacity overflow panic, or an abort).
        if !len.is_multiple_of(512) {
            return Err(DeviceError::Unaligned);
        }
        if sector_start
            .checked_add(len / 512)
            .is_none_or(|end| end > self.info.size_sectors)
        {
            return Err(DeviceError::OutOfBounds);
        }
        let len = usize::try_from(len).map_err(|_| DeviceError::OutOfBounds)?;
        let mut buf = vec![0; len];
        self.read_into(sector_start, &mut buf)?;
        Ok(buf)
    }

    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        if !buf.len().is_multiple_of(512) {
            return Err(DeviceError::Unaligned);
        }
        let sectors = u64::try_from(buf.len() / 512).map_err(|_| DeviceError::OutOfBounds)?;
        if sector_start
            .checked_add(sectors)
            .is_none_or(|end| end > self.info.size_sectors)
        {
            return Err(DeviceError::OutOfBounds);
        }
        // Inside the disk, whose bytes fit in u64.
        self.read_bytes(sector_start.saturating_mul(512), buf)
    }

    fn write(&self, _: u64, _: &[u8]) -> Result<(), DeviceError> {
        Err(DeviceError::ReadOnly)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }

    fn discard(&self, _: u64, _: u64) -> Result<(), DeviceError> {
        Err(DeviceError::ReadOnly)
    }

    fn write_zeroes(&self, _: u64, _: u64) -> Result<(), DeviceError> {
        Err(DeviceError::ReadOnly)
    }
}
