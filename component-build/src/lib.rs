//! Builds component crates of the workspace from a build script, the way wasmtime's test
//! programs are built: one nested `cargo build --target wasm32-unknown-unknown` whose target
//! directory lives in `OUT_DIR` (so it never waits on the outer build's lock), then each core
//! module made a component by wit-component from the WIT that wit-bindgen embedded in it.
//!
//! The host library's `build.rs` builds the partitioner with it, the test artifacts crate the
//! components that only tests use.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

#[cfg(feature = "compose")]
pub mod compose;

const TARGET: &str = "wasm32-unknown-unknown";

/// Builds `packages` (cargo package names) as components, and sets, for each, the environment
/// variable paired with it to the component's path, for `include_bytes!` or `env!`. Cargo
/// reruns the build script when a source of any of them, or a WIT file of the workspace,
/// changes. Returns the components' paths, in the order of `packages`.
pub fn build_components(packages: &[(&str, &str)]) -> Result<Vec<PathBuf>> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR is not set")?);
    let workspace = workspace()?;
    let target_dir = out_dir.join("guest");

    ensure_target_installed()?;
    build_guests(
        &workspace,
        &target_dir,
        packages.iter().map(|(package, _)| *package),
    )?;
    let mut paths = Vec::new();
    for (package, env) in packages {
        let artifact = package.replace('-', "_");
        let artifacts = target_dir.join(TARGET).join("release");
        rerun_if_sources_change(&artifacts.join(format!("{artifact}.d")), &workspace)?;
        let module = artifacts.join(format!("{artifact}.wasm"));
        let module =
            std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
        let path = out_dir.join(format!("{artifact}.component.wasm"));
        std::fs::write(&path, componentize(&module)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("cargo:rustc-env={env}={}", path.display());
        paths.push(path);
    }
    Ok(paths)
}

/// The workspace root: the nearest directory above the calling crate whose `Cargo.toml` has a
/// `[workspace]` table.
pub fn workspace() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").context("no manifest dir")?);
    for dir in manifest_dir.ancestors() {
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        if text.lines().any(|line| line.trim() == "[workspace]") {
            return Ok(dir.to_owned());
        }
    }
    bail!(
        "no Cargo.toml with a [workspace] table above {}",
        manifest_dir.display()
    )
}

/// The version of `package` that Cargo.lock pins, for reports (wasmtime exports no constant).
pub fn locked_version(workspace: &Path, package: &str) -> Result<String> {
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
fn build_guests<'a>(
    workspace: &Path,
    target_dir: &Path,
    packages: impl Iterator<Item = &'a str>,
) -> Result<()> {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.current_dir(workspace).args(["build", "--release"]);
    for package in packages {
        build.args(["--package", package]);
    }
    build
        .args(["--target", TARGET])
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

/// Asks cargo to run this script again when a source of a component changes, as listed in the
/// dependency file cargo wrote for it, or any WIT file of the workspace.
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
