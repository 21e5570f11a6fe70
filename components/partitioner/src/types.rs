//! The WIT `types` interface and `blockpart-core`'s types: every conversion between them in
//! the guest, in both directions.

use blockpart_core as core;

use crate::blockpart::partition::types as wit;

impl From<core::Info> for wit::Info {
    fn from(info: core::Info) -> Self {
        Self {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }
}

impl From<wit::Direction> for core::Direction {
    fn from(direction: wit::Direction) -> Self {
        match direction {
            wit::Direction::Read => Self::Read,
            wit::Direction::Write => Self::Write,
        }
    }
}

impl From<wit::Info> for core::Info {
    fn from(info: wit::Info) -> Self {
        Self {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }
}

impl From<wit::DeviceError> for core::DeviceError {
    fn from(error: wit::DeviceError) -> Self {
        match error {
            wit::DeviceError::Disconnected => Self::Disconnected,
            wit::DeviceError::IsReadOnly => Self::ReadOnly,
            wit::DeviceError::OutOfBounds => Self::OutOfBounds,
            wit::DeviceError::Unaligned => Self::Unaligned,
            wit::DeviceError::Io(message) => Self::Io(message),
        }
    }
}

impl From<core::DeviceError> for wit::DeviceError {
    fn from(error: core::DeviceError) -> Self {
        match error {
            core::DeviceError::Disconnected => Self::Disconnected,
            core::DeviceError::ReadOnly => Self::IsReadOnly,
            core::DeviceError::OutOfBounds => Self::OutOfBounds,
            core::DeviceError::Unaligned => Self::Unaligned,
            core::DeviceError::Io(message) | core::DeviceError::System { message, .. } => {
                Self::Io(message)
            }
        }
    }
}

impl From<core::Error> for wit::Error {
    fn from(error: core::Error) -> Self {
        match error {
            core::Error::OutOfBounds(refused) => Self::OutOfBounds(wit::Access {
                sector_start: refused.sector_start,
                sectors: refused.sectors,
                size_sectors: refused.size_sectors,
            }),
            core::Error::Unaligned(len) => Self::Unaligned(len),
            core::Error::TooLarge(len) => Self::TooLarge(len),
            core::Error::Disconnected => Self::Disconnected,
            core::Error::ReadOnly => Self::IsReadOnly,
            core::Error::Device(error) => Self::Device(error.into()),
            core::Error::InvalidDevice(message) => Self::InvalidDevice(message),
        }
    }
}
