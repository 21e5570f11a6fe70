//! Arbitrary bytes as a partition, read by `blockpart-fs`: detection, then a walk of what
//! it lists (bounded), reading some of every file and every link. Nothing may panic or hang;
//! every answer is a value or an error.

#![no_main]

use blockpart_fs::{FileKind, Filesystem};
use libfuzzer_sys::fuzz_target;

/// Entries visited per input: enough to reach what a small image holds.
const MOST_ENTRIES: usize = 256;

fuzz_target!(|bytes: &[u8]| {
    let Ok(mut fs) = Filesystem::open(bytes.to_vec()) else {
        return;
    };
    let mut stack = vec![b"/".to_vec()];
    let mut visited = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs.list_dir(&dir) else {
            continue;
        };
        for entry in entries {
            visited += 1;
            if visited > MOST_ENTRIES {
                return;
            }
            let mut path = dir.clone();
            path.push(b'/');
            path.extend_from_slice(&entry.name);
            let _ = fs.metadata(&path);
            match entry.metadata.kind {
                FileKind::Directory if stack.len() < 16 => stack.push(path),
                FileKind::File => {
                    let _ = fs.read(&path, 0, 1 << 16);
                    let _ = fs.read(&path, entry.metadata.size.saturating_sub(100), 1 << 10);
                }
                FileKind::Symlink => {
                    let _ = fs.read_link(&path);
                }
                _ => {}
            }
        }
    }
});
