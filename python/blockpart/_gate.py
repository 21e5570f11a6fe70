"""The one way into an instance's store: one thread at a time, never re-entered, and never
again once a call into the guest has failed.

Nothing in wasmtime serialises calls into one store: eight threads calling one
``Partitioner`` poisoned the instance every run, and about one run in ten died of SIGSEGV or
SIGABRT (a panic in wasmtime's stack walker). So a lock admits one call at a time, and a
thread that finds the store busy waits its turn. A device callback that calls back into the
``Partitioner`` calling it would wait for itself: it is refused instead.

A call into the guest that raises (a trap, a limit, a device's bug) leaves the component
instance unusable: wasmtime refuses every later call with "cannot enter component instance".
The gate says why, naming the first failure.

A device callback must not let an exception that is no ``Exception`` (``KeyboardInterrupt``,
``SystemExit``, ...) leave it: wasmtime-py's ctypes trampoline catches only ``Exception``, and
anything else crashes the process (see ``_interrupts``). The glue ``hold``\\ s it, fails the
guest's request, and the call that entered the guest raises it as itself once back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from . import _interrupts

_T = TypeVar("_T")


class Unusable(RuntimeError):
    """A call on a :class:`~blockpart.Partitioner` whose instance an earlier call left unusable."""


class Gate:
    """Admits calls into one instance's store (see the module's docstring): ``with gate:``
    holds it, and ``gate.enter`` calls into the guest."""

    __slots__ = ("_lock", "_owner", "_held", "_failure", "_sigint")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # The thread inside, if any: set and cleared by that thread only, so a thread that
        # reads its own ident here is inside, whatever the others do.
        self._owner: int | None = None
        self._held: BaseException | None = None
        self._failure: str | None = None
        # SIGINT's handler while the thread inside defers it (see `_interrupts`).
        self._sigint: Any = None

    def __enter__(self) -> Gate:
        """Waits for any other thread's call to end; refuses a call from inside a call (a
        device callback) and a call on an unusable instance. (A class, not a
        `contextlib.contextmanager`: this runs on every call, and a generator costs 2 µs.)"""
        me = threading.get_ident()
        if self._owner == me:
            raise RuntimeError(
                "a device called back into the Partitioner that is calling it: the instance "
                "runs one call at a time, so a device must not use its own Partitioner"
            )
        self._lock.acquire()
        if self._failure is not None:
            self._lock.release()
            raise Unusable(f"this Partitioner is unusable: {self._failure}; make a new one")
        self._owner = me
        self._sigint = _interrupts.defer()
        return self

    def __exit__(self, *exc_info: object) -> None:
        sigint, self._sigint, self._owner = self._sigint, None, None
        self._lock.release()
        # Last, and outside the lock: a noted SIGINT's handler may raise, or call in again.
        _interrupts.resume(sigint)

    def enter(self, call: Callable[[], _T]) -> _T:
        """``call()``, a call into the guest, inside the gate. If it raises, the instance is
        unusable. An exception a device callback held is raised as itself, in place of the
        call's result or failure."""
        try:
            result = call()
        except BaseException as error:
            held, self._held = self._held, None
            if held is None:
                self._failure = f"a call failed with {type(error).__name__}: {_line(error)}"
                raise
            self._failure = f"a call failed after a device raised {type(held).__name__}"
            raise held  # the guest's failure stays as its context
        held, self._held = self._held, None
        if held is not None:
            raise held
        return result

    @property
    def holding(self) -> bool:
        """Whether a device callback of the current call has held an exception: the guest's
        later device requests in that call are failed at once, without reaching the device."""
        return self._held is not None

    def hold(self, error: BaseException) -> None:
        """Keeps ``error``, which a device callback caught, for ``enter`` to raise (the first
        one, if several)."""
        if self._held is None:
            self._held = error


def _line(error: BaseException) -> str:
    """The first line of ``error``'s message (a trap's carries a wasm backtrace after it)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"
