//! What one instance of a guest may use: memory, table entries and time per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};

/// How often the engine's epoch advances: the resolution of [`Limits::call_time`].
pub const TICK: Duration = Duration::from_millis(10);

/// Bounds on one [`Instance`](crate::Instance). A guest that goes past one gets an error for
/// that call (a trap), never the host's memory or a hung thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory, in bytes. A read or write of the largest transfer (64 MiB)
    /// needs a little more than that in the guest.
    pub memory_bytes: usize,
    /// Largest table, in elements.
    pub table_elements: usize,
    /// Longest time one call may run guest code, to within [`TICK`] (rounded up to whole ticks,
    /// with one tick of grace: at least this long, at most two ticks longer). Time the host spends in
    /// the guest's device requests does not count: a slow disk is not the guest's doing. A
    /// call is stopped the next time the guest runs once it is over.
    pub call_time: Duration,
}

impl Default for Limits {
    /// 256 MiB of memory, 10 000 table elements, 10 s per call: far above what the built-in
    /// partitioner needs (a few MiB beside a transfer, microseconds per call), far below what
    /// would hurt a host.
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            table_elements: 10_000,
            call_time: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The store limiter for one instance: one instance, one memory and table each.
    pub(crate) fn store_limits(&self) -> StoreLimits {
        StoreLimitsBuilder::new()
            .memory_size(self.memory_bytes)
            .table_elements(self.table_elements)
            .trap_on_grow_failure(true)
            .build()
    }

    /// [`Limits::call_time`] in epoch ticks, at least one.
    pub(crate) fn ticks(&self) -> u64 {
        let ticks = self.call_time.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

/// The ticks an engine's epoch has advanced by, readable by the host (wasmtime keeps its own
/// count private): the clock that separates a call's guest time from its device time.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    /// Ticks so far.
    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Advances `engine`'s epoch, and the clock returned, every [`TICK`], from a thread that ends
/// with the engine.
pub(crate) fn start_ticking(engine: &Engine) -> std::io::Result<Clock> {
    let engine = engine.weak();
    let clock = Clock::default();
    let ticks = Arc::clone(&clock.0);
    thread::Builder::new()
        .name("blockpart-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                ticks.fetch_add(1, Ordering::Relaxed);
                engine.increment_epoch();
                drop(engine);
                thread::sleep(TICK);
            }
        })?;
    Ok(clock)
}
