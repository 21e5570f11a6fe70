//! The conformance suite against the built-in partitioner component, and the component
//! against the model on random operation sequences.

use std::sync::OnceLock;

use blockpart_cli::ComponentBackend;
use blockpart_conformance::{
    CASES, DataPath, SECTOR_SIZES, TABLE_CASES, random, run_case, run_table_case,
};
use blockpart_host::Runtime;
use libtest_mimic::{Arguments, Trial};

/// Compiled once, instantiated by every case.
fn backend() -> ComponentBackend {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| Runtime::new().expect("compiling the guest component"));
    ComponentBackend::new(runtime.clone())
}

fn component_agrees_with_model(sector_size: u32, path: DataPath) -> Trial {
    Trial::test(
        format!(
            "random::{sector_size}::{}::component_agrees_with_model",
            path.name()
        ),
        move || {
            Ok(path.on(&backend(), |backend| {
                random::agrees_with_model(backend, sector_size, 256)
            })?)
        },
    )
}

fn main() {
    let cases = CASES.iter().flat_map(|case| {
        SECTOR_SIZES.into_iter().flat_map(move |sector_size| {
            DataPath::ALL.map(|path| {
                let name = format!("component::{sector_size}::{}::{}", path.name(), case.name);
                Trial::test(name, move || {
                    Ok(path.on(&backend(), |backend| run_case(case, backend, sector_size))?)
                })
            })
        })
    });
    let tables = TABLE_CASES.iter().flat_map(|case| {
        case.sector_sizes().into_iter().map(move |sector_size| {
            Trial::test(
                format!("component::{sector_size}::{}", case.name),
                move || Ok(run_table_case(case, &backend(), sector_size)?),
            )
        })
    });
    let trials = cases
        .chain(tables)
        .chain(SECTOR_SIZES.into_iter().flat_map(|sector_size| {
            DataPath::ALL.map(|path| component_agrees_with_model(sector_size, path))
        }))
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
