//! An example consumer of the partitioner: it imports `partition` and `ram-disk` and exports
//! `split-check`, which splits a fresh RAM disk, fills each partition with its own byte and
//! reads them all back, checking that the partitioner maps each read where its partition lies.
//! Composed with a RAM-disk provider and the partitioner (see docs/composing.md),
//! it is a component that imports nothing.

#![allow(
    unsafe_code,
    missing_docs,
    reason = "the code wit-bindgen generates uses unsafe and has no docs; none is written here"
)]

// `wit/`: this component's own package; `wit/deps/` holds the blockpart contract and the
// RAM-disk provider's package, as a third party would have them. `generate_all`: bindings for
// the interfaces of those packages too (wit-bindgen's default is to ask for a `with:` each).
wit_bindgen::generate!({ path: "wit", world: "split-checker", generate_all });

use blockpart::partition::partition::Partition;
use blockpart::partition::types::Direction;
use blockpart_examples::ram_disk::ram_disk;
use exports::blockpart_examples::split_check::split_check::{Guest, PartReport};

/// Bytes per request: well under the partition's largest transfer.
const CHUNK_BYTES: u64 = 1 << 20;

struct Component;

export!(Component);

impl Guest for Component {
    fn run(sector_size: u32, sectors: u64, parts: u32) -> Result<Vec<PartReport>, String> {
        if parts == 0 {
            return Err("asked for no partitions".into());
        }
        let disk = ram_disk::create(sector_size, sectors)?;
        let whole = Partition::whole(disk).map_err(|e| format!("whole: {e:?}"))?;
        let each = sectors.checked_div(u64::from(parts)).unwrap_or(0);
        let mut partitions = Vec::new();
        let mut rest = whole;
        for _ in 1..parts {
            let (head, tail) = rest
                .subpartition(each)
                .map_err(|e| format!("subpartition: {e:?}"))?;
            partitions.push(head);
            rest = tail;
        }
        partitions.push(rest);

        for (byte, part) in (1u8..).zip(&partitions) {
            each_chunk(part, sector_size, |start, len| {
                let data = vec![byte; usize::try_from(len).map_err(|e| e.to_string())?];
                part.write(start, &data)
                    .map_err(|e| format!("write at {start}: {e:?}"))
            })?;
        }
        let mut reports = Vec::new();
        for (byte, part) in (1u8..).zip(&partitions) {
            let mut crc = crc32fast::Hasher::new();
            let offset = part.get_offset();
            each_chunk(part, sector_size, |start, len| {
                let mapped = part
                    .map(Direction::Read, start, len)
                    .map_err(|e| format!("map at {start}: {e:?}"))?;
                if Some(mapped) != offset.checked_add(start) {
                    return Err(format!(
                        "partition {byte} maps sector {start} to {mapped}, not {offset} + {start}"
                    ));
                }
                let data = part
                    .read(start, len)
                    .map_err(|e| format!("read at {start}: {e:?}"))?;
                if data.iter().any(|b| *b != byte) {
                    return Err(format!("partition {byte} holds another's bytes"));
                }
                crc.update(&data);
                Ok(())
            })?;
            reports.push(PartReport {
                offset,
                sectors: part.info().size_sectors,
                crc32: crc.finalize(),
            });
        }
        Ok(reports)
    }
}

/// Calls `f(start, len)` over `part` in chunks of at most [`CHUNK_BYTES`], whole sectors.
fn each_chunk(
    part: &Partition,
    sector_size: u32,
    mut f: impl FnMut(u64, u64) -> Result<(), String>,
) -> Result<(), String> {
    let sector_size = u64::from(sector_size);
    let chunk = CHUNK_BYTES.checked_div(sector_size).unwrap_or(1).max(1);
    let sectors = part.info().size_sectors;
    let mut start = 0u64;
    while let Some(left) = sectors.checked_sub(start).filter(|left| *left > 0) {
        let count = chunk.min(left);
        let len = count.checked_mul(sector_size).ok_or("a chunk overflows")?;
        f(start, len)?;
        start = start.saturating_add(count);
    }
    Ok(())
}
