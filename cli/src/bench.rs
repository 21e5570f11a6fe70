//! What the component boundary costs: the same requests on the same file, made four ways.
//!
//! [`Via::Native`] is `pread`/`pwrite` on the file into one reused buffer, the baseline; a
//! Linux partition or `losetup --offset` costs no more. [`Via::Device`] calls the host's
//! device directly, no partitioner: a [`FileDevice`](blockpart_host::FileDevice) for a raw disk, the
//! [`ImageDisk`](blockpart_host::ImageDisk) of an image (the image reader maps, the host
//! reads), where native reads the image file at the same offsets. [`Via::Partition`] is
//! [`Instance::read`] and
//! [`Instance::write`]: the guest checks and maps each request (one call into it), the host
//! moves the bytes between the file and the same reused buffer. [`Via::Lists`] is the path
//! through the guest's memory (`partition.read` and `write` with `list<u8>`, the only one
//! before the contract's 0.2.0): host -> guest partition -> host device and back, every byte
//! copied into the guest and out. `cargo bench` (criterion) and `blockpart bench` both drive
//! these.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use blockpart_core::{BlockDevice, SectorSize};

use blockpart_host::{
    AnyDisk, DiskError, DiskOptions, Error, ImageError, ImageRuntime, Instance, OpenError,
    PartitionHandle, Runtime,
};

pub mod report;

/// Request sizes measured, in bytes.
pub const REQUEST_SIZES: [u64; 4] = [512, 4 << 10, 64 << 10, 1 << 20];

/// How requests reach the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `pread`/`pwrite` on the file: the baseline.
    Native,
    /// The host's device ([`FileDevice`](blockpart_host::FileDevice), or an image's virtual disk), called directly.
    Device,
    /// A partition of the component over that device, mapped: the bytes go around the
    /// guest.
    Partition,
    /// The same partition, the bytes through the guest as `list<u8>`s.
    Lists,
}

impl Via {
    /// Every way, baseline first.
    pub const ALL: [Via; 4] = [Via::Native, Via::Device, Via::Partition, Via::Lists];

    /// A short name, for tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Via::Native => "native",
            Via::Device => "device",
            Via::Partition => "partition",
            Via::Lists => "lists",
        }
    }
}

/// Reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Read requests.
    Read,
    /// Write requests, of a fixed pattern.
    Write,
}

impl Op {
    /// A short name, for tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
        }
    }
}

/// Where successive requests go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// One after another, from the start again at the end of the disk.
    Sequential,
    /// Anywhere on the disk, aligned to the request size; the same sequence for every [`Via`].
    Random,
}

impl Pattern {
    /// A short name, for tables and files.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Sequential => "sequential",
            Pattern::Random => "random",
        }
    }
}

/// The disk measured: its file, and how to open it.
pub struct BenchDisk<'a> {
    /// The disk's file (an image's, for a format other than raw).
    pub path: &'a Path,
    /// Its format and backing chain, and the sector size of a raw disk; `writable` is set per
    /// [`Target`].
    pub options: DiskOptions,
    /// The image reader, for a disk that is not raw.
    pub images: &'a dyn Fn() -> Result<ImageRuntime, ImageError>,
}

impl BenchDisk<'_> {
    /// The disk, writable or not: a raw file, or an image's virtual disk.
    pub fn open(&self, writable: bool) -> Result<AnyDisk, BenchError> {
        let options = DiskOptions {
            writable,
            ..self.options.clone()
        };
        Ok(AnyDisk::open(self.path, &options, || (self.images)())?)
    }

    /// Sectors every way can address: the disk's, and for an image no more than its file
    /// holds, for native reads of the image file.
    pub fn sectors(&self) -> Result<u64, BenchError> {
        let disk = self.open(false)?;
        let sectors = disk.info().size_sectors;
        if let AnyDisk::Image(_) = disk {
            let sector = u64::from(self.options.sector_size.get());
            let held = std::fs::metadata(self.path)?.len().checked_div(sector);
            return Ok(sectors.min(held.unwrap_or(0)));
        }
        Ok(sectors)
    }
}

/// One way of making requests of a disk file.
pub struct Target {
    kind: Kind,
    /// The data written, and where native reads land.
    buffer: Vec<u8>,
    sector_size: SectorSize,
    request_bytes: u64,
}

enum Kind {
    Native(File),
    Device(AnyDisk),
    Partition(Box<Instance>, PartitionHandle),
    Lists(Box<Instance>, PartitionHandle),
}

impl Target {
    /// Opens `disk` to make requests of `request_bytes` `via` one way; `writable` for writes.
    pub fn open(
        via: Via,
        disk: &BenchDisk<'_>,
        request_bytes: u64,
        writable: bool,
        runtime: &Runtime,
    ) -> Result<Self, BenchError> {
        let file = disk.path;
        let sector_size = disk.options.sector_size;
        let device = || disk.open(writable);
        let kind = match via {
            Via::Native => Kind::Native(
                OpenOptions::new()
                    .read(true)
                    .write(writable)
                    .open(file)
                    .map_err(|source| OpenError::Io {
                        path: file.display().to_string(),
                        source,
                    })?,
            ),
            Via::Device => Kind::Device(device()?),
            Via::Partition | Via::Lists => {
                let mut instance = runtime.instantiate().map_err(Error::Guest)?;
                let whole = instance.whole(device()?)?;
                if via == Via::Lists {
                    Kind::Lists(Box::new(instance), whole)
                } else {
                    Kind::Partition(Box::new(instance), whole)
                }
            }
        };
        let len = usize::try_from(request_bytes).map_err(|_| BenchError::Size(request_bytes))?;
        // Bytes that are not all alike, so no layer can take a shortcut on zeroes.
        let buffer = (0..=250u8).cycle().take(len).collect();
        Ok(Self {
            kind,
            buffer,
            sector_size,
            request_bytes,
        })
    }

    /// One request of the opened size at `sector`.
    pub fn request(&mut self, op: Op, sector: u64) -> Result<(), BenchError> {
        let len = self.request_bytes;
        let offset = || {
            self.sector_size
                .bytes_in(sector)
                .ok_or(BenchError::Size(len))
        };
        match (&mut self.kind, op) {
            (Kind::Native(file), Op::Read) => file.read_exact_at(&mut self.buffer, offset()?)?,
            (Kind::Native(file), Op::Write) => file.write_all_at(&self.buffer, offset()?)?,
            (Kind::Device(device), Op::Read) => {
                std::hint::black_box(device.read(sector, len)?);
            }
            (Kind::Device(device), Op::Write) => device.write(sector, &self.buffer)?,
            (Kind::Partition(instance, part), Op::Read) => {
                instance.read(*part, sector, &mut self.buffer)?;
            }
            (Kind::Partition(instance, part), Op::Write) => {
                instance.write(*part, sector, &self.buffer)?;
            }
            (Kind::Lists(instance, part), Op::Read) => {
                std::hint::black_box(instance.read_list(*part, sector, len)?);
            }
            (Kind::Lists(instance, part), Op::Write) => {
                instance.write_list(*part, sector, &self.buffer)?;
            }
        }
        Ok(())
    }
}

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The disk could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The disk or image could not be opened.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// A native request failed.
    #[error("native I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A device request failed.
    #[error("the device: {0}")]
    Device(#[from] blockpart_core::DeviceError),
    /// The partition failed a request.
    #[error(transparent)]
    Partition(#[from] Error),
    /// The request size does not fit this machine or the disk.
    #[error("requests of {0} bytes do not fit the disk")]
    Size(u64),
}

/// Sector positions of successive requests of `request_sectors` on a disk of `disk_sectors`.
#[derive(Clone)]
pub struct Positions {
    pattern: Pattern,
    request_sectors: u64,
    /// How many whole requests fit on the disk.
    slots: u64,
    next: u64,
    state: u64,
}

impl Positions {
    /// Positions from the start of the disk; `None` if not one request fits.
    pub fn new(pattern: Pattern, request_sectors: u64, disk_sectors: u64) -> Option<Self> {
        let slots = disk_sectors
            .checked_div(request_sectors)
            .filter(|n| *n > 0)?;
        Some(Self {
            pattern,
            request_sectors,
            slots,
            next: 0,
            state: 0x9E37_79B9_7F4A_7C15,
        })
    }
}

impl Iterator for Positions {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let slot = match self.pattern {
            Pattern::Sequential => {
                let slot = self.next;
                self.next = self.next.saturating_add(1).checked_rem(self.slots)?;
                slot
            }
            Pattern::Random => {
                // xorshift64: cheap next to any request, and the same sequence on every run.
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                self.state.checked_rem(self.slots)?
            }
        };
        // slot < slots = disk_sectors / request_sectors: the product is within the disk.
        slot.checked_mul(self.request_sectors)
    }
}

/// Requests made in a time, one way.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// How they were made.
    pub via: Via,
    /// Reads or writes.
    pub op: Op,
    /// Where they went.
    pub pattern: Pattern,
    /// Bytes per request.
    pub request_bytes: u64,
    /// Requests completed.
    pub requests: u64,
    /// Time they took.
    pub elapsed: Duration,
}

#[expect(
    clippy::as_conversions,
    clippy::cast_precision_loss,
    reason = "rates are floats; counts past 2^53 lose digits that do not matter"
)]
impl Measurement {
    /// Mean time per request, in nanoseconds.
    pub fn nanos_per_request(&self) -> f64 {
        self.elapsed.as_secs_f64() * 1e9 / self.requests.max(1) as f64
    }

    /// Requests per second.
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Throughput in MB/s (10^6 bytes).
    pub fn megabytes_per_second(&self) -> f64 {
        self.requests_per_second() * self.request_bytes as f64 / 1e6
    }
}

/// One workload: reads or writes of one size and pattern.
#[derive(Clone, Copy, Debug)]
pub struct Workload {
    /// Reads or writes.
    pub op: Op,
    /// Where requests go.
    pub pattern: Pattern,
    /// Bytes per request.
    pub request_bytes: u64,
}

/// Runs `workload` every [`Via`] way on `disk`, in `rounds` interleaved rounds of `slice` each
/// (so a slow moment of the machine hits every way alike), and keeps each way's best round.
/// The measurements come in the order of [`Via::ALL`].
pub fn measure(
    runtime: &Runtime,
    disk: &BenchDisk<'_>,
    workload: Workload,
    rounds: u32,
    slice: Duration,
) -> Result<Vec<Measurement>, BenchError> {
    let size = || BenchError::Size(workload.request_bytes);
    let request_sectors = disk
        .options
        .sector_size
        .sectors_in(workload.request_bytes)
        .ok_or_else(size)?;
    let disk_sectors = disk.sectors()?;
    let positions =
        Positions::new(workload.pattern, request_sectors, disk_sectors).ok_or_else(size)?;
    let writable = workload.op == Op::Write;
    let mut runs = Vec::new();
    for via in Via::ALL {
        let target = Target::open(via, disk, workload.request_bytes, writable, runtime)?;
        runs.push((via, target, positions.clone(), None::<Measurement>));
    }
    for _ in 0..rounds.max(1) {
        for (via, target, positions, best) in &mut runs {
            let round = time(target, workload.op, positions, slice)?;
            let round = Measurement {
                via: *via,
                op: workload.op,
                pattern: workload.pattern,
                request_bytes: workload.request_bytes,
                requests: round.0,
                elapsed: round.1,
            };
            if best
                .as_ref()
                .is_none_or(|best| round.nanos_per_request() < best.nanos_per_request())
            {
                *best = Some(round);
            }
        }
    }
    Ok(runs.into_iter().filter_map(|run| run.3).collect())
}

/// Makes requests for about `slice`: how many, and how long they took.
fn time(
    target: &mut Target,
    op: Op,
    positions: &mut Positions,
    slice: Duration,
) -> Result<(u64, Duration), BenchError> {
    let start = Instant::now();
    let mut requests = 0u64;
    while start.elapsed() < slice {
        // Batches of requests between clock reads, so that reading the clock costs little.
        for sector in positions.by_ref().take(16) {
            target.request(op, sector)?;
            requests = requests.saturating_add(1);
        }
    }
    Ok((requests, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_positions_wrap_at_the_last_whole_request() {
        let positions: Vec<u64> = Positions::new(Pattern::Sequential, 8, 30)
            .unwrap()
            .take(5)
            .collect();
        assert_eq!(positions, [0, 8, 16, 0, 8]);
    }

    #[test]
    fn random_positions_are_aligned_whole_requests_on_the_disk_and_repeat_per_run() {
        let run = || Positions::new(Pattern::Random, 8, 1001).unwrap().take(1000);
        assert!(run().all(|sector| sector % 8 == 0 && sector + 8 <= 1001));
        assert!(run().eq(run()));
        assert!(run().collect::<std::collections::HashSet<_>>().len() > 100);
    }

    #[test]
    fn no_positions_when_not_one_request_fits() {
        assert!(Positions::new(Pattern::Sequential, 8, 7).is_none());
        assert!(Positions::new(Pattern::Random, 0, 7).is_none());
    }
}
