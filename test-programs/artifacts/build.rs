//! Builds the test components, in one nested cargo run.

fn main() -> anyhow::Result<()> {
    blockpart_component_build::build_components(&[
        ("blockpart-hostile", "BLOCKPART_HOSTILE_COMPONENT"),
        ("blockpart-ram-disk", "BLOCKPART_RAM_DISK_COMPONENT"),
        ("blockpart-split-check", "BLOCKPART_SPLIT_CHECK_COMPONENT"),
    ])?;
    Ok(())
}
