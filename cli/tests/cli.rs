//! The `blockpart` command, run as a user runs it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    reason = "test code, with small known numbers"
)]

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use blockpart_conformance::{CASES, DataPath, SECTOR_SIZES, TABLE_CASES};
use tempfile::TempDir;

/// `blockpart ARGS`, with `stdin` fed through a pipe.
fn blockpart(args: &[&str], stdin: &[u8]) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_blockpart")).args(args),
        stdin,
    )
}

/// `command`, with `stdin` fed through a pipe from another thread: a child that stops reading
/// early (it failed) is no error here.
fn run(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = std::thread::spawn(move || match pipe.write_all(&stdin) {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    });
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    output
}

/// `blockpart ARGS`, with the regular file `input` as standard input.
fn blockpart_from_file(args: &[&str], input: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blockpart"))
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .unwrap()
}

/// Exit status 1 and `message` in blockpart's error, with nothing on standard output and no
/// panic.
#[track_caller]
fn fails_with(output: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("blockpart: "), "{stderr}");
    assert!(stderr.contains(message), "{message:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[track_caller]
fn succeeds(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sfdisk fixture `name` (`conformance/fixtures/tables`) as `name.img` in `dir`: its path and
/// bytes.
fn fixture(dir: &TempDir, name: &str) -> (String, Vec<u8>) {
    let bytes = blockpart_conformance::fixture(name).unwrap();
    let path = dir.path().join(format!("{name}.img"));
    std::fs::write(&path, &bytes).unwrap();
    (path.to_str().unwrap().to_owned(), bytes)
}

/// `len` bytes that differ along the buffer and with `seed`, so misplaced data shows.
fn data(len: usize, seed: u8) -> Vec<u8> {
    blockpart_conformance::pattern(len, seed)
}

/// Writes `input` to a file in `dir`: a regular file, whose length `write` checks first.
fn input_file(dir: &TempDir, input: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("input");
    std::fs::write(&path, input).unwrap();
    path
}

/// A disk of `sectors` 512-byte sectors, each filled with its own number.
fn disk(dir: &TempDir, sectors: u8) -> (String, Vec<u8>) {
    let bytes: Vec<u8> = (0..sectors).flat_map(|s| [s; 512]).collect();
    let path = dir.path().join("disk.img");
    std::fs::write(&path, &bytes).unwrap();
    (path.to_str().unwrap().to_owned(), bytes)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(Path::new(path)).unwrap()
}

#[test]
fn info_describes_a_range() {
    let dir = TempDir::new().unwrap();
    let (path, _) = disk(&dir, 16);
    let out = blockpart(&["info", &path, "--range", "4:8"], b"");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("8 sectors of 512 bytes (4096 bytes) from sector 4"),
        "{text}"
    );
}

#[test]
fn cat_copies_exactly_the_range() {
    let dir = TempDir::new().unwrap();
    let (path, bytes) = disk(&dir, 16);
    let out = blockpart(&["cat", &path, "--range", "3:5"], b"");
    assert!(out.status.success());
    assert_eq!(out.stdout, bytes[3 * 512..8 * 512]);
}

#[test]
fn write_lands_at_range_start_plus_at() {
    let dir = TempDir::new().unwrap();
    let (path, mut bytes) = disk(&dir, 16);
    let data = vec![0xEE; 1024];
    let out = blockpart(&["write", &path, "--range", "4:8", "--at", "2"], &data);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    bytes[6 * 512..8 * 512].copy_from_slice(&data);
    assert_eq!(read(&path), bytes);
}

#[test]
fn refused_requests_fail_clearly_and_change_nothing() {
    let dir = TempDir::new().unwrap();
    let (path, bytes) = disk(&dir, 16);
    let odd = dir.path().join("odd.img");
    std::fs::write(&odd, [7; 1000]).unwrap();
    let odd = odd.to_str().unwrap().to_owned();
    for (args, stdin, message) in [
        (vec!["cat", &path, "--range", "10:7"], vec![], "not within"),
        (
            vec!["write", &path, "--range", "4:2"],
            vec![1; 1536],
            "sectors 0..+3 are not within the partition's 2 sectors",
        ),
        (
            vec!["write", &path, "--range", "4:2", "--at", "3"],
            vec![1; 512],
            "--at 3",
        ),
        (
            vec!["write", &path, "--range", "4:2"],
            vec![1; 100],
            "not a whole number",
        ),
        (
            vec!["info", "/nonexistent.img"],
            vec![],
            "cannot open /nonexistent.img",
        ),
        (
            vec!["info", "/"],
            vec![],
            "/ is not a disk image or block device",
        ),
        (
            vec!["cat", &odd],
            vec![],
            "is 1000 bytes, not a whole number of 512-byte sectors",
        ),
        (
            vec!["write", &path, "--at", "17"],
            vec![1; 512],
            "--at 17 is not within its 16 sectors",
        ),
        (
            vec!["write", &path, "--at", "16"],
            vec![1; 512],
            "the input does not fit: nothing was written",
        ),
        (
            vec!["write", &path, "--range", "15:2"],
            vec![1; 512],
            "--range 15:2 is not within",
        ),
        (
            vec!["cat", &path, "--range", "18446744073709551615:1"],
            vec![],
            "not within",
        ),
        (
            vec!["write", &path, "--partition", "1"],
            vec![1; 512],
            "no partition table",
        ),
    ] {
        let out = blockpart(&args, &stdin);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(read(&path), bytes, "{args:?} changed the disk");
    }
}

#[test]
fn bad_arguments_are_usage_errors() {
    let dir = TempDir::new().unwrap();
    let (path, _) = disk(&dir, 16);
    for args in [
        vec!["info", &path, "--sector-size", "1000"],
        vec!["info", &path, "--sector-size", "256"],
        vec!["cat", &path, "--range", "5"],
        vec!["cat", &path, "--range", "5:x"],
        vec!["write", &path, "--at", "-1"],
        vec!["info", &path, "--memory-limit", "0"],
        vec!["info", &path, "--time-limit", "0"],
        vec!["info"],
        vec!["frobnicate", &path],
    ] {
        let out = blockpart(&args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
    // A range says what is allowed, in the unit of the flag, not as 1..2^64-1.
    let out = blockpart(&["info", &path, "--time-limit", "0"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the limit is at least 1"), "{stderr}");
    assert!(!stderr.contains("18446744073709551615"), "{stderr}");
}

#[test]
fn a_component_that_is_not_a_partitioner_is_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("x.wasm");
    let path = path.to_str().unwrap();
    for (bytes, message) in [
        (&b"not wasm"[..], "x.wasm is not a partitioner component"),
        // A core module, not a component.
        (
            &b"\0asm\x01\0\0\0"[..],
            "x.wasm is not a partitioner component",
        ),
        // A component of another world: it exports nothing.
        (
            &b"\0asm\x0d\0\x01\0"[..],
            "x.wasm is not a partitioner component",
        ),
    ] {
        std::fs::write(path, bytes).unwrap();
        let out = blockpart(&["conformance", "--component", path], b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "{stderr}");
    }
}

#[test]
fn component_command_writes_the_embedded_guest() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("partitioner.wasm");
    let out = blockpart(&["component", "-o", path.to_str().unwrap()], b"");
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&path).unwrap(),
        blockpart_host::PARTITIONER_COMPONENT
    );
    for (stack, bytes) in [
        ("partitioner", blockpart_host::PARTITIONER_COMPONENT),
        ("reader", blockpart_host::READER_COMPONENT),
        ("image", blockpart_host::READER_ON_IMAGE_COMPONENT),
    ] {
        let out = blockpart(&["component", "--stack", stack, "-o", "-"], b"");
        assert!(out.status.success(), "{stack}");
        assert!(out.stdout == bytes, "--stack {stack}");
    }
}

#[test]
fn conformance_command_runs_against_a_given_component() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("partitioner.wasm");
    std::fs::write(&path, blockpart_host::PARTITIONER_COMPONENT).unwrap();
    let out = blockpart(&["conformance", "--component", path.to_str().unwrap()], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    // Per sector size and data path: each case and the random comparison; each table case per
    // sector size of its fixtures.
    let tables: usize = TABLE_CASES
        .iter()
        .map(|case| case.sector_sizes().len())
        .sum();
    let expected = SECTOR_SIZES.len() * DataPath::ALL.len() * (CASES.len() + 1) + tables;
    assert!(
        text.trim_end()
            .ends_with(&format!("{expected} passed, 0 failed")),
        "{text}"
    );
}

/// One row of `bench.csv`.
struct BenchRow {
    request_bytes: f64,
    requests: f64,
    seconds: f64,
    ns_per_request: f64,
    mb_per_s: f64,
    requests_per_s: f64,
    ratio_to_native: f64,
}

/// `a` and `b` are positive and agree to within 1%: the CSV rounds each number it prints.
#[track_caller]
fn close(a: f64, b: f64, what: &str) {
    assert!(
        a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0,
        "{what}: {a} and {b}"
    );
    assert!((a - b).abs() <= 0.01 * a.max(b), "{what}: {a} is not {b}");
}

#[test]
fn bench_reports_every_workload_four_ways_consistently_and_a_read_only_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let image: Vec<u8> = (0..=250u8).cycle().take(2 << 20).collect();
    std::fs::write(&path, &image).unwrap();
    let out = dir.path().join("out");
    let output = blockpart(
        &[
            "bench",
            path.to_str().unwrap(),
            "--rounds",
            "1",
            "--slice",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
        b"",
    );
    succeeds(&output);
    // Reads only: the disk is as it was.
    assert!(std::fs::read(&path).unwrap() == image);

    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "op,pattern,request_bytes,via,requests,seconds,ns_per_request,mb_per_s,\
             requests_per_s,ratio_to_native"
        )
    );
    let number = |field: &str| -> f64 { field.parse().unwrap() };
    let mut rows = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 10, "{line}");
        assert_eq!(fields[0], "read", "{line}");
        let key = (
            fields[1].to_owned(),
            fields[2].parse::<u64>().unwrap(),
            fields[3].to_owned(),
        );
        let row = BenchRow {
            request_bytes: number(fields[2]),
            requests: number(fields[4]),
            seconds: number(fields[5]),
            ns_per_request: number(fields[6]),
            mb_per_s: number(fields[7]),
            requests_per_s: number(fields[8]),
            ratio_to_native: number(fields[9]),
        };
        assert!(rows.insert(key, row).is_none(), "{line} is there twice");
    }
    // Every workload (two patterns, four sizes), each measured the four ways, and no more.
    let mut expected = Vec::new();
    for pattern in ["random", "sequential"] {
        for size in [512, 4096, 65536, 1 << 20] {
            for via in ["device", "lists", "native", "partition"] {
                expected.push((pattern.to_owned(), size, via.to_owned()));
            }
        }
    }
    expected.sort();
    assert_eq!(rows.keys().cloned().collect::<Vec<_>>(), expected);

    for ((pattern, size, via), row) in &rows {
        let what = format!("{pattern} {size} {via}");
        assert!(row.requests >= 1.0, "{what}");
        close(row.requests_per_s, row.requests / row.seconds, &what);
        close(row.ns_per_request, row.seconds * 1e9 / row.requests, &what);
        // MB/s is the request size times the requests per second, in 10^6 bytes.
        close(
            row.mb_per_s,
            row.request_bytes * row.requests_per_s / 1e6,
            &what,
        );
        // Time per request as a multiple of native's on the same workload.
        let native = &rows[&(pattern.clone(), *size, "native".to_owned())];
        if via == "native" {
            assert_eq!(row.ratio_to_native, 1.0, "{what}");
        } else {
            close(
                row.ratio_to_native,
                row.ns_per_request / native.ns_per_request,
                &what,
            );
        }
    }

    let table = std::fs::read_to_string(out.join("bench.txt")).unwrap();
    let workloads = table
        .lines()
        .filter(|line| line.starts_with("read "))
        .count();
    // Sequential and random, at every request size (the disk's sectors are 512 bytes).
    let sizes = blockpart_cli::bench::REQUEST_SIZES.len();
    assert_eq!(workloads, 2 * sizes, "a line per workload: {table}");
    assert!(table.contains("process start to first read"), "{table}");
    let svg = std::fs::read_to_string(out.join("bench.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("partition"),
        "{svg}"
    );
}

/// A partition number the table does not have is refused, and writes nothing: given real
/// input, from a pipe and from a file, that a write going ahead anyway would land somewhere.
/// A regular file as standard input is checked from where its descriptor stands, as a script
/// that read a header first leaves it: what is left, not the whole file.
#[test]
fn write_from_a_file_checks_what_is_left_of_it_from_its_offset() {
    use std::io::{Seek, SeekFrom};
    let dir = TempDir::new().unwrap();
    let (path, bytes) = disk(&dir, 16);
    let input = dir.path().join("input");
    let data: Vec<u8> = (0..4 * 512 + 100).map(|i| (i % 251) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let from = |offset: u64| {
        let mut file = std::fs::File::open(&input).unwrap();
        file.seek(SeekFrom::Start(offset)).unwrap();
        file
    };
    let write = |offset: u64| {
        Command::new(env!("CARGO_BIN_EXE_blockpart"))
            .args(["write", &path])
            .stdin(from(offset))
            .output()
            .unwrap()
    };

    // 4 sectors and 100 bytes, 100 read already: 4 whole sectors are left.
    let output = write(100);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut expected = bytes.clone();
    expected[..4 * 512].copy_from_slice(&data[100..]);
    assert!(std::fs::read(&path).unwrap() == expected);

    // 200 read: 3 sectors and 412 bytes are left, refused before a byte is written.
    let output = write(200);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the input is 1948 bytes, not a whole number of 512-byte sectors"),
        "{stderr}"
    );
    assert!(std::fs::read(&path).unwrap() == expected);
}

#[test]
fn write_to_a_partition_number_not_in_the_table_writes_nothing() {
    let dir = TempDir::new().unwrap();
    // Slots 1, 3 and 7 used: 2 is a gap, 8 past the last used, 129 past the array.
    let (disk, bytes) = fixture(&dir, "gpt-slots");
    let input = data(4096, 9);
    let file = input_file(&dir, &input);
    for number in ["0", "2", "8", "129"] {
        let args = ["write", "-p", number, &disk];
        let message = format!("there is no partition {number}");
        fails_with(&blockpart(&args, &input), &message);
        fails_with(&blockpart_from_file(&args, &file), &message);
        assert!(read(&disk) == bytes, "write -p {number} changed the disk");
    }
}

/// `write` from a regular file checks its length first: input that does not fit writes
/// nothing, though its first chunks would fit.
#[test]
fn input_too_large_from_a_regular_file_writes_nothing() {
    let dir = TempDir::new().unwrap();
    let disk = dir.path().join("disk.img");
    let bytes = data(6144 * 512, 1);
    std::fs::write(&disk, &bytes).unwrap();
    let disk = disk.to_str().unwrap();
    // 3 MiB into 5000 sectors (2.4 MiB): two 1 MiB chunks would fit.
    let file = input_file(&dir, &data(3 << 20, 2));
    let output = blockpart_from_file(&["write", disk, "--range", "100:5000"], &file);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "blockpart: the input is 3145728 bytes; the range holds 5000 sectors\n"
    );
    assert!(read(disk) == bytes, "the disk changed");
}

/// From a pipe, whose length nobody knows, `write` stops at the first 1 MiB chunk that does
/// not fit, and says how many sectors it wrote before it: exactly those, and no others.
#[test]
fn input_too_large_from_a_pipe_writes_whole_chunks_and_says_how_many_sectors() {
    let dir = TempDir::new().unwrap();
    let disk = dir.path().join("disk.img");
    let mut bytes = data(6144 * 512, 1);
    std::fs::write(&disk, &bytes).unwrap();
    let disk = disk.to_str().unwrap();
    let input = data(3 << 20, 2);
    let output = blockpart(&["write", disk, "--range", "100:5000"], &input);
    fails_with(
        &output,
        "the input does not fit: its first 4096 sectors were written",
    );
    // Two chunks of 2048 sectors, from sector 100 of the disk; the third did not fit.
    bytes[100 * 512..4196 * 512].copy_from_slice(&input[..4096 * 512]);
    assert!(read(disk) == bytes, "not exactly 4096 sectors were written");
}

#[test]
fn a_memory_limit_from_the_command_line_bounds_the_partitioner() {
    let dir = TempDir::new().unwrap();
    let (disk, bytes) = fixture(&dir, "gpt-slots");
    let input = data(512, 3);
    // Less than the partitioner's own memory at start (1088 KiB): every command fails, saying
    // what it needs, and writes nothing.
    for args in [
        &["--memory-limit", "1", "info", &disk][..],
        &["info", &disk, "--memory-limit", "1"],
        &["list", &disk, "--memory-limit", "1"],
        &["cat", &disk, "--memory-limit", "1"],
        &["write", &disk, "--memory-limit", "1"],
    ] {
        fails_with(
            &blockpart(args, &input),
            "the memory limit of 1 MiB is below the 1088 KiB the component needs to start",
        );
        assert!(read(&disk) == bytes, "{args:?} changed the disk");
    }
    succeeds(&blockpart(&["info", &disk, "--memory-limit", "2"], b""));
}

/// A disk whose GPT has the largest entry array there may be, 16 MiB, every one of its 131072
/// entries a partition of one sector, in both copies, every CRC32 right: reading it runs over
/// 100 ms of the partitioner's own code (measured on the project's 2-core machine).
fn gpt_with_a_16_mib_entry_array() -> Vec<u8> {
    const ENTRIES: u32 = 131_072;
    let array_sectors: u64 = 16 << 11;
    let first_usable = 2 + array_sectors;
    // One sector for each entry: a table the partitioner takes a while to read.
    let last_usable = first_usable + u64::from(ENTRIES) - 1;
    let last = last_usable + array_sectors + 1;
    let mut image = vec![0; (last + 1) as usize * 512];
    let mut put = |at: u64, bytes: &[u8]| {
        let at = at as usize;
        image[at..at + bytes.len()].copy_from_slice(bytes);
    };
    // The protective MBR.
    put(446 + 4, &[0xEE]);
    put(446 + 8, &1u32.to_le_bytes());
    put(446 + 12, &u32::try_from(last).unwrap().to_le_bytes());
    put(510, &[0x55, 0xAA]);
    let crc32 = |bytes: &[u8]| {
        let mut crc = flate2::Crc::new();
        crc.update(bytes);
        crc.sum()
    };
    let mut array = vec![0; 16 << 20];
    for (i, entry) in array.chunks_mut(128).enumerate() {
        let start = first_usable + i as u64;
        entry[..16].copy_from_slice(&LINUX_DATA);
        entry[16..32].copy_from_slice(&(i as u128 + 1).to_le_bytes()); // unique GUID
        entry[32..40].copy_from_slice(&start.to_le_bytes());
        entry[40..48].copy_from_slice(&start.to_le_bytes());
    }
    let array_crc = crc32(&array);
    let array_bytes = array;
    for (lba, other, array) in [(1, last, 2), (last, 1, last_usable + 1)] {
        let mut header = Vec::new();
        header.extend(b"EFI PART");
        header.extend(0x0001_0000u32.to_le_bytes());
        header.extend(92u32.to_le_bytes());
        header.extend([0; 8]); // CRC32, then reserved
        for field in [lba, other, first_usable, last_usable] {
            header.extend(field.to_le_bytes());
        }
        header.extend([7; 16]); // disk GUID
        header.extend(array.to_le_bytes());
        header.extend(ENTRIES.to_le_bytes());
        header.extend(128u32.to_le_bytes());
        header.extend(array_crc.to_le_bytes());
        let crc = crc32(&header);
        header[16..20].copy_from_slice(&crc.to_le_bytes());
        put(lba * 512, &header);
        put(array * 512, &array_bytes);
    }
    image
}

/// The Linux data partition type GUID, as a GPT stores it.
const LINUX_DATA: [u8; 16] = [
    0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
];

#[test]
fn a_time_limit_from_the_command_line_bounds_the_partitioners_own_time() {
    let dir = TempDir::new().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, gpt_with_a_16_mib_entry_array()).unwrap();
    let disk = disk.to_str().unwrap();
    let output = blockpart(&["list", "--json", disk], b"");
    succeeds(&output);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        json["partitiontable"]["partitions"]
            .as_array()
            .unwrap()
            .len(),
        131_072
    );
    // 1 ms, far less than reading 131072 entries takes (over 100 ms here).
    let output = blockpart(&["list", disk, "--time-limit", "1"], b"");
    fails_with(&output, "");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("ran past its time limit of 1 ms"),
        "{stderr}"
    );
}

/// `strace` in front of `blockpart ARGS`, tracing the calls `trace` names into `log`, with the
/// regular file `input` as standard input; `None` if strace is not installed (see
/// `blockpart_test_tools::installed`).
fn strace(
    trace: &str,
    inject: Option<&str>,
    log: &Path,
    args: &[&str],
    input: &Path,
) -> Option<Output> {
    let mut command = Command::new(blockpart_test_tools::installed("strace")?);
    command
        .args(["-f", "-y", "-e", &format!("trace={trace}"), "-o"])
        .arg(log);
    if let Some(inject) = inject {
        command.args(["-e", inject]);
    }
    let output = command
        .arg(env!("CARGO_BIN_EXE_blockpart"))
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .unwrap();
    Some(output)
}

/// A slow disk is not the partitioner's doing: with `fdatasync` held up for half a second, a
/// write with a 30 ms time limit still succeeds (the limit counts the guest's own time, and
/// the host's device calls for it do not).
#[test]
fn a_slow_flush_does_not_count_against_the_time_limit() {
    let dir = TempDir::new().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, data(8 << 20, 1)).unwrap();
    let disk = disk.to_str().unwrap();
    let input = data(8 << 20, 2);
    let file = input_file(&dir, &input);
    let args = ["write", disk, "--time-limit", "30"];
    let log = dir.path().join("strace.log");
    let delayed = "inject=fdatasync:delay_exit=500000";
    let Some(output) = strace("fdatasync", Some(delayed), &log, &args, &file) else {
        return;
    };
    succeeds(&output);
    assert!(read(disk) == input);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("(DELAYED)"),
        "fdatasync was not delayed: {log}"
    );
}

/// `write` makes its data durable: every `pwrite64` to the disk is followed by an `fdatasync`
/// of it before blockpart exits.
#[test]
fn write_calls_fdatasync_on_the_disk_after_its_writes() {
    let dir = TempDir::new().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, data(8192 * 512, 1)).unwrap();
    let disk = disk.to_str().unwrap();
    let input = data(3 << 20, 2);
    let file = input_file(&dir, &input);
    let log = dir.path().join("strace.log");
    let Some(output) = strace("fdatasync,pwrite64", None, &log, &["write", disk], &file) else {
        return;
    };
    succeeds(&output);
    assert!(read(disk)[..input.len()] == input[..]);

    // strace -y names the file behind each descriptor: `pwrite64(3</path/disk.img>, ...`.
    let on_disk = format!("<{}>", std::fs::canonicalize(disk).unwrap().display());
    let log = std::fs::read_to_string(&log).unwrap();
    let mut interrupted = HashMap::new();
    let (mut written, mut unsynced, mut synced) = (0, 0, false);
    for line in log.lines() {
        let Some((pid, call)) = line.split_once(' ') else {
            continue;
        };
        let call = call.trim_start();
        // A call another thread's interrupted is logged in two halves: join them.
        let call = if let Some(first) = call.strip_suffix(" <unfinished ...>") {
            interrupted.insert(pid, first.to_owned());
            continue;
        } else if let Some((_, rest)) = call
            .strip_prefix("<... ")
            .and_then(|call| call.split_once(" resumed>"))
        {
            interrupted.remove(pid).unwrap() + rest
        } else {
            call.to_owned()
        };
        let Some((name, args)) = call.split_once('(') else {
            continue;
        };
        let fd = args.split([',', ')']).next().unwrap_or_default();
        if !fd.ends_with(&on_disk) {
            continue;
        }
        let result = call
            .rsplit_once(" = ")
            .and_then(|(_, result)| result.split_whitespace().next());
        match name {
            "pwrite64" => {
                let bytes: usize = result.unwrap().parse().unwrap();
                written += bytes;
                unsynced += bytes;
            }
            "fdatasync" => {
                assert_eq!(result, Some("0"), "{call}");
                unsynced = 0;
                synced = true;
            }
            _ => {}
        }
    }
    assert_eq!(written, input.len(), "{log}");
    assert!(synced && unsynced == 0, "writes not synced: {log}");
}

/// `info` reads through a read-only device, and says what a `write` would get: a disk on a
/// read-only mount (root writes any file whose mode forbids it) or, for another user, a file
/// without write permission, is read-only.
#[test]
fn info_says_whether_the_disk_can_be_written() {
    let dir = TempDir::new().unwrap();
    let (disk, _) = fixture(&dir, "mbr-one");
    let info = blockpart(&["info", &disk], b"");
    assert!(
        String::from_utf8(info.stdout)
            .unwrap()
            .ends_with(", writable\n")
    );

    let output = if rustix::process::geteuid().is_root() {
        let script = r#"mount --bind -o ro "$2" "$2" && "$1" info "$2/mbr-one.img""#;
        Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                script,
                "sh",
                env!("CARGO_BIN_EXE_blockpart"),
            ])
            .arg(dir.path())
            .output()
            .unwrap()
    } else {
        let mode = std::fs::Permissions::from_mode(0o444);
        std::fs::set_permissions(&disk, mode).unwrap();
        blockpart(&["info", &disk], b"")
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.ends_with(", read-only\n"), "{stdout}");
}

#[test]
fn partition_numbers_select_what_info_and_write_reach() {
    let dir = TempDir::new().unwrap();
    // Partition 3: sectors 4096 to 5119; 7: 6000 to 7999.
    let (disk, mut bytes) = fixture(&dir, "gpt-slots");
    let info = blockpart(&["info", "-p", "3", &disk], b"");
    succeeds(&info);
    assert_eq!(
        String::from_utf8(info.stdout).unwrap(),
        format!("{disk}: 1024 sectors of 512 bytes (524288 bytes) from sector 4096, writable\n")
    );
    let info = blockpart(
        &["info", "--partition", "7", "--range", "10:20", &disk],
        b"",
    );
    succeeds(&info);
    assert_eq!(
        String::from_utf8(info.stdout).unwrap(),
        format!("{disk}: 20 sectors of 512 bytes (10240 bytes) from sector 6010, writable\n")
    );

    // All of partition 3, from a pipe; then the last sector of 7, from a file.
    let whole = data(1024 * 512, 4);
    succeeds(&blockpart(&["write", "-p", "3", &disk], &whole));
    bytes[4096 * 512..5120 * 512].copy_from_slice(&whole);
    let last = data(512, 5);
    let file = input_file(&dir, &last);
    succeeds(&blockpart_from_file(
        &["write", "-p", "7", "--at", "1999", &disk],
        &file,
    ));
    bytes[7999 * 512..8000 * 512].copy_from_slice(&last);
    assert!(read(&disk) == bytes, "not exactly those sectors changed");

    // One sector more than partition 3 holds: nothing written.
    let file = input_file(&dir, &data(1025 * 512, 6));
    let output = blockpart_from_file(&["write", "-p", "3", &disk], &file);
    fails_with(&output, "the range holds 1024 sectors");
    assert!(read(&disk) == bytes);
}

#[test]
fn cat_and_write_work_in_4096_byte_sectors() {
    let dir = TempDir::new().unwrap();
    // Partition 1: sectors 256 to 511; 2: 1024 to 1535, of 4096 bytes.
    let (disk, mut bytes) = fixture(&dir, "gpt-4k");
    let sector = |n: usize| n * 4096;
    let out = blockpart(&["cat", "--sector-size", "4096", "-p", "2", &disk], b"");
    succeeds(&out);
    assert!(out.stdout == bytes[sector(1024)..sector(1536)]);
    let out = blockpart(
        &["cat", "--sector-size", "4096", "--range", "3:2", &disk],
        b"",
    );
    succeeds(&out);
    assert!(out.stdout == bytes[sector(3)..sector(5)]);

    // A sector at the end of partition 1, then two across the boundary of a 1 MiB chunk.
    let one = data(4096, 7);
    let args = [
        "write",
        "--sector-size",
        "4096",
        "-p",
        "1",
        "--at",
        "255",
        &disk,
    ];
    succeeds(&blockpart(&args, &one));
    bytes[sector(511)..sector(512)].copy_from_slice(&one);
    let many = data(258 * 4096, 8);
    succeeds(&blockpart(
        &[
            "write",
            "--sector-size",
            "4096",
            &disk,
            "--range",
            "1100:300",
        ],
        &many,
    ));
    bytes[sector(1100)..sector(1358)].copy_from_slice(&many);
    assert!(read(&disk) == bytes, "not exactly those sectors changed");

    // 512 bytes is not a whole 4096-byte sector, from a file or a pipe.
    let half = data(512, 9);
    let args = ["write", "--sector-size", "4096", "-p", "1", &disk];
    fails_with(
        &blockpart_from_file(&args, &input_file(&dir, &half)),
        "the input is 512 bytes, not a whole number of 4096-byte sectors",
    );
    fails_with(
        &blockpart(&args, &half),
        "the input is not a whole number of sectors: nothing was written",
    );
    assert!(read(&disk) == bytes);
}
