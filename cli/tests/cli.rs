//! The `blockpart` command, run as a user runs it.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use blockpart_conformance::{CASES, SECTOR_SIZES, TABLE_CASES};
use tempfile::TempDir;

fn blockpart(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blockpart"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
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
        blockpart_host::GUEST_COMPONENT
    );
}

#[test]
fn conformance_command_runs_against_a_given_component() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("partitioner.wasm");
    std::fs::write(&path, blockpart_host::GUEST_COMPONENT).unwrap();
    let out = blockpart(&["conformance", "--component", path.to_str().unwrap()], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    // Per sector size: each case and the random comparison; each table case per sector size
    // of its fixtures.
    let tables: usize = TABLE_CASES
        .iter()
        .map(|case| case.sector_sizes().len())
        .sum();
    let expected = SECTOR_SIZES.len() * (CASES.len() + 1) + tables;
    assert!(
        text.trim_end()
            .ends_with(&format!("{expected} passed, 0 failed")),
        "{text}"
    );
}

#[test]
fn bench_writes_a_table_csv_and_plot_and_leaves_a_read_only_run_untouched() {
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
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Reads only: the disk is as it was.
    assert!(std::fs::read(&path).unwrap() == image);

    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // Four sizes, two patterns, three ways; native is its own baseline.
    assert_eq!(rows.len(), 4 * 2 * 3);
    for row in &rows {
        assert_eq!(row[0], "read");
        assert!(row[4].parse::<u64>().unwrap() > 0, "{row:?}");
        if row[3] == "native" {
            assert_eq!(row[9], "1.0000");
        }
    }
    let table = std::fs::read_to_string(out.join("bench.txt")).unwrap();
    assert!(table.contains("process start to first read"), "{table}");
    let svg = std::fs::read_to_string(out.join("bench.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("partition"),
        "{svg}"
    );
}
