//! An instance's store, and the one way the host calls into its guest: armed with the time
//! the call may take, its trap naming the call.

use wasmtime::{Engine, Store, UpdateDeadline};

use super::bindings::blockpart::partition::types as wit;
use super::state::State;
use crate::Error;
use crate::limits::{Clock, Limits};

/// The store of one instance, and the time each call into its guest is given.
pub(crate) struct GuestStore {
    store: Store<State>,
    /// [`Limits::call_time`], in epoch ticks.
    ticks: u64,
}

impl GuestStore {
    /// A store for one instance, bound by `limits`.
    pub(crate) fn new(engine: &Engine, limits: Limits, clock: &Clock) -> Self {
        // Instantiating runs guest code too: its time counts from now.
        let state = State::new(limits.limiter(), clock.clone());
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limiter());
        let ticks = limits.ticks();
        store.set_epoch_deadline(ticks);
        // The deadline is wall-clock time; the limit is on the guest's own time. When it
        // passes, take out the time the host spent in device calls for the guest, and give
        // the guest what it has left. Time is counted in whole ticks, and a tick that passes
        // while the guest runs counts whole: one tick of grace keeps a guest that ran for
        // microseconds across a tick from being stopped under a one-tick limit.
        let allowed = ticks.saturating_add(1);
        store.epoch_deadline_callback(move |store| {
            let guest = store.data().guest_ticks();
            match allowed.checked_sub(guest).filter(|left| *left > 0) {
                Some(left) => Ok(UpdateDeadline::Continue(left)),
                None => Err(limits.past_call_time()),
            }
        });
        Self { store, ticks }
    }

    /// Calls the guest with `call`, named `name`: the call is given [`Limits::call_time`] of
    /// the guest's own time from now, and a trap or a broken component contract comes back
    /// saying it happened "in `name`" (an [`Error::Guest`](crate::Error::Guest) or a
    /// reader's `ReaderError::Guest` once `?` converts it).
    pub(crate) fn call<T>(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Store<State>) -> wasmtime::Result<T>,
    ) -> wasmtime::Result<T> {
        self.store.data_mut().start_call();
        self.store.set_epoch_deadline(self.ticks);
        call(&mut self.store).map_err(|error| error.context(format!("in `{name}`")))
    }

    /// The host's state of the instance.
    pub(crate) fn state(&self) -> &State {
        self.store.data()
    }

    /// The host's state of the instance, to change.
    pub(crate) fn state_mut(&mut self) -> &mut State {
        self.store.data_mut()
    }

    /// The store itself, for what is not a call into the guest (instantiating it, which
    /// [`GuestStore::new`] timed).
    pub(crate) fn store_mut(&mut self) -> &mut Store<State> {
        &mut self.store
    }

    /// [`GuestStore::call`] of a partition's export: a refusal is the partition's error, with
    /// its device error as the device gave it to the host if the guest passed that on
    /// ([`State::refusal`]).
    pub(crate) fn answer<T>(
        &mut self,
        name: &'static str,
        call: impl FnOnce(&mut Store<State>) -> wasmtime::Result<Result<T, wit::Error>>,
    ) -> Result<T, Error> {
        let answer = self.call(name, call)?;
        answer.map_err(|refused| Error::Partition(self.state_mut().refusal(refused)))
    }
}
