//! Arbitrary bytes opened as a VHD (fixed or dynamic) by `blockpart-formats`, then a bounded set of reads
//! and maps: the start, the end, a few places between (at most 1 MiB read in all). Nothing
//! may panic or hang, and memory stays bounded whatever the headers declare; every answer is
//! a value or an error.

#![no_main]

use blockpart_formats::{Disk, Format};
use libfuzzer_sys::fuzz_target;

/// Bytes read at each place.
const READ: u64 = 128 * 1024;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut disk) = Disk::open(bytes.to_vec(), Some(Format::Vhd), None) else {
        return;
    };
    let size = disk.size();
    let mut buf = vec![0u8; READ as usize];
    // Start, end, and middles at odd offsets: eight reads of at most 128 KiB.
    let places = [
        0,
        size / 3 + 7,
        (size / 2).saturating_sub(1),
        size / 7 * 5 + 511,
        size.saturating_sub(READ),
    ]
    .into_iter()
    .chain([1, size.saturating_sub(1), size / 11 * 9 + 3]);
    for offset in places {
        let len = READ.min(size.saturating_sub(offset));
        let _ = disk.map(offset, len);
        let _ = disk.read(offset, &mut buf[..len as usize]);
    }
    let _ = disk.read(size, &mut [0u8; 1]);
});
