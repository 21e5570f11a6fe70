//! The WIT `types` interface and `blockpart-core`'s types: every conversion between them in
//! the host, in both directions.

use blockpart_core::{DeviceError, Direction, Info, OutOfBounds};

use super::bindings::blockpart::partition::types as wit;
use crate::Error;

impl From<Info> for wit::Info {
    fn from(info: Info) -> Self {
        Self {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }
}

impl From<Direction> for wit::Direction {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Read => Self::Read,
            Direction::Write => Self::Write,
        }
    }
}

impl From<wit::Info> for Info {
    fn from(info: wit::Info) -> Self {
        Self {
            read_write: info.read_write,
            sector_size: info.sector_size,
            size_sectors: info.size_sectors,
        }
    }
}

impl From<DeviceError> for wit::DeviceError {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::Disconnected => Self::Disconnected,
            DeviceError::ReadOnly => Self::IsReadOnly,
            DeviceError::OutOfBounds => Self::OutOfBounds,
            DeviceError::Unaligned => Self::Unaligned,
            DeviceError::Io(message) | DeviceError::System { message, .. } => Self::Io(message),
        }
    }
}

impl From<wit::DeviceError> for DeviceError {
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

impl From<wit::Error> for blockpart_core::Error {
    fn from(error: wit::Error) -> Self {
        match error {
            wit::Error::OutOfBounds(access) => Self::OutOfBounds(OutOfBounds {
                sector_start: access.sector_start,
                sectors: access.sectors,
                size_sectors: access.size_sectors,
            }),
            wit::Error::Unaligned(len) => Self::Unaligned(len),
            wit::Error::TooLarge(len) => Self::TooLarge(len),
            wit::Error::Disconnected => Self::Disconnected,
            wit::Error::IsReadOnly => Self::ReadOnly,
            wit::Error::Device(error) => Self::Device(error.into()),
            wit::Error::InvalidDevice(message) => Self::InvalidDevice(message),
        }
    }
}

impl From<wit::Error> for Error {
    fn from(error: wit::Error) -> Self {
        Self::Partition(error.into())
    }
}
