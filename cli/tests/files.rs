//! `blockpart ls` and `blockpart get`, run as a user runs them, on disks partitioned by sfdisk
//! whose partitions hold filesystems the real tools made (`mke2fs -d`; `mkfs.vfat` and
//! `mcopy -s`): the listing and the files must reproduce each tree exactly, and damaged
//! filesystems must give a clear error, never a panic or a hang.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    missing_docs,
    reason = "test code, with small known numbers"
)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use blockpart_test_tools::installed;
use blockpart_test_tools::trees::{
    Kind, Node, Random, Tree, assert_same_tree, expected_tree, make_image, make_image_sized,
    make_tree, tools_installed,
};

/// Longest any one command may take here, even on a damaged filesystem: the component's time
/// limit (`--time-limit`, 3 s per call below) must have stopped it well before.
const PATIENCE: Duration = Duration::from_secs(120);

/// `blockpart ARGS`, killed (and the test failed) if it runs past [`PATIENCE`].
fn blockpart(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blockpart"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PATIENCE {
            child.kill().unwrap();
            panic!("blockpart {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

/// A link given as PATH: one to a directory lists the directory, as `ls` does; any other (to a
/// file, dangling, looping) lists itself, with its target under `-l`.
#[test]
fn ls_of_a_link_lists_the_directory_it_names_or_else_itself() {
    let Some((_dir, image)) = ext4_of(24 << 20, |tree| {
        fs::create_dir(tree.join("dir")).unwrap();
        fs::write(tree.join("dir/inside"), "x").unwrap();
        fs::write(tree.join("hello.txt"), "hello\n").unwrap();
        for (link, target) in [
            ("to-file", "hello.txt"),
            ("to-dir", "dir"),
            ("dangling", "nowhere/at/all"),
            ("loop", "loop"),
        ] {
            std::os::unix::fs::symlink(target, tree.join(link)).unwrap();
        }
    }) else {
        return;
    };
    let image = image.to_str().unwrap();
    let ls = |args: &[&str]| succeeds(&blockpart(&[&["ls", image][..], args].concat()));

    assert_eq!(ls(&["/to-dir"]), "inside\n");
    for link in ["/to-file", "/dangling", "/loop"] {
        assert_eq!(ls(&[link]), format!("{link}\n"));
    }
    let long = ls(&["-l", "/to-file"]);
    assert!(long.starts_with("link "), "{long}");
    assert!(long.ends_with(" /to-file -> hello.txt\n"), "{long}");
    assert!(ls(&["-l", "/loop"]).ends_with(" /loop -> loop\n"));
    assert!(ls(&["-l", "/hello.txt"]).ends_with(" 6 /hello.txt\n"));
}

/// `ls` and `get` write into a `/dev/null` opened read-write (Python's `subprocess.DEVNULL`)
/// as into any other file.
#[test]
fn ls_and_get_write_into_a_dev_null_opened_read_write() {
    let Some((_dir, image)) = ext4_of(24 << 20, |tree| {
        fs::write(tree.join("hello.txt"), "hello\n").unwrap();
    }) else {
        return;
    };
    for args in [&["ls", "-l"][..], &["get", "/hello.txt"]] {
        let null = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null");
        let output = Command::new(env!("CARGO_BIN_EXE_blockpart"))
            .arg(args[0])
            .arg(&image)
            .args(&args[1..])
            .stdin(Stdio::null())
            .stdout(null.unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
    }
}

/// An ext4 (4 KiB blocks) of `size` bytes made by mke2fs of the tree `fill` writes, in a fresh
/// directory kept as long as the image is used; `None` without mke2fs (see `tools_installed`).
fn ext4_of(size: u64, fill: impl FnOnce(&Path)) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let kind = Kind::Ext("ext4", 4096);
    if !tools_installed(kind) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    fill(&tree);
    let image = dir.path().join("fs.img");
    make_image_sized(kind, &tree, &image, size);
    Some((dir, image))
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Exit status 1, one line of blockpart's own saying why, no panic.
#[track_caller]
fn fails_cleanly(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("blockpart: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// A disk with a GPT made by sfdisk, partition `i + 1` holding an image of `kinds[i]`. Each
/// image's tree is returned as the host saw it (what `ls` and `get` must reproduce), `None`
/// for a kind whose tools are missing (its partition is left empty).
struct Disk {
    _dir: tempfile::TempDir,
    path: String,
    trees: Vec<Option<Tree>>,
}

fn disk_of(kinds: &[Kind], damage: impl Fn(Kind, &Path)) -> Option<Disk> {
    let sfdisk = installed("sfdisk")?;
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::from("label: gpt\n");
    let mut start = 2048u64;
    let mut starts = Vec::new();
    for kind in kinds {
        let sectors = kind.size_bytes() / 512;
        script.push_str(&format!("start={start}, size={sectors}\n"));
        starts.push(start);
        start += sectors;
    }
    let path = dir.path().join("disk.img");
    fs::File::create(&path)
        .unwrap()
        .set_len((start + 2048) * 512)
        .unwrap();
    let mut sfdisk = Command::new(sfdisk)
        .arg("-q")
        .arg(&path)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut sfdisk.stdin.take().unwrap(), script.as_bytes()).unwrap();
    assert!(sfdisk.wait().unwrap().success());

    let disk = fs::OpenOptions::new().write(true).open(&path).unwrap();
    let mut trees = Vec::new();
    for (i, (kind, start)) in kinds.iter().zip(&starts).enumerate() {
        if !tools_installed(*kind) {
            trees.push(None);
            continue;
        }
        let tree = dir.path().join(format!("tree{i}"));
        make_tree(&tree, *kind);
        let image = dir.path().join(format!("fs{i}.img"));
        make_image(*kind, &tree, &image);
        damage(*kind, &image);
        // Copied in 64 KiB pieces, zeros skipped: the disk stays sparse.
        let bytes = fs::read(&image).unwrap();
        for (n, piece) in bytes.chunks(64 << 10).enumerate() {
            if piece.iter().any(|b| *b != 0) {
                disk.write_all_at(piece, start * 512 + (n as u64) * (64 << 10))
                    .unwrap();
            }
        }
        trees.push(Some(expected_tree(&tree, *kind)));
    }
    Some(Disk {
        path: path.to_str().unwrap().to_owned(),
        _dir: dir,
        trees,
    })
}

/// One line of `ls -l`: type, mode, size, name and a link's target.
fn parse_long(line: &str) -> (String, Option<u32>, u64, String, Option<String>) {
    let mut rest = line;
    let mut field = || {
        let trimmed = rest.trim_start();
        let end = trimmed.find(' ').unwrap();
        let (token, after) = trimmed.split_at(end);
        rest = after;
        token.to_owned()
    };
    let (kind, mode, size) = (field(), field(), field());
    let name = rest.strip_prefix(' ').unwrap();
    let (name, target) = match name.split_once(" -> ") {
        Some((name, target)) => (name.to_owned(), Some(target.to_owned())),
        None => (name.to_owned(), None),
    };
    let mode = (mode != "-").then(|| u32::from_str_radix(&mode, 8).unwrap());
    (kind, mode, size.parse().unwrap(), name, target)
}

/// The tree of the filesystem `options` select on `disk` (`-p N`, `--sector-size`), as
/// `ls -l` and `get` show it.
fn read_tree(disk: &str, options: &[&str], modes: bool) -> Tree {
    let command = |name: &'static str, path: &str, long: bool| {
        let mut args = vec![name, disk];
        args.extend_from_slice(options);
        if long {
            args.push("-l");
        }
        args.push(path);
        blockpart(&args)
    };
    let mut tree = Tree::new();
    let mut stack = vec![String::new()];
    while let Some(dir) = stack.pop() {
        let path = if dir.is_empty() {
            "/".to_owned()
        } else {
            dir.clone()
        };
        let long = succeeds(&command("ls", &path, true));
        let short = succeeds(&command("ls", &path, false));
        let mut names = Vec::new();
        for line in long.lines() {
            let (kind, mode, size, name, target) = parse_long(line);
            names.push(name.clone());
            let full = format!("{dir}/{name}");
            let mode = if modes { mode } else { None };
            let node = match kind.as_str() {
                "dir" => {
                    stack.push(full.clone());
                    Node::Dir { mode }
                }
                "link" => Node::Symlink(target.unwrap().into_bytes()),
                "file" => {
                    let content = succeeds_bytes(&command("get", &full, false));
                    assert_eq!(content.len() as u64, size, "{full}");
                    Node::File { content, mode }
                }
                other => panic!("{full}: {other}"),
            };
            tree.insert(full.into_bytes(), node);
        }
        assert_eq!(
            short.lines().collect::<Vec<_>>(),
            names,
            "ls and ls -l list the same names"
        );
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "ls sorts by name");
    }
    tree
}

#[track_caller]
fn succeeds_bytes(output: &Output) -> Vec<u8> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout.clone()
}

#[test]
fn ls_and_get_reproduce_every_tree_on_every_filesystem() {
    let Some(disk) = disk_of(&Kind::ALL, |_, _| {}) else {
        return;
    };
    for (i, (kind, expected)) in Kind::ALL.iter().zip(&disk.trees).enumerate() {
        let Some(expected) = expected else {
            continue;
        };
        let number = (i + 1) as u32;
        let tree = read_tree(&disk.path, &["-p", &number.to_string()], !kind.is_fat());
        assert_same_tree(&tree, expected, &format!("{kind:?}, partition {number}"));
    }
}

#[test]
fn a_disk_with_partitions_but_no_filesystem_of_its_own_names_the_way_out() {
    let Some(disk) = disk_of(&[Kind::Fat(12)], |_, _| {}) else {
        return;
    };
    let stderr = fails_cleanly(&blockpart(&["ls", &disk.path]));
    assert!(stderr.contains("-p N"), "{stderr}");
    let stderr = fails_cleanly(&blockpart(&["ls", &disk.path, "-p", "2"]));
    assert!(stderr.contains("no partition 2"), "{stderr}");
}

#[test]
fn wrong_paths_fail_with_the_reason() {
    let Some(disk) = disk_of(&[Kind::Ext("ext4", 4096)], |_, _| {}) else {
        return;
    };
    let path = disk.path.as_str();
    let cases = [
        (
            vec!["ls", path, "-p", "1", "/nothing"],
            "no such file or directory",
        ),
        (
            vec!["get", path, "-p", "1", "/nothing"],
            "no such file or directory",
        ),
        (vec!["get", path, "-p", "1", "/deep"], "is a directory"),
        (
            vec!["ls", path, "-p", "1", "/hello.txt/x"],
            "not a directory",
        ),
    ];
    for (args, reason) in cases {
        let stderr = fails_cleanly(&blockpart(&args));
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
    }
    // A file lists itself.
    assert_eq!(
        succeeds(&blockpart(&["ls", path, "-p", "1", "/hello.txt"])),
        "/hello.txt\n"
    );
}

/// Every command on a damaged filesystem ends, with its answer or one clear error.
#[track_caller]
fn ends_cleanly(output: &Output) {
    if !output.status.success() {
        fails_cleanly(output);
    }
}

#[test]
fn flipped_metadata_bytes_give_errors_never_a_panic_or_a_hang() {
    let kinds = [
        Kind::Ext("ext4", 4096),
        Kind::Ext("ext2", 1024),
        Kind::Fat(16),
        Kind::Fat(32),
    ];
    for seed in 0..4u64 {
        let flip = |kind: Kind, image: &Path| {
            let mut bytes = fs::read(image).unwrap();
            let region = if kind.is_fat() { 256 << 10 } else { 1 << 20 };
            let mut random = Random::new(seed * 31 + kind.size_bytes());
            for _ in 0..16 {
                let at = (random.next_u64() % region) as usize;
                bytes[at] ^= 1 << (random.next_u64() % 8);
            }
            fs::write(image, bytes).unwrap();
        };
        let Some(disk) = disk_of(&kinds, flip) else {
            return;
        };
        for number in 1..=kinds.len() {
            let number = number.to_string();
            for args in [
                vec!["ls", "-l", "/"],
                vec!["ls", "-l", "/deep"],
                vec!["get", "/big.bin"],
                vec!["get", "/données/naïve café.bin"],
            ] {
                let mut all = vec![
                    args[0],
                    disk.path.as_str(),
                    "-p",
                    &number,
                    "--time-limit",
                    "3000",
                ];
                all.extend(&args[1..]);
                ends_cleanly(&blockpart(&all));
            }
        }
    }
}

/// FAT directories end at a zeroed entry; one whose cluster chain loops back on itself and
/// holds no such entry never ends. With live entries in it, the reader's bound on entries
/// stops it (`blockpart-fs`'s tests); with none, fatfs walks it without end, inside the
/// component: the time limit stops it, and the next command works.
#[test]
fn a_directory_that_loops_is_stopped_by_the_time_limit() {
    let loop_deep = |_: Kind, image: &Path| {
        let mut bytes = fs::read(image).unwrap();
        let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
        let sector = u16_at(&bytes, 11);
        let fat = u16_at(&bytes, 14) * sector;
        let fats = bytes[16] as usize;
        let fat_bytes = u16_at(&bytes, 22) * sector;
        let root = fat + fats * fat_bytes;
        let root_entries = u16_at(&bytes, 17);
        let deep = (0..root_entries)
            .map(|i| root + i * 32)
            .find(|at| &bytes[*at..*at + 11] == b"DEEP       ")
            .unwrap();
        let cluster = u16_at(&bytes, deep + 26);
        let cluster_bytes = bytes[13] as usize * sector;
        let start = root + root_entries * 32 + (cluster - 2) * cluster_bytes;
        // Every slot deleted, `.` and `..` too: no end marker, and no entry to count.
        for slot in (start..start + cluster_bytes).step_by(32) {
            bytes[slot] = 0xE5;
        }
        for copy in 0..fats {
            let entry = fat + copy * fat_bytes + cluster * 2;
            bytes[entry..entry + 2].copy_from_slice(&(cluster as u16).to_le_bytes());
        }
        fs::write(image, bytes).unwrap();
    };
    let Some(disk) = disk_of(&[Kind::Fat(16)], loop_deep) else {
        return;
    };
    let started = Instant::now();
    let stderr = fails_cleanly(&blockpart(&[
        "ls",
        &disk.path,
        "-p",
        "1",
        "--time-limit",
        "1000",
        "/deep",
    ]));
    assert!(stderr.contains("the filesystem reader failed"), "{stderr}");
    assert!(stderr.contains("time limit of 1000 ms"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let root = succeeds(&blockpart(&["ls", &disk.path, "-p", "1", "/"]));
    assert!(root.lines().any(|name| name == "hello.txt"), "{root}");
}

/// An inode that claims petabytes is damaged: `get` would otherwise stream zeros for ever.
#[test]
fn an_inode_claiming_petabytes_is_damaged() {
    let Some(debugfs) = installed("debugfs") else {
        return;
    };
    let grow = |_: Kind, image: &Path| {
        let status = Command::new(&debugfs)
            .args(["-w", "-R", "sif /big.bin size 0x4000000000000"])
            .arg(image)
            .output()
            .unwrap();
        assert!(status.status.success());
    };
    let Some(disk) = disk_of(&[Kind::Ext("ext4", 4096)], grow) else {
        return;
    };
    let stderr = fails_cleanly(&blockpart(&["get", &disk.path, "-p", "1", "/big.bin"]));
    assert!(stderr.contains("damaged filesystem"), "{stderr}");
    let hello = blockpart(&["get", &disk.path, "-p", "1", "/hello.txt"]);
    assert_eq!(succeeds_bytes(&hello), b"hello, world\n");
}

/// Where sfdisk put nothing, ls says it found no filesystem.
#[test]
fn a_partition_with_no_filesystem_is_unsupported() {
    let Some(disk) = disk_of(&[Kind::Fat(12)], |_, image: &Path| {
        fs::write(image, vec![0; 1 << 20]).unwrap();
    }) else {
        return;
    };
    let stderr = fails_cleanly(&blockpart(&["ls", &disk.path, "-p", "1"]));
    assert!(stderr.contains("unsupported filesystem"), "{stderr}");
}

/// `get` reads in bounded pieces: a file four times the component's memory limit comes out
/// whole. On a filesystem that fills the disk (no partition table, no `-p`).
#[test]
fn get_streams_a_file_larger_than_the_memory_limit() {
    let mut random = Random::new(3);
    let content: Vec<u8> = (0..(64 << 20) / 8)
        .flat_map(|_| random.next_u64().to_le_bytes())
        .collect();
    let Some((_dir, image)) = ext4_of(80 << 20, |tree| {
        fs::write(tree.join("huge"), &content).unwrap();
    }) else {
        return;
    };
    let image = image.to_str().unwrap();
    let output = blockpart(&["get", image, "/huge", "--memory-limit", "16"]);
    assert!(
        succeeds_bytes(&output) == content,
        "the file came out changed"
    );
    assert_eq!(succeeds(&blockpart(&["ls", image])), "huge\nlost+found\n");
}

/// A filesystem read through 4096-byte sectors: blocks of 1 KiB and FAT sectors of 512 bytes
/// lie inside them, and the reader takes them out of whole sectors.
#[test]
fn ls_and_get_read_whole_filesystems_through_4096_byte_sectors() {
    for kind in [
        Kind::Ext("ext2", 1024),
        Kind::Ext("ext4", 1024),
        Kind::Fat(12),
    ] {
        if !tools_installed(kind) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        make_tree(&tree, kind);
        let image = dir.path().join("fs.img");
        make_image(kind, &tree, &image);
        let expected = expected_tree(&tree, kind);
        let got = read_tree(
            image.to_str().unwrap(),
            &["--sector-size", "4096"],
            !kind.is_fat(),
        );
        assert_same_tree(
            &got,
            &expected,
            &format!("{kind:?} through 4096-byte sectors"),
        );
    }
}

/// Nothing stops a FAT long name (UTF-16 on the disk) from holding a `/`, which no name
/// reached through a path holds: `ls` shows it escaped, so that it cannot pass for a path.
#[test]
fn a_name_holding_a_slash_is_listed_escaped() {
    let kind = Kind::Fat(12);
    if !tools_installed(kind) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir(&tree).unwrap();
    fs::write(tree.join("oneXtwo"), b"x").unwrap();
    let image = dir.path().join("fs.img");
    make_image(kind, &tree, &image);
    // The long name's first five characters lie together in its one long-name entry.
    let mut bytes = fs::read(&image).unwrap();
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let (from, to) = (utf16("oneXt"), utf16("one/t"));
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    bytes[at..at + from.len()].copy_from_slice(&to);
    fs::write(&image, bytes).unwrap();
    let image = image.to_str().unwrap();
    assert_eq!(succeeds(&blockpart(&["ls", image])), "one\\x2ftwo\n");
    let long = succeeds(&blockpart(&["ls", image, "-l", "/"]));
    assert!(long.ends_with(" one\\x2ftwo\n"), "{long}");
}
