//! The plugin in Debian's nbdkit, with real NBD clients (nbdsh, nbdinfo, nbdcopy), the disk
//! image file as the oracle. Each test starts its own server on a Unix socket and kills it
//! when done; every client runs under `timeout`. Skipped, with a note, without nbdkit (failed under CI).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    missing_docs
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use blockpart_core::SectorSize;
use blockpart_host::{FileDevice, Runtime};
use blockpart_test_tools::installed;

/// The plugin, built by the same `cargo test` as this test: the crate is an rlib as well as a
/// cdylib, so the test depends on it, and cargo builds both of its kinds into `deps/`, next to
/// this test's executable, with the same features (a nested `cargo build -p` would resolve
/// other features and build wasmtime again).
fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.with_file_name("libblockpart_nbdkit.so");
    assert!(path.exists(), "{}", path.display());
    path
}

/// nbdsh, for the tests that script a client.
const NBDSH: &str = "nbdsh";
/// qemu-img, for the tests that write with it.
const QEMU_IMG: &str = "qemu-img";

/// Whether nbdkit, nbdcopy, nbdinfo, sh (which starts the server) and the programs `also`
/// names are installed: if not, the test skips with a note, or fails under CI
/// (`blockpart_test_tools::installed`).
fn tools(also: &[&str]) -> bool {
    ["nbdkit", "nbdcopy", "nbdinfo", "sh"]
        .iter()
        .chain(also)
        .filter(|program| installed(program).is_none())
        .count()
        == 0
}

/// A running nbdkit, killed on drop.
struct Server {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `nbdkit [flags] PLUGIN args` on a fresh Unix socket, once it listens.
    fn start(flags: &[&str], args: &[&str]) -> Self {
        Self::start_plugin(flags, &[plugin().to_str().unwrap()], args)
    }

    /// `nbdkit [flags] plugin args`, run by `sh` with `SIGXFSZ` ignored: a write past the
    /// file size limit ([`Server::limit_file_size`]) then fails with `EFBIG` instead of
    /// killing the server.
    fn start_plugin(flags: &[&str], plugin: &[&str], args: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("sock");
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(installed("sh").unwrap())
            .args(["-c", "trap '' XFSZ; exec nbdkit \"$@\"", "sh"])
            .args(["-f", "--exit-with-parent", "-U"])
            .arg(&socket)
            .args(flags)
            .args(plugin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            socket,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !server.socket.exists() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("nbdkit exited ({status}): {}", server.log());
            }
            assert!(Instant::now() < deadline, "nbdkit did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn uri(&self) -> String {
        format!("nbd+unix:///?socket={}", self.socket.display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default()
    }

    /// Runs `nbdsh` with `script` (Python; `h` is connected), and returns its stdout.
    fn nbdsh(&self, script: &str) -> String {
        let out = client("nbdsh", &["-u", &self.uri(), "-c", script]);
        assert!(
            out.status.success(),
            "nbdsh: {}\n{}",
            stderr(&out),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Makes a write past byte `bytes` of any file fail in the server, with `EFBIG` (its
    /// `RLIMIT_FSIZE`).
    fn limit_file_size(&self, bytes: u64) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        let limit = rustix::process::Rlimit {
            current: Some(bytes),
            maximum: Some(bytes),
        };
        rustix::process::prlimit(pid, rustix::process::Resource::Fsize, limit).unwrap();
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client under `timeout 120`.
fn client(program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .env("PATH", system_path())
        .output()
        .unwrap()
}

/// `PATH` with the system's directories first: nbdsh runs `python3 -m nbd`, and a `python3`
/// of pyenv's or a venv's, first on `PATH`, has no `nbd` module (Debian's python3-libnbd).
fn system_path() -> String {
    let path = std::env::var("PATH").unwrap_or_default();
    format!("/usr/bin:/bin:/usr/sbin:/sbin:{path}")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `bytes` of random-looking data from `seed`.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A fixture written to `dir/NAME.img`, each partition but an extended one filled with its
/// own noise, so a partition served at the wrong offset cannot read right. Returns the path,
/// the bytes and the entries (number, byte start, byte length).
fn disk(
    dir: &Path,
    name: &str,
    sector_size: SectorSize,
) -> (PathBuf, Vec<u8>, Vec<(u32, usize, usize)>) {
    let mut bytes = blockpart_conformance::fixture(name).unwrap();
    let path = dir.join(format!("{name}.img"));
    std::fs::write(&path, &bytes).unwrap();
    let mut instance = Runtime::new().unwrap().instantiate().unwrap();
    let whole = instance
        .whole(FileDevice::open(&path, sector_size, true).unwrap())
        .unwrap();
    let table = instance.read_table(whole).unwrap();
    let ss = sector_size.get() as usize;
    let entries: Vec<_> = table
        .entries
        .iter()
        .filter(|e| !e.partition_type.is_extended())
        .map(|e| (e.number, e.start as usize * ss, e.sectors as usize * ss))
        .collect();
    for &(number, start, len) in &entries {
        bytes[start..start + len].copy_from_slice(&noise(len, number.into()));
    }
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes, entries)
}

/// The export's size as `nbdinfo --json` reports it (`"export-size": N` of its one export).
fn json_size(uri: &str) -> u64 {
    let out = client("nbdinfo", &["--json", uri]);
    assert!(out.status.success(), "nbdinfo --json: {}", stderr(&out));
    let json = String::from_utf8(out.stdout).unwrap();
    let key = "\"export-size\":";
    assert_eq!(json.matches(key).count(), 1, "one export: {json}");
    let after = &json[json.find(key).unwrap() + key.len()..];
    let digits: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no export-size: {json}"))
}

fn size_of(uri: &str) -> u64 {
    let out = client("nbdinfo", &["--size", uri]);
    assert!(out.status.success(), "nbdinfo: {}", stderr(&out));
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn file_of(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn each_partition_reads_and_sizes_as_nbdkits_partition_filter_does() {
    if !tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "mbr-primaries",
        "mbr-logical",
        "gpt-slots",
        "gpt-one",
        "gpt-primary-corrupt",
    ] {
        let (path, bytes, entries) = disk(dir.path(), name, SectorSize::B512);
        assert!(!entries.is_empty());
        let disk = path.to_str().unwrap();
        for (number, start, len) in entries {
            let partition = format!("partition={number}");
            let ours = Server::start(&["-r"], &[disk, &partition]);
            assert_eq!(json_size(&ours.uri()), len as u64, "{name} {number}");
            let out = dir.path().join("ours");
            let copy = client("nbdcopy", &[&ours.uri(), out.to_str().unwrap()]);
            assert!(copy.status.success(), "{}", stderr(&copy));
            assert!(
                file_of(&out) == bytes[start..start + len],
                "{name} partition {number}"
            );
            // nbdkit's own filter reads the primary GPT only: not the damaged one.
            if name != "gpt-primary-corrupt" {
                let theirs = Server::start_plugin(
                    &["-r", "--filter=partition"],
                    &["file", disk],
                    &[&partition],
                );
                assert_eq!(
                    json_size(&theirs.uri()),
                    json_size(&ours.uri()),
                    "nbdinfo --json's export-size: {name} partition {number}"
                );
                let out2 = dir.path().join("theirs");
                let copy = client("nbdcopy", &[&theirs.uri(), out2.to_str().unwrap()]);
                assert!(copy.status.success(), "{}", stderr(&copy));
                assert!(file_of(&out2) == file_of(&out), "{name} partition {number}");
            }
        }
    }
}

#[test]
fn writes_land_in_the_partition_and_nowhere_else() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, mut model, _) = disk(dir.path(), "mbr-primaries", SectorSize::B512);
    let (start, len) = (2048 * 512, 2048 * 512);
    let server = Server::start(&[], &[path.to_str().unwrap(), "partition=2"]);
    let data = noise(len, 99);
    let source = dir.path().join("data");
    std::fs::write(&source, &data).unwrap();
    let copy = client("nbdcopy", &[source.to_str().unwrap(), &server.uri()]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    model[start..start + len].copy_from_slice(&data);
    assert!(file_of(&path) == model, "nbdcopy's write");

    // The first and last bytes, and an odd offset across a sector boundary.
    let printed = server.nbdsh(&format!(
        "h.pwrite(b'FIRST', 0)\n\
         h.pwrite(b'LAST', {len} - 4)\n\
         h.pwrite(b'hello, odd world', 1001)\n\
         h.flush()\n\
         print(h.pread(20, 999).hex())"
    ));
    model[start..start + 5].copy_from_slice(b"FIRST");
    model[start + len - 4..start + len].copy_from_slice(b"LAST");
    model[start + 1001..start + 1017].copy_from_slice(b"hello, odd world");
    assert!(file_of(&path) == model, "nbdsh's writes");
    let expected: String = model[start + 999..start + 1019]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(printed.trim(), expected);

    // Zero and trim at odd offsets: zeroed bytes read back as zeroes.
    server.nbdsh("h.zero(1000, 3333)\nh.trim(4096, 8191)\nh.flush()");
    model[start + 3333..start + 4333].fill(0);
    let got = file_of(&path);
    assert!(got[..start] == model[..start] && got[start + len..] == model[start + len..]);
    assert!(got[start + 3333..start + 4333].iter().all(|b| *b == 0));
}

#[test]
fn requests_past_the_end_are_refused_and_change_nothing() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, model, _) = disk(dir.path(), "mbr-primaries", SectorSize::B512);
    let server = Server::start(&[], &[path.to_str().unwrap(), "partition=3"]);
    let printed = server.nbdsh(
        "import nbd\n\
         size = h.get_size()\n\
         for what, call in [('read', lambda: h.pread(512, size - 511)),\n\
                            ('write', lambda: h.pwrite(b'x' * 2, size - 1)),\n\
                            ('zero', lambda: h.zero(512, size))]:\n\
         \x20   try:\n\
         \x20       call()\n\
         \x20       print(what, 'served')\n\
         \x20   except nbd.Error as e:\n\
         \x20       print(what, 'refused')\n",
    );
    assert_eq!(printed, "read refused\nwrite refused\nzero refused\n");
    assert!(file_of(&path) == model);
}

#[test]
fn a_read_only_server_refuses_writes() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, model, _) = disk(dir.path(), "mbr-primaries", SectorSize::B512);
    let server = Server::start(&["-r"], &[path.to_str().unwrap(), "partition=2"]);
    let printed = server.nbdsh(
        "import nbd\n\
         print(h.is_read_only())\n\
         try:\n\
         \x20   h.pwrite(b'x', 0)\n\
         \x20   print('written')\n\
         except nbd.Error:\n\
         \x20   print('refused')\n",
    );
    assert_eq!(printed, "True\nrefused\n");
    assert!(file_of(&path) == model);
}

#[test]
fn four_kib_sectors_serve_a_gpt_entry() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, mut model, entries) = disk(dir.path(), "gpt-4k", SectorSize::B4096);
    let (number, start, len) = entries[1];
    let partition = format!("partition={number}");
    let server = Server::start(
        &[],
        &[
            &format!("file={}", path.display()),
            &partition,
            "sector-size=4096",
        ],
    );
    assert_eq!(size_of(&server.uri()), len as u64);
    let printed = server.nbdsh("h.pwrite(b'abc', 4095)\nh.flush()\nprint(h.pread(5, 4094).hex())");
    model[start + 4095..start + 4098].copy_from_slice(b"abc");
    assert!(file_of(&path) == model);
    let expected: String = model[start + 4094..start + 4099]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(printed.trim(), expected);
}

#[test]
fn bad_configurations_stop_nbdkit_at_start_up_with_the_reason() {
    if !tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, _, _) = disk(dir.path(), "mbr-primaries", SectorSize::B512);
    let disk = path.to_str().unwrap();
    let corrupt = dir.path().join("corrupt.img");
    std::fs::write(
        &corrupt,
        blockpart_conformance::fixture("gpt-both-corrupt").unwrap(),
    )
    .unwrap();
    let text = dir.path().join("text.wasm");
    std::fs::write(&text, "not\na\ncomponent\n").unwrap();
    let text = format!("component={}", text.display());
    let cases: &[(&[&str], &str)] = &[
        (&[disk, "partition=9"], "no partition 9"),
        (&[disk, "partition=zero"], "partition=\"zero\""),
        (&[disk, "sector-size=1000"], "sector-size=\"1000\""),
        (&[disk, "colour=blue"], "unknown parameter \"colour\""),
        (&["partition=1"], "no disk"),
        (&["file="], "file=\"\": expected the path of a disk image"),
        (
            &["/nonexistent/disk.img"],
            "cannot open /nonexistent/disk.img: No such file or directory",
        ),
        (
            &[corrupt.to_str().unwrap(), "partition=1"],
            "opening partition 1",
        ),
        (
            &[disk, "component=/nonexistent.wasm"],
            "component=/nonexistent.wasm",
        ),
        (&[disk, &text], "not a WebAssembly component"),
        (
            &[disk, "memory-limit=1"],
            "the memory limit of 1 MiB is below the 1088 KiB the component needs to start",
        ),
    ];
    for (args, message) in cases {
        let said = refused_at_start_up(args);
        assert!(said.contains(message), "{args:?}: {said}");
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
    }
}

/// What nbdkit prints when the plugin, given `args`, stops it at start-up.
fn refused_at_start_up(args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["60", "nbdkit", "-U", "-"])
        .arg(plugin())
        .args(args)
        .args(["--run", "true"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} started");
    stderr(&out)
}

/// A disk whose size is not whole sectors: each partition is served as nbdkit's partition
/// filter serves it (the partial sector at the end lies outside every partition). The whole
/// disk, which cannot be served in sectors, is refused at start-up.
#[test]
fn the_partitions_of_a_disk_with_a_partial_last_sector_are_served() {
    if !tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, mut bytes, entries) = disk(dir.path(), "mbr-primaries", SectorSize::B512);
    bytes.extend_from_slice(&[0xAB; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let disk = path.to_str().unwrap();
    for (number, start, len) in entries {
        let partition = format!("partition={number}");
        let ours = Server::start(&["-r"], &[disk, &partition]);
        let theirs = Server::start_plugin(
            &["-r", "--filter=partition"],
            &["file", disk],
            &[&partition],
        );
        assert_eq!(json_size(&ours.uri()), len as u64, "partition {number}");
        assert_eq!(json_size(&theirs.uri()), len as u64, "partition {number}");
        let out = dir.path().join("ours");
        let copy = client("nbdcopy", &[&ours.uri(), out.to_str().unwrap()]);
        assert!(copy.status.success(), "{}", stderr(&copy));
        assert!(
            file_of(&out) == bytes[start..start + len],
            "partition {number}"
        );
    }
    let said = refused_at_start_up(&[disk]);
    assert!(
        said.contains("not a whole number of 512-byte sectors"),
        "{said}"
    );
}

/// A write the system fails is answered with the system's errno, as nbdkit's `file` plugin
/// answers it: past the server's file size limit (`RLIMIT_FSIZE`) `pwrite` fails with `EFBIG`,
/// which nbdkit sends as `ENOSPC`, the error for a full disk (QEMU stops a VM on it by
/// default, rather than fail its guest's I/O as for `EIO`).
#[test]
fn a_write_the_system_refuses_gets_its_errno_as_the_file_plugin_gives_it() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(4 << 20)
        .unwrap();
    let disk = path.to_str().unwrap();
    let script = "import nbd\n\
                  for what, at, n in [('below', 0, 512), ('whole', 2 << 20, 1024),\n\
                  \x20                   ('partial', (2 << 20) + 10, 100)]:\n\
                  \x20   try:\n\
                  \x20       h.pwrite(b'x' * n, at)\n\
                  \x20       print(what, 'written')\n\
                  \x20   except nbd.Error as e:\n\
                  \x20       print(what, e.errno)\n";
    let plugin = plugin();
    for server in [&[plugin.to_str().unwrap(), disk][..], &["file", disk]] {
        let server = Server::start_plugin(&[], server, &[]);
        server.limit_file_size(1 << 20);
        assert_eq!(
            server.nbdsh(script),
            "below written\nwhole ENOSPC\npartial ENOSPC\n",
            "{}",
            server.log()
        );
    }
}

#[test]
fn a_trapping_component_fails_the_request_and_the_server_serves_on() {
    if !tools(&[NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.img");
    // The hostile component chooses what to do wrong by the first byte of the disk when it is
    // opened: its `read` traps for `T`, never returns for `L`, and reads honestly for any other
    // byte (its `write` always fails: it is not needed to misbehave). The script, after the
    // failed read, makes the disk start with `H`: the connection's next request gets a fresh
    // instance, which reads the disk as it is.
    let mut bytes = vec![0; 1 << 20];
    bytes[0] = b'T';
    bytes[1..4].copy_from_slice(b"abc");
    std::fs::write(&path, &bytes).unwrap();
    let component = format!("component={}", blockpart_test_artifacts::HOSTILE_COMPONENT);
    let mut server = Server::start(&[], &[path.to_str().unwrap(), &component, "time-limit=200"]);
    let script = format!(
        "import nbd\n\
         try:\n\
         \x20   h.pread(512, 0)\n\
         \x20   print('read')\n\
         except nbd.Error as e:\n\
         \x20   print('failed', e.errno)\n\
         with open({:?}, 'r+b') as f:\n\
         \x20   f.write(b'H')\n\
         print(bytes(h.pread(4, 0)))\n",
        path.to_str().unwrap()
    );
    assert_eq!(server.nbdsh(&script), "failed EIO\nb'Habc'\n");
    assert!(
        server.log().contains("the partitioner failed"),
        "{}",
        server.log()
    );
    // A second connection, after the trap.
    assert_eq!(size_of(&server.uri()), 1 << 20);
    assert!(server.alive());

    bytes[0] = b'L';
    std::fs::write(&path, &bytes).unwrap();
    let started = Instant::now();
    assert_eq!(server.nbdsh(&script), "failed EIO\nb'Habc'\n");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(server.alive());
}

/// A disk of `sectors` 512-byte sectors with one MBR partition from sector 2048 to the end.
fn one_partition_disk(path: &Path, sectors: u32) -> (usize, usize) {
    let mut mbr = vec![0_u8; 512];
    mbr[446 + 4] = 0x83;
    mbr[446 + 8..446 + 12].copy_from_slice(&2048_u32.to_le_bytes());
    mbr[446 + 12..446 + 16].copy_from_slice(&(sectors - 2048).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    std::fs::write(path, &mbr).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.set_len(u64::from(sectors) * 512).unwrap();
    (2048 * 512, (sectors as usize - 2048) * 512)
}

#[test]
fn parallel_nbdcopy_connections_write_and_read_the_partition() {
    if !tools(&[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    let (start, len) = one_partition_disk(&path, 64 << 11);
    let mut server = Server::start(&[], &[path.to_str().unwrap(), "partition=1"]);
    let data = noise(len, 5);
    let source = dir.path().join("data");
    std::fs::write(&source, &data).unwrap();
    let copy = client(
        "nbdcopy",
        &[
            "--connections=4",
            "--requests=64",
            "--request-size=65536",
            source.to_str().unwrap(),
            &server.uri(),
        ],
    );
    assert!(copy.status.success(), "{}", stderr(&copy));
    let file = file_of(&path);
    assert!(
        file[start..] == data[..],
        "the partition's bytes in the file"
    );
    assert!(
        file[512..start].iter().all(|b| *b == 0),
        "before the partition"
    );
    let back = dir.path().join("back");
    let copy = client(
        "nbdcopy",
        &[
            "--connections=4",
            "--requests=64",
            &server.uri(),
            back.to_str().unwrap(),
        ],
    );
    assert!(copy.status.success(), "{}", stderr(&copy));
    assert!(file_of(&back) == data);

    // A client killed mid-copy: the server goes on serving.
    let mut copy = Command::new("nbdcopy")
        .args([&server.uri(), "null:"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    let _ = copy.kill();
    let _ = copy.wait();
    assert!(server.alive());
    assert_eq!(size_of(&server.uri()), len as u64);
}

/// `qemu-img convert -n` of a raw file into the NBD export (`-n`: the target exists).
fn qemu_img_into(source: &Path, uri: &str) {
    let out = client(
        "qemu-img",
        &[
            "convert",
            "-n",
            "-f",
            "raw",
            "-O",
            "raw",
            source.to_str().unwrap(),
            uri,
        ],
    );
    assert!(out.status.success(), "qemu-img convert: {}", stderr(&out));
}

#[test]
fn qemu_img_convert_into_each_logical_partition_changes_only_that_partition() {
    if !tools(&[QEMU_IMG]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // mbr-logical: primaries, an extended partition, and logical ones, one of them starting
    // at an odd sector (4097) and one an odd number of sectors long (1023).
    let (path, mut model, entries) = disk(dir.path(), "mbr-logical", SectorSize::B512);
    assert!(entries.len() >= 4, "{entries:?}");
    for (number, start, len) in entries {
        // Noise with zero runs in it, which qemu-img sends as write-zeroes requests.
        let mut data = noise(len, 1000 + u64::from(number));
        data[4096.min(len)..(4096 + 65536).min(len)].fill(0);
        data[len - len / 4..].fill(0);
        let source = dir.path().join("source");
        std::fs::write(&source, &data).unwrap();
        let server = Server::start(
            &[],
            &[path.to_str().unwrap(), &format!("partition={number}")],
        );
        qemu_img_into(&source, &server.uri());
        drop(server);
        model[start..start + len].copy_from_slice(&data);
        let file = file_of(&path);
        assert!(
            file[start..start + len] == model[start..start + len],
            "partition {number}'s bytes in the file"
        );
        assert!(
            file == model,
            "partition {number}: bytes outside it changed, first at {:?}",
            file.iter().zip(&model).position(|(a, b)| a != b)
        );
    }
}

/// Runs a local tool under `timeout 120`.
fn run(tool: &Path, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(tool)
        .args(args)
        .output()
        .unwrap()
}

/// A disk of `sectors` 512-byte sectors of noise with an MBR whose primary entries are
/// `parts` (first sector, sectors).
fn mbr_disk(path: &Path, sectors: usize, parts: &[(u32, u32)]) -> Vec<u8> {
    let mut bytes = noise(sectors * 512, 77);
    bytes[..512].fill(0);
    for (i, &(first, count)) in parts.iter().enumerate() {
        let entry = 446 + 16 * i;
        bytes[entry + 4] = 0x83;
        bytes[entry + 8..entry + 12].copy_from_slice(&first.to_le_bytes());
        bytes[entry + 12..entry + 16].copy_from_slice(&count.to_le_bytes());
    }
    bytes[510] = 0x55;
    bytes[511] = 0xAA;
    std::fs::write(path, &bytes).unwrap();
    bytes
}

#[test]
fn an_ext4_copied_in_by_nbdcopy_passes_e2fsck_and_reads_back_its_files() {
    if !tools(&[]) {
        return;
    }
    let (Some(mke2fs), Some(e2fsck)) = (installed("mke2fs"), installed("e2fsck")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The tree to put in: a small text file, and a larger one (many blocks, in a directory).
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("dir/sub")).unwrap();
    let hello = b"hello from an ext4 served through blockpart\n".to_vec();
    let big = noise(300 << 10, 4);
    std::fs::write(tree.join("hello.txt"), &hello).unwrap();
    std::fs::write(tree.join("dir/sub/big.bin"), &big).unwrap();

    // Partition 2, 16 MiB, starts at an odd sector; partition 1 and the end of the disk
    // around it.
    let (first, sectors) = (6145_u32, 32768_u32);
    let path = dir.path().join("disk.img");
    let mut model = mbr_disk(&path, 40960, &[(2048, 2048), (first, sectors)]);
    let (start, len) = (first as usize * 512, sectors as usize * 512);

    let image = dir.path().join("fs.ext4");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(len as u64)
        .unwrap();
    let made = run(
        &mke2fs,
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-d",
            tree.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "mke2fs: {}", stderr(&made));
    let ext4 = file_of(&image);
    assert_eq!(ext4.len(), len);

    let server = Server::start(&[], &[path.to_str().unwrap(), "partition=2"]);
    let copy = client("nbdcopy", &[image.to_str().unwrap(), &server.uri()]);
    assert!(
        copy.status.success(),
        "nbdcopy: {}\n{}",
        stderr(&copy),
        server.log()
    );
    drop(server);

    // The partition's bytes, taken from the file: what a client that knows nothing of
    // blockpart would find there.
    let file = file_of(&path);
    let extracted = dir.path().join("extracted.ext4");
    std::fs::write(&extracted, &file[start..start + len]).unwrap();
    let fsck = run(&e2fsck, &["-f", "-n", extracted.to_str().unwrap()]);
    assert!(
        fsck.status.success(),
        "e2fsck -fn: {}\n{}",
        String::from_utf8_lossy(&fsck.stdout),
        stderr(&fsck)
    );
    if let Some(debugfs) = installed("debugfs") {
        for (name, content) in [("/hello.txt", &hello), ("/dir/sub/big.bin", &big)] {
            let cat = run(
                &debugfs,
                &["-R", &format!("cat {name}"), extracted.to_str().unwrap()],
            );
            assert!(cat.status.success(), "debugfs cat {name}: {}", stderr(&cat));
            assert!(cat.stdout == *content, "{name} read back by debugfs");
        }
    }
    // And byte for byte: the filesystem at the partition's offset, nothing changed around it.
    model[start..start + len].copy_from_slice(&ext4);
    assert!(
        file == model,
        "the file differs from the model, first at {:?}",
        file.iter().zip(&model).position(|(a, b)| a != b)
    );
}

#[test]
fn each_partition_of_a_qcow2_is_served_read_only_as_qemu_img_reads_it() {
    if !tools(&[QEMU_IMG, NBDSH]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (raw, bytes, entries) = disk(dir.path(), "mbr-logical", SectorSize::B512);
    let qemu_img = installed(QEMU_IMG).unwrap();
    for (name, options) in [("plain", &[][..]), ("deflate", &["-c"][..])] {
        let image = dir.path().join(format!("{name}.qcow2"));
        let made = run(
            &qemu_img,
            &[
                &["convert", "-f", "raw", "-O", "qcow2"][..],
                options,
                &[raw.to_str().unwrap(), image.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(made.status.success(), "{}", stderr(&made));
        let before = file_of(&image);
        for &(number, start, len) in &entries {
            let partition = format!("partition={number}");
            // No -r: an image other than raw is served read-only all the same.
            let server = Server::start(&[], &[image.to_str().unwrap(), &partition]);
            assert_eq!(json_size(&server.uri()), len as u64, "{name} {number}");
            let out = dir.path().join("served");
            let copy = client("nbdcopy", &[&server.uri(), out.to_str().unwrap()]);
            assert!(copy.status.success(), "{}", stderr(&copy));
            assert!(
                file_of(&out) == bytes[start..start + len],
                "{name} partition {number}: not the bytes qemu-img converted"
            );
            let printed = server.nbdsh(
                "import nbd\n\
                 print(h.is_read_only())\n\
                 try:\n\
                 \x20   h.pwrite(b'x' * 512, 0)\n\
                 \x20   print('written')\n\
                 except nbd.Error:\n\
                 \x20   print('refused')\n",
            );
            assert_eq!(printed, "True\nrefused\n", "{name} {number}");
        }
        assert!(file_of(&image) == before, "{name}: the image changed");
    }
}

#[test]
fn a_qcow2_naming_a_backing_file_is_refused_at_start_up_unless_it_is_given() {
    if !tools(&[QEMU_IMG]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (raw, bytes, entries) = disk(dir.path(), "gpt-slots", SectorSize::B512);
    let qemu_img = installed(QEMU_IMG).unwrap();
    let base = dir.path().join("base.qcow2");
    let overlay = dir.path().join("overlay.qcow2");
    for args in [
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            base.to_str().unwrap(),
        ][..],
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            base.to_str().unwrap(),
            "-F",
            "qcow2",
            overlay.to_str().unwrap(),
        ][..],
    ] {
        let made = run(&qemu_img, args);
        assert!(made.status.success(), "{}", stderr(&made));
    }
    let message = refused_at_start_up(&[overlay.to_str().unwrap()]);
    assert!(
        message.contains(&format!("backing file, \"{}\"", base.display())),
        "{message}"
    );
    let (number, start, len) = entries[0];
    let backing = format!("backing={}", base.display());
    let partition = format!("partition={number}");
    let server = Server::start(&["-r"], &[overlay.to_str().unwrap(), &backing, &partition]);
    let out = dir.path().join("served");
    let copy = client("nbdcopy", &[&server.uri(), out.to_str().unwrap()]);
    assert!(copy.status.success(), "{}", stderr(&copy));
    assert!(file_of(&out) == bytes[start..start + len]);
}
