//! A device that fails on purpose, for testing what sits above a device: it wraps any
//! [`BlockDevice`], fails the requests its [`Faults`] name, passes the others through, and
//! records every request it receives.

use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use blockpart_core::{BlockDevice, DeviceError, Info};

/// Which requests fail. Requests are counted from 1, `info` aside.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The request of this number fails with an I/O error.
    pub fail_nth: Option<u64>,
    /// Reads that touch any of these device sectors fail with an I/O error.
    pub bad_reads: Option<Range<u64>>,
    /// Writes, discards and write-zeroes that touch any of these sectors fail likewise.
    pub bad_writes: Option<Range<u64>>,
    /// From the request of this number on, every request fails with `disconnected`.
    pub disconnect_at: Option<u64>,
}

/// What a request asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A read.
    Read,
    /// A write.
    Write,
    /// A flush.
    Flush,
    /// A discard.
    Discard,
    /// A write-zeroes.
    WriteZeroes,
}

impl Op {
    fn writes(self) -> bool {
        matches!(self, Op::Write | Op::Discard | Op::WriteZeroes)
    }
}

/// One request a [`FaultyDevice`] received, in device sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// What it asked for.
    pub op: Op,
    /// First sector (0 for a flush).
    pub sector_start: u64,
    /// Number of sectors (0 for a flush).
    pub sectors: u64,
    /// Whether the device failed it.
    pub failed: bool,
}

/// The requests a [`FaultyDevice`] received, in order; shared, so a test can read it after
/// handing the device over.
pub type Log = Arc<Mutex<Vec<Request>>>;

/// A device that fails the requests its [`Faults`] name. The error of an injected I/O fault
/// names the request in device sectors.
pub struct FaultyDevice<D> {
    inner: D,
    faults: Faults,
    log: Log,
}

impl<D: BlockDevice> FaultyDevice<D> {
    /// `inner`, failing as `faults` say.
    pub fn new(inner: D, faults: Faults) -> Self {
        Self {
            inner,
            faults,
            log: Log::default(),
        }
    }

    /// The log of requests, to read after the device has been handed over.
    pub fn log(&self) -> Log {
        Arc::clone(&self.log)
    }

    /// Records a request and decides its fate; `Ok` means pass it through.
    fn admit(&self, op: Op, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let number = u64::try_from(log.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let end = sector_start.saturating_add(sectors);
        let touches = |bad: &Option<Range<u64>>| {
            bad.as_ref()
                .is_some_and(|bad| sector_start < bad.end && bad.start < end)
        };
        let bad_sectors = if op.writes() {
            touches(&self.faults.bad_writes)
        } else {
            op == Op::Read && touches(&self.faults.bad_reads)
        };
        let outcome = if self.faults.disconnect_at.is_some_and(|at| number >= at) {
            Err(DeviceError::Disconnected)
        } else if bad_sectors || self.faults.fail_nth == Some(number) {
            Err(DeviceError::Io(format!(
                "injected fault: {op:?} of sectors {sector_start}..+{sectors}"
            )))
        } else {
            Ok(())
        };
        log.push(Request {
            op,
            sector_start,
            sectors,
            failed: outcome.is_err(),
        });
        outcome
    }

    /// Whole sectors in `len` bytes, for the log.
    fn sectors_in(&self, len: u64) -> u64 {
        len.checked_div(u64::from(self.inner.info().sector_size))
            .unwrap_or(0)
    }
}

impl<D: BlockDevice> BlockDevice for FaultyDevice<D> {
    fn info(&self) -> Info {
        self.inner.info()
    }

    fn read(&self, sector_start: u64, len: u64) -> Result<Vec<u8>, DeviceError> {
        self.admit(Op::Read, sector_start, self.sectors_in(len))?;
        self.inner.read(sector_start, len)
    }

    fn write(&self, sector_start: u64, data: &[u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
        self.admit(Op::Write, sector_start, self.sectors_in(len))?;
        self.inner.write(sector_start, data)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.admit(Op::Flush, 0, 0)?;
        self.inner.flush()
    }

    fn discard(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.admit(Op::Discard, sector_start, sectors)?;
        self.inner.discard(sector_start, sectors)
    }

    fn write_zeroes(&self, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        self.admit(Op::WriteZeroes, sector_start, sectors)?;
        self.inner.write_zeroes(sector_start, sectors)
    }
}
