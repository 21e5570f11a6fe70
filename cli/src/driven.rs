//! A host in another language, driven through its conformance driver: the suite's cases, table
//! cases, random comparison with the model and device contract, run in that host.
//!
//! # The protocol
//!
//! This is the one description of it; a driver (`node/driver.js`) follows it.
//!
//! The suite starts the driver's command line (split at whitespace) and talks JSON lines over
//! its standard input and output: one request per line, then one reply per line, in order. The
//! driver writes nothing else to standard output (its standard error is quoted when it dies),
//! and exits when its input ends. A request is an object with an `op` and the op's fields. A
//! reply is an object with exactly one field:
//!
//! - `{"ok": value}`: the call succeeded (`null` for a call that returns nothing);
//! - `{"error": {"tag": ..., "val": ...}}`: the call failed with its WIT error (`error` for a
//!   partition, `table-error` for a table, `device-error` for a device), as jco gives it;
//! - `{"failure": "message"}`: anything else (a trap, an exception that is no WIT error, a
//!   request the driver cannot parse). The case fails with the message.
//!
//! Values are the WIT's, shaped as jco gives them: records are objects with camel-case field
//! names (`sectorStart`, `sizeSectors`), variants `{"tag", "val"}` with `val` absent when the
//! case has none, `none` is `null`. **u64 values are decimal strings, both ways** (`u64::MAX`
//! is a legal argument, and a JSON number loses precision past 2^53 in JS); smaller integers
//! and booleans are JSON numbers and booleans; **byte data is base64** (RFC 4648, padded). Ids
//! of disks, partitions and devices are JSON numbers the driver picks.
//!
//! | op | fields | `ok` value |
//! | --- | --- | --- |
//! | `hello` | `protocol`: 2 | `{protocol, host}`: the driver's version and a line naming the host |
//! | `disk` | `path`, `sectorSize`, `readOnly` | a disk id: a file the suite made, and a fresh partitioner instance for it |
//! | `whole` | `disk` | a partition id; the partitioner gets a fresh device over the file |
//! | `connect` | `disk`, `firstSectors` | `[id, id]`; a fresh device, as for `whole` |
//! | `subpartition` | `part`, `firstSectors` | `[id, id]` |
//! | `slice` | `part`, `sectorStart`, `sectors` | an id |
//! | `get-offset`, `info` | `part` | a u64; `{readWrite, sectorSize, sizeSectors}` |
//! | `read` | `part`, `sectorStart`, `len` | the bytes |
//! | `write` | `part`, `sectorStart`, `data` | `null` |
//! | `map` | `part`, `direction` (`"read"` or `"write"`), `sectorStart`, `len` | the device sector, a u64 (`partition.map`) |
//! | `read-mapped` | `part`, `sectorStart`, `len` | the bytes: the host's own mapped read (`partition.map`, then its device fills a buffer of `len` bytes) |
//! | `write-mapped` | `part`, `sectorStart`, `data` | `null`: the host's own mapped write |
//! | `flush`, `disconnect` | `part` | `null` |
//! | `discard`, `write-zeroes` | `part`, `sectorStart`, `sectors` | `null` |
//! | `drop` | `part` | `null`: the partition handle is dropped |
//! | `table-read` | `part` | the `table` record (`partition-table.read`) |
//! | `table-open` | `part`, `number` | a partition id (`partition-table.open`) |
//! | `counts` | `disk` | `{requests, liveDevices}`: requests the disk's devices received from the partitioner (every call but `info` and `disconnect`, refused ones too), and devices handed over and not yet dropped by it |
//! | `drop-disk` | `disk` | `null`: every partition of the disk left is dropped |
//! | `device` | `kind` (`"file"` or `"memory"`), `path`, `sectorSize`, `readOnly` | a device id: one of the host's own devices, over the file (a memory device over a copy of its bytes) |
//! | `device-info`, `device-flush` | `device` | `{readWrite, sectorSize, sizeSectors}`; `null` |
//! | `device-read`, `device-write` | `device`, `sectorStart`, `len` or `data` | the bytes; `null` |
//! | `device-discard`, `device-write-zeroes` | `device`, `sectorStart`, `sectors` | `null` |
//! | `device-bytes` | `device` | the bytes of the device's backing, read around it |
//! | `drop-device` | `device` | `null` |
//!
//! Every reply is awaited for a bounded time (30 s by default). A driver that dies, does not
//! answer in time or answers out of protocol fails the case it was in with its message and the
//! end of its standard error, and is killed; every later case fails at once. The driver is
//! also killed when the backend is dropped.

mod connection;
mod wire;

use std::fmt;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use blockpart_conformance::{
    Backend, DeviceBackend, DeviceError, Direction, Disk, DiskSpec, Error, Handles, Info, Part,
    Table, TableError, TestDevice,
};
use blockpart_core::BlockDevice;
use serde_json::{Value, json};
use tempfile::NamedTempFile;

use connection::Connection;

/// The protocol version spoken here.
const PROTOCOL: u64 = 2;

/// How long a reply is awaited by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the driver could not do what was asked: it failed the call, died, did not answer in
/// time, or answered out of protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DriverError(String);

/// A host in another language, under test through its driver process.
pub struct DrivenBackend {
    driver: Rc<Connection>,
    host: String,
}

impl DrivenBackend {
    /// Starts the driver `command_line` ("CMD ARGS...", split at whitespace) and greets it.
    pub fn spawn(command_line: &str) -> Result<Self, DriverError> {
        Self::spawn_with_timeout(command_line, DEFAULT_TIMEOUT)
    }

    /// As [`DrivenBackend::spawn`], awaiting each reply at most `timeout`.
    pub fn spawn_with_timeout(command_line: &str, timeout: Duration) -> Result<Self, DriverError> {
        let driver = Rc::new(Connection::spawn(command_line, timeout)?);
        let hello = driver
            .call("hello", json!({ "protocol": PROTOCOL }))?
            .map_err(|error| {
                DriverError(format!(
                    "the driver refused hello: {}",
                    wire::excerpt(&error)
                ))
            })?;
        let greeting = |field: &str| hello.get(field).cloned().unwrap_or_default();
        if greeting("protocol") != json!(PROTOCOL) {
            return Err(DriverError(format!(
                "the driver speaks protocol {}, not {PROTOCOL}",
                greeting("protocol")
            )));
        }
        let host = greeting("host").as_str().unwrap_or("a host").to_owned();
        Ok(Self { driver, host })
    }

    /// What the driver calls its host: name, version, runtime.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The host's own devices of `kind`, for the device contract.
    pub fn devices(&self, kind: DeviceKind) -> DrivenDevices {
        DrivenDevices {
            driver: Rc::clone(&self.driver),
            kind,
        }
    }
}

impl Backend for DrivenBackend {
    fn disk(&self, spec: &DiskSpec, contents: &[u8]) -> Box<dyn Disk> {
        let file = temporary_file(contents);
        let args = json!({
            "path": path_of(&file),
            "sectorSize": spec.sector_size,
            "readOnly": spec.read_only,
        });
        let id = answer(&self.driver, "disk", args, wire::id);
        Box::new(DrivenDisk {
            driver: Rc::clone(&self.driver),
            id,
            file,
            parts: Handles::default(),
        })
    }
}

/// A WIT error the call cannot return: never made.
enum Never {}

/// The reply's error to a call that has none: a malformed reply.
fn no_error(error: &Value) -> Result<Never, String> {
    Err(format!(
        "an error where the call has none: {}",
        wire::excerpt(error)
    ))
}

/// Sends `op` and converts the reply with `ok` or `err`; a failure of the driver, or a reply
/// that does not convert, panics with its message, failing the case.
fn ask<T, E>(
    driver: &Connection,
    op: &str,
    args: Value,
    ok: impl FnOnce(&Value) -> Result<T, String>,
    err: impl FnOnce(&Value) -> Result<E, String>,
) -> Result<T, E> {
    let malformed = |why: String| -> ! {
        panic!("the driver's reply to `{op}` is malformed: {why}");
    };
    match driver.call(op, args) {
        Ok(Ok(value)) => Ok(ok(&value).unwrap_or_else(|why| malformed(why))),
        Ok(Err(error)) => Err(err(&error).unwrap_or_else(|why| malformed(why))),
        Err(failure) => panic!("{failure}"),
    }
}

/// `ask` for a call that cannot fail.
fn answer<T>(
    driver: &Connection,
    op: &str,
    args: Value,
    ok: impl FnOnce(&Value) -> Result<T, String>,
) -> T {
    ask(driver, op, args, ok, no_error).unwrap_or_else(|never| match never {})
}

fn temporary_file(contents: &[u8]) -> NamedTempFile {
    let mut file = NamedTempFile::new().expect("creating a temporary disk");
    file.write_all(contents)
        .expect("filling the temporary disk");
    file
}

fn path_of(file: &NamedTempFile) -> String {
    file.path()
        .to_str()
        .expect("a temporary file's path is UTF-8")
        .to_owned()
}

/// A disk of the driven host: a temporary file, and a partitioner instance in the driver.
struct DrivenDisk {
    driver: Rc<Connection>,
    id: u64,
    file: NamedTempFile,
    parts: Handles<u64>,
}

impl DrivenDisk {
    /// A partition call: its value, or the partition's WIT error.
    fn call<T>(
        &self,
        op: &str,
        args: Value,
        ok: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, Error> {
        ask(&self.driver, op, args, ok, wire::error)
    }

    /// The driver's id of `part`, as a request names it.
    fn part(&self, part: Part) -> Value {
        json!(*self.parts.get(part))
    }

    fn counts(&self) -> wire::Counts {
        answer(
            &self.driver,
            "counts",
            json!({ "disk": self.id }),
            wire::counts,
        )
    }
}

impl Disk for DrivenDisk {
    fn whole(&mut self) -> Result<Part, Error> {
        let id = self.call("whole", json!({ "disk": self.id }), wire::id)?;
        Ok(self.parts.add(id))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error> {
        let args = json!({ "disk": self.id, "firstSectors": wire::from_u64(first) });
        let pair = self.call("connect", args, wire::id_pair)?;
        Ok(self.parts.add_pair(pair))
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error> {
        let args = json!({ "part": self.part(part), "firstSectors": wire::from_u64(first) });
        let pair = self.call("subpartition", args, wire::id_pair)?;
        Ok(self.parts.add_pair(pair))
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "sectors": wire::from_u64(sectors),
        });
        let id = self.call("slice", args, wire::id)?;
        Ok(self.parts.add(id))
    }

    fn offset(&mut self, part: Part) -> u64 {
        let args = json!({ "part": self.part(part) });
        answer(&self.driver, "get-offset", args, wire::u64)
    }

    fn info(&mut self, part: Part) -> Info {
        let args = json!({ "part": self.part(part) });
        answer(&self.driver, "info", args, wire::info)
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "len": wire::from_u64(len),
        });
        self.call("read", args, wire::bytes)
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "data": wire::from_bytes(data),
        });
        self.call("write", args, wire::unit)
    }

    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let direction = match direction {
            Direction::Read => "read",
            Direction::Write => "write",
        };
        let args = json!({
            "part": self.part(part),
            "direction": direction,
            "sectorStart": wire::from_u64(start),
            "len": wire::from_u64(len),
        });
        self.call("map", args, wire::u64)
    }

    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "len": wire::from_u64(u64::try_from(buf.len()).unwrap_or(u64::MAX)),
        });
        let data = self.call("read-mapped", args, wire::bytes)?;
        if data.len() != buf.len() {
            panic!(
                "the driver read {} bytes into a buffer of {}",
                data.len(),
                buf.len()
            );
        }
        buf.copy_from_slice(&data);
        Ok(())
    }

    fn write_mapped(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "data": wire::from_bytes(data),
        });
        self.call("write-mapped", args, wire::unit)
    }

    fn flush(&mut self, part: Part) -> Result<(), Error> {
        self.call("flush", json!({ "part": self.part(part) }), wire::unit)
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "sectors": wire::from_u64(sectors),
        });
        self.call("discard", args, wire::unit)
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        let args = json!({
            "part": self.part(part),
            "sectorStart": wire::from_u64(start),
            "sectors": wire::from_u64(sectors),
        });
        self.call("write-zeroes", args, wire::unit)
    }

    fn disconnect(&mut self, part: Part) {
        let args = json!({ "part": self.part(part) });
        answer(&self.driver, "disconnect", args, wire::unit);
    }

    fn read_table(&mut self, part: Part) -> Result<Table, TableError> {
        let args = json!({ "part": self.part(part) });
        ask(
            &self.driver,
            "table-read",
            args,
            wire::table,
            wire::table_error,
        )
    }

    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError> {
        let args = json!({ "part": self.part(part), "number": number });
        let id = ask(
            &self.driver,
            "table-open",
            args,
            wire::id,
            wire::table_error,
        )?;
        Ok(self.parts.add(id))
    }

    fn drop_partition(&mut self, part: Part) {
        let id = self.parts.take(part);
        answer(&self.driver, "drop", json!({ "part": id }), wire::unit);
    }

    fn live_devices(&self) -> usize {
        self.counts().live_devices
    }

    fn device_requests(&self) -> u64 {
        self.counts().requests
    }

    fn bytes(&self) -> Vec<u8> {
        std::fs::read(self.file.path()).expect("reading the temporary disk")
    }
}

impl Drop for DrivenDisk {
    fn drop(&mut self) {
        // Never panics: a case that failed may be unwinding, or the driver be broken.
        if self.driver.is_running() {
            let _ = self.driver.call("drop-disk", json!({ "disk": self.id }));
        }
    }
}

/// The kinds of device a driven host has of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A device over a file (Node's `FileDevice`).
    File,
    /// A device over bytes in memory (Node's `MemoryDevice`).
    Memory,
}

impl DeviceKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::File, Self::Memory];

    fn wire_name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Memory => "memory",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_device", self.wire_name())
    }
}

/// The driven host's devices of one kind, for the device contract.
pub struct DrivenDevices {
    driver: Rc<Connection>,
    kind: DeviceKind,
}

impl DeviceBackend for DrivenDevices {
    fn device(&self, spec: &DiskSpec, contents: &[u8]) -> TestDevice {
        let file = Rc::new(temporary_file(contents));
        let args = json!({
            "kind": self.kind.wire_name(),
            "path": path_of(&file),
            "sectorSize": spec.sector_size,
            "readOnly": spec.read_only,
        });
        let id = answer(&self.driver, "device", args, wire::id);
        let device = DrivenDevice {
            driver: Rc::clone(&self.driver),
            id,
            _file: Rc::clone(&file),
        };
        let backing: Box<dyn Fn() -> Vec<u8>> = match self.kind {
            // The file, read around the device and the driver.
            DeviceKind::File => {
                Box::new(move || std::fs::read(file.path()).expect("reading the device's file"))
            }
            // Bytes only the driver can reach.
            DeviceKind::Memory => {
                let driver = Rc::clone(&self.driver);
                Box::new(move || {
                    answer(
                        &driver,
                        "device-bytes",
                        json!({ "device": id }),
                        wire::bytes,
                    )
                })
            }
        };
        TestDevice {
            device: Box::new(device),
            backing,
        }
    }

    fn empty_device_with_sector_size(&self, bytes: u64) -> Result<(), String> {
        // Empty: no length is whole sectors of one size and not of another.
        let file = temporary_file(&[]);
        let args = json!({
            "kind": self.kind.wire_name(),
            "path": path_of(&file),
            "sectorSize": bytes,
            "readOnly": false,
        });
        match self.driver.call("device", args) {
            Ok(Ok(value)) => {
                let id = wire::id(&value).unwrap_or_else(|why| panic!("`device`: {why}"));
                answer(&self.driver, "drop-device", json!({ "device": id }), |_| {
                    Ok(())
                });
                Ok(())
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(failure) => Err(failure.to_string()),
        }
    }
}

/// One of the driven host's devices: every call is forwarded to it.
struct DrivenDevice {
    driver: Rc<Connection>,
    id: u64,
    /// The file the device is over, kept until the device is dropped.
    _file: Rc<NamedTempFile>,
}

impl DrivenDevice {
    fn call<T>(
        &self,
        op: &str,
        fields: Value,
        ok: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, DeviceError> {
        let mut args = json!({ "device": self.id });
        if let (Value::Object(args), Value::Object(fields)) = (&mut args, fields) {
            args.extend(fields);
        }
        ask(&self.driver, op, args, ok, wire::device_error)
    }
}

impl BlockDevice for DrivenDevice {
    fn info(&self) -> Info {
        answer(
            &self.driver,
            "device-info",
            json!({ "device": self.id }),
            wire::info,
        )
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        let fields =
            json!({ "sectorStart": wire::from_u64(sector_start), "len": wire::from_u64(len) });
        self.call("device-read", fields, wire::bytes)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        let fields =
            json!({ "sectorStart": wire::from_u64(sector_start), "data": wire::from_bytes(data) });
        self.call("device-write", fields, wire::unit)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.call("device-flush", json!({}), wire::unit)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let fields = json!({ "sectorStart": wire::from_u64(sector_start), "sectors": wire::from_u64(sectors) });
        self.call("device-discard", fields, wire::unit)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let fields = json!({ "sectorStart": wire::from_u64(sector_start), "sectors": wire::from_u64(sectors) });
        self.call("device-write-zeroes", fields, wire::unit)
    }
}

impl Drop for DrivenDevice {
    fn drop(&mut self) {
        if self.driver.is_running() {
            let _ = self
                .driver
                .call("drop-device", json!({ "device": self.id }));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::time::Instant;

    use super::*;

    const HELLO: &str = r#"read line; echo '{"ok":{"protocol":2,"host":"a fake host"}}'"#;

    const SPEC: DiskSpec = DiskSpec {
        sector_size: 512,
        sectors: 1,
        read_only: false,
    };

    /// A driver that is the shell script `script`, kept in a temporary directory.
    fn fake(
        script: &str,
        timeout: Duration,
    ) -> (tempfile::TempDir, Result<DrivenBackend, DriverError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("driver.sh");
        std::fs::write(&path, script).unwrap();
        let command_line = format!("sh {}", path.display());
        let backend = DrivenBackend::spawn_with_timeout(&command_line, timeout);
        (dir, backend)
    }

    /// The panic message of `call`, which must panic.
    fn failure(call: impl FnOnce()) -> String {
        let panic = catch_unwind(AssertUnwindSafe(call)).expect_err("the call fails");
        panic.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[test]
    fn a_driver_greets_with_its_host() {
        let (_dir, backend) = fake(HELLO, DEFAULT_TIMEOUT);
        assert_eq!(backend.unwrap().host(), "a fake host");
    }

    #[test]
    fn a_command_that_is_no_driver_is_refused_at_hello() {
        // `cat` echoes the request back: an object, but no reply.
        let error = DrivenBackend::spawn("cat").err().unwrap();
        assert!(error.0.contains("out of protocol"), "{error}");
        let error = DrivenBackend::spawn("blockpart-no-such-driver")
            .err()
            .unwrap();
        assert!(
            error.0.starts_with("starting `blockpart-no-such-driver`"),
            "{error}"
        );
        let error = DrivenBackend::spawn("  ").err().unwrap();
        assert_eq!(error.0, "the host command is empty");
    }

    #[test]
    fn a_driver_that_dies_fails_the_case_with_its_stderr_then_every_call_fails_at_once() {
        let script = format!("{HELLO}\nread line; echo 'something broke' >&2; exit 3\n");
        let (_dir, backend) = fake(&script, DEFAULT_TIMEOUT);
        let backend = backend.unwrap();
        let message = failure(|| drop(backend.disk(&SPEC, &[0; 512])));
        assert!(message.contains("closed its output"), "{message}");
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("something broke"), "{message}");
        let again = failure(|| drop(backend.disk(&SPEC, &[0; 512])));
        assert!(again.starts_with("the driver is broken: "), "{again}");
    }

    #[test]
    fn a_driver_that_does_not_answer_fails_the_case_within_the_timeout() {
        let script = format!("{HELLO}\nread line; exec sleep 30\n");
        let (_dir, backend) = fake(&script, Duration::from_millis(500));
        let backend = backend.unwrap();
        let start = Instant::now();
        let message = failure(|| drop(backend.disk(&SPEC, &[0; 512])));
        assert!(message.contains("did not answer within 0.5 s"), "{message}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_reply_out_of_protocol_fails_the_case() {
        for reply in [
            "console.log output",
            r#"{"ok":1,"error":2}"#,
            r#"{"failure":7}"#,
            "[]",
        ] {
            let script = format!("{HELLO}\nread line; echo '{reply}'; exec sleep 30\n");
            let (_dir, backend) = fake(&script, DEFAULT_TIMEOUT);
            let message = failure(|| drop(backend.unwrap().disk(&SPEC, &[0; 512])));
            assert!(
                message.contains("answered `disk` out of protocol"),
                "{reply}: {message}"
            );
        }
    }

    #[test]
    fn a_failure_reply_fails_the_call_and_the_driver_goes_on() {
        let script = format!(
            "{HELLO}\nread line; echo '{{\"failure\":\"TypeError: no\"}}'\n\
             read line; echo '{{\"ok\":\"x\"}}'\n\
             read line; echo '{{\"ok\":7}}'\n\
             while read line; do echo '{{\"ok\":null}}'; done\n"
        );
        let (_dir, backend) = fake(&script, DEFAULT_TIMEOUT);
        let backend = backend.unwrap();
        let message = failure(|| drop(backend.disk(&SPEC, &[0; 512])));
        assert_eq!(message, "the driver failed `disk`: TypeError: no");
        let message = failure(|| drop(backend.disk(&SPEC, &[0; 512])));
        assert_eq!(
            message,
            "the driver's reply to `disk` is malformed: \"x\" is not an id"
        );
        let disk = backend.disk(&SPEC, &[0; 512]);
        drop(disk);
    }
}
