//! Test trees and the filesystem images the real tools make of them, shared by the filesystem
//! crate's tests and the command line's.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    reason = "test support: small known numbers, and a panic is a failure"
)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use crate::installed;

/// The filesystems the tests make, with the tool settings that make them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ext2, ext3 or ext4 (the name `mke2fs -t` takes), with this block size.
    Ext(&'static str, u32),
    /// FAT12, 16 or 32 (`mkfs.vfat -F`).
    Fat(u32),
}

impl Kind {
    /// Every kind the tests cover.
    pub const ALL: [Kind; 9] = [
        Kind::Ext("ext2", 1024),
        Kind::Ext("ext2", 4096),
        Kind::Ext("ext3", 1024),
        Kind::Ext("ext3", 4096),
        Kind::Ext("ext4", 1024),
        Kind::Ext("ext4", 4096),
        Kind::Fat(12),
        Kind::Fat(16),
        Kind::Fat(32),
    ];

    /// The name `blockpart` reports for it.
    pub fn name(self) -> String {
        match self {
            Kind::Ext(name, _) => name.to_owned(),
            Kind::Fat(bits) => format!("fat{bits}"),
        }
    }

    /// Whether this is a FAT filesystem.
    pub fn is_fat(self) -> bool {
        matches!(self, Kind::Fat(_))
    }

    /// A size that holds the test tree, and that the tool accepts for this kind (FAT's
    /// type follows from its cluster count).
    pub fn size_bytes(self) -> u64 {
        match self {
            Kind::Ext(..) => 24 << 20,
            Kind::Fat(12) => 12 << 20,
            Kind::Fat(16) => 32 << 20,
            Kind::Fat(_) => 80 << 20,
        }
    }
}

/// Whether the tools that make `kind`'s images are installed: if not, the test skips with a
/// note, or fails under CI ([`installed`]).
pub fn tools_installed(kind: Kind) -> bool {
    let tools: &[&str] = match kind {
        Kind::Ext(..) => &["mke2fs"],
        Kind::Fat(_) => &["mkfs.vfat", "mcopy"],
    };
    tools
        .iter()
        .filter(|tool| installed(tool).is_none())
        .count()
        == 0
}

fn run(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Deterministic bytes, so a failure repeats (xorshift64*).
pub struct Random(u64);

impl Random {
    /// The sequence that `seed` starts.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// The next `len` bytes of the sequence.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// Makes the test tree in `dir`: nested directories, UTF-8 names, names in mixed case, an
/// empty file, sizes around 512, 1 KiB, 4 KiB and 64 KiB boundaries, a few MiB, and (not for
/// FAT, which has neither) a sparse file and symbolic links.
pub fn make_tree(dir: &Path, kind: Kind) {
    let fat = kind.is_fat();
    let mut random = Random::new(7);
    let write = |path: &Path, data: &[u8]| fs::write(dir.join(path), data).unwrap();
    fs::create_dir_all(dir.join("deep/er/still/deeper")).unwrap();
    fs::create_dir_all(dir.join("empty dir")).unwrap();
    fs::create_dir_all(dir.join("données/日本語")).unwrap();
    write(Path::new("empty"), b"");
    write(Path::new("hello.txt"), b"hello, world\n");
    for size in [
        1, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 4097, 65535, 65537,
    ] {
        write(Path::new(&format!("deep/size-{size}")), &random.bytes(size));
    }
    write(Path::new("deep/er/still/deeper/leaf"), b"leaf\n");
    write(
        Path::new("données/日本語/ファイル.txt"),
        "こんにちは\n".as_bytes(),
    );
    write(Path::new("données/naïve café.bin"), &random.bytes(3000));
    // Names in mixed case, which FAT keeps in a long name beside an upper-case short one
    // (`MAKEFILE`), and one in upper case alone.
    fs::create_dir_all(dir.join("Music")).unwrap();
    write(Path::new("Makefile"), b"all:\n");
    write(Path::new("MiXeD.TxT"), b"mixed\n");
    write(Path::new("Music/Readme.txt"), b"readme\n");
    write(Path::new("UPPER.TXT"), b"upper\n");
    write(Path::new("big.bin"), &random.bytes((3 << 20) + 4099));
    if !fat {
        // Holes at the start, between and after the data.
        let sparse = fs::File::create(dir.join("sparse")).unwrap();
        if matches!(kind, Kind::Ext("ext4", _)) {
            sparse.write_all_at(b"middle", 5 << 20).unwrap();
            sparse.write_all_at(&random.bytes(5000), 9 << 20).unwrap();
            sparse.set_len(12 << 20).unwrap();
        } else {
            // ext2 and ext3 map blocks through indirect blocks, and ext4-view 1.0.0 reads
            // no hole that spans a whole one (a zero indirect pointer): it calls that
            // damaged. Holes among the first 12 blocks, which the inode maps itself, it reads.
            sparse.write_all_at(b"middle", 3000).unwrap();
            sparse.write_all_at(&random.bytes(1000), 8000).unwrap();
            sparse.set_len(11 << 10).unwrap();
        }
        symlink("hello.txt", dir.join("link-to-file")).unwrap();
        symlink("deep/er", dir.join("link-to-dir")).unwrap();
        symlink("nowhere/at/all", dir.join("dangling")).unwrap();
        let mode = |path: &str, mode: u32| {
            fs::set_permissions(dir.join(path), fs::Permissions::from_mode(mode)).unwrap();
        };
        mode("hello.txt", 0o640);
        mode("deep/size-1", 0o755);
        mode("empty dir", 0o700);
    }
}

/// What the tests compare: every path under the root (`/a/b`), what it is, and its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory, with its permission bits where the filesystem keeps them.
    Dir {
        /// The permission bits (`0o755`), `None` where the filesystem has none (FAT).
        mode: Option<u32>,
    },
    /// A regular file.
    File {
        /// Its bytes.
        content: Vec<u8>,
        /// The permission bits, `None` where the filesystem has none (FAT).
        mode: Option<u32>,
    },
    /// A symbolic link, with its target.
    Symlink(Vec<u8>),
}

/// A tree: every path under the root (`/a/b`), and what it is.
pub type Tree = BTreeMap<Vec<u8>, Node>;

/// The tree under `dir` as the host sees it; `modes`: keep permission bits (not for FAT).
pub fn snapshot(dir: &Path, modes: bool) -> Tree {
    use std::os::unix::ffi::OsStrExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![(dir.to_owned(), b"".to_vec())];
    while let Some((real, name)) = stack.pop() {
        for entry in fs::read_dir(&real).unwrap() {
            let entry = entry.unwrap();
            let mut path = name.clone();
            path.push(b'/');
            path.extend_from_slice(entry.file_name().as_bytes());
            let md = fs::symlink_metadata(entry.path()).unwrap();
            let mode = modes.then_some(md.permissions().mode() & 0o7777);
            let node = if md.is_dir() {
                stack.push((entry.path(), path.clone()));
                Node::Dir { mode }
            } else if md.is_symlink() {
                Node::Symlink(
                    fs::read_link(entry.path())
                        .unwrap()
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                )
            } else {
                Node::File {
                    content: fs::read(entry.path()).unwrap(),
                    mode,
                }
            };
            out.insert(path, node);
        }
    }
    out
}

/// What a reader of the image of `tree` made as `kind` must find: the tree as the host sees
/// it, with the `lost+found` that mke2fs adds to an ext filesystem.
pub fn expected_tree(tree: &Path, kind: Kind) -> Tree {
    let mut expected = snapshot(tree, !kind.is_fat());
    if !kind.is_fat() {
        expected.insert(b"/lost+found".to_vec(), Node::Dir { mode: Some(0o700) });
    }
    expected
}

/// A filesystem image of `kind` holding the tree in `tree`, made by the real tools.
pub fn make_image(kind: Kind, tree: &Path, image: &Path) {
    make_image_sized(kind, tree, image, kind.size_bytes());
}

/// [`make_image`], `size` bytes large.
pub fn make_image_sized(kind: Kind, tree: &Path, image: &Path, size: u64) {
    fs::File::create(image).unwrap().set_len(size).unwrap();
    match kind {
        Kind::Ext(name, block) => run(Command::new(installed("mke2fs").unwrap())
            .args(["-q", "-F", "-t", name, "-b", &block.to_string(), "-d"])
            .arg(tree)
            .arg(image)
            .arg(format!("{}", size / u64::from(block)))),
        Kind::Fat(bits) => {
            run(Command::new(installed("mkfs.vfat").unwrap())
                .args(["-F", &bits.to_string()])
                .arg(image));
            for entry in fs::read_dir(tree).unwrap() {
                // mtools wants to be told not to ask about anything (`-n`, `MTOOLS_NO_VFAT`
                // unset) and reads no config that could change names.
                run(Command::new(installed("mcopy").unwrap())
                    .env("MTOOLS_SKIP_CHECK", "1")
                    .args(["-s", "-p", "-Q", "-i"])
                    .arg(image)
                    .arg(entry.unwrap().path())
                    .arg("::/"));
            }
        }
    }
}

/// Asserts two trees are the same, naming the paths that differ (not dumping megabytes).
pub fn assert_same_tree(
    actual: &BTreeMap<Vec<u8>, Node>,
    expected: &BTreeMap<Vec<u8>, Node>,
    what: &str,
) {
    let show = |node: Option<&Node>| match node {
        None => "missing".to_owned(),
        Some(Node::Dir { mode }) => format!("dir {mode:?}"),
        Some(Node::File { content, mode }) => format!("file of {} bytes {mode:?}", content.len()),
        Some(Node::Symlink(target)) => format!("link to {:?}", String::from_utf8_lossy(target)),
    };
    let differ: Vec<String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|path| actual.get(*path) != expected.get(*path))
        .map(|path| {
            format!(
                "{}: got {}, expected {}",
                String::from_utf8_lossy(path),
                show(actual.get(path)),
                show(expected.get(path))
            )
        })
        .collect();
    assert!(differ.is_empty(), "{what}:\n{}", differ.join("\n"));
}
