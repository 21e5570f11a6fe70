//! L1 and L2 entries, decoded and checked, and the bounded cache of L2 tables.

use alloc::format;
use alloc::vec::Vec;

use super::header::be64;
use crate::source::read_exact;
use crate::{Error, Source};

/// The offset bits (9..=55) of an L1 entry and of a standard L2 entry.
pub(super) const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
/// Bits 0..=8 and 56..=62 of an L1 entry: reserved, zero.
pub(super) const L1_RESERVED: u64 = 0x7f00_0000_0000_01ff;
/// Bit 62 of an L2 entry: a compressed cluster.
const COMPRESSED: u64 = 1 << 62;
/// Bit 0 of a standard L2 entry: the cluster reads as zeros.
const ZERO: u64 = 1;
/// Bits 1..=8 and 56..=61 of a standard L2 entry: reserved, zero.
const L2_RESERVED: u64 = 0x3f00_0000_0000_01fe;
/// How many L2 tables are kept: with 2 MiB clusters, 32 MiB at most.
const CACHED_TABLES: usize = 16;

/// What a run of bytes of one guest cluster is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Stored as is, the run's first byte at this byte of the file.
    Data(u64),
    /// Reads as zeros.
    Zero,
    /// Unallocated: the backing disk's (or zeros).
    Backing,
    /// A compressed cluster: its stream is `len` bytes at byte `offset` of the file.
    Compressed {
        /// Where the stream starts in the file.
        offset: u64,
        /// Its length, clamped to the end of the file as qemu does.
        len: u64,
    },
}

/// The image's cluster geometry, as the entries are decoded with it.
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    /// log2 of the cluster size.
    pub(super) cluster_bits: u32,
    /// 128-bit L2 entries with a subcluster bitmap.
    pub(super) extended: bool,
    /// The image file's size in bytes.
    pub(super) file_size: u64,
}

impl Geometry {
    /// The cluster size in bytes.
    pub(super) fn cluster_size(self) -> u64 {
        1u64 << self.cluster_bits
    }

    /// `host` is aligned to the cluster and the cluster from there lies inside the file:
    /// else Corrupt naming `what`.
    pub(super) fn check_cluster(self, what: &str, host: u64, guest: u64) -> Result<(), Error> {
        self.check_host(what, host, self.cluster_size(), guest)
    }

    /// `host` is aligned to the cluster and `len` bytes from there lie inside the file.
    fn check_host(self, what: &str, host: u64, len: u64, guest: u64) -> Result<(), Error> {
        let cluster_size = self.cluster_size();
        if !host.is_multiple_of(cluster_size) {
            return Err(Error::Corrupt(format!(
                "{what} for guest offset {guest} points to byte {host}, not aligned to the \
                 {cluster_size}-byte cluster"
            )));
        }
        match host.checked_add(len) {
            Some(end) if end <= self.file_size => Ok(()),
            _ => Err(Error::Corrupt(format!(
                "{what} for guest offset {guest} points to {len} bytes at byte {host}, past the \
                 end of the file ({} bytes)",
                self.file_size
            ))),
        }
    }

    /// The state of the bytes of a guest cluster from `within` (an offset inside it), and
    /// how many bytes from there share it (to the cluster's end at most). `entry` and
    /// `bitmap` are the cluster's L2 entry (`bitmap` is 0 without extended L2 entries);
    /// `guest` is the guest offset, for messages.
    pub(super) fn piece(
        self,
        entry: u64,
        bitmap: u64,
        within: u64,
        guest: u64,
    ) -> Result<(State, u64), Error> {
        let cluster_size = self.cluster_size();
        let rest = cluster_size.saturating_sub(within);
        if entry & COMPRESSED != 0 {
            if bitmap != 0 {
                return Err(Error::Corrupt(format!(
                    "the compressed cluster at guest offset {guest} has a subcluster bitmap \
                     {bitmap:#018x} (must be 0)"
                )));
            }
            return Ok((self.compressed(entry, guest)?, rest));
        }
        let reserved = entry & (L2_RESERVED | if self.extended { ZERO } else { 0 });
        if reserved != 0 {
            return Err(Error::Corrupt(format!(
                "L2 entry {entry:#018x} for guest offset {guest} has reserved bits set \
                 ({reserved:#x})"
            )));
        }
        let host = entry & OFFSET_MASK;
        if !self.extended {
            // The zero flag wins over a preallocated host cluster, which is not read.
            if entry & ZERO != 0 {
                return Ok((State::Zero, rest));
            }
            if host == 0 {
                return Ok((State::Backing, rest));
            }
            self.check_cluster("an L2 entry", host, guest)?;
            return Ok((State::Data(host.saturating_add(within)), rest));
        }
        self.subclusters(host, bitmap, within, guest)
    }

    /// [`Geometry::piece`] for a standard cluster of an extended L2 entry: a run of
    /// subclusters in the same state.
    fn subclusters(
        self,
        host: u64,
        bitmap: u64,
        within: u64,
        guest: u64,
    ) -> Result<(State, u64), Error> {
        let allocated = bitmap & 0xffff_ffff;
        let zero = bitmap >> 32;
        if allocated & zero != 0 {
            return Err(Error::Corrupt(format!(
                "the subcluster bitmap {bitmap:#018x} at guest offset {guest} marks subclusters \
                 both allocated and zero ({:#x})",
                allocated & zero
            )));
        }
        // 32 subclusters a cluster: cluster_bits >= 14 was checked, so this is >= 9.
        let sub_bits = self.cluster_bits.saturating_sub(5);
        if allocated != 0 {
            if host == 0 {
                return Err(Error::Corrupt(format!(
                    "the subcluster bitmap {bitmap:#018x} at guest offset {guest} marks \
                     subclusters allocated in a cluster with no host offset"
                )));
            }
            // qemu writes only the allocated subclusters: the last cluster of the file may
            // end after its last allocated one, which must be inside.
            let last = 64u32.saturating_sub(allocated.leading_zeros());
            let used = u64::from(last) << sub_bits;
            self.check_host("an extended L2 entry", host, used, guest)?;
        }
        let first = within >> sub_bits;
        let class = |sub: u64| (allocated >> sub & 1, zero >> sub & 1);
        let state = match class(first) {
            (1, _) => State::Data(host.saturating_add(within)),
            (_, 1) => State::Zero,
            _ => State::Backing,
        };
        let end = (first..32)
            .find(|&sub| class(sub) != class(first))
            .unwrap_or(32);
        let len = (end << sub_bits).saturating_sub(within);
        Ok((state, len))
    }

    /// A compressed cluster's descriptor: where its stream is and how long, per the spec
    /// (`x = 62 - (cluster_bits - 8)` offset bits, then the count of additional sectors).
    fn compressed(self, entry: u64, guest: u64) -> Result<State, Error> {
        // cluster_bits is 9..=21, so x is 49..=61.
        let x = 70u32.saturating_sub(self.cluster_bits);
        let offset = entry & (1u64 << x).saturating_sub(1);
        let sectors =
            ((entry >> x) & (1u64 << 62u32.saturating_sub(x)).saturating_sub(1)).saturating_add(1);
        if offset > OFFSET_MASK | 0x1ff {
            return Err(Error::Corrupt(format!(
                "the compressed cluster at guest offset {guest} has host offset {offset}, over \
                 56 bits"
            )));
        }
        if offset >= self.file_size {
            return Err(Error::Corrupt(format!(
                "the compressed cluster at guest offset {guest} starts at byte {offset}, past \
                 the end of the file ({} bytes)",
                self.file_size
            )));
        }
        // The stream ends inside its last sector; qemu clamps it to the end of the file.
        let len = sectors
            .saturating_mul(512)
            .saturating_sub(offset & 511)
            .min(self.file_size.saturating_sub(offset));
        Ok(State::Compressed { offset, len })
    }
}

/// One cached L2 table.
struct Table {
    /// Where it is in the file.
    offset: u64,
    /// Its entries (pairs of words with extended L2 entries).
    words: Vec<u64>,
    /// When it was last used, for eviction.
    used: u64,
}

/// The last few L2 tables read, least recently used evicted: memory stays bounded whatever
/// the virtual size.
#[derive(Default)]
pub(super) struct L2Cache {
    tables: Vec<Table>,
    clock: u64,
}

impl L2Cache {
    /// The L2 table at `offset` (checked by the caller: aligned, inside the file), read
    /// unless it is cached.
    pub(super) fn get(
        &mut self,
        file: &dyn Source,
        offset: u64,
        cluster_size: u64,
    ) -> Result<&[u64], Error> {
        self.clock = self.clock.wrapping_add(1);
        let clock = self.clock;
        let index = match self.tables.iter().position(|table| table.offset == offset) {
            Some(index) => index,
            None => {
                let table = Self::load(file, offset, cluster_size, clock)?;
                if self.tables.len() < CACHED_TABLES {
                    self.tables.push(table);
                    self.tables.len().saturating_sub(1)
                } else {
                    let oldest = self
                        .tables
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, table)| table.used)
                        .map_or(0, |(index, _)| index);
                    if let Some(slot) = self.tables.get_mut(oldest) {
                        *slot = table;
                    }
                    oldest
                }
            }
        };
        let table = self
            .tables
            .get_mut(index)
            .ok_or_else(|| Error::Corrupt("the L2 cache lost a table".into()))?;
        table.used = clock;
        Ok(&table.words)
    }

    /// Reads one cluster-sized L2 table.
    fn load(file: &dyn Source, offset: u64, cluster_size: u64, used: u64) -> Result<Table, Error> {
        let mut bytes = alloc::vec![0u8; usize::try_from(cluster_size).unwrap_or(0)];
        read_exact(file, offset, &mut bytes, "an L2 table")?;
        let words = bytes.chunks_exact(8).map(|word| be64(word, 0)).collect();
        Ok(Table {
            offset,
            words,
            used,
        })
    }
}
