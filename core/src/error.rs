//! Errors of devices and partitions, mirroring the WIT `device-error` and `error` variants.

use crate::{MAX_TRANSFER_BYTES, OutOfBounds};

/// A failure reported by a block device.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The device has been disconnected.
    #[error("the device is disconnected")]
    Disconnected,
    /// The device refuses writes.
    #[error("the device is read-only")]
    ReadOnly,
    /// The request lies outside the device.
    #[error("the request lies outside the device")]
    OutOfBounds,
    /// The length is not a whole number of sectors.
    #[error("the length is not a whole number of sectors")]
    Unaligned,
    /// Any other failure, in the device's words.
    #[error("{0}")]
    Io(String),
    /// A failure the host's operating system reported, with its error number (`errno`), which
    /// a host that serves the device on passes to its own client (the nbdkit plugin answers
    /// `ENOSPC` for a full disk, as nbdkit's `file` plugin does). The WIT's `io` carries the
    /// message alone: see [`DeviceError::relayed`].
    #[error("{message}")]
    System {
        /// The error number, as the host's operating system numbers it.
        errno: i32,
        /// What the system said.
        message: String,
    },
}

impl DeviceError {
    /// The error as it reaches the host again through a guest, which has only the WIT's cases
    /// for it: [`DeviceError::System`] becomes [`DeviceError::Io`], its message kept.
    #[must_use]
    pub fn relayed(self) -> Self {
        match self {
            Self::System { message, .. } => Self::Io(message),
            other => other,
        }
    }
}

/// Why a partition refused or failed a request.
///
/// Every variant but [`Error::Device`] comes from the partition's own checks, made before any
/// device I/O: a request refused with one of them read or wrote nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request does not lie within the partition.
    #[error(
        "sectors {}..+{} are not within the partition's {} sectors",
        .0.sector_start, .0.sectors, .0.size_sectors
    )]
    OutOfBounds(OutOfBounds),
    /// The data length, in bytes, is not a whole number of sectors.
    #[error("{0} bytes is not a whole number of sectors")]
    Unaligned(u64),
    /// The data length, in bytes, is over [`MAX_TRANSFER_BYTES`].
    #[error("{0} bytes is over the largest transfer of {MAX_TRANSFER_BYTES} bytes")]
    TooLarge(u64),
    /// The partition has been disconnected.
    #[error("the partition is disconnected")]
    Disconnected,
    /// The device is read-only and the request writes.
    #[error("the device is read-only")]
    ReadOnly,
    /// The underlying device failed the request.
    #[error("device error: {0}")]
    Device(DeviceError),
    /// The device broke its contract (bad sector size, wrong read length).
    #[error("the device broke its contract: {0}")]
    InvalidDevice(String),
}

impl From<OutOfBounds> for Error {
    fn from(refused: OutOfBounds) -> Self {
        Self::OutOfBounds(refused)
    }
}

impl From<DeviceError> for Error {
    fn from(error: DeviceError) -> Self {
        Self::Device(error)
    }
}
