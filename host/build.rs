//! Builds the partitioner component from `guest/` and publishes its path as
//! `BLOCKPART_GUEST_COMPONENT`, for `include_bytes!`. The components only tests use are built
//! by the test artifacts crate (`artifacts/`), not here.

use anyhow::Result;
use blockpart_guest_build::{build_components, locked_version, workspace};

fn main() -> Result<()> {
    build_components(&[("blockpart-guest", "BLOCKPART_GUEST_COMPONENT")])?;
    println!(
        "cargo:rustc-env=BLOCKPART_WASMTIME_VERSION={}",
        locked_version(&workspace()?, "wasmtime")?
    );
    Ok(())
}
