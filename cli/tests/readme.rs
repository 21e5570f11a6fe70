//! The README's session, as a newcomer pastes it: its `sh` block makes the disk, then each
//! `$ cargo run --release -- ...` line of its `console` block, run with the built command, must
//! print exactly what the README shows under it.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs,
    reason = "test code: a panic is a failure, and the README is ours"
)]

use std::process::Command;

const README: &str = include_str!("../../README.md");

/// Where the README makes its disk; the test makes it in a directory of its own instead.
const DEMO: &str = "/tmp/blockpart-demo";

/// The first fenced block of kind `fence` (`sh`, `console`) in the README.
fn block(fence: &str) -> &'static str {
    let opening = format!("\n```{fence}\n");
    let start = README.find(&opening).unwrap() + opening.len();
    let len = README[start..].find("\n```\n").unwrap() + 1;
    &README[start..start + len]
}

#[test]
fn the_readme_session_prints_what_the_readme_shows() {
    for tool in ["sfdisk", "mkfs.vfat", "mcopy", "mke2fs", "qemu-img"] {
        if blockpart_test_tools::installed(tool).is_none() {
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("blockpart-demo");
    let demo = demo.to_str().unwrap();
    let make = block("sh").replace(DEMO, demo);
    let path = format!(
        "{}:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    );
    let made = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &make])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "the README's sh block failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let console = block("console").replace(DEMO, demo);
    let mut commands = 0;
    for step in console.split("$ ").skip(1) {
        let (command, expected) = step.split_once('\n').unwrap();
        let args = command
            .strip_prefix("cargo run --release -- ")
            .unwrap_or_else(|| panic!("not a blockpart command: {command}"));
        let output = Command::new(env!("CARGO_BIN_EXE_blockpart"))
            .args(args.split_whitespace())
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(printed, expected, "`blockpart {args}` printed otherwise");
        commands += 1;
    }
    assert!(commands >= 3, "the README's session has list, ls and get");
}
