//! An embedder of the host library pays for embedding only: none of the command line's, the
//! benchmarks' or the tests' crates is linked into a program that depends on it.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

/// Crates of the command line, its plots and benchmarks, and the tests.
const NOT_FOR_EMBEDDERS: &[&str] = &[
    "blockpart-cli",
    "blockpart-conformance",
    "clap",
    "criterion",
    "indicatif",
    "plotters",
    "proptest",
    "serde_json",
    "tempfile",
];

/// The crates linked into a program that depends on `blockpart-host` with `features`, by name:
/// normal dependencies, without proc macros (they run in the compiler, and wasmtime's
/// `bindgen!` brings serde_json there).
fn linked(features: &[&str]) -> Vec<String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut command = Command::new(env!("CARGO"));
    command.args(["tree", "--offline", "--locked", "--manifest-path", manifest]);
    command.args([
        "-p",
        "blockpart-host",
        "-e",
        "normal,no-proc-macro",
        "--prefix",
        "none",
    ]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_host_library_links_nothing_of_the_command_line_or_the_tests() {
    let crates = linked(&[]);
    assert!(crates.iter().any(|name| name == "wasmtime"), "{crates:?}");
    assert!(
        crates.iter().any(|name| name == "blockpart-formats"),
        "{crates:?}"
    );
    // The image formats' decoders run inside the image reader, not in the host.
    for name in NOT_FOR_EMBEDDERS.iter().chain(&["miniz_oxide", "ruzstd"]) {
        assert!(
            !crates.iter().any(|c| c == name),
            "blockpart-host links {name}"
        );
    }
}

#[test]
fn its_fs_feature_takes_the_readers_types_without_the_readers() {
    let crates = linked(&["fs"]);
    assert!(
        crates.iter().any(|name| name == "blockpart-fs"),
        "{crates:?}"
    );
    // The readers run inside the composed component, not in the host.
    for name in NOT_FOR_EMBEDDERS.iter().chain(&["ext4-view", "fatfs"]) {
        assert!(
            !crates.iter().any(|c| c == name),
            "blockpart-host with fs links {name}"
        );
    }
}
