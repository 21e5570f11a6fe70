//! qcow2 images, versions 2 and 3: the active L1 table, L2 tables read through a bounded
//! cache, standard, zero, unallocated and compressed (deflate or zstd) clusters, and
//! extended L2 entries (subclusters). Internal snapshots and bitmaps are not read; an
//! external data file or an encrypted image is refused by name; a backing file is named,
//! never opened.

mod header;
mod table;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::disk::Layout;
use crate::source::read_exact;
use crate::{Error, Extent, Source, decompress};
use header::{Compression, Header};
use table::{Geometry, L1_RESERVED, L2Cache, OFFSET_MASK, State};

/// The most cluster pieces one [`Layout::map`] call merges: 4096 clusters (256 MiB with
/// the default 64 KiB clusters) is a few extents for a long read, and bounded work.
const MAX_PIECES: usize = 4096;

/// An opened qcow2 image.
pub(crate) struct Qcow2 {
    /// The virtual size in bytes.
    size: u64,
    /// Cluster size and entry format.
    geometry: Geometry,
    /// The active L1 table, as many entries as the virtual size needs (32 MiB at most).
    l1: Vec<u64>,
    /// How compressed clusters are compressed.
    compression: Compression,
    /// The backing file name, escaped.
    backing: Option<String>,
    /// The L2 tables read last.
    l2: L2Cache,
    /// The guest cluster whose bytes `decoded` holds, if any: a sequential read of a
    /// compressed cluster decompresses it once.
    decoded_cluster: Option<u64>,
    /// One cluster, decompressed.
    decoded: Vec<u8>,
    /// A compressed stream, as read.
    stream: Vec<u8>,
}

impl Qcow2 {
    /// Reads and checks the header and the active L1 table of `file`.
    pub(crate) fn open(file: &dyn Source) -> Result<Self, Error> {
        let header = Header::read(file)?;
        // Checked by the header: at most 32 MiB, inside the file. Read in pieces, so the
        // bytes and the entries are not both held whole.
        let entries = usize::try_from(header.l1_size).unwrap_or(0);
        let mut l1 = Vec::with_capacity(entries);
        let mut piece = [0u8; 8 << 10];
        let mut at = header.l1_offset;
        while l1.len() < entries {
            let want = entries
                .saturating_sub(l1.len())
                .saturating_mul(8)
                .min(piece.len());
            let bytes = piece.get_mut(..want).unwrap_or_default();
            read_exact(file, at, bytes, "the L1 table")?;
            l1.extend(bytes.chunks_exact(8).map(|word| header::be64(word, 0)));
            at = at.saturating_add(u64::try_from(want).unwrap_or(u64::MAX));
        }
        Ok(Self {
            size: header.size,
            geometry: Geometry {
                cluster_bits: header.cluster_bits,
                extended: header.extended_l2,
                file_size: file.size(),
            },
            l1,
            compression: header.compression,
            backing: header.backing,
            l2: L2Cache::default(),
            decoded_cluster: None,
            decoded: Vec::new(),
            stream: Vec::new(),
        })
    }

    /// The state of the guest bytes from `at`, and how many from there share it: to the end
    /// of the cluster, or of the L1 entry's whole span when it has no L2 table.
    fn piece(&mut self, file: &dyn Source, at: u64) -> Result<(State, u64), Error> {
        let geometry = self.geometry;
        let cluster_bits = geometry.cluster_bits;
        let cluster_size = geometry.cluster_size();
        let cluster = at >> cluster_bits;
        let within = at & (cluster_size.saturating_sub(1));
        // An L2 table holds 2^l2_bits entries: 8-byte ones, or 16-byte ones when extended.
        let l2_bits = cluster_bits.saturating_sub(if geometry.extended { 4 } else { 3 });
        let l1_index = cluster >> l2_bits;
        let l2_index = cluster & ((1u64 << l2_bits).saturating_sub(1));
        let entry = usize::try_from(l1_index)
            .ok()
            .and_then(|index| self.l1.get(index))
            .copied()
            .ok_or_else(|| {
                Error::Corrupt(format!("guest offset {at} is past the end of the L1 table"))
            })?;
        if entry & L1_RESERVED != 0 {
            return Err(Error::Corrupt(format!(
                "L1 entry {l1_index} ({entry:#018x}) has reserved bits set ({:#x})",
                entry & L1_RESERVED
            )));
        }
        let l2_offset = entry & OFFSET_MASK;
        if l2_offset == 0 {
            // No L2 table: the whole span of this L1 entry is unallocated.
            let span_end = l1_index
                .checked_add(1)
                .and_then(|next| next.checked_mul(1u64 << l2_bits))
                .and_then(|clusters| clusters.checked_mul(cluster_size))
                .unwrap_or(u64::MAX);
            return Ok((State::Backing, span_end.saturating_sub(at)));
        }
        geometry.check_cluster("an L1 entry's L2 table", l2_offset, at)?;
        let words = self.l2.get(file, l2_offset, cluster_size)?;
        let word = usize::try_from(l2_index)
            .ok()
            .and_then(|index| index.checked_mul(if geometry.extended { 2 } else { 1 }))
            .unwrap_or(usize::MAX);
        let l2_entry = words.get(word).copied().unwrap_or(0);
        let bitmap = if geometry.extended {
            words.get(word.saturating_add(1)).copied().unwrap_or(0)
        } else {
            0
        };
        geometry.piece(l2_entry, bitmap, within, at)
    }

    /// Decompresses the compressed cluster holding guest offset `at` into `decoded`,
    /// unless it is there already.
    fn decode(&mut self, file: &dyn Source, at: u64) -> Result<(), Error> {
        let cluster = at >> self.geometry.cluster_bits;
        if self.decoded_cluster == Some(cluster) {
            return Ok(());
        }
        self.decoded_cluster = None;
        let (State::Compressed { offset, len }, _) = self.piece(file, at)? else {
            return Err(Error::Corrupt(format!(
                "no compressed cluster at guest offset {at}"
            )));
        };
        // At most two clusters (4 MiB): the sector count field is cluster_bits - 8 bits.
        self.stream.resize(usize::try_from(len).unwrap_or(0), 0);
        read_exact(file, offset, &mut self.stream, "a compressed cluster")?;
        self.decoded.resize(
            usize::try_from(self.geometry.cluster_size()).unwrap_or(0),
            0,
        );
        let decoded = match self.compression {
            Compression::Deflate => decompress::inflate(&self.stream, false, &mut self.decoded),
            Compression::Zstd => decompress::zstd(&self.stream, &mut self.decoded),
        };
        decoded.map_err(|error| match error {
            Error::Corrupt(why) => Error::Corrupt(format!(
                "the compressed cluster at guest offset {at} (byte {offset} of the file): {why}"
            )),
            other => other,
        })?;
        self.decoded_cluster = Some(cluster);
        Ok(())
    }
}

impl Layout for Qcow2 {
    fn size(&self) -> u64 {
        self.size
    }

    fn map(&mut self, file: &dyn Source, offset: u64, len: u64) -> Result<Extent, Error> {
        // Runs of clusters in one state are merged, contiguous data clusters too, so a long
        // sequential read is a few extents; a compressed cluster is always one of its own.
        let mut first: Option<State> = None;
        let mut total = 0u64;
        // Bounded work per call whatever `len` is: L1 entries may all name one empty L2
        // table, and a shorter extent is always allowed.
        for _ in 0..MAX_PIECES {
            if total >= len {
                break;
            }
            let at = offset.saturating_add(total);
            let (state, run) = self.piece(file, at)?;
            let merged = match (first, state) {
                (None, _) => true,
                (Some(State::Data(start)), State::Data(host)) => {
                    Some(host) == start.checked_add(total)
                }
                (Some(State::Zero), State::Zero) | (Some(State::Backing), State::Backing) => true,
                _ => false,
            };
            if !merged {
                break;
            }
            first.get_or_insert(state);
            total = total.saturating_add(run.min(len.saturating_sub(total)));
            if matches!(state, State::Compressed { .. }) {
                break;
            }
        }
        Ok(match first {
            Some(State::Data(start)) => Extent::Data {
                offset: start,
                len: total,
            },
            Some(State::Zero) => Extent::Zero { len: total },
            Some(State::Compressed { .. }) => Extent::Encoded { len: total },
            Some(State::Backing) | None => Extent::Backing { len: total },
        })
    }

    fn read_encoded(
        &mut self,
        file: &dyn Source,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        self.decode(file, offset)?;
        let within = offset & self.geometry.cluster_size().saturating_sub(1);
        let bytes = usize::try_from(within)
            .ok()
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .and_then(|range| self.decoded.get(range))
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "a read of {} bytes at guest offset {offset} crosses its compressed cluster",
                    buf.len()
                ))
            })?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn backing(&self) -> Option<&str> {
        self.backing.as_deref()
    }
}
