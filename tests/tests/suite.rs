//! The conformance suite against the native partitions and the model, and the two against each
//! other on random operation sequences.

use blockpart_conformance::{
    Backend, CASES, ModelBackend, NativeBackend, SECTOR_SIZES, random, run_case,
};
use libtest_mimic::{Arguments, Trial};
use proptest::test_runner::{Config, TestRunner};

fn suite(name: &'static str, backend: fn() -> Box<dyn Backend>) -> impl Iterator<Item = Trial> {
    CASES.iter().flat_map(move |case| {
        SECTOR_SIZES.map(|sector_size| {
            Trial::test(format!("{name}::{sector_size}::{}", case.name), move || {
                Ok(run_case(case, &*backend(), sector_size)?)
            })
        })
    })
}

fn native_agrees_with_model(sector_size: u32) -> Trial {
    Trial::test(format!("random::{sector_size}::native_agrees_with_model"), move || {
        let mut runner = TestRunner::new(Config { cases: 256, ..Config::default() });
        runner
            .run(&random::scenarios(sector_size, 60), |scenario| {
                random::check_same(&ModelBackend, &NativeBackend, sector_size, &scenario)
            })
            .map_err(|failure| failure.to_string().into())
    })
}

fn main() {
    let trials = suite("native", || Box::new(NativeBackend))
        .chain(suite("model", || Box::new(ModelBackend)))
        .chain(SECTOR_SIZES.map(native_agrees_with_model))
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
