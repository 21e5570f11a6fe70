//! One module per command or group of commands.

pub mod bench;
pub mod conformance;
pub mod copy;
pub mod files;
pub mod show;
