//! Builds the partitioner component from `components/partitioner/` and publishes its path as
//! `BLOCKPART_PARTITIONER_COMPONENT`, for `include_bytes!`. The components only tests use are built
//! by the test artifacts crate (`test-programs/artifacts/`), not here. The image reader
//! (`components/image-reader/`): `BLOCKPART_IMAGE_READER_COMPONENT`. With the `fs` feature, also the
//! filesystem reader, composed on the partitioner: `BLOCKPART_READER_COMPONENT`, and on the
//! partitioner on the image reader: `BLOCKPART_READER_ON_IMAGE_COMPONENT`.

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

/// The reader composed on the partitioner, and on the partitioner on the image reader, into
/// `OUT_DIR`.
#[cfg(feature = "fs")]
fn compose_reader(built: &[std::path::PathBuf]) -> Result<()> {
    use anyhow::Context;
    use blockpart_component_build::compose;
    let [partitioner, image, reader] = built else {
        anyhow::bail!("expected three components, built {}", built.len());
    };
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    };
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").context("no OUT_DIR")?);
    let write = |variable: &str, name: &str, composed: Vec<u8>| -> Result<()> {
        let out = out_dir.join(name);
        std::fs::write(&out, composed).with_context(|| format!("writing {}", out.display()))?;
        println!("cargo:rustc-env={variable}={}", out.display());
        Ok(())
    };
    write(
        "BLOCKPART_READER_COMPONENT",
        "reader-on-partitioner.wasm",
        compose::reader_on_partitioner(read(partitioner)?, read(reader)?)?,
    )?;
    write(
        "BLOCKPART_READER_ON_IMAGE_COMPONENT",
        "reader-on-image.wasm",
        compose::reader_on_image(read(image)?, read(partitioner)?, read(reader)?)?,
    )
}
