//! Paths of the components that only tests use, built by this crate's `build.rs` (the way
//! wasmtime's `test-programs/artifacts` does it), so the host library builds the partitioner
//! alone.

/// A partitioner that misbehaves on purpose, chosen by the first byte of its disk
/// (`test-programs/hostile/`).
pub const HOSTILE_COMPONENT: &str = env!("BLOCKPART_HOSTILE_COMPONENT");

/// A provider of RAM disks as `block-device`s (`test-programs/ram-disk/`).
pub const RAM_DISK_COMPONENT: &str = env!("BLOCKPART_RAM_DISK_COMPONENT");

/// A consumer of `partition` that splits a RAM disk and checks each part
/// (`test-programs/split-check/`).
pub const SPLIT_CHECK_COMPONENT: &str = env!("BLOCKPART_SPLIT_CHECK_COMPONENT");

/// The modes of the hostile partitioner (`test-programs/hostile-mode`): what it does wrong, by
/// the first byte of its disk. `host/tests/hostile.rs` runs every one.
pub use blockpart_hostile_mode as hostile;
