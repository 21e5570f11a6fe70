//! Composition at build time, with the `wac-graph` library: the filesystem reader plugged
//! into the partitioner, one component out (feature `compose`, which `blockpart-host`'s `fs`
//! feature turns on, so nothing else builds wac).

use anyhow::{Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The blockpart contract's version, as the composition names its interfaces: on the host
/// side, the one place to change when the contract moves.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The reader's own interface.
pub const FILESYSTEM: &str = "blockpart-fs:reader/filesystem@0.1.0";

/// The full name of interface `name` of the contract.
pub fn contract(name: &str) -> String {
    format!("blockpart:partition/{name}@{CONTRACT_VERSION}")
}

/// `partitioner` and `reader` as one component: the reader's `partition` import is the
/// partitioner's export; the device interfaces both import (the reader for their types) are
/// left as the composition's imports, shared; it exports the partitioner's `partition` and
/// `partition-table` and the reader's `filesystem`.
pub fn reader_on_partitioner(partitioner: Vec<u8>, reader: Vec<u8>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let partitioner = Package::from_bytes(
        "blockpart:partitioner",
        None,
        partitioner,
        graph.types_mut(),
    )
    .context("reading the partitioner component")?;
    let partitioner = graph.register_package(partitioner)?;
    let reader = Package::from_bytes("blockpart-fs:reader", None, reader, graph.types_mut())
        .context("reading the reader component")?;
    let reader = graph.register_package(reader)?;
    let partitioner = graph.instantiate(partitioner);
    let reader = graph.instantiate(reader);

    let partition = graph.alias_instance_export(partitioner, &contract("partition"))?;
    graph.set_instantiation_argument(reader, &contract("partition"), partition)?;
    for name in ["partition", "partition-table"] {
        let export = graph.alias_instance_export(partitioner, &contract(name))?;
        graph.export(export, contract(name))?;
    }
    let filesystem = graph.alias_instance_export(reader, FILESYSTEM)?;
    graph.export(filesystem, FILESYSTEM)?;
    graph
        .encode(EncodeOptions::default())
        .context("encoding the composition")
}
