//! The conformance suite against the built-in partitioner component, and the component
//! against the model on random operation sequences.

use std::sync::OnceLock;

use blockpart_cli::ComponentBackend;
use blockpart_conformance::Selection;
use blockpart_host::Runtime;
use libtest_mimic::{Arguments, Trial};

/// Compiled once, instantiated by every case.
fn backend() -> ComponentBackend {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| Runtime::new().expect("compiling the guest component"));
    ComponentBackend::new(runtime.clone())
}

fn main() {
    let trials = Selection::IMPLEMENTATION
        .checks()
        .into_iter()
        .map(|check| {
            Trial::test(check.test_name("component"), move || {
                Ok(check.run(&backend(), &[])?)
            })
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
