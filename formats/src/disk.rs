//! An opened image: its format's layout over its file, and the backing disk under it.

use alloc::boxed::Box;
use alloc::format;

use crate::detect::detect;
use crate::{Error, Extent, Format, Reference, Source, qcow2, raw, vhd, vmdk};

/// What each format provides: its virtual size, and where a range of it lands.
pub(crate) trait Layout {
    /// The virtual disk's size in bytes.
    fn size(&self) -> u64;

    /// The first extent of the `len` bytes from `offset`. [`Disk`] calls it only with
    /// `0 < len` and `offset + len <= size()`, and the extent returned must be no longer than
    /// `len`; an extent reaching outside the file is the format's error to report, here.
    fn map(&mut self, file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error>;

    /// Fills `buf` with the bytes from `offset`, which lie in one [`Extent::Encoded`] extent
    /// that [`Layout::map`] returned.
    fn read_encoded(&mut self, file: &dyn Source, offset: u64, buf: &mut [u8])
    -> Result<(), Error>;

    /// The backing file the image names, escaped, if it has one.
    fn backing(&self) -> Option<&str> {
        None
    }

    /// What kind of reference [`Layout::backing`] is, for the [`Error::External`] an image
    /// opened without its backing disk gives: a qcow2 backing file, a differencing VHD's
    /// parent.
    fn backing_kind(&self) -> Reference {
        Reference::BackingFile
    }

    /// Checks that `backing`, the layout of the disk the caller handed over for
    /// [`Layout::backing`], is the one the image was made over, where the format records
    /// that (a differencing VHD its parent's unique id): else [`Error::Chain`].
    fn check_backing(&self, _backing: &dyn Layout) -> Result<(), Error> {
        Ok(())
    }

    /// The id a disk of this format carries for the images made over it to name it by (a
    /// VHD footer's unique id), if it has one.
    fn unique_id(&self) -> Option<[u8; 16]> {
        None
    }

    /// The byte of the file where the virtual disk starts, when the whole virtual disk is the
    /// file's bytes from there, in order (raw, fixed VHD): then a caller can read the file
    /// itself without mapping each request.
    fn linear(&self) -> Option<u64> {
        None
    }
}

/// An image opened read-only: the virtual disk a format describes over the file `S`.
pub struct Disk<S> {
    file: S,
    format: Format,
    layout: Box<dyn Layout + Send>,
    backing: Option<Box<Disk<S>>>,
}

impl<S: Source> Disk<S> {
    /// Opens `file` as `format`, or as the format [`detect`] finds for `None`. `backing` is
    /// the disk the image's backing file names, opened by the caller from a file the user
    /// named: an image that names a backing file opens only with one, and one given to an
    /// image without a backing file is refused ([`Error::Chain`]).
    pub fn open(file: S, format: Option<Format>, backing: Option<Disk<S>>) -> Result<Self, Error> {
        let format = match format {
            Some(format) => format,
            None => detect(&file)?,
        };
        let layout: Box<dyn Layout + Send> = match format {
            Format::Raw => Box::new(raw::Raw::open(&file)?),
            Format::Qcow2 => Box::new(qcow2::Qcow2::open(&file)?),
            Format::Vmdk => Box::new(vmdk::Vmdk::open(&file)?),
            Format::Vhd => Box::new(vhd::Vhd::open(&file)?),
        };
        match (layout.backing(), &backing) {
            (Some(name), None) => {
                return Err(Error::External {
                    kind: layout.backing_kind(),
                    name: name.into(),
                });
            }
            (None, Some(_)) => {
                return Err(Error::Chain(format!(
                    "a backing disk was given, but this {format} image has no backing file"
                )));
            }
            (Some(_), Some(backing)) => layout.check_backing(backing.layout.as_ref())?,
            (None, None) => {}
        }
        Ok(Self {
            file,
            format,
            layout,
            backing: backing.map(Box::new),
        })
    }

    /// The image's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The virtual disk's size in bytes.
    pub fn size(&self) -> u64 {
        self.layout.size()
    }

    /// The image file.
    pub fn file(&self) -> &S {
        &self.file
    }

    /// The backing disk it was opened with.
    pub fn backing(&self) -> Option<&Disk<S>> {
        self.backing.as_deref()
    }

    /// The backing file the image names (escaped), if any.
    pub fn backing_name(&self) -> Option<&str> {
        self.layout.backing()
    }

    /// The byte of the file where the virtual disk starts, when the whole disk is the file's
    /// bytes from there in order (raw, fixed VHD).
    pub fn linear(&self) -> Option<u64> {
        self.layout.linear()
    }

    /// The first extent of the `len` bytes from `offset` (`len > 0`), checked against the
    /// virtual size.
    pub fn map(&mut self, offset: u64, len: u64) -> Result<Extent, Error> {
        self.check(offset, len)?;
        if len == 0 {
            return Ok(Extent::Zero { len: 0 });
        }
        let extent = self.layout.map(&self.file, offset, len)?;
        match extent.len() {
            1.. if extent.len() <= len => Ok(extent),
            got => Err(Error::Corrupt(format!(
                "mapped {got} bytes for a request of {len} at {offset}"
            ))),
        }
    }

    /// The first extent of the `len` bytes from `offset` (`len > 0`) through the backing chain:
    /// never [`Extent::Backing`], but the extent of the disk that holds the bytes, with its
    /// depth in the chain (0 for this disk, 1 for its backing disk, ...). Past a backing
    /// disk's end, and at the chain's bottom, the bytes are zeros.
    pub fn locate(&mut self, offset: u64, len: u64) -> Result<(u32, Extent), Error> {
        let extent = self.map(offset, len)?;
        let Extent::Backing { len } = extent else {
            return Ok((0, extent));
        };
        let Some(backing) = self.backing.as_deref_mut() else {
            return Ok((0, Extent::Zero { len }));
        };
        let held = backing.size().saturating_sub(offset);
        if held == 0 {
            return Ok((0, Extent::Zero { len }));
        }
        let (depth, extent) = backing.locate(offset, len.min(held))?;
        Ok((depth.saturating_add(1), extent))
    }

    /// Fills `buf` with the virtual disk's bytes from `offset`.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        self.check(offset, len)?;
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..).filter(|rest| !rest.is_empty()) {
            // Inside the disk, checked above: no overflow.
            let at = offset.saturating_add(u64::try_from(done).unwrap_or(u64::MAX));
            let extent = self.map(at, u64::try_from(rest.len()).unwrap_or(u64::MAX))?;
            let piece = usize::try_from(extent.len())
                .ok()
                .and_then(|len| rest.get_mut(..len))
                .ok_or_else(|| Error::Corrupt(format!("mapped past the request at {at}")))?;
            match extent {
                Extent::Data { offset, .. } => {
                    crate::source::read_exact(&self.file, offset, piece, "data")?;
                }
                Extent::Zero { .. } => piece.fill(0),
                Extent::Backing { .. } => self.read_backing(at, piece)?,
                Extent::Encoded { .. } => self.layout.read_encoded(&self.file, at, piece)?,
            }
            done = done.saturating_add(piece.len());
        }
        Ok(())
    }

    /// The backing disk's bytes at `offset`: zeros past its end, or with none.
    fn read_backing(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let Some(backing) = self.backing.as_deref_mut() else {
            buf.fill(0);
            return Ok(());
        };
        let held = usize::try_from(backing.size().saturating_sub(offset)).unwrap_or(usize::MAX);
        let (inside, past) = buf.split_at_mut(held.min(buf.len()));
        past.fill(0);
        if inside.is_empty() {
            return Ok(());
        }
        backing.read(offset, inside)
    }

    fn check(&self, offset: u64, len: u64) -> Result<(), Error> {
        let size = self.size();
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(()),
            _ => Err(Error::OutOfBounds { offset, len, size }),
        }
    }
}
