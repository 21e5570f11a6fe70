//! `blockpart conformance`: the conformance suite, run on a partitioner component, or through
//! a conformance driver on a host in another language (`--host`, see `blockpart_conformance::driven`).

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use blockpart_cli::ComponentBackend;
use blockpart_conformance::driven::{DeviceKind, DrivenBackend};
use blockpart_conformance::{Backend, DeviceBackend, SECTOR_SIZES, Selection};
use blockpart_core::SectorSize;
use blockpart_host::{Limits, Runtime};
use rustix::fs::OFlags;

use crate::args::runtime;

/// A kind of the host's devices, named for the report, and how to make one.
type HostDevices = (&'static str, Box<dyn DeviceBackend>);

pub fn run(
    component: Option<PathBuf>,
    host: Option<String>,
    sector_size: Option<SectorSize>,
    limits: Limits,
) -> Result<ExitCode> {
    let (backend, devices) = match host {
        Some(command_line) => driven(&command_line)?,
        None => (component_backend(component, limits)?, Vec::new()),
    };
    let sizes = sector_size.map_or(SECTOR_SIZES.to_vec(), |size| vec![size.get()]);
    let kinds: Vec<&'static str> = devices.iter().map(|(kind, _)| *kind).collect();
    let devices: Vec<(&str, &dyn DeviceBackend)> = devices
        .iter()
        .map(|(kind, devices)| (*kind, &**devices))
        .collect();
    // Every check of an implementation, and the device contract on the host's own devices
    // (with `--host`).
    let checks = Selection {
        sector_sizes: &sizes,
        device_kinds: &kinds,
        ..Selection::IMPLEMENTATION
    }
    .checks();
    // Cases report their failures as values; the default hook would print each one twice.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut report = Report::default();
    let ran = (|| -> io::Result<()> {
        for check in &checks {
            let outcome = check.run(&*backend, &devices);
            report.case(&check.name(), check.sector_size(), outcome)?;
        }
        report.line(&format!(
            "{} passed, {} failed",
            report.passed, report.failed
        ))
    })();
    std::panic::set_hook(hook);
    ran.context("writing to standard output")?;
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The report on standard output: a line per case, counted.
#[derive(Default)]
struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn case(
        &mut self,
        name: &str,
        sector_size: u32,
        outcome: Result<(), String>,
    ) -> io::Result<()> {
        match outcome {
            Ok(()) => {
                self.passed = self.passed.saturating_add(1);
                self.line(&format!("ok      {sector_size:>4}  {name}"))
            }
            Err(message) => {
                self.failed = self.failed.saturating_add(1);
                self.line(&format!("FAILED  {sector_size:>4}  {name}: {message}"))
            }
        }
    }

    /// Writes `text` and a newline, flushed, so a line shows as its case ends.
    fn line(&self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{text}")?;
        out.flush()
    }
}

/// The partitioner component, the built-in one or `component`.
fn component_backend(component: Option<PathBuf>, limits: Limits) -> Result<Box<dyn Backend>> {
    let runtime = match &component {
        Some(path) => {
            let bytes = read_component(path)?;
            Runtime::from_component(&bytes)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{} is not a partitioner component", path.display()))?
                .with_limits(limits)
        }
        None => runtime(limits)?,
    };
    Ok(Box::new(ComponentBackend::new(runtime)))
}

/// Far more than a partitioner needs (the built-in one is a few hundred KiB), and little enough
/// to read into memory.
const MAX_COMPONENT_BYTES: u64 = 64 << 20;

/// The bytes of the component file `path`: a regular file of at most [`MAX_COMPONENT_BYTES`].
/// Opened without blocking, so that a FIFO is refused rather than waited on.
fn read_component(path: &Path) -> Result<Vec<u8>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NONBLOCK.bits().cast_signed())
        .open(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a component file", path.display());
    }
    if metadata.len() > MAX_COMPONENT_BYTES {
        bail!(
            "{} is {} bytes, more than a component may be ({MAX_COMPONENT_BYTES})",
            path.display(),
            metadata.len()
        );
    }
    let mut bytes = Vec::new();
    file.take(MAX_COMPONENT_BYTES)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// The host a driver runs (`--host`), and its own devices for the device contract.
fn driven(command_line: &str) -> Result<(Box<dyn Backend>, Vec<HostDevices>)> {
    let backend = DrivenBackend::spawn(command_line)
        .with_context(|| format!("starting the conformance driver `{command_line}`"))?;
    Report::default()
        .line(&format!("host    {}", backend.host()))
        .context("writing to standard output")?;
    let devices = DeviceKind::ALL
        .map(|kind| -> HostDevices { (kind.name(), Box::new(backend.devices(kind))) })
        .into();
    Ok((Box::new(backend), devices))
}
