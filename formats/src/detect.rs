//! Which format a file is, by its content: never by its name.

use core::fmt;

use crate::{Error, Source};

/// An image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// The file is the disk.
    Raw,
    /// QEMU copy-on-write, versions 2 and 3.
    Qcow2,
    /// VMware's sparse extents: monolithicSparse and streamOptimized.
    Vmdk,
    /// Virtual PC / Hyper-V VHD: fixed and dynamic.
    Vhd,
}

impl Format {
    /// Every format, in the order `detect` tries them.
    pub const ALL: [Format; 4] = [Format::Raw, Format::Qcow2, Format::Vmdk, Format::Vhd];

    /// Its name as the command line and `qemu-img` spell it (`vpc` is qemu's VHD, accepted by
    /// [`Format::from_name`] too).
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Qcow2 => "qcow2",
            Self::Vmdk => "vmdk",
            Self::Vhd => "vhd",
        }
    }

    /// The format named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "raw" => Some(Self::Raw),
            "qcow2" => Some(Self::Qcow2),
            "vmdk" => Some(Self::Vmdk),
            "vhd" | "vpc" => Some(Self::Vhd),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The format of `file`, by its magic numbers; raw when none matches. Bytes that match two
/// formats are [`Error::Ambiguous`]; formats this crate knows but does not read (VHDX, VDI,
/// QED, ...) are [`Error::Unsupported`], by name, rather than read as raw.
pub fn detect(file: &dyn Source) -> Result<Format, Error> {
    let mut head = [0u8; 512];
    let head = prefix(file, 0, &mut head)?;
    let mut tail = [0u8; 512];
    let tail = match file.size().checked_sub(512) {
        Some(at) => prefix(file, at, &mut tail)?,
        None => &[][..],
    };
    for (magic, at, name) in REFUSED {
        if head.get(at..at.saturating_add(magic.len())) == Some(magic) {
            return Err(Error::Unsupported(alloc::format!(
                "{name} images are not read"
            )));
        }
    }
    let found: alloc::vec::Vec<Format> = [
        (Format::Qcow2, head.starts_with(b"QFI\xfb")),
        (
            Format::Vmdk,
            head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile"),
        ),
        (
            Format::Vhd,
            head.starts_with(b"conectix") || tail.starts_with(b"conectix"),
        ),
    ]
    .into_iter()
    .filter_map(|(format, matched)| matched.then_some(format))
    .collect();
    match found.as_slice() {
        [] => Ok(Format::Raw),
        [format] => Ok(*format),
        [first, second, ..] => Err(Error::Ambiguous(alloc::format!(
            "the file looks like both {first} and {second}"
        ))),
    }
}

/// Magic numbers of formats that are refused by name: (magic, offset, name).
const REFUSED: [(&[u8], usize, &str); 3] = [
    (b"vhdxfile", 0, "VHDX"),
    (b"\x7f\x10\xda\xbe", 0x40, "VDI"),
    (b"QED\x00", 0, "QED"),
];

/// Up to `buf.len()` bytes from `at`, fewer at the end of the file.
fn prefix<'a>(file: &dyn Source, at: u64, buf: &'a mut [u8]) -> Result<&'a [u8], Error> {
    let held = usize::try_from(file.size().saturating_sub(at)).unwrap_or(usize::MAX);
    let buf = buf.get_mut(..held.min(buf.len())).unwrap_or_default();
    file.read_at(at, buf)?;
    Ok(buf)
}
