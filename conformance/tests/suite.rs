//! The conformance suite against the native partitions and the model, and the two against each
//! other on random operation sequences.

use blockpart_conformance::{Backend, ModelBackend, NativeBackend, Selection};
use libtest_mimic::{Arguments, Trial};

/// The checks of `selection`, as tests of `name` run on a fresh `backend`.
fn trials(
    name: &'static str,
    selection: Selection<'static>,
    backend: fn() -> Box<dyn Backend>,
) -> impl Iterator<Item = Trial> {
    selection.checks().into_iter().map(move |check| {
        Trial::test(check.test_name(name), move || {
            Ok(check.run(&*backend(), &[])?)
        })
    })
}

fn main() {
    // The native partitions run everything; the model reads no tables, and is what the random
    // sequences are compared with.
    let trials = trials("native", Selection::IMPLEMENTATION, || {
        Box::new(NativeBackend)
    })
    .chain(trials("model", Selection::MODEL, || Box::new(ModelBackend)))
    .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
