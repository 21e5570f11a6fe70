//! What the hostile partitioner does wrong, chosen by the first byte of the disk it is handed.
//!
//! Plain Rust, shared with the host's tests: `blockpart-test-artifacts` re-exports this crate as
//! `hostile`, and `host/tests/hostile.rs` says, in a `match` with no wildcard, what the host
//! must make of each mode, then runs every mode [`Mode::of`] selects. A mode added here without
//! a test there does not compile.

/// What to do wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `T`: `read` and `map` trap (a panic: `unreachable`).
    Trap,
    /// `L`: `read` and `map` never return.
    Loop,
    /// `M`: `read` and `map` allocate until memory runs out.
    Grow,
    /// `R`: `read` and `map` recurse until the stack runs out.
    Recurse,
    /// `S`: `read` returns one byte less than asked for.
    Short,
    /// `G`: `read` returns a sector more than asked for.
    Long,
    /// `K`: `whole` keeps the device forever: it is never dropped while the instance lives.
    Keep,
    /// `D`: `whole` drops the device handle twice.
    DropTwice,
    /// `U`: `whole` drops the device handle, then calls it.
    UseAfterDrop,
    /// `P`: `read` reads one sector of the device at its end, around the partition.
    ReadPastEnd,
    /// `W`: `read` writes one sector of the device at its end.
    WritePastEnd,
    /// `E`: `read` writes two sectors of the device from its last one, across its end.
    WriteAcrossEnd,
    /// `X`: `read` reads one sector of the device at sector `u64::MAX`.
    ReadAtMax,
    /// `Y`: `read` writes one sector of the device at sector `u64::MAX`.
    WriteAtMax,
    /// `Z`: `read` zeroes `u64::MAX` sectors of the device from sector 1 (the end wraps to 0).
    ZeroesWrapping,
    /// `C`: `read` discards `u64::MAX` sectors of the device from sector 0.
    DiscardTooMany,
    /// `O`: `read` writes sector 0 of the device, which is read-only.
    WriteReadOnly,
    /// `I`: `partition-table.read` returns a GPT whose disk GUID is [`BAD_DISK_GUID`].
    BadDiskGuid,
    /// `J`: `partition-table.read` returns a GPT with an entry whose GUID is
    /// [`BAD_ENTRY_GUID`].
    BadEntryGuid,
    /// `N`: `partition-table.read` returns a table of [`TOO_MANY_ENTRIES`] entries, one more
    /// than any disk can hold.
    TooManyEntries,
    /// `Q`: `partition-table.read` returns an entry whose name is [`TOO_LONG_NAME`] bytes, more
    /// than a GPT name can be.
    TooLongName,
    /// `a`: `map` maps every request to the device's end, just past its last sector.
    MapPastEnd,
    /// `b`: `map` maps every request to sector `u64::MAX`.
    MapAtMax,
    /// `c`: `map` maps every request to the device's last sector, so that a request of two
    /// sectors runs past the end.
    MapAcrossEnd,
    /// `o`: `map` maps writes on a read-only device, where it must refuse them.
    MapWriteReadOnly,
    /// `d`: `whole` drops the device handle; `map` then maps requests as if it had it.
    MapAfterDrop,
    /// Any other byte: reads as it should, the disk's bytes; has no partition table.
    Honest,
}

/// The disk GUID of [`Mode::BadDiskGuid`]'s table: not a GUID at all.
pub const BAD_DISK_GUID: &str = "not a GUID";

/// The entry GUID of [`Mode::BadEntryGuid`]'s table: a GUID with one digit that is not hex.
pub const BAD_ENTRY_GUID: &str = "0fc63daf-8483-4772-8e79-3d69d8477dez";

/// Entries in [`Mode::TooManyEntries`]'s table: one more than a GPT's 16 MiB array of
/// 128-byte entries.
pub const TOO_MANY_ENTRIES: usize = 131_073;

/// Bytes in [`Mode::TooLongName`]'s name: one more than 36 UTF-16 code units can make.
pub const TOO_LONG_NAME: usize = 109;

impl Mode {
    /// The mode a disk whose first byte is `byte` selects.
    pub fn of(byte: u8) -> Self {
        match byte {
            b'T' => Mode::Trap,
            b'L' => Mode::Loop,
            b'M' => Mode::Grow,
            b'R' => Mode::Recurse,
            b'S' => Mode::Short,
            b'G' => Mode::Long,
            b'K' => Mode::Keep,
            b'D' => Mode::DropTwice,
            b'U' => Mode::UseAfterDrop,
            b'P' => Mode::ReadPastEnd,
            b'W' => Mode::WritePastEnd,
            b'E' => Mode::WriteAcrossEnd,
            b'X' => Mode::ReadAtMax,
            b'Y' => Mode::WriteAtMax,
            b'Z' => Mode::ZeroesWrapping,
            b'C' => Mode::DiscardTooMany,
            b'O' => Mode::WriteReadOnly,
            b'I' => Mode::BadDiskGuid,
            b'J' => Mode::BadEntryGuid,
            b'N' => Mode::TooManyEntries,
            b'Q' => Mode::TooLongName,
            b'a' => Mode::MapPastEnd,
            b'b' => Mode::MapAtMax,
            b'c' => Mode::MapAcrossEnd,
            b'o' => Mode::MapWriteReadOnly,
            b'd' => Mode::MapAfterDrop,
            _ => Mode::Honest,
        }
    }
}
