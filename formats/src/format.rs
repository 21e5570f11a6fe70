//! The image formats, by name.

use core::fmt;

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
