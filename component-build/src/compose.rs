//! Composition at build time, with the `wac-graph` library: the filesystem reader plugged
//! into the partitioner, and both onto the image reader, one component out each (feature
//! `compose`, which `blockpart-host`'s `fs` feature turns on, so nothing else builds wac).

use anyhow::{Context, Result};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// The blockpart contract's version, as the composition names its interfaces: on the host
/// side, the one place to change when the contract moves.
pub const CONTRACT_VERSION: &str = "0.2.0";

/// The reader's own interface.
pub const FILESYSTEM: &str = "blockpart-fs:reader/filesystem@0.1.0";

/// The image reader's own interface.
pub const IMAGE: &str = "blockpart-image:reader/image@0.1.0";

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
    let (partitioner, _) = instantiate(&mut graph, "blockpart:partitioner", partitioner)?;
    let (reader, _) = instantiate(&mut graph, "blockpart-fs:reader", reader)?;

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

/// `image` (the image reader) under `partitioner` under `reader`, as one component: the
/// partitioner's device interfaces are the image reader's exports, and so are the reader's; it
/// imports only the image reader's `file`, and exports the contract's types and devices and
/// `image`, `partition` and `partition-table`, and `filesystem`.
pub fn reader_on_image(image: Vec<u8>, partitioner: Vec<u8>, reader: Vec<u8>) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let (image, _) = instantiate(&mut graph, "blockpart-image:reader", image)?;
    let (partitioner, _) = instantiate(&mut graph, "blockpart:partitioner", partitioner)?;
    let (reader, reader_imports) = instantiate(&mut graph, "blockpart-fs:reader", reader)?;

    for name in ["types", "block-device"] {
        let export = graph.alias_instance_export(image, &contract(name))?;
        graph.set_instantiation_argument(partitioner, &contract(name), export)?;
        // The reader imports only the interfaces whose types it uses.
        if reader_imports.contains(&contract(name)) {
            graph.set_instantiation_argument(reader, &contract(name), export)?;
        }
        graph.export(export, contract(name))?;
    }
    let export = graph.alias_instance_export(image, IMAGE)?;
    graph.export(export, IMAGE)?;
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

/// Registers the component `bytes` as package `name` in `graph`, and instantiates it: the
/// instance, and the names of what it imports.
fn instantiate(
    graph: &mut CompositionGraph,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(wac_graph::NodeId, Vec<String>)> {
    let package = Package::from_bytes(name, None, bytes, graph.types_mut())
        .with_context(|| format!("reading the {name} component"))?;
    let imports = graph.types()[package.ty()]
        .imports
        .keys()
        .cloned()
        .collect();
    let package = graph.register_package(package)?;
    Ok((graph.instantiate(package), imports))
}
