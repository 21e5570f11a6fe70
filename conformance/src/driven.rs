//! A host in another language, driven through its conformance driver: the suite's cases, table
//! cases, random comparison with the model and device contract, run in that host.
//!
#![doc = include_str!("../../docs/driver-protocol.md")]

mod connection;
mod request;
mod wire;

use std::fmt;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use blockpart_core::BlockDevice;
use serde_json::{Value, json};
use tempfile::NamedTempFile;

use crate::{
    Backend, DeviceBackend, DeviceError, Direction, Disk, DiskSpec, Error, Handles, Info, Part,
    Table, TableError, TestDevice,
};
use connection::Connection;
pub use request::Request;

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
    ///
    /// # Errors
    ///
    /// If the driver cannot be started, or does not answer `hello` with this protocol.
    pub fn spawn(command_line: &str) -> Result<Self, DriverError> {
        Self::spawn_with_timeout(command_line, DEFAULT_TIMEOUT)
    }

    /// As [`DrivenBackend::spawn`], awaiting each reply at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`DrivenBackend::spawn`].
    pub fn spawn_with_timeout(command_line: &str, timeout: Duration) -> Result<Self, DriverError> {
        let driver = Rc::new(Connection::spawn(command_line, timeout)?);
        let hello = driver
            .call(&Request::Hello { protocol: PROTOCOL })?
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
        let request = Request::Disk {
            path: path_of(&file),
            sector_size: spec.sector_size,
            read_only: spec.read_only,
        };
        let id = answer(&self.driver, &request, wire::id);
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

/// Sends `request` and converts the reply with `ok` or `err`; a failure of the driver, or a
/// reply that does not convert, panics with its message, failing the case.
fn ask<T, E>(
    driver: &Connection,
    request: &Request<'_>,
    ok: impl FnOnce(&Value) -> Result<T, String>,
    err: impl FnOnce(&Value) -> Result<E, String>,
) -> Result<T, E> {
    let malformed = |why: String| -> ! {
        panic!(
            "the driver's reply to `{}` is malformed: {why}",
            request.op()
        );
    };
    match driver.call(request) {
        Ok(Ok(value)) => Ok(ok(&value).unwrap_or_else(|why| malformed(why))),
        Ok(Err(error)) => Err(err(&error).unwrap_or_else(|why| malformed(why))),
        Err(failure) => panic!("{failure}"),
    }
}

/// `ask` for a call that cannot fail.
fn answer<T>(
    driver: &Connection,
    request: &Request<'_>,
    ok: impl FnOnce(&Value) -> Result<T, String>,
) -> T {
    ask(driver, request, ok, no_error).unwrap_or_else(|never| match never {})
}

fn temporary_file(contents: &[u8]) -> NamedTempFile {
    let mut file = NamedTempFile::new().expect("creating a temporary disk");
    file.write_all(contents)
        .expect("filling the temporary disk");
    file
}

fn path_of(file: &NamedTempFile) -> &str {
    file.path()
        .to_str()
        .expect("a temporary file's path is UTF-8")
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
        request: &Request<'_>,
        ok: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, Error> {
        ask(&self.driver, request, ok, wire::error)
    }

    /// The driver's id of `part`, as a request names it.
    fn part(&self, part: Part) -> u64 {
        *self.parts.get(part)
    }

    fn counts(&self) -> wire::Counts {
        answer(
            &self.driver,
            &Request::Counts { disk: self.id },
            wire::counts,
        )
    }
}

impl Disk for DrivenDisk {
    fn whole(&mut self) -> Result<Part, Error> {
        let id = self.call(&Request::Whole { disk: self.id }, wire::id)?;
        Ok(self.parts.add(id))
    }

    fn connect(&mut self, first: u64) -> Result<(Part, Part), Error> {
        let request = Request::Connect {
            disk: self.id,
            first_sectors: first,
        };
        let pair = self.call(&request, wire::id_pair)?;
        Ok(self.parts.add_pair(pair))
    }

    fn subpartition(&mut self, part: Part, first: u64) -> Result<(Part, Part), Error> {
        let request = Request::Subpartition {
            part: self.part(part),
            first_sectors: first,
        };
        let pair = self.call(&request, wire::id_pair)?;
        Ok(self.parts.add_pair(pair))
    }

    fn slice(&mut self, part: Part, start: u64, sectors: u64) -> Result<Part, Error> {
        let request = Request::Slice {
            part: self.part(part),
            sector_start: start,
            sectors,
        };
        let id = self.call(&request, wire::id)?;
        Ok(self.parts.add(id))
    }

    fn offset(&mut self, part: Part) -> u64 {
        let request = Request::GetOffset {
            part: self.part(part),
        };
        answer(&self.driver, &request, wire::u64)
    }

    fn info(&mut self, part: Part) -> Info {
        let request = Request::Info {
            part: self.part(part),
        };
        answer(&self.driver, &request, wire::info)
    }

    fn read(&mut self, part: Part, start: u64, len: u64) -> Result<Vec<u8>, Error> {
        let request = Request::Read {
            part: self.part(part),
            sector_start: start,
            len,
        };
        self.call(&request, wire::bytes)
    }

    fn write(&mut self, part: Part, start: u64, data: &[u8]) -> Result<(), Error> {
        let request = Request::Write {
            part: self.part(part),
            sector_start: start,
            data,
        };
        self.call(&request, wire::unit)
    }

    fn map(
        &mut self,
        part: Part,
        direction: Direction,
        start: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let request = Request::Map {
            part: self.part(part),
            direction,
            sector_start: start,
            len,
        };
        self.call(&request, wire::u64)
    }

    fn read_mapped(&mut self, part: Part, start: u64, buf: &mut [u8]) -> Result<(), Error> {
        let request = Request::ReadMapped {
            part: self.part(part),
            sector_start: start,
            len: u64::try_from(buf.len()).unwrap_or(u64::MAX),
        };
        let data = self.call(&request, wire::bytes)?;
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
        let request = Request::WriteMapped {
            part: self.part(part),
            sector_start: start,
            data,
        };
        self.call(&request, wire::unit)
    }

    fn flush(&mut self, part: Part) -> Result<(), Error> {
        let request = Request::Flush {
            part: self.part(part),
        };
        self.call(&request, wire::unit)
    }

    fn discard(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        let request = Request::Discard {
            part: self.part(part),
            sector_start: start,
            sectors,
        };
        self.call(&request, wire::unit)
    }

    fn write_zeroes(&mut self, part: Part, start: u64, sectors: u64) -> Result<(), Error> {
        let request = Request::WriteZeroes {
            part: self.part(part),
            sector_start: start,
            sectors,
        };
        self.call(&request, wire::unit)
    }

    fn disconnect(&mut self, part: Part) {
        let request = Request::Disconnect {
            part: self.part(part),
        };
        answer(&self.driver, &request, wire::unit);
    }

    fn read_table(&mut self, part: Part) -> Result<Table, TableError> {
        let request = Request::TableRead {
            part: self.part(part),
        };
        ask(&self.driver, &request, wire::table, wire::table_error)
    }

    fn open_entry(&mut self, part: Part, number: u32) -> Result<Part, TableError> {
        let request = Request::TableOpen {
            part: self.part(part),
            number,
        };
        let id = ask(&self.driver, &request, wire::id, wire::table_error)?;
        Ok(self.parts.add(id))
    }

    fn drop_partition(&mut self, part: Part) {
        let request = Request::Drop {
            part: self.parts.take(part),
        };
        answer(&self.driver, &request, wire::unit);
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
            let _ = self.driver.call(&Request::DropDisk { disk: self.id });
        }
    }
}

/// The kinds of device a driven host has of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A device over a file (Node's `FileDevice`, Python's `FileDevice`).
    File,
    /// A device over bytes in memory (Node's `MemoryDevice`, Python's `MemoryDevice`).
    Memory,
}

impl DeviceKind {
    /// Both kinds.
    pub const ALL: [Self; 2] = [Self::File, Self::Memory];

    /// The kind as a `device` request names it.
    fn wire_name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Memory => "memory",
        }
    }

    /// The kind's devices as reports name them: `file_device`, `memory_device`.
    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file_device",
            Self::Memory => "memory_device",
        }
    }
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
        let request = Request::Device {
            kind: self.kind,
            path: path_of(&file),
            sector_size: u64::from(spec.sector_size),
            read_only: spec.read_only,
        };
        let id = answer(&self.driver, &request, wire::id);
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
                Box::new(move || answer(&driver, &Request::DeviceBytes { device: id }, wire::bytes))
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
        let request = Request::Device {
            kind: self.kind,
            path: path_of(&file),
            sector_size: bytes,
            read_only: false,
        };
        match self.driver.call(&request) {
            Ok(Ok(value)) => {
                let id = wire::id(&value).unwrap_or_else(|why| panic!("`device`: {why}"));
                answer(
                    &self.driver,
                    &Request::DropDevice { device: id },
                    |_| Ok(()),
                );
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
        request: &Request<'_>,
        ok: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, DeviceError> {
        ask(&self.driver, request, ok, wire::device_error)
    }
}

impl BlockDevice for DrivenDevice {
    fn info(&self) -> Info {
        answer(
            &self.driver,
            &Request::DeviceInfo { device: self.id },
            wire::info,
        )
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        let request = Request::DeviceRead {
            device: self.id,
            sector_start,
            len,
        };
        self.call(&request, wire::bytes)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        let request = Request::DeviceWrite {
            device: self.id,
            sector_start,
            data,
        };
        self.call(&request, wire::unit)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.call(&Request::DeviceFlush { device: self.id }, wire::unit)
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let request = Request::DeviceDiscard {
            device: self.id,
            sector_start,
            sectors,
        };
        self.call(&request, wire::unit)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let request = Request::DeviceWriteZeroes {
            device: self.id,
            sector_start,
            sectors,
        };
        self.call(&request, wire::unit)
    }
}

impl Drop for DrivenDevice {
    fn drop(&mut self) {
        if self.driver.is_running() {
            let _ = self.driver.call(&Request::DropDevice { device: self.id });
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
