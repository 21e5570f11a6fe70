//! The conformance suite against the native partitions and the model, and the two against each
//! other on random operation sequences.

use blockpart_conformance::{
    Backend, CASES, DataPath, ModelBackend, NativeBackend, SECTOR_SIZES, TABLE_CASES, random,
    run_case, run_table_case,
};
use libtest_mimic::{Arguments, Trial};

/// Every case, with every sector size, on both data paths.
fn suite(name: &'static str, backend: fn() -> Box<dyn Backend>) -> impl Iterator<Item = Trial> {
    CASES.iter().flat_map(move |case| {
        SECTOR_SIZES.into_iter().flat_map(move |sector_size| {
            DataPath::ALL.map(|path| {
                let trial = format!("{name}::{sector_size}::{}::{}", path.name(), case.name);
                Trial::test(trial, move || {
                    Ok(path.on(&*backend(), |backend| run_case(case, backend, sector_size))?)
                })
            })
        })
    })
}

/// The table cases, with the sector sizes of their fixtures; the model reads no tables.
fn native_tables() -> impl Iterator<Item = Trial> {
    TABLE_CASES.iter().flat_map(|case| {
        case.sector_sizes().into_iter().map(move |sector_size| {
            Trial::test(format!("native::{sector_size}::{}", case.name), move || {
                Ok(run_table_case(case, &NativeBackend, sector_size)?)
            })
        })
    })
}

fn native_agrees_with_model(sector_size: u32) -> [Trial; 2] {
    DataPath::ALL.map(|path| {
        Trial::test(
            format!(
                "random::{sector_size}::{}::native_agrees_with_model",
                path.name()
            ),
            move || {
                Ok(path.on(&NativeBackend, |backend| {
                    random::agrees_with_model(backend, sector_size, 256)
                })?)
            },
        )
    })
}

fn main() {
    let trials = suite("native", || Box::new(NativeBackend))
        .chain(suite("model", || Box::new(ModelBackend)))
        .chain(native_tables())
        .chain(SECTOR_SIZES.into_iter().flat_map(native_agrees_with_model))
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
