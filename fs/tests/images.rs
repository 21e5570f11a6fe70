//! The reader against images the real tools made (`mke2fs -d`, `mkfs.vfat` and `mcopy -s`):
//! every tree must read back exactly, through byte and whole-sector access; damaged images
//! must give errors, never a panic or a hang.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    missing_docs,
    reason = "tests: small known numbers, and a panic is a failure"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use blockpart_fs::{Aligned, Error, FileKind, Filesystem, IoError, MAX_READ, Sectors};
use blockpart_test_tools::trees::{
    Kind, Node, Random, Tree, assert_same_tree, expected_tree, make_image, make_tree,
    tools_installed,
};

/// Whole sectors of an image in memory, as a partition gives them.
struct SectorDisk {
    bytes: Vec<u8>,
    sector_size: u32,
}

impl Sectors for SectorDisk {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn sectors(&self) -> u64 {
        (self.bytes.len() / self.sector_size as usize) as u64
    }
    fn read_sectors(&mut self, start: u64, buf: &mut [u8]) -> Result<(), IoError> {
        assert_eq!(
            buf.len() % self.sector_size as usize,
            0,
            "whole sectors only"
        );
        let from = start as usize * self.sector_size as usize;
        buf.copy_from_slice(&self.bytes[from..from + buf.len()]);
        Ok(())
    }
}

/// Deepest directory [`walk`] lists: deeper than any tree the tests make (5 levels), and
/// shallow enough that a damaged directory that holds itself (a `..` whose name lost a bit,
/// still pointing at its parent) is not walked down to the longest path the reader takes.
const MAX_DEPTH: usize = 16;

/// Reads the whole tree the way a user of the crate would: listings, metadata, files in
/// chunks (of odd sizes, to cross block boundaries), link targets; [`MAX_DEPTH`] levels deep.
fn walk(fs: &mut Filesystem, modes: bool) -> Result<Tree, Error> {
    let mut out = Tree::new();
    let mut stack = vec![(b"".to_vec(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        for entry in fs.list_dir(&dir)? {
            let mut path = dir.clone();
            path.push(b'/');
            path.extend_from_slice(&entry.name);
            assert_eq!(fs.metadata(&path)?, entry.metadata, "{path:?}");
            let mode = if modes {
                entry.metadata.mode.map(u32::from)
            } else {
                None
            };
            let node = match entry.metadata.kind {
                FileKind::Directory => {
                    if depth < MAX_DEPTH {
                        stack.push((path.clone(), depth + 1));
                    }
                    Node::Dir { mode }
                }
                FileKind::Symlink => Node::Symlink(fs.read_link(&path)?),
                FileKind::File => {
                    let mut content = Vec::new();
                    loop {
                        let chunk = fs.read(&path, content.len() as u64, 1_000_003)?;
                        if chunk.is_empty() {
                            break;
                        }
                        content.extend_from_slice(&chunk);
                    }
                    assert_eq!(content.len() as u64, entry.metadata.size, "{path:?}");
                    Node::File { content, mode }
                }
                FileKind::Other => panic!("no special files in the tree"),
            };
            out.insert(path, node);
        }
    }
    Ok(out)
}

/// The tree for `kind`, and an image of it.
fn image(kind: Kind) -> Option<(Tree, Vec<u8>)> {
    if !tools_installed(kind) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    make_tree(&tree, kind);
    let image = dir.path().join("fs.img");
    make_image(kind, &tree, &image);
    Some((expected_tree(&tree, kind), std::fs::read(&image).unwrap()))
}

#[test]
fn every_tree_reads_back_exactly_on_every_filesystem() {
    for kind in Kind::ALL {
        let Some((expected, bytes)) = image(kind) else {
            continue;
        };
        let mut fs = Filesystem::open(bytes.clone()).unwrap();
        assert_eq!(fs.kind().name(), kind.name());
        assert_same_tree(
            &walk(&mut fs, !kind.is_fat()).unwrap(),
            &expected,
            &format!("{kind:?}"),
        );
        for sector_size in [512, 4096] {
            let disk = SectorDisk {
                bytes: bytes.clone(),
                sector_size,
            };
            let mut fs = Filesystem::open(Aligned::new(disk)).unwrap();
            assert_same_tree(
                &walk(&mut fs, !kind.is_fat()).unwrap(),
                &expected,
                &format!("{kind:?} {sector_size}"),
            );
        }
    }
}

#[test]
fn wrong_paths_give_the_error_that_says_why() {
    for kind in [Kind::Ext("ext4", 4096), Kind::Fat(16)] {
        let Some((_, bytes)) = image(kind) else {
            continue;
        };
        let mut fs = Filesystem::open(bytes).unwrap();
        assert_eq!(fs.list_dir(b"/nothing"), Err(Error::NotFound));
        assert_eq!(fs.metadata(b"/deep/nothing"), Err(Error::NotFound));
        assert_eq!(fs.list_dir(b"/hello.txt"), Err(Error::NotADirectory));
        assert_eq!(fs.metadata(b"/hello.txt/x"), Err(Error::NotADirectory));
        assert_eq!(fs.read(b"/deep", 0, 10), Err(Error::IsADirectory));
        assert_eq!(fs.read_link(b"/hello.txt"), Err(Error::NotASymlink));
        assert_eq!(
            fs.read(b"/hello.txt", 0, MAX_READ + 1),
            Err(Error::TooLarge {
                asked: MAX_READ + 1,
                most: MAX_READ
            })
        );
        assert_eq!(fs.read(b"/hello.txt", 6, 100).unwrap(), b" world\n");
        assert_eq!(fs.read(b"/hello.txt", 13, 100).unwrap(), b"");
        assert_eq!(fs.read(b"/hello.txt", u64::MAX, 100).unwrap(), b"");
        assert!(matches!(
            fs.read(b"/a\0b", 0, 1),
            Err(Error::InvalidPath(_))
        ));
    }
}

#[test]
fn a_partition_cut_short_is_damaged_not_a_panic() {
    for kind in [Kind::Ext("ext4", 4096), Kind::Fat(32)] {
        let Some((_, mut bytes)) = image(kind) else {
            continue;
        };
        // Past the superblock, group descriptors and boot sector; before most of the rest.
        bytes.truncate(1 << 20);
        let result = Filesystem::open(bytes).and_then(|mut fs| walk(&mut fs, false));
        assert!(
            matches!(result, Err(Error::Damaged(_))),
            "{kind:?}: {result:?}"
        );
    }
}

/// Flips random bytes of an image's metadata region, many times over: every operation must
/// return, with an answer or an error. Counts the outcomes, so a run shows what it covered.
#[test]
fn damaged_images_give_errors_never_a_panic_or_a_hang() {
    for kind in Kind::ALL {
        let Some((_, bytes)) = image(kind) else {
            continue;
        };
        // Where the metadata lies: boot sector, FATs and root directory, or superblock, group
        // descriptors, bitmaps and the first inode tables.
        let region = if kind.is_fat() { 256 << 10 } else { 1 << 20 };
        let mut random =
            Random::new(u64::from(kind.size_bytes() as u32) ^ kind.name().len() as u64);
        let (mut errors, mut read) = (0, 0);
        for _ in 0..30 {
            let mut damaged = bytes.clone();
            for _ in 0..8 {
                let at = (random.next_u64() % region) as usize;
                damaged[at] ^= 1 << (random.next_u64() % 8);
            }
            let started = Instant::now();
            match Filesystem::open(damaged).and_then(|mut fs| walk(&mut fs, false)) {
                Ok(_) => read += 1,
                Err(_) => errors += 1,
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{kind:?}: too slow"
            );
        }
        eprintln!("{kind:?}: {read} read through, {errors} errors");
    }
}

#[test]
fn a_directory_whose_clusters_loop_is_damaged() {
    let kind = Kind::Fat(16);
    let Some((_, mut bytes)) = image(kind) else {
        return;
    };
    let mut fs = Filesystem::open(bytes.clone()).unwrap();
    assert!(fs.list_dir(b"/deep").is_ok());
    drop(fs);
    // FAT16: the FAT starts after the reserved sectors; `deep`'s first cluster is in its
    // directory entry. Make that cluster's FAT entry point at itself.
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let sector = u16_at(&bytes, 11);
    let reserved = u16_at(&bytes, 14);
    let fat = reserved * sector;
    let root_entries = u16_at(&bytes, 17);
    let fats = bytes[16] as usize;
    let fat_sectors = u16_at(&bytes, 22);
    let root = fat + fats * fat_sectors * sector;
    let deep = (0..root_entries)
        .map(|i| root + i * 32)
        .find(|at| &bytes[*at..*at + 11] == b"DEEP       ")
        .unwrap();
    let cluster = u16_at(&bytes, deep + 26);
    // Fill the cluster's free slots with copies of its first entry (`.`), so no end marker
    // stops the listing: only the loop's bound can.
    let cluster_bytes = bytes[13] as usize * sector;
    let data = root + root_entries * 32;
    let start = data + (cluster - 2) * cluster_bytes;
    let dot: [u8; 32] = bytes[start..start + 32].try_into().unwrap();
    for slot in (start..start + cluster_bytes).step_by(32) {
        if bytes[slot] == 0 {
            bytes[slot..slot + 32].copy_from_slice(&dot);
        }
    }
    for copy in 0..fats {
        let entry = fat + copy * fat_sectors * sector + cluster * 2;
        bytes[entry..entry + 2].copy_from_slice(&(cluster as u16).to_le_bytes());
    }
    let mut fs = Filesystem::open(bytes).unwrap();
    let started = Instant::now();
    assert!(matches!(fs.list_dir(b"/deep"), Err(Error::Damaged(_))));
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// What ext4-view 1.0.0 cannot read, pinned so a fix upstream shows: a sparse ext2 file whose
/// hole spans a whole indirect block is refused as damaged, never read as wrong bytes.
#[test]
fn an_ext2_hole_over_an_indirect_block_is_refused_not_misread() {
    let kind = Kind::Ext("ext2", 1024);
    if !tools_installed(kind) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let file = std::fs::File::create(tree.join("sparse")).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"end", 5 << 20).unwrap();
    let image = dir.path().join("fs.img");
    make_image(kind, &tree, &image);
    let mut fs = Filesystem::open(std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(fs.metadata(b"/sparse").unwrap().size, (5 << 20) + 3);
    // Blocks 12 to 267 are mapped by the single indirect block, which the hole leaves out.
    assert!(matches!(
        fs.read(b"/sparse", 100 << 10, 4096),
        Err(Error::Damaged(_))
    ));
}

/// Inputs the `fs` fuzz target found (`fuzz/regressions/fs/`): each must open and walk to an
/// answer or an error. `fat-cluster-below-2`: a directory entry whose first cluster is 1, on
/// which fatfs 0.3.6 subtracts past zero (a panic with overflow checks, as here; a wrapped,
/// out-of-range read without).
#[test]
fn fuzz_regressions_give_answers_or_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions/fs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let result = Filesystem::open(bytes).and_then(|mut fs| walk(&mut fs, false));
        eprintln!("{}: {:?}", path.display(), result.map(|tree| tree.len()));
    }
}

/// ext features the reader does not read are named as `mke2fs -O` and `tune2fs -l` name
/// them, not as ext4-view prints its bit flags (`IncompatibleFeatures(0x20000)`).
#[test]
fn an_ext_feature_the_reader_lacks_is_named() {
    let Some(mke2fs) = blockpart_test_tools::installed("mke2fs") else {
        return;
    };
    for (features, named) in [
        ("casefold", "does not read: casefold"),
        (
            "inline_data,casefold",
            "does not read: inline_data, casefold",
        ),
        ("^filetype", "without the filetype feature"),
    ] {
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(8 << 20).unwrap();
        let made = std::process::Command::new(&mke2fs)
            .args(["-q", "-F", "-t", "ext4", "-O", features])
            .arg(image.path())
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{features}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let Err(error) = Filesystem::open(std::fs::read(image.path()).unwrap()) else {
            panic!("{features}: opened");
        };
        assert!(
            matches!(&error, Error::Unsupported(why) if why.contains(named)),
            "{features}: {error}"
        );
    }
}
