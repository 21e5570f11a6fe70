//! Builds the guest component and publishes its path as `BLOCKPART_GUEST_COMPONENT`.
//!
//! The guest is compiled by a nested `cargo build` for `wasm32-unknown-unknown`, with its own
//! target directory inside `OUT_DIR` (so it never waits on the outer build's lock), then made a
//! component by wit-component from the WIT that wit-bindgen embedded in it.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const TARGET: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR is not set")?);
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").context("no manifest dir")?);
    let workspace = manifest_dir.parent().context("host/ has no parent")?;
    let target_dir = out_dir.join("guest");

    ensure_target_installed()?;
    build_guests(workspace, &target_dir)?;
    // The partitioner, embedded in the host; for the host's tests, one that misbehaves and the
    // two that compose with the partitioner.
    for (package, env) in [
        ("blockpart_guest", "BLOCKPART_GUEST_COMPONENT"),
        ("blockpart_hostile", "BLOCKPART_HOSTILE_COMPONENT"),
        ("blockpart_ram_disk", "BLOCKPART_RAM_DISK_COMPONENT"),
        ("blockpart_split_check", "BLOCKPART_SPLIT_CHECK_COMPONENT"),
    ] {
        let artifacts = target_dir.join(TARGET).join("release");
        rerun_if_sources_change(&artifacts.join(format!("{package}.d")), workspace)?;
        let module = artifacts.join(format!("{package}.wasm"));
        let module =
            std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
        let path = out_dir.join(format!("{package}.component.wasm"));
        std::fs::write(&path, componentize(&module)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("cargo:rustc-env={env}={}", path.display());
    }
    println!(
        "cargo:rustc-env=BLOCKPART_WASMTIME_VERSION={}",
        locked_version(workspace, "wasmtime")?
    );
    Ok(())
}

/// The version of `package` that Cargo.lock pins, for reports (wasmtime exports no constant).
fn locked_version(workspace: &Path, package: &str) -> Result<String> {
    let lock =
        std::fs::read_to_string(workspace.join("Cargo.lock")).context("reading Cargo.lock")?;
    let entry = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&entry)
        .with_context(|| format!("{package} is not in Cargo.lock"))?
        .saturating_add(entry.len());
    let version = lock.get(start..).and_then(|rest| rest.split('"').next());
    version
        .map(str::to_owned)
        .with_context(|| format!("no version of {package} in Cargo.lock"))
}

/// Adds the wasm target with rustup when this toolchain lacks it: rustup installs the targets
/// of `rust-toolchain.toml` only when it installs the toolchain itself.
fn ensure_target_installed() -> Result<()> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .context("running rustc to find the wasm target")?;
    if has_std(String::from_utf8_lossy(&output.stdout).trim()) {
        return Ok(());
    }
    println!("cargo:warning=installing the {TARGET} target with rustup, to build the guest");
    let mut rustup = Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN") {
        rustup.arg("--toolchain").arg(toolchain);
    }
    let status = rustup.status().context(
        "the guest needs the wasm32-unknown-unknown target and rustup is not there to add it",
    )?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}

/// Whether `libdir` holds a standard library (its rlib names carry a hash).
fn has_std(libdir: &str) -> bool {
    std::fs::read_dir(libdir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

/// Builds the component crates to core wasm modules, in one cargo run.
fn build_guests(workspace: &Path, target_dir: &Path) -> Result<()> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--package",
            "blockpart-guest",
            "--package",
            "blockpart-hostile",
            "--package",
            "blockpart-ram-disk",
            "--package",
            "blockpart-split-check",
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        // A small, fast guest: it is compiled again by Wasmtime, so debug info only weighs.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        // Flags meant for the host (coverage, sanitizers, target-cpu) must not reach the guest.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    let status = build
        .status()
        .context("running cargo to build the guests")?;
    if !status.success() {
        bail!("building the guests failed ({status})");
    }
    Ok(())
}

/// Asks cargo to run this script again when a source of the guest changes, as listed in the
/// dependency file cargo wrote for it.
fn rerun_if_sources_change(dep_file: &Path, workspace: &Path) -> Result<()> {
    let deps = std::fs::read_to_string(dep_file)
        .with_context(|| format!("reading {}", dep_file.display()))?;
    let (_, sources) = deps
        .split_once(':')
        .context("a malformed dependency file")?;
    // Paths are separated by spaces; a space inside a path is escaped with a backslash.
    let sources = sources.trim().replace("\\ ", "\u{0}");
    for source in sources.split_whitespace() {
        let source = source.replace('\u{0}', " ");
        if Path::new(&source).starts_with(workspace) {
            println!("cargo:rerun-if-changed={source}");
        }
    }
    println!("cargo:rerun-if-changed={}", workspace.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        workspace.join("Cargo.lock").display()
    );
    Ok(())
}

/// Makes a component of `module`, from the WIT world wit-bindgen embedded in it.
fn componentize(module: &[u8]) -> Result<Vec<u8>> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .context("reading the guest module's component type")?
        .validate(true)
        .encode()
        .context("encoding the guest component")
}
