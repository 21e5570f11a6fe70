//! A compiled component, ready to be instantiated many times: its engine (with the clock
//! that ticks it), the compile cache, the limits of its instances, and its pre-instantiation.
//! Written once for every world the host runs: [`Runtime`] here, and the filesystem reader's
//! runtime (`reader.rs`).

use std::path::Path;

use wasmtime::component::{Component, HasSelf, Instance, InstancePre, Linker};
use wasmtime::{Cache, CacheConfig, Config, Engine, Store};

use super::bindings::{Partitioner, PartitionerIndices};
use super::borrowing_write::add_borrowing_write;
use super::state::State;
use super::store::GuestStore;
use super::{Instance as PartitionerInstance, PARTITIONER_COMPONENT};
use crate::limits::{self, Clock, Limits};

/// What the host calls of a world's exports: found in its component before instantiating it,
/// then loaded from each instance.
pub(crate) trait Exports: Clone + Sized {
    /// The typed exports of one instance.
    type Loaded;

    /// The exports the host calls, found in `pre`'s component; a component without them is
    /// refused here, before any instance is made.
    fn find(pre: &InstancePre<State>) -> wasmtime::Result<Self>;

    /// Those exports of `instance`.
    fn load(&self, store: &mut Store<State>, instance: &Instance)
    -> wasmtime::Result<Self::Loaded>;

    /// Adds what the world imports to `linker`: the partitioner's device interfaces, unless
    /// the world imports something else (the image reader's files).
    fn link(linker: &mut Linker<State>) -> wasmtime::Result<()> {
        // Every partitioner world imports the device interfaces, and only those (the
        // reader's bindings take them from the partitioner's with `with:`).
        Partitioner::add_to_linker::<State, HasSelf<State>>(linker, |state| state)?;
        add_borrowing_write(linker)
    }
}

/// The partitioner's own exports: `partition` and `partition-table`.
impl Exports for PartitionerIndices {
    type Loaded = Partitioner;

    fn find(pre: &InstancePre<State>) -> wasmtime::Result<Self> {
        Self::new(pre)
    }

    fn load(&self, store: &mut Store<State>, instance: &Instance) -> wasmtime::Result<Partitioner> {
        PartitionerIndices::load(self, store, instance)
    }
}

/// A compiled component whose exports are `W`, and the limits of its instances.
#[derive(Clone)]
pub(crate) struct Compiled<W> {
    pre: InstancePre<State>,
    exports: W,
    limits: Limits,
    clock: Clock,
}

impl<W: Exports> Compiled<W> {
    /// `bytes`, compiled.
    pub(crate) fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::with_config(&Config::new(), bytes)
    }

    /// `bytes`, compiled, or loaded from wasmtime's cache directory.
    pub(crate) fn cached(bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::cached_with(CacheConfig::new(), bytes)
    }

    /// `bytes`, compiled, or loaded from the cache in `dir`.
    pub(crate) fn cached_in(dir: &Path, bytes: &[u8]) -> wasmtime::Result<Self> {
        let mut cache = CacheConfig::new();
        cache.with_directory(dir);
        Self::cached_with(cache, bytes)
    }

    /// The same component, its instances bound by `limits`.
    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// A fresh instance, in a store of its own: the store, and the exports the host calls.
    pub(crate) fn instantiate(&self) -> wasmtime::Result<(GuestStore, W::Loaded)> {
        let mut store = GuestStore::new(self.pre.engine(), self.limits, &self.clock);
        let instance = self.pre.instantiate(store.store_mut())?;
        let exports = self.exports.load(store.store_mut(), &instance)?;
        Ok((store, exports))
    }

    fn cached_with(cache: CacheConfig, bytes: &[u8]) -> wasmtime::Result<Self> {
        Self::with_config(&cached_config(cache)?, bytes)
    }

    fn with_config(config: &Config, bytes: &[u8]) -> wasmtime::Result<Self> {
        let (engine, clock) = engine(config)?;
        let component = component(&engine, bytes)?;
        let mut linker = Linker::new(&engine);
        W::link(&mut linker)?;
        let pre = linker.instantiate_pre(&component)?;
        let exports = W::find(&pre)?;
        Ok(Self {
            pre,
            exports,
            limits: Limits::default(),
            clock,
        })
    }
}

/// The configuration of [`Runtime::cached`]: `cache`, if only this user can write to it.
fn cached_config(cache: CacheConfig) -> wasmtime::Result<Config> {
    let cache = Cache::new(cache)?;
    let dir = cache.directory();
    crate::cache::check(dir).map_err(|why| {
        wasmtime::format_err!("not using the compile cache in {}: {why}", dir.display())
    })?;
    let mut config = Config::new();
    config.cache(Some(cache));
    Ok(config)
}

/// `bytes` compiled as a component. A file that does not start as WebAssembly is refused in
/// one line: wasmparser's own message for it spans a dozen, listing the bytes it found.
fn component(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    if !bytes.starts_with(b"\0asm") {
        return Err(wasmtime::format_err!(
            "not a WebAssembly component: it does not start with \\0asm"
        ));
    }
    Component::new(engine, bytes)
}

/// An engine with `config`, epoch interruption on, and the clock that ticks it.
fn engine(config: &Config) -> wasmtime::Result<(Engine, Clock)> {
    let mut config = config.clone();
    config.epoch_interruption(true);
    // A trap says what went wrong and in which call; a backtrace through the guest's
    // mangled, merged functions would only mislead.
    config.wasm_backtrace_max_frames(None);
    let engine = Engine::new(&config)?;
    let clock = limits::start_ticking(&engine)?;
    Ok((engine, clock))
}

/// The public constructors of a runtime that wraps a [`Compiled`] (`Runtime` here, and
/// `ReaderRuntime`), written once: each takes its own docs, and `new` its built-in component.
macro_rules! constructors {
    (
        $(#[$new:meta])* new = $built_in:expr;
        $(#[$from_component:meta])* from_component;
        $(#[$cached:meta])* cached;
        $(#[$cached_in:meta])* cached_in;
        $(#[$with_limits:meta])* with_limits;
    ) => {
        $(#[$new])*
        pub fn new() -> wasmtime::Result<Self> {
            Self::from_component($built_in)
        }

        $(#[$from_component])*
        pub fn from_component(bytes: &[u8]) -> wasmtime::Result<Self> {
            Compiled::from_component(bytes).map(Self)
        }

        $(#[$cached])*
        pub fn cached(bytes: &[u8]) -> wasmtime::Result<Self> {
            Compiled::cached(bytes).map(Self)
        }

        $(#[$cached_in])*
        pub fn cached_in(dir: &std::path::Path, bytes: &[u8]) -> wasmtime::Result<Self> {
            Compiled::cached_in(dir, bytes).map(Self)
        }

        $(#[$with_limits])*
        #[must_use]
        pub fn with_limits(self, limits: $crate::Limits) -> Self {
            Self(self.0.with_limits(limits))
        }
    };
}
pub(crate) use constructors;

/// A compiled partitioner component, ready to be instantiated many times.
#[derive(Clone)]
pub struct Runtime(Compiled<PartitionerIndices>);

impl Runtime {
    constructors! {
        /// The built-in partitioner.
        new = PARTITIONER_COMPONENT;

        /// Any component of the `partitioner` world, as the bytes of a binary component.
        from_component;

        /// Like [`Runtime::from_component`], with compiled code kept in wasmtime's cache
        /// directory (`~/.cache/wasmtime` on Linux) and reused by later runs: the first run
        /// compiles, later ones load. Entries are keyed by the wasmtime version, its settings and
        /// the component's bytes, so a new build or a different component never loads stale code.
        ///
        /// Cached code runs unchecked, so the cache is refused (an error saying why) unless only
        /// this user can write to it: see [`UntrustedCache`](crate::UntrustedCache).
        cached;

        /// Like [`Runtime::cached`], with the cache in `dir` (an absolute path).
        cached_in;

        /// The same runtime, its instances bound by `limits` rather than [`Limits::default`].
        with_limits;
    }

    /// A fresh instance, with its own memory and no devices.
    pub fn instantiate(&self) -> wasmtime::Result<PartitionerInstance> {
        let (store, exports) = self.0.instantiate()?;
        Ok(PartitionerInstance::new(store, &exports))
    }
}
