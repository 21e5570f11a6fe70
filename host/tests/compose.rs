//! Composition with wac: a RAM-disk provider, the partitioner and an example consumer, plugged
//! together into one component that imports nothing, then run by wasmtime.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::as_conversions,
    clippy::cast_possible_truncation,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use blockpart_host::PARTITIONER_COMPONENT;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

// The consumer's own WIT, with the contract and the provider's package in its `deps/`.
wasmtime::component::bindgen!({
    path: "../test-programs/split-check/wit",
    world: "split-checker",
});

use exports::blockpart_examples::split_check::split_check::PartReport;

/// The full name of interface `name` of the blockpart contract.
fn interface(name: &str) -> String {
    format!("blockpart:partition/{name}@0.2.0")
}

/// The RAM-disk provider's interface, from its own package.
const RAM_DISK: &str = "blockpart-examples:ram-disk/ram-disk@0.1.0";

/// The consumer's export, from its own package.
const SPLIT_CHECK: &str = "blockpart-examples:split-check/split-check@0.1.0";

/// provider -> partitioner -> split-check, as one component exporting `split-check`.
fn compose() -> Vec<u8> {
    let mut graph = CompositionGraph::new();
    let mut register = |name: &str, bytes: Vec<u8>| {
        let package = Package::from_bytes(name, None, bytes, graph.types_mut()).unwrap();
        graph.register_package(package).unwrap()
    };
    let read = |path: &str| std::fs::read(path).unwrap();
    let provider = register(
        "blockpart-examples:ram-disk",
        read(blockpart_test_artifacts::RAM_DISK_COMPONENT),
    );
    let partitioner = register("blockpart:partitioner", PARTITIONER_COMPONENT.to_vec());
    let checker = register(
        "blockpart-examples:split-check",
        read(blockpart_test_artifacts::SPLIT_CHECK_COMPONENT),
    );

    let provider = graph.instantiate(provider);
    let partitioner = graph.instantiate(partitioner);
    let checker = graph.instantiate(checker);
    for name in ["types", "block-device"] {
        let export = graph
            .alias_instance_export(provider, &interface(name))
            .unwrap();
        graph
            .set_instantiation_argument(partitioner, &interface(name), export)
            .unwrap();
        graph
            .set_instantiation_argument(checker, &interface(name), export)
            .unwrap();
    }
    let ram_disk = graph.alias_instance_export(provider, RAM_DISK).unwrap();
    graph
        .set_instantiation_argument(checker, RAM_DISK, ram_disk)
        .unwrap();
    let partition = graph
        .alias_instance_export(partitioner, &interface("partition"))
        .unwrap();
    graph
        .set_instantiation_argument(checker, &interface("partition"), partition)
        .unwrap();
    let run = graph.alias_instance_export(checker, SPLIT_CHECK).unwrap();
    graph.export(run, SPLIT_CHECK).unwrap();
    graph.encode(EncodeOptions::default()).unwrap()
}

fn run(sector_size: u32, sectors: u64, parts: u32) -> Result<Vec<PartReport>, String> {
    let engine = Engine::default();
    let component = Component::new(&engine, compose()).unwrap();
    let mut store = Store::new(&engine, ());
    let checker = SplitChecker::instantiate(&mut store, &component, &Linker::new(&engine)).unwrap();
    checker
        .blockpart_examples_split_check_split_check()
        .call_run(&mut store, sector_size, sectors, parts)
        .unwrap()
}

#[test]
fn the_composed_component_imports_nothing() {
    let engine = Engine::default();
    let component = Component::new(&engine, compose()).unwrap();
    let ty = component.component_type();
    assert_eq!(ty.imports(&engine).count(), 0);
    let exports: Vec<_> = ty
        .exports(&engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    assert_eq!(exports, [SPLIT_CHECK]);
}

#[test]
fn the_composed_component_splits_a_ram_disk_and_each_partition_holds_its_own() {
    for sector_size in [512u32, 4096] {
        let reports = run(sector_size, 1000, 3).unwrap();
        let places: Vec<_> = reports.iter().map(|r| (r.offset, r.sectors)).collect();
        assert_eq!(places, [(0, 333), (333, 333), (666, 334)], "{sector_size}");
        for (byte, report) in (1u8..).zip(&reports) {
            let len = report.sectors as usize * sector_size as usize;
            assert_eq!(
                report.crc32,
                crc32fast::hash(&vec![byte; len]),
                "{sector_size}"
            );
        }
    }
}

#[test]
fn the_composed_component_reports_what_went_wrong() {
    assert_eq!(run(512, 10, 0).unwrap_err(), "asked for no partitions");
    assert_eq!(
        run(1000, 10, 2).unwrap_err(),
        "1000 is not a power of two of at least 512"
    );
}
