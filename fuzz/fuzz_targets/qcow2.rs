//! Arbitrary bytes as a qcow2 image, read by `blockpart-formats`: open, then read its
//! start, its end and a few places between (1 MiB at most in all). Nothing may panic, hang
//! or allocate by what the header claims; every answer is a value or an error.

#![no_main]

use blockpart_formats::{Disk, Format};
use libfuzzer_sys::fuzz_target;

/// Bytes read per range.
const READ: u64 = 64 << 10;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut disk) = Disk::open(bytes.to_vec(), Some(Format::Qcow2), None) else {
        return;
    };
    let size = disk.size();
    let _ = disk.map(0, size);
    // Start, end, and middles: 16 ranges of 64 KiB at most, 1 MiB in all.
    let mut buf = vec![0u8; READ as usize];
    for step in 0..16u64 {
        let at = match step {
            0 => 0,
            1 => size.saturating_sub(READ),
            _ => size / 15 * (step - 1) + step * 513,
        };
        let len = READ.min(size.saturating_sub(at));
        if len == 0 {
            continue;
        }
        let _ = disk.read(at, &mut buf[..len as usize]);
    }
});
