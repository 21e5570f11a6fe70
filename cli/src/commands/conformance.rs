//! `blockpart conformance`: the conformance suite, run on a partitioner component.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use blockpart_cli::ComponentBackend;
use blockpart_conformance::{CASES, SECTOR_SIZES, random, run_case};
use blockpart_core::SectorSize;
use blockpart_host::{Limits, Runtime};

use crate::args::runtime;

pub fn run(
    component: Option<PathBuf>,
    sector_size: Option<SectorSize>,
    limits: Limits,
) -> Result<ExitCode> {
    let runtime = match &component {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Runtime::from_component(&bytes)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{} is not a partitioner component", path.display()))?
                .with_limits(limits)
        }
        None => runtime(limits)?,
    };
    let backend = ComponentBackend::new(runtime);
    let sizes = sector_size.map_or(SECTOR_SIZES.to_vec(), |size| vec![size.get()]);
    // Cases report their failures as values; the default hook would print each one twice.
    std::panic::set_hook(Box::new(|_| {}));
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut report = |name: &str, sector_size: u32, outcome: Result<(), String>| match outcome {
        Ok(()) => {
            passed = passed.saturating_add(1);
            println!("ok      {sector_size:>4}  {name}");
        }
        Err(message) => {
            failed = failed.saturating_add(1);
            println!("FAILED  {sector_size:>4}  {name}: {message}");
        }
    };
    for &size in &sizes {
        for case in CASES {
            report(case.name, size, run_case(case, &backend, size));
        }
        report("agrees_with_model_on_random_operations", size, {
            random::agrees_with_model(&backend, size, 256)
        });
    }
    let _ = std::panic::take_hook();
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
