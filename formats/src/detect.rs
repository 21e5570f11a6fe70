//! Which format a file is, by its content: never by its name.

use crate::{Error, Format, Source};

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
