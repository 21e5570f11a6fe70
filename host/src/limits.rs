//! What one instance of a guest may use: memory, table entries and time per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter, Trap, bail};

/// How often the engine's epoch advances: the resolution of [`Limits::call_time`].
pub const TICK: Duration = Duration::from_millis(10);

/// Bounds on one [`Instance`](crate::Instance). A guest that goes past one gets an error for
/// that call (a trap) that names the limit and its value, never the host's memory or a hung
/// thread. A limit below what the component needs to start (its initial memory, say) fails
/// [`Runtime::instantiate`](crate::Runtime::instantiate), with the error naming what it needs.
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
    /// The store limiter for one instance.
    pub(crate) fn limiter(self) -> Limiter {
        Limiter(self)
    }

    /// Why a guest was stopped by [`Limits::call_time`]: the limit, and wasmtime's trap.
    pub(crate) fn past_call_time(&self) -> wasmtime::Error {
        wasmtime::Error::from(Trap::Interrupt).context(format!(
            "the guest ran past its time limit of {} ms",
            self.call_time.as_millis()
        ))
    }

    /// [`Limits::call_time`] in epoch ticks, at least one.
    pub(crate) fn ticks(&self) -> u64 {
        let ticks = self.call_time.as_nanos().div_ceil(TICK.as_nanos());
        u64::try_from(ticks).unwrap_or(u64::MAX).max(1)
    }
}

/// Holds an instance's memories and tables to its [`Limits`]. A guest that asks for more
/// traps, with an error that names the limit; a memory or table created past it (at
/// instantiation, when `current` is 0) fails the instantiation, saying what it needs.
#[derive(Debug, Default)]
pub(crate) struct Limiter(Limits);

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.0.memory_bytes;
        if desired <= limit {
            return Ok(true);
        }
        let (limit, desired) = (bytes(limit), bytes(desired));
        if current == 0 {
            bail!(
                "the memory limit of {limit} is below the {desired} the component needs to start"
            );
        }
        bail!("the guest reached its memory limit of {limit} (it asked for {desired})")
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing the guest's memory failed"))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let limit = self.0.table_elements;
        if desired <= limit {
            return Ok(true);
        }
        if current == 0 {
            bail!(
                "the table limit of {limit} elements is below the {desired} the component \
                 needs to start"
            );
        }
        bail!("the guest reached its table limit of {limit} elements (it asked for {desired})")
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(error.context("growing the guest's table failed"))
    }
}

/// `n` bytes in the largest of MiB, KiB and bytes that holds it whole (memories grow by
/// 64 KiB pages).
fn bytes(n: usize) -> String {
    const MIB: usize = 1 << 20;
    const KIB: usize = 1 << 10;
    match (n.checked_rem(MIB), n.checked_rem(KIB)) {
        (Some(0), _) => format!("{} MiB", n / MIB),
        (_, Some(0)) => format!("{} KiB", n / KIB),
        _ => format!("{n} bytes"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_past_the_limit_is_refused_naming_the_limit() {
        let mut limiter = Limits {
            memory_bytes: 16 << 20,
            ..Limits::default()
        }
        .limiter();
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(limiter.memory_growing(1 << 20, 16 << 20, None).unwrap());
        let start = limiter.memory_growing(0, 17 << 20, None).unwrap_err();
        assert_eq!(
            start.to_string(),
            "the memory limit of 16 MiB is below the 17 MiB the component needs to start"
        );
        let grow = limiter.memory_growing(1 << 20, (16 << 20) + (64 << 10), None);
        assert_eq!(
            grow.unwrap_err().to_string(),
            "the guest reached its memory limit of 16 MiB (it asked for 16448 KiB)"
        );
    }

    #[test]
    fn the_time_limit_names_its_value() {
        let limits = Limits {
            call_time: Duration::from_millis(250),
            ..Limits::default()
        };
        let error = limits.past_call_time();
        assert_eq!(
            format!("{error:#}"),
            "the guest ran past its time limit of 250 ms: wasm trap: interrupt"
        );
    }
}
