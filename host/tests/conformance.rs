//! The conformance suite against the built-in partitioner component, and the component
//! against the model on random operation sequences.

use std::sync::OnceLock;

use blockpart_conformance::{CASES, ModelBackend, SECTOR_SIZES, random, run_case};
use blockpart_host::{ComponentBackend, Runtime};
use libtest_mimic::{Arguments, Trial};
use proptest::test_runner::{Config, TestRunner};

/// Compiled once, instantiated by every case.
fn backend() -> ComponentBackend {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| Runtime::new().expect("compiling the guest component"));
    ComponentBackend::new(runtime.clone())
}

fn component_agrees_with_model(sector_size: u32) -> Trial {
    Trial::test(format!("random::{sector_size}::component_agrees_with_model"), move || {
        let backend = backend();
        let mut runner = TestRunner::new(Config { cases: 128, ..Config::default() });
        runner
            .run(&random::scenarios(sector_size, 40), |scenario| {
                random::check_same(&ModelBackend, &backend, sector_size, &scenario)
            })
            .map_err(|failure| failure.to_string().into())
    })
}

fn main() {
    let cases = CASES.iter().flat_map(|case| {
        SECTOR_SIZES.map(|sector_size| {
            Trial::test(format!("component::{sector_size}::{}", case.name), move || {
                Ok(run_case(case, &backend(), sector_size)?)
            })
        })
    });
    let trials = cases.chain(SECTOR_SIZES.map(component_agrees_with_model)).collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
