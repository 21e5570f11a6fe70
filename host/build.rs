//! Builds the partitioner component from `components/partitioner/` and publishes its path as
//! `BLOCKPART_PARTITIONER_COMPONENT`, for `include_bytes!`. The components only tests use are built
//! by the test artifacts crate (`test-programs/artifacts/`), not here. The image reader
//! (`components/image-reader/`): `BLOCKPART_IMAGE_READER_COMPONENT`. With the `fs` feature, also the
//! filesystem reader, composed on the partitioner: `BLOCKPART_READER_COMPONENT`.

use anyhow::Result;
use blockpart_component_build::{build_components, locked_version, workspace};

fn main() -> Result<()> {
    let mut components = vec![
        ("blockpart-partitioner", "BLOCKPART_PARTITIONER_COMPONENT"),
        ("blockpart-image-reader", "BLOCKPART_IMAGE_READER_COMPONENT"),
    ];
    if cfg!(feature = "fs") {
        components.push(("blockpart-fs-reader", "BLOCKPART_FS_READER_COMPONENT"));
    }
    let built = build_components(&components)?;
    #[cfg(feature = "fs")]
    compose_reader(&built)?;
    #[cfg(not(feature = "fs"))]
    let _ = built;
    println!(
        "cargo:rustc-env=BLOCKPART_WASMTIME_VERSION={}",
        locked_version(&workspace()?, "wasmtime")?
    );
    Ok(())
}

/// The reader composed on the partitioner, into `OUT_DIR`.
#[cfg(feature = "fs")]
fn compose_reader(built: &[std::path::PathBuf]) -> Result<()> {
    use anyhow::Context;
    let [partitioner, _image, reader] = built else {
        anyhow::bail!("expected three components, built {}", built.len());
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    };
    let composed = blockpart_component_build::compose::reader_on_partitioner(
        read(partitioner)?,
        read(reader)?,
    )?;
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").context("no OUT_DIR")?)
        .join("reader-on-partitioner.wasm");
    std::fs::write(&out, composed).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "cargo:rustc-env=BLOCKPART_READER_COMPONENT={}",
        out.display()
    );
    Ok(())
}
