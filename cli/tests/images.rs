//! Disk images (qcow2, VMDK, VHD) through the command line, with `qemu-img` as the oracle: one
//! raw disk, partitioned by sfdisk and holding an ext4 and a FAT filesystem the real tools
//! made, converted by `qemu-img` with every option that changes the layout, must read through
//! `blockpart` exactly as the raw disk does (`cat`, `list --json`, `ls`, `get`). Hostile images
//! (naming `/etc/passwd` as a backing file, a data file, an extent or a parent) are refused
//! with the name, and `strace` proves the named file is never opened; `--format raw` is never
//! second-guessed; `--backing` is the only way a backing file is read; images are never
//! written.

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
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use blockpart_test_tools::installed;
use blockpart_test_tools::trees::{Kind, Random, make_image, make_tree, tools_installed};

/// Longest any one command may take here.
const PATIENCE: Duration = Duration::from_secs(120);

/// Sectors of the raw disk: 48 MiB and a little, a size VHD's CHS geometry holds exactly (a
/// VHD of another size is rounded up, and its disk would not be the raw disk's).
const DISK_SECTORS: u64 = 98_328;

/// The partitions of the raw disk: (first sector, kind).
const PARTITIONS: [(u64, Kind); 2] = [(2048, Kind::Ext("ext4", 4096)), (53_248, Kind::Fat(12))];

/// `blockpart ARGS` with `stdin`, killed (and the test failed) if it runs past [`PATIENCE`].
fn blockpart_with(args: &[&str], stdin: &[u8], under_strace: Option<&Path>) -> Output {
    let mut command = match under_strace {
        Some(log) => {
            let mut command = Command::new(installed("strace").unwrap());
            command
                .args(["-f", "-e", "trace=open,openat,openat2,creat", "-o"])
                .arg(log)
                .arg(env!("CARGO_BIN_EXE_blockpart"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_blockpart")),
    };
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may refuse before reading its input: a broken pipe is its answer.
        let _ = input.write_all(&stdin);
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).unwrap();
        out
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut out = Vec::new();
        stderr.read_to_end(&mut out).unwrap();
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
    writer.join().unwrap();
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: errors.join().unwrap(),
    }
}

fn blockpart(args: &[&str]) -> Output {
    blockpart_with(args, b"", None)
}

#[track_caller]
fn succeeds(args: &[&str]) -> Vec<u8> {
    let output = blockpart(args);
    assert!(
        output.status.success(),
        "blockpart {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Exit status 1, one line of blockpart's own saying why, no panic, nothing on standard
/// output: the error text.
#[track_caller]
fn fails_cleanly(output: &Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
    assert!(stderr.starts_with("blockpart: "), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "{what}: wrote {} bytes to standard output",
        output.stdout.len()
    );
    stderr
}

/// Runs `qemu-img ARGS`, asserting it succeeds.
#[track_caller]
fn qemu_img(args: &[&str]) {
    qemu_img_in(args, None);
}

#[track_caller]
fn qemu_img_in(args: &[&str], dir: Option<&Path>) {
    let mut command = Command::new(installed("qemu-img").unwrap());
    command.args(args);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The virtual disk of `image` read as `format` by qemu: `qemu-img convert -f FMT -O raw`
/// (following any backing file the image names, as qemu does).
fn qemu_raw(format: &str, image: &Path) -> Vec<u8> {
    let raw = image.with_extension("qemu.raw");
    qemu_img(&["convert", "-f", format, "-O", "raw", s(image), s(&raw)]);
    let bytes = fs::read(&raw).unwrap();
    fs::remove_file(raw).unwrap();
    bytes
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// One way `qemu-img convert` makes an image of the raw disk.
struct Variant {
    /// Also the image's file name.
    name: &'static str,
    /// The format as qemu names it (`-f`), and as `blockpart info` does.
    qemu_format: &'static str,
    format: &'static str,
    /// `qemu-img convert` options after `-O FORMAT`.
    options: &'static [&'static str],
}

const VARIANTS: [Variant; 12] = [
    qcow2("default.qcow2", &[]),
    qcow2("compat-0.10.qcow2", &["-o", "compat=0.10"]),
    qcow2("deflate.qcow2", &["-c"]),
    qcow2("zstd.qcow2", &["-c", "-o", "compression_type=zstd"]),
    qcow2("extended-l2.qcow2", &["-o", "extended_l2=on"]),
    qcow2("cluster-512.qcow2", &["-o", "cluster_size=512"]),
    qcow2("cluster-2M.qcow2", &["-o", "cluster_size=2M"]),
    qcow2("refcount-1.qcow2", &["-o", "refcount_bits=1"]),
    Variant {
        name: "monolithic-sparse.vmdk",
        qemu_format: "vmdk",
        format: "vmdk",
        options: &["-o", "subformat=monolithicSparse"],
    },
    Variant {
        name: "stream-optimized.vmdk",
        qemu_format: "vmdk",
        format: "vmdk",
        options: &["-o", "subformat=streamOptimized"],
    },
    Variant {
        name: "fixed.vhd",
        qemu_format: "vpc",
        format: "vhd",
        options: &["-o", "subformat=fixed"],
    },
    Variant {
        name: "dynamic.vhd",
        qemu_format: "vpc",
        format: "vhd",
        options: &["-o", "subformat=dynamic"],
    },
];

const fn qcow2(name: &'static str, options: &'static [&'static str]) -> Variant {
    Variant {
        name,
        qemu_format: "qcow2",
        format: "qcow2",
        options,
    }
}

/// The raw disk, its trees, and every variant's image of it, made once for the test binary.
struct Fixture {
    raw: PathBuf,
    /// The trees the filesystems were made of, partition `i + 1`'s at `i`.
    trees: Vec<PathBuf>,
    /// [`VARIANTS`]' images, in order.
    images: Vec<PathBuf>,
}

impl Fixture {
    fn image(&self, name: &str) -> &Path {
        let at = VARIANTS.iter().position(|v| v.name == name).unwrap();
        &self.images[at]
    }
}

/// The shared fixture; `None` (skip) without the tools, outside CI.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(make_fixture).as_ref()
}

fn tools() -> bool {
    let programs = ["qemu-img", "sfdisk"]
        .iter()
        .filter(|program| installed(program).is_none())
        .count();
    let kinds = PARTITIONS
        .iter()
        .filter(|(_, kind)| !tools_installed(*kind))
        .count();
    programs + kinds == 0
}

fn make_fixture() -> Option<Fixture> {
    if !tools() {
        return None;
    }
    // Under the target directory, made afresh by each run (a static is never dropped).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("images");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("disk.raw");
    fs::File::create(&raw)
        .unwrap()
        .set_len(DISK_SECTORS * 512)
        .unwrap();
    let mut script = String::from("label: gpt\n");
    for (start, kind) in PARTITIONS {
        script.push_str(&format!(
            "start={start}, size={}\n",
            kind.size_bytes() / 512
        ));
    }
    let mut sfdisk = Command::new(installed("sfdisk").unwrap())
        .arg("-q")
        .arg(&raw)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    sfdisk
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(sfdisk.wait().unwrap().success());
    let disk = fs::OpenOptions::new().write(true).open(&raw).unwrap();
    let mut trees = Vec::new();
    for (i, (start, kind)) in PARTITIONS.into_iter().enumerate() {
        let tree = dir.join(format!("tree{}", i + 1));
        make_tree(&tree, kind);
        let image = dir.join(format!("fs{}.img", i + 1));
        make_image(kind, &tree, &image);
        // Zeros skipped: the disk stays sparse, so the images have holes to map.
        let bytes = fs::read(&image).unwrap();
        for (n, piece) in bytes.chunks(64 << 10).enumerate() {
            if piece.iter().any(|b| *b != 0) {
                disk.write_all_at(piece, start * 512 + (n as u64) * (64 << 10))
                    .unwrap();
            }
        }
        fs::remove_file(image).unwrap();
        trees.push(tree);
    }
    drop(disk);
    let images: Vec<PathBuf> = VARIANTS.iter().map(|v| dir.join(v.name)).collect();
    // Two at a time: the machine may have no more cores than that.
    for pair in VARIANTS.iter().zip(&images).collect::<Vec<_>>().chunks(2) {
        let children: Vec<_> = pair
            .iter()
            .map(|(variant, image)| {
                let child = Command::new(installed("qemu-img").unwrap())
                    .args(["convert", "-f", "raw", "-O", variant.qemu_format])
                    .args(variant.options)
                    .arg(&raw)
                    .arg(image)
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                (variant.name, child)
            })
            .collect();
        for (name, child) in children {
            let output = child.wait_with_output().unwrap();
            assert!(
                output.status.success(),
                "qemu-img convert {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Some(Fixture { raw, trees, images })
}

/// Runs `check` on every variant's image, reporting every variant that fails (not only the
/// first).
fn each_variant(check: impl Fn(&Fixture, &Variant, &Path)) {
    let Some(fixture) = fixture() else {
        return;
    };
    let failed: Vec<String> = VARIANTS
        .iter()
        .zip(&fixture.images)
        .filter_map(|(variant, image)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(fixture, variant, image);
            }))
            .err()
            .map(|why| {
                let why = why
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| why.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                format!("{}: {why}", variant.name)
            })
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn cat_of_every_image_equals_qemu_img_convert_to_raw() {
    each_variant(|fixture, variant, image| {
        let expected = qemu_raw(variant.qemu_format, image);
        // qemu reads the image as the raw disk it was made of: the oracle is not vacuous.
        assert!(
            expected == fs::read(&fixture.raw).unwrap(),
            "qemu reads the image as the raw disk"
        );
        let cat = succeeds(&["cat", s(image)]);
        assert_eq!(cat.len(), expected.len(), "the disk's size");
        let differs = cat.iter().zip(&expected).position(|(a, b)| a != b);
        assert!(differs.is_none(), "first differing byte: {differs:?}");
        // The format named, as auto detects it.
        let named = succeeds(&["cat", "--format", variant.format, s(image)]);
        assert!(named == expected, "cat --format {}", variant.format);
    });
}

/// `list --json` with the device's path and the partitions' node names (which follow it) left
/// out.
fn listing(disk: &Path) -> serde_json::Value {
    let mut json: serde_json::Value =
        serde_json::from_slice(&succeeds(&["list", "--json", s(disk)])).unwrap();
    let table = &mut json["partitiontable"];
    assert_eq!(table["device"], s(disk));
    table["device"] = "DISK".into();
    for partition in table["partitions"].as_array_mut().unwrap() {
        assert!(
            partition["node"].as_str().unwrap().starts_with(s(disk)),
            "{partition}"
        );
        partition["node"] = "NODE".into();
    }
    json
}

#[test]
fn list_json_of_every_image_equals_the_raw_disks() {
    let Some(fixture) = fixture() else {
        return;
    };
    let expected = listing(&fixture.raw);
    assert_eq!(
        expected["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        PARTITIONS.len()
    );
    each_variant(|_, _, image| assert_eq!(listing(image), expected));
}

#[test]
fn info_names_the_format_of_every_image() {
    each_variant(|_, variant, image| {
        let info = String::from_utf8(succeeds(&["info", s(image)])).unwrap();
        let expected = format!(
            "{} ({} image): {DISK_SECTORS} sectors of 512 bytes ({} bytes) from sector 0, read-only\n",
            s(image),
            variant.format,
            DISK_SECTORS * 512
        );
        assert_eq!(info, expected);
    });
}

/// Files of each partition's tree that `get` reads, big, small and sparse.
const FILES: [&[&str]; 2] = [
    &[
        "/big.bin",
        "/sparse",
        "/deep/size-4097",
        "/données/日本語/ファイル.txt",
    ],
    &["/big.bin", "/deep/size-65537", "/Music/Readme.txt"],
];

#[test]
fn ls_and_get_on_every_image_equal_the_raw_disks() {
    let Some(fixture) = fixture() else {
        return;
    };
    // What the raw disk gives, itself checked against the trees the filesystems were made of.
    let mut expected = Vec::new();
    for (i, files) in FILES.iter().enumerate() {
        let number = (i + 1).to_string();
        let raw = s(&fixture.raw);
        let ls = succeeds(&["ls", raw, "-p", &number, "-l", "/"]);
        assert!(String::from_utf8_lossy(&ls).contains(" big.bin\n"));
        let mut contents = Vec::new();
        for file in *files {
            let got = succeeds(&["get", raw, "-p", &number, file]);
            let tree = &fixture.trees[i];
            assert!(
                got == fs::read(tree.join(&file[1..])).unwrap(),
                "the raw disk's {file}"
            );
            contents.push(got);
        }
        expected.push((ls, contents));
    }
    each_variant(|_, _, image| {
        for (i, files) in FILES.iter().enumerate() {
            let number = (i + 1).to_string();
            let (ls, contents) = &expected[i];
            assert_eq!(
                String::from_utf8(succeeds(&["ls", s(image), "-p", &number, "-l", "/"])).unwrap(),
                String::from_utf8(ls.clone()).unwrap(),
                "ls -l of partition {number}"
            );
            for (file, content) in files.iter().zip(contents) {
                let got = succeeds(&["get", s(image), "-p", &number, file]);
                assert!(got == *content, "get -p {number} {file}");
            }
        }
    });
}

#[test]
fn bench_measures_an_images_virtual_disk_and_refuses_to_write_it() {
    let Some(fixture) = fixture() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = s(dir.path());
    for name in ["deflate.qcow2", "stream-optimized.vmdk", "dynamic.vhd"] {
        let image = fixture.image(name);
        let before = fs::read(image).unwrap();
        let bench = ["bench", "--rounds", "1", "--slice", "1", "-o", out];
        let report = String::from_utf8(succeeds(&[&bench[..], &[s(image)]].concat())).unwrap();
        let format = name.rsplit('.').next().unwrap();
        assert!(
            report.contains(&format!("({format} image)")),
            "{name}: {report}"
        );
        // Every request size, sequential and random, each way.
        let rows = report
            .lines()
            .filter(|line| line.starts_with("read "))
            .count();
        assert_eq!(rows, 8, "{name}: {report}");
        let refused = blockpart(&[&bench[..], &["--write", s(image)]].concat());
        let why = fails_cleanly(&refused, name);
        assert!(why.contains("only raw disks are written"), "{name}: {why}");
        assert!(fs::read(image).unwrap() == before, "{name} was written");
    }
}

/// A raw disk whose first sector is a qcow2 header (the first 512 bytes of an image qemu-img
/// made), the rest random: under `--format raw` its bytes are the disk's, exactly; under
/// `auto` it is a qcow2 (CVE-2024-40767: format confusion is the user's call, made by naming
/// the format).
#[test]
fn format_raw_reads_a_raw_disk_whose_first_sector_is_a_qcow2_header_as_raw() {
    if installed("qemu-img").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let header = dir.path().join("header.qcow2");
    qemu_img(&["create", "-q", "-f", "qcow2", s(&header), "1M"]);
    let mut disk = Random::new(40767).bytes(1 << 20);
    disk[..512].copy_from_slice(&fs::read(&header).unwrap()[..512]);
    let raw = dir.path().join("disk.raw");
    fs::write(&raw, &disk).unwrap();

    assert!(succeeds(&["cat", "--format", "raw", s(&raw)]) == disk);
    let info = String::from_utf8(succeeds(&["info", "--format", "raw", s(&raw)])).unwrap();
    assert!(
        info.starts_with(&format!("{}: 2048 sectors", s(&raw))),
        "{info}"
    );
    assert!(info.ends_with(", writable\n"), "{info}");

    let auto = blockpart(&["cat", s(&raw)]);
    assert!(
        !auto.status.success() || auto.stdout != disk,
        "under auto the header is a qcow2's, not raw"
    );
    let info = String::from_utf8(succeeds(&["info", s(&raw)])).unwrap();
    assert!(info.contains("(qcow2 image)"), "{info}");
    assert_eq!(fs::read(&raw).unwrap(), disk, "nothing was written");
}

/// Runs `blockpart ARGS` under strace: it must fail cleanly with `expected` in its error,
/// and open none of `never` (a file the image names).
#[track_caller]
fn refused_without_opening(args: &[&str], expected: &str, never: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("strace.log");
    let output = blockpart_with(args, b"", Some(&log));
    let stderr = fails_cleanly(&output, &format!("{args:?}"));
    // Once: the reason is not repeated by the error's chain.
    assert_eq!(stderr.matches(expected).count(), 1, "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    let log = fs::read_to_string(&log).unwrap();
    assert!(log.contains("openat("), "strace logged the opens: {log}");
    for name in never {
        let opened: Vec<&str> = log.lines().filter(|line| line.contains(name)).collect();
        assert!(opened.is_empty(), "{args:?} opened {name}: {opened:?}");
    }
}

/// The commands that read a disk, for an image at `path`.
fn reading_commands(path: &str) -> [Vec<&str>; 4] {
    [
        vec!["cat", path],
        vec!["list", path],
        vec!["info", path],
        vec!["ls", path],
    ]
}

#[test]
fn a_qcow2_backing_file_named_by_the_image_is_refused_and_never_opened() {
    if installed("qemu-img").is_none() || installed("strace").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("x.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "/etc/passwd",
        "-F",
        "raw",
        s(&image),
        "1M",
    ]);
    for args in reading_commands(s(&image)) {
        refused_without_opening(
            &args,
            "the image names a backing file, \"/etc/passwd\", which is not followed \
             (name the file with --backing if you trust it)",
            &["/etc/passwd"],
        );
    }
}

#[test]
fn a_qcow2_external_data_file_is_refused_and_never_opened() {
    if installed("qemu-img").is_none() || installed("strace").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A data file named as long as /etc/passwd, made by qemu-img and then renamed in the
    // header: the image names /etc/passwd and the file qemu made, neither of which is opened.
    let made = "data-passwd";
    assert_eq!(made.len(), "/etc/passwd".len());
    let image = dir.path().join("x.qcow2");
    qemu_img_in(
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            &format!("data_file={made},data_file_raw=on"),
            "x.qcow2",
            "1M",
        ],
        Some(dir.path()),
    );
    assert!(dir.path().join(made).exists());
    // As qemu made it: refused, naming its data file.
    for args in reading_commands(s(&image)) {
        refused_without_opening(
            &args,
            &format!("the image names an external data file, \"{made}\", which is not followed"),
            &[made],
        );
    }
    let mut bytes = fs::read(&image).unwrap();
    let at = bytes
        .windows(made.len())
        .position(|w| w == made.as_bytes())
        .unwrap();
    bytes[at..at + made.len()].copy_from_slice(b"/etc/passwd");
    fs::write(&image, &bytes).unwrap();
    for args in reading_commands(s(&image)) {
        refused_without_opening(
            &args,
            "the image names an external data file, \"/etc/passwd\", which is not followed",
            &["/etc/passwd", made],
        );
    }
    assert_eq!(fs::read(&image).unwrap(), bytes, "nothing was written");
}

#[test]
fn a_vmdk_descriptor_naming_an_extent_is_refused_and_the_extent_never_opened() {
    if installed("strace").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("x.vmdk");
    fs::write(
        &image,
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
         createType=\"monolithicFlat\"\n\nRW 8 FLAT \"/etc/passwd\" 0\n",
    )
    .unwrap();
    for args in reading_commands(s(&image)) {
        refused_without_opening(
            &args,
            "the image names an extent in another file, \"/etc/passwd\", which is not followed",
            &["/etc/passwd"],
        );
    }
}

/// Sets the checksum (at `at`) of the VHD structure `bytes` right again.
fn fix_vhd_checksum(bytes: &mut [u8], at: usize) {
    bytes[at..at + 4].fill(0);
    let sum = bytes
        .iter()
        .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
    bytes[at..at + 4].copy_from_slice(&(!sum).to_be_bytes());
}

#[test]
fn a_differencing_vhd_is_refused_and_its_parent_never_opened() {
    if installed("qemu-img").is_none() || installed("strace").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("x.vhd");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "vpc",
        "-o",
        "subformat=dynamic",
        s(&image),
        "1M",
    ]);
    // qemu makes no differencing disk: a dynamic one made one, its parent's name (UTF-16,
    // at 64 of the dynamic header, at 512) /etc/passwd, its type (at 60 of each footer) 4.
    let mut bytes = fs::read(&image).unwrap();
    let name: Vec<u8> = "/etc/passwd"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    bytes[512 + 64..512 + 64 + name.len()].copy_from_slice(&name);
    fix_vhd_checksum(&mut bytes[512..1536], 36);
    let len = bytes.len();
    for footer in [0, len - 512] {
        bytes[footer + 60..footer + 64].copy_from_slice(&4u32.to_be_bytes());
        fix_vhd_checksum(&mut bytes[footer..footer + 512], 64);
    }
    fs::write(&image, &bytes).unwrap();
    for args in reading_commands(s(&image)) {
        refused_without_opening(
            &args,
            "the image names a parent disk, \"/etc/passwd\", which is not followed",
            &["/etc/passwd"],
        );
    }
}

/// A base qcow2 of the raw disk, an overlay over it holding changed sectors, and a second
/// overlay over that, all as `qemu-img` makes them.
struct Chain {
    _dir: tempfile::TempDir,
    base: PathBuf,
    overlay: PathBuf,
    overlay2: PathBuf,
    /// The overlay's disk, as `qemu-img` reads it.
    overlay_disk: Vec<u8>,
}

fn chain() -> Option<Chain> {
    let fixture = fixture()?;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        s(&fixture.raw),
        s(&base),
    ]);
    // The disk changed: random sectors in the first partition, zeros over the second's start.
    let changed = dir.path().join("changed.raw");
    fs::copy(&fixture.raw, &changed).unwrap();
    let file = fs::OpenOptions::new().write(true).open(&changed).unwrap();
    file.write_all_at(&Random::new(4).bytes(96 << 10), 5 << 20)
        .unwrap();
    file.write_all_at(&vec![0; 64 << 10], PARTITIONS[1].0 * 512)
        .unwrap();
    drop(file);
    let overlay = dir.path().join("overlay.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        "-B",
        s(&base),
        "-F",
        "qcow2",
        s(&changed),
        s(&overlay),
    ]);
    let overlay_disk = qemu_raw("qcow2", &overlay);
    assert!(overlay_disk == fs::read(&changed).unwrap());
    assert!(overlay_disk != fs::read(&fixture.raw).unwrap());
    let overlay2 = dir.path().join("overlay2.qcow2");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        s(&overlay),
        "-F",
        "qcow2",
        s(&overlay2),
    ]);
    fs::remove_file(changed).unwrap();
    Some(Chain {
        _dir: dir,
        base,
        overlay,
        overlay2,
        overlay_disk,
    })
}

#[test]
fn an_overlay_reads_over_the_base_given_with_backing_and_not_without() {
    let Some(chain) = chain() else {
        return;
    };
    let (base, overlay) = (s(&chain.base), s(&chain.overlay));
    let stderr = fails_cleanly(&blockpart(&["cat", overlay]), "cat overlay");
    assert!(
        stderr.contains(&format!(
            "the image names a backing file, \"{base}\", which is not followed (name the file \
             with --backing if you trust it)"
        )),
        "{stderr}"
    );
    let cat = succeeds(&["cat", "--backing", base, overlay]);
    assert!(cat == chain.overlay_disk, "cat --backing base overlay");
    let overlay2 = s(&chain.overlay2);
    let cat = succeeds(&["cat", "--backing", overlay, "--backing", base, overlay2]);
    assert!(cat == chain.overlay_disk, "cat of a chain of three");
    assert!(qemu_raw("qcow2", &chain.overlay2) == chain.overlay_disk);
    // The other commands read the chain too.
    let ls = String::from_utf8(succeeds(&[
        "ls",
        "--backing",
        base,
        overlay,
        "-p",
        "1",
        "/",
    ]))
    .unwrap();
    assert!(ls.contains("big.bin\n"), "{ls}");
}

#[test]
fn backing_for_an_image_without_one_is_refused() {
    let Some(chain) = chain() else {
        return;
    };
    let base = s(&chain.base);
    // A backing disk that is itself whole (it names no backing file), for one that has none.
    let other = s(fixture().unwrap().image("default.qcow2"));
    let stderr = fails_cleanly(
        &blockpart(&["cat", "--backing", other, base]),
        "cat --backing other base",
    );
    assert!(stderr.contains("backing chain: "), "{stderr}");
    // A raw disk has no backing file either.
    let raw = s(&fixture().unwrap().raw);
    let stderr = fails_cleanly(
        &blockpart(&["cat", "--backing", base, "--format", "raw", raw]),
        "cat --backing base raw",
    );
    assert!(stderr.contains("backing chain: "), "{stderr}");
}

#[test]
fn a_chain_longer_than_the_backing_given_is_refused_naming_the_missing_file() {
    let Some(chain) = chain() else {
        return;
    };
    let (base, overlay, overlay2) = (s(&chain.base), s(&chain.overlay), s(&chain.overlay2));
    let stderr = fails_cleanly(
        &blockpart(&["cat", "--backing", overlay, overlay2]),
        "cat --backing overlay overlay2",
    );
    assert!(
        stderr.contains(&format!(
            "{overlay}: the image names a backing file, \"{base}\", which is not followed"
        )),
        "{stderr}"
    );
    // Given in the wrong order, the chain is refused too.
    let output = blockpart(&["cat", "--backing", base, "--backing", overlay, overlay2]);
    fails_cleanly(&output, "the chain in the wrong order");
}

#[test]
fn write_to_an_image_is_refused_naming_the_format_and_changes_nothing() {
    let Some(fixture) = fixture() else {
        return;
    };
    for name in ["default.qcow2", "dynamic.vhd", "stream-optimized.vmdk"] {
        let image = fixture.image(name);
        let format = VARIANTS.iter().find(|v| v.name == name).unwrap().format;
        let before = fs::read(image).unwrap();
        for args in [
            vec!["write", s(image)],
            vec!["write", s(image), "-p", "1"],
            vec!["write", s(image), "--format", format],
        ] {
            let output = blockpart_with(&args, &[0x5a; 4096], None);
            let stderr = fails_cleanly(&output, &format!("{args:?}"));
            assert!(
                stderr.contains(&format!(
                    "{} is a {format} image: only raw disks are written",
                    s(image)
                )),
                "{args:?}: {stderr}"
            );
        }
        assert!(fs::read(image).unwrap() == before, "{name} changed");
    }
}

#[test]
fn a_sector_size_other_than_512_is_refused_for_an_image() {
    let Some(fixture) = fixture() else {
        return;
    };
    let image = s(fixture.image("default.qcow2"));
    for command in ["list", "cat", "info"] {
        let output = blockpart(&[command, "--sector-size", "4096", image]);
        let stderr = fails_cleanly(&output, command);
        assert!(
            stderr.contains(&format!(
                "{image} is a qcow2 image, whose disk has 512-byte sectors: a sector size of \
                 4096 is for raw disks"
            )),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn vhdx_and_vdi_images_are_refused_by_name() {
    if installed("qemu-img").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (format, name) in [("vhdx", "VHDX"), ("vdi", "VDI")] {
        let image = dir.path().join(format!("x.{format}"));
        qemu_img(&["create", "-q", "-f", format, s(&image), "1M"]);
        for args in reading_commands(s(&image)) {
            let stderr = fails_cleanly(&blockpart(&args), &format!("{args:?}"));
            assert!(
                stderr.contains(&format!("unsupported image: {name} images are not read")),
                "{args:?}: {stderr}"
            );
        }
        // Named as raw, it is read as raw: the user's call.
        let raw = succeeds(&["cat", "--format", "raw", s(&image)]);
        assert!(raw == fs::read(&image).unwrap());
    }
}
