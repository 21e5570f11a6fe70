//! `blockpart` for nbdkit: a plugin that serves one partition of a disk image (or the whole
//! disk) to NBD clients, its table read and every request bounds-checked by the partitioner
//! component, in a Wasmtime sandbox inside the server.
//!
//! ```sh
//! nbdkit target/release/libblockpart_nbdkit.so disk.img partition=2
//! ```
//!
//! The parameters are parsed by [`config`], NBD byte ranges become sector requests in
//! [`request`], and [`served`] makes them calls into one component instance per connection.
//! This file is the glue to nbdkit: every callback runs inside [`guarded`], so no panic
//! unwinds into nbdkit's C (which would abort the server).
#![cfg_attr(
    test,
    allow(
        clippy::as_conversions,
        clippy::arithmetic_side_effects,
        clippy::cast_possible_truncation
    )
)]
// `nbdkit::plugin!` exports `plugin_init` with `#[no_mangle]`, which this lint counts as unsafe.
#![allow(
    unsafe_code,
    reason = "the nbdkit crate's `plugin!` entry point is `#[no_mangle]`"
)]
// Unit tests leave out the entry point, and with it the callbacks' only caller.
#![cfg_attr(test, allow(dead_code))]

pub mod config;
pub mod request;
pub mod served;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock, PoisonError};

use nbdkit::{Flags, Server, ThreadModel};

use config::{Builder, Settings};
use served::{Failure, Opener, Served};

/// The parameters as nbdkit passes them, until `config_complete`.
static BUILDER: Mutex<Option<Builder>> = Mutex::new(None);
/// The parameters, checked.
static SETTINGS: OnceLock<Settings> = OnceLock::new();
/// The compiled component every connection instantiates, made after nbdkit forks: the
/// runtime's clock is a thread, and threads do not survive a fork.
static OPENER: OnceLock<Opener> = OnceLock::new();

/// Runs one callback: a [`Failure`] becomes nbdkit's error (logged, and its errno sent to the
/// client), and a panic becomes `EIO` instead of unwinding into C.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, Failure>) -> nbdkit::Result<T> {
    let failure = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Failure::io(format!("internal error (a panic) in {what}: {why}"))
        }
    };
    // nbdkit's crate turns the message into a C string, and panics on a NUL.
    let message = format!("blockpart: {}", failure.message).replace('\0', "\\0");
    Err(nbdkit::Error::new(failure.errno, message))
}

fn settings() -> Result<&'static Settings, Failure> {
    SETTINGS
        .get()
        .ok_or_else(|| Failure::io("the plugin was not configured"))
}

/// One NBD connection.
struct Blockpart {
    served: Served,
}

impl Server for Blockpart {
    fn name() -> &'static str {
        "blockpart"
    }

    fn longname() -> Option<&'static str> {
        Some("blockpart: partitions through a sandboxed WebAssembly partitioner")
    }

    fn version() -> Option<&'static str> {
        Some(env!("CARGO_PKG_VERSION"))
    }

    fn description() -> Option<&'static str> {
        Some(
            "Serves a partition of a disk image, by its MBR or GPT entry, or the whole disk. \
             The partition table is read and every request checked by the blockpart \
             partitioner component, run by Wasmtime.",
        )
    }

    fn magic_config_key() -> Option<&'static str> {
        Some("file")
    }

    fn config_help() -> Option<&'static str> {
        Some(config::HELP)
    }

    fn dump_plugin() {
        // A panic here would abort nbdkit; printing cannot fail in a way worth one.
        let _ = catch_unwind(|| {
            println!("blockpart_wasmtime={}", blockpart_host::WASMTIME_VERSION);
            println!("blockpart_instances=one per connection");
        });
    }

    fn config(key: &str, value: &str) -> nbdkit::Result<()> {
        guarded("config", || {
            let mut builder = BUILDER.lock().unwrap_or_else(PoisonError::into_inner);
            builder
                .get_or_insert_with(Builder::default)
                .set(key, value)
                .map_err(|error| Failure {
                    errno: libc::EINVAL,
                    message: error.to_string(),
                })
        })
    }

    fn config_complete() -> nbdkit::Result<()> {
        guarded("config_complete", || {
            let builder = BUILDER.lock().unwrap_or_else(PoisonError::into_inner);
            let settings = builder
                .as_ref()
                .map_or(Err(config::ConfigError::NoFile), Builder::finish)
                .map_err(|error| Failure {
                    errno: libc::EINVAL,
                    message: error.to_string(),
                })?;
            SETTINGS
                .set(settings)
                .map_err(|_| Failure::io("configured twice"))
        })
    }

    fn thread_model() -> nbdkit::Result<ThreadModel> {
        // One request at a time per connection, as one instance serves one call at a time;
        // connections run in parallel, each with its own instance.
        Ok(ThreadModel::SerializeRequests)
    }

    fn get_ready() -> nbdkit::Result<()> {
        // Before nbdkit forks and reports success: open the partition once, so a missing
        // entry, a damaged table or a bad component stops the server with the reason.
        guarded("get_ready", || Opener::new(settings()?.clone())?.check())
    }

    fn after_fork() -> nbdkit::Result<()> {
        guarded("after_fork", || {
            let opener = Opener::new(settings()?.clone())?;
            OPENER
                .set(opener)
                .map_err(|_| Failure::io("after_fork called twice"))
        })
    }

    fn open(read_only: bool) -> nbdkit::Result<Box<dyn Server>> {
        guarded("open", || {
            let opener = OPENER
                .get()
                .ok_or_else(|| Failure::io("the partitioner was not loaded"))?;
            let server: Box<dyn Server> = Box::new(Self {
                served: opener.connect(read_only)?,
            });
            Ok(server)
        })
    }

    fn get_size(&self) -> nbdkit::Result<i64> {
        guarded("get_size", || {
            i64::try_from(self.served.size()).map_err(|_| Failure::io("partition too large"))
        })
    }

    fn can_write(&self) -> nbdkit::Result<bool> {
        Ok(!self.served.read_only())
    }

    fn can_flush(&self) -> nbdkit::Result<bool> {
        Ok(true)
    }

    fn can_trim(&self) -> nbdkit::Result<bool> {
        Ok(!self.served.read_only())
    }

    fn can_zero(&self) -> nbdkit::Result<bool> {
        Ok(!self.served.read_only())
    }

    fn can_fast_zero(&self) -> nbdkit::Result<bool> {
        Ok(false)
    }

    fn can_multi_conn(&self) -> nbdkit::Result<bool> {
        // Every connection writes straight to the same file (no cache in the plugin or the
        // guest), and a flush is `fdatasync` of that file: it makes every connection's
        // completed writes durable, which is what multi-conn promises.
        Ok(true)
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> nbdkit::Result<()> {
        guarded("pread", || self.served.read(buf, offset))
    }

    fn write_at(&self, buf: &[u8], offset: u64, _flags: Flags) -> nbdkit::Result<()> {
        // FUA is emulated by nbdkit with a flush (we have `flush` and no `can_fua`).
        guarded("pwrite", || self.served.write(buf, offset))
    }

    fn flush(&self) -> nbdkit::Result<()> {
        guarded("flush", || self.served.flush())
    }

    fn trim(&self, count: u32, offset: u64, _flags: Flags) -> nbdkit::Result<()> {
        guarded("trim", || self.served.trim(count, offset))
    }

    fn zero(&self, count: u32, offset: u64, _flags: Flags) -> nbdkit::Result<()> {
        guarded("zero", || self.served.zero(count, offset))
    }
}

// The entry point nbdkit looks for. Not in unit tests: they run without nbdkit, whose
// functions the crate's glue calls.
#[cfg(not(test))]
mod entry {
    #![allow(
        missing_docs,
        reason = "`plugin_init` is made by the nbdkit crate's macro"
    )]
    use super::Blockpart;

    nbdkit::plugin!(Blockpart {
        config,
        config_complete,
        config_help,
        dump_plugin,
        thread_model,
        get_ready,
        after_fork,
        can_write,
        can_flush,
        can_trim,
        can_zero,
        can_fast_zero,
        can_multi_conn,
        write_at,
        flush,
        trim,
        zero
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_of_the_request() {
        let error = guarded("pread", || -> Result<(), Failure> { panic!("boom") }).unwrap_err();
        assert!(
            error.to_string().contains("panic) in pread: boom"),
            "{error}"
        );
    }

    #[test]
    fn a_message_with_a_nul_stays_a_c_string() {
        let error = guarded("open", || -> Result<(), Failure> {
            Err(Failure::io("a\0b"))
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "blockpart: a\\0b");
    }
}
