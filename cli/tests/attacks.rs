//! The command line as a hostile user or an unlucky one runs it: full or closed output, special
//! files, locked disks, an unsafe compile cache, the wrong sector size. Each must end in a clear
//! error and exit 1, never a panic or a hang, and change nothing where it failed.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::fs::{FlockOperation, flock};
use tempfile::TempDir;

/// `blockpart ARGS` with the given standard streams, killed if it runs past 20 seconds.
fn run(args: &[&str], stdin: Stdio, stdout: Stdio, env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_blockpart"));
    command
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("blockpart {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn blockpart(args: &[&str]) -> Output {
    run(args, Stdio::null(), Stdio::piped(), &[])
}

/// Exit 1 with `message` in the error, and no panic.
fn fails_with(output: &Output, message: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("blockpart: "), "{stderr}");
    assert!(stderr.contains(message), "{message:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The sfdisk fixture `name` as `name.img` in a fresh directory.
fn fixture(name: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.img"));
    std::fs::write(&path, blockpart_conformance::fixture(name).unwrap()).unwrap();
    (dir, path)
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn output_to_a_full_disk_is_an_error_not_a_panic() {
    let (_dir, disk) = fixture("gpt-slots");
    for args in [
        &["list", text(&disk)][..],
        &["list", "--json", text(&disk)],
        &["info", text(&disk)],
        &["cat", text(&disk)],
        &["conformance", "--sector-size", "4096"],
    ] {
        let full = File::create("/dev/full").unwrap();
        let output = run(args, Stdio::null(), full.into(), &[]);
        fails_with(&output, "No space left on device");
    }
}

#[test]
fn output_to_a_closed_pipe_is_an_error_not_a_panic() {
    let (_dir, disk) = fixture("gpt-128");
    for args in [&["list", text(&disk)][..], &["list", "--json", text(&disk)]] {
        // A pipe whose reader is gone before blockpart writes a byte.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = run(args, Stdio::null(), writer.into(), &[]);
        fails_with(&output, "Broken pipe");
    }
}

#[test]
fn closed_standard_streams_are_errors_not_silent_successes() {
    let (_dir, disk) = fixture("mbr-one");
    let before = std::fs::read(&disk).unwrap();
    // A child with descriptor 0 or 1 closed: run through the shell, which can close them.
    let shell = |script: &str| {
        Command::new("sh")
            .args([
                "-c",
                script,
                "sh",
                env!("CARGO_BIN_EXE_blockpart"),
                text(&disk),
            ])
            .output()
            .unwrap()
    };
    fails_with(&shell(r#""$1" write "$2" <&-"#), "standard input is closed");
    for args in [
        r#"cat "$2""#,
        r#"list "$2""#,
        r#"list --json "$2""#,
        r#"info "$2""#,
        r#"ls "$2""#,
        r#"get "$2" /x"#,
        "component -o -",
        "conformance --sector-size 4096",
    ] {
        let script = format!(r#""$1" {args} >&-"#);
        fails_with(&shell(&script), "standard output is closed");
    }
    assert!(std::fs::read(&disk).unwrap() == before);
}

/// What Python's `subprocess.DEVNULL` and systemd's `StandardOutput=null` hand a child: a
/// `/dev/null` opened for reading and writing, which Rust's runtime also puts over a closed
/// descriptor. It is a user's choice, and must work like any other file.
#[test]
fn a_dev_null_opened_read_write_is_a_stream_like_any_other() {
    let (_dir, disk) = fixture("mbr-one");
    let before = std::fs::read(&disk).unwrap();
    let null = || {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null");
        Stdio::from(file.unwrap())
    };
    for args in [
        &["cat", text(&disk)][..],
        &["list", text(&disk)],
        &["list", "--json", text(&disk)],
        &["info", text(&disk)],
        &["write", text(&disk)],
        &["component", "-o", "-"],
    ] {
        let output = run(args, null(), null(), &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
    }
    assert!(std::fs::read(&disk).unwrap() == before);
}

#[test]
fn special_files_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    for command in ["info", "list", "cat"] {
        let output = blockpart(&[command, text(&fifo)]);
        fails_with(&output, "is not a disk image or block device");
    }
    fails_with(
        &blockpart(&["info", "/dev/null"]),
        "is not a disk image or block device",
    );
    // A regular file with no end to seek to.
    fails_with(
        &blockpart(&["info", "/proc/self/status"]),
        "cannot tell the size of /proc/self/status: it is not a disk image",
    );
}

#[test]
fn a_locked_disk_is_refused_and_left_alone() {
    let (_dir, disk) = fixture("mbr-one");
    let before = std::fs::read(&disk).unwrap();
    let input = || Stdio::from(File::open("/dev/zero").unwrap());

    // Another program writing it: neither a read nor a write may go on.
    let holder = File::open(&disk).unwrap();
    flock(&holder, FlockOperation::LockExclusive).unwrap();
    fails_with(&blockpart(&["info", text(&disk)]), "is in use");
    let output = run(
        &["write", "--range", "0:1", text(&disk)],
        input(),
        Stdio::piped(),
        &[],
    );
    fails_with(&output, "is in use");
    let bench = ["bench", "--rounds", "1", "--slice", "1", "-o"];
    let out = disk.with_extension("bench");
    let output = blockpart(&[&bench[..], &[text(&out), "--write", text(&disk)]].concat());
    fails_with(&output, "is in use");
    assert!(std::fs::read(&disk).unwrap() == before);

    // Another program reading it: reads share, a write waits its turn.
    flock(&holder, FlockOperation::LockShared).unwrap();
    assert!(blockpart(&["info", text(&disk)]).status.success());
    let output = run(
        &["write", "--range", "0:1", text(&disk)],
        input(),
        Stdio::piped(),
        &[],
    );
    fails_with(&output, "is in use");
    assert!(std::fs::read(&disk).unwrap() == before);

    drop(holder);
    let output = run(
        &["write", "--range", "0:1", text(&disk)],
        input(),
        Stdio::piped(),
        &[],
    );
    // Past the lock: `--range 0:1` holds one sector, and /dev/zero has more.
    fails_with(&output, "does not fit: nothing was written");
}

#[test]
fn a_compile_cache_others_can_write_is_not_used() {
    let (dir, disk) = fixture("mbr-one");
    let cache = dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let env = [("XDG_CACHE_HOME", cache.as_path())];
    let output = run(&["info", text(&disk)], Stdio::null(), Stdio::piped(), &env);
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("warning: not using the compile cache in"),
        "{stderr}"
    );
    assert!(
        stderr.contains("can be written by other users (mode 777)"),
        "{stderr}"
    );
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("4096 sectors of 512 bytes")
    );

    // Made private again, it is used, and says nothing.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    let output = run(&["info", text(&disk)], Stdio::null(), Stdio::piped(), &env);
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "");
    assert!(
        std::fs::read_dir(cache.join("wasmtime"))
            .unwrap()
            .next()
            .is_some()
    );
}

#[test]
fn a_4kn_disk_read_with_512_byte_sectors_gets_a_hint() {
    let (_dir, disk) = fixture("gpt-4k");
    fails_with(&blockpart(&["list", text(&disk)]), "try --sector-size 4096");
    for args in [
        &["info", "-p", "1", text(&disk)][..],
        &["ls", "-p", "1", text(&disk)],
        &["get", "-p", "1", text(&disk), "/x"],
        // No -p: the whole disk holds no filesystem, but a table with other sectors.
        &["ls", text(&disk)],
    ] {
        fails_with(&blockpart(args), "try --sector-size 4096");
    }
    let output = blockpart(&["list", "--sector-size", "4096", text(&disk)]);
    assert!(output.status.success());
}

#[test]
fn a_refused_table_is_said_once_and_plainly() {
    let (_dir, disk) = fixture("mbr-ebr-loop");
    let output = blockpart(&["list", text(&disk)]);
    fails_with(&output, "loop");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.matches("partition table").count() <= 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn bench_runs_with_4096_byte_sectors() {
    let (dir, disk) = fixture("gpt-4k");
    let out = dir.path().join("out");
    let args = [
        "bench",
        "--sector-size",
        "4096",
        "--rounds",
        "1",
        "--slice",
        "1",
        "-o",
    ];
    let mut args = args.to_vec();
    args.extend([text(&out), text(&disk)]);
    let output = blockpart(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(out.join("bench.csv")).unwrap();
    let mut rows = csv.lines().map(|line| line.split(',').collect::<Vec<_>>());
    let header = rows.next().unwrap();
    let column = header.iter().position(|name| *name == "request_bytes");
    let column = column.unwrap_or_else(|| panic!("no request_bytes column: {csv}"));
    let sizes: Vec<u64> = rows.map(|row| row[column].parse().unwrap()).collect();
    assert!(!sizes.is_empty(), "{csv}");
    // Every request is whole 4096-byte sectors: none was sized for 512-byte ones.
    assert!(sizes.iter().all(|size| size % 4096 == 0), "{csv}");
}

#[test]
fn a_write_the_disk_fails_says_so_not_that_the_input_does_not_fit() {
    let Some(strace) = blockpart_test_tools::installed("strace") else {
        return;
    };
    let (dir, disk) = fixture("mbr-one");
    let before = std::fs::read(&disk).unwrap();
    let input = dir.path().join("input");
    std::fs::write(&input, vec![0x5a; 1 << 20]).unwrap();
    // Every pwrite fails, as on a dying disk.
    let output = Command::new(strace)
        .args(["-f", "-o", "/dev/null", "-e", "inject=pwrite64:error=EIO"])
        .arg(env!("CARGO_BIN_EXE_blockpart"))
        .args(["write", text(&disk)])
        .stdin(File::open(&input).unwrap())
        .output()
        .unwrap();
    fails_with(&output, "the write failed: nothing was written");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Input/output error"), "{stderr}");
    assert!(!stderr.contains("does not fit"), "{stderr}");
    assert!(std::fs::read(&disk).unwrap() == before);
}

#[test]
fn a_write_larger_than_the_partitioners_memory_works_its_bytes_never_enter_it() {
    let (dir, disk) = fixture("mbr-one");
    let input = dir.path().join("input");
    let data: Vec<u8> = (0..=250u8).cycle().take(2 << 20).collect();
    std::fs::write(&input, &data).unwrap();
    // 2 MiB starts the partitioner; each 1 MiB chunk would not fit in it beside its own.
    let args = ["--memory-limit", "2", "write", text(&disk)];
    let output = run(
        &args,
        File::open(&input).unwrap().into(),
        Stdio::piped(),
        &[],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::fs::read(&disk).unwrap()[..data.len()] == data[..]);
}
