//! Which standard streams were closed when blockpart started.
//!
//! Rust's runtime reopens a closed descriptor 0, 1 or 2 as `/dev/null` before `main`, so that a
//! file opened later cannot take its number. From then on a closed standard output and a user's
//! `/dev/null` (opened read-write, as Python's `subprocess.DEVNULL` and systemd's
//! `StandardOutput=null` do) look the same, and a `cat >&-` would write into nothing and exit
//! 0. So the check runs earlier: the C runtime calls the functions of `.init_array` before it
//! calls `main`, and the one here records which of the three descriptors were closed.

use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::{Result, bail};

/// A standard stream a command reads or writes.
#[derive(Clone, Copy, Debug)]
pub enum Stream {
    Input,
    Output,
}

impl Stream {
    /// Its descriptor's bit in [`CLOSED_AT_START`].
    fn bit(self) -> u8 {
        match self {
            Self::Input => 1 << 0,
            Self::Output => 1 << 1,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Input => "standard input",
            Self::Output => "standard output",
        }
    }
}

/// Bit `fd` is set if descriptor `fd` was closed at start.
static CLOSED_AT_START: AtomicU8 = AtomicU8::new(0);

#[expect(
    unsafe_code,
    reason = "an .init_array entry is the only code that runs before Rust's runtime reopens \
              closed standard descriptors"
)]
#[used]
#[unsafe(link_section = ".init_array")]
static RECORD_CLOSED_STREAMS: extern "C" fn() = record_closed_streams;

extern "C" fn record_closed_streams() {
    for fd in 0..3u8 {
        #[expect(
            unsafe_code,
            reason = "fcntl(F_GETFD) only asks whether the number is open; a closed one is EBADF"
        )]
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd.into()) };
        if rustix::io::fcntl_getfd(borrowed) == Err(rustix::io::Errno::BADF) {
            CLOSED_AT_START.fetch_or(1 << fd, Ordering::Relaxed);
        }
    }
}

/// Fails if `stream` was closed when blockpart started: a copy would read nothing or write
/// into nothing, and succeed.
pub fn ensure_open(stream: Stream) -> Result<()> {
    if CLOSED_AT_START.load(Ordering::Relaxed) & stream.bit() != 0 {
        bail!("{} is closed", stream.name());
    }
    Ok(())
}
