//! Sequences of partition operations (splits, slices, reads, writes, discards, disconnects,
//! drops, with any `u64` arguments) on `blockpart-core`'s partitions and on the conformance
//! suite's plain model of the specification: every result, the number of live devices after
//! each step, and the final bytes of the disk must be the same. No operation may panic.

#![no_main]

use blockpart_conformance::random::{Op, Scenario, check_same};
use blockpart_conformance::{ModelBackend, NativeBackend};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (bool, Scenario)| {
    let (large_sectors, scenario) = input;
    // The replay builds each write's data first: keep that allocation small. Writes this large
    // are past the disk anyway; `too-large` has its own conformance cases.
    if scenario
        .ops
        .iter()
        .any(|op| matches!(op, Op::Write { len, .. } if *len > 1 << 20))
    {
        return;
    }
    let sector_size = if large_sectors { 4096 } else { 512 };
    if let Err(mismatch) = check_same(&ModelBackend, &NativeBackend, sector_size, &scenario) {
        panic!("{mismatch}");
    }
});
