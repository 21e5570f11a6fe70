//! A device that fails on purpose, for testing what sits above a device: it wraps any
//! [`BlockDevice`], fails the requests its [`Faults`] name, passes the others through, and
//! records every request it receives, and every handle made and dropped, in a shared [`Log`].
//!
//! With no faults it is a plain forwarding wrapper: the conformance suite counts requests and
//! live device handles with it, and tests watch a device handed to a guest get dropped.

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{BlockDevice, DeviceError, Info};

/// Which requests fail. Requests are counted from 1, over every handle sharing a [`Log`],
/// `info` aside.
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
    /// Every request takes this long before it is served or failed: a slow disk.
    pub delay: Option<Duration>,
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
    /// Whether the device failed it (an injected fault; the inner device's own refusals are
    /// not recorded).
    pub failed: bool,
}

/// What the handles sharing a [`Log`] saw.
#[derive(Debug, Default)]
struct Record {
    requests: Vec<Request>,
    made: usize,
    dropped: usize,
}

/// The requests the handles of a device received, in order, and how many handles were made
/// and dropped. Clones share it, so a test can keep one and read it after handing the device
/// over.
#[derive(Clone, Debug, Default)]
pub struct Log(Arc<Mutex<Record>>);

impl Log {
    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.record().requests.clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> u64 {
        u64::try_from(self.record().requests.len()).unwrap_or(u64::MAX)
    }

    /// Handles made with this log.
    pub fn made(&self) -> usize {
        self.record().made
    }

    /// Handles made with this log and since dropped.
    pub fn dropped(&self) -> usize {
        self.record().dropped
    }

    /// Handles made with this log and not yet dropped.
    pub fn live(&self) -> usize {
        let record = self.record();
        record.made.saturating_sub(record.dropped)
    }

    /// The record, even if a thread panicked holding it: the counts stay meaningful.
    fn record(&self) -> MutexGuard<'_, Record> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A handle to a device that fails the requests its [`Faults`] name and records every request
/// in its [`Log`]. The error of an injected I/O fault names the request in device sectors.
///
/// It is `Send` when the device is, so it can be handed to a guest.
#[derive(Debug)]
pub struct FaultyDevice<D> {
    inner: D,
    faults: Faults,
    log: Log,
}

impl<D: BlockDevice> FaultyDevice<D> {
    /// `inner`, failing as `faults` say, with a log of its own.
    pub fn new(inner: D, faults: Faults) -> Self {
        Self::with_log(inner, faults, &Log::default())
    }

    /// `inner`, failing as `faults` say, recording into `log`: handles of one device (clones
    /// of a memory device, files opened twice) share a log, so its counts are the device's.
    pub fn with_log(inner: D, faults: Faults, log: &Log) -> Self {
        let mut record = log.record();
        record.made = record.made.saturating_add(1);
        drop(record);
        Self {
            inner,
            faults,
            log: log.clone(),
        }
    }

    /// The log, to read after the device has been handed over.
    pub fn log(&self) -> Log {
        self.log.clone()
    }

    /// Records a request and decides its fate; `Ok` means pass it through.
    fn admit(&self, op: Op, sector_start: u64, sectors: u64) -> Result<(), DeviceError> {
        let mut record = self.log.record();
        let number = u64::try_from(record.requests.len())
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
        record.requests.push(Request {
            op,
            sector_start,
            sectors,
            failed: outcome.is_err(),
        });
        drop(record);
        if let Some(delay) = self.faults.delay {
            std::thread::sleep(delay);
        }
        outcome
    }

    /// Whole sectors in `len` bytes, for the log.
    fn sectors_in(&self, len: u64) -> u64 {
        len.checked_div(u64::from(self.inner.info().sector_size))
            .unwrap_or(0)
    }
}

impl<D> Drop for FaultyDevice<D> {
    fn drop(&mut self) {
        let mut record = self.log.record();
        record.dropped = record.dropped.saturating_add(1);
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

    fn read_into(&self, sector_start: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
        self.admit(Op::Read, sector_start, self.sectors_in(len))?;
        self.inner.read_into(sector_start, buf)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemDevice, SectorSize};

    fn memory() -> MemDevice {
        MemDevice::new(vec![0; 8 * 512], SectorSize::B512, true).unwrap()
    }

    #[test]
    fn handles_sharing_a_log_count_requests_and_live_handles() {
        let log = Log::default();
        let first = FaultyDevice::with_log(memory(), Faults::default(), &log);
        let second = FaultyDevice::with_log(memory(), Faults::default(), &log);
        assert_eq!((log.made(), log.live()), (2, 2));
        first.read(0, 512).unwrap();
        second.write(1, &[1; 1024]).unwrap();
        second.flush().unwrap();
        assert_eq!(log.request_count(), 3);
        let ops: Vec<Op> = log.requests().iter().map(|r| r.op).collect();
        assert_eq!(ops, [Op::Read, Op::Write, Op::Flush]);
        assert_eq!(log.requests()[1].sectors, 2);
        drop(first);
        assert_eq!((log.made(), log.dropped(), log.live()), (2, 1, 1));
        drop(second);
        assert_eq!(log.live(), 0);
    }

    #[test]
    fn faults_are_numbered_across_the_handles_of_a_log() {
        let faults = Faults {
            fail_nth: Some(2),
            ..Faults::default()
        };
        let log = Log::default();
        let first = FaultyDevice::with_log(memory(), faults.clone(), &log);
        let second = FaultyDevice::with_log(memory(), faults, &log);
        assert!(first.read(0, 512).is_ok());
        assert!(matches!(second.read(0, 512), Err(DeviceError::Io(_))));
        assert!(first.read(0, 512).is_ok());
        let failed: Vec<bool> = log.requests().iter().map(|r| r.failed).collect();
        assert_eq!(failed, [false, true, false]);
    }

    #[test]
    fn a_faulty_device_over_a_sendable_device_is_sendable() {
        fn send<T: Send>() {}
        send::<FaultyDevice<std::fs::File>>();
    }
}
