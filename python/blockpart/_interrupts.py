"""Ctrl-C while the guest runs: noted, and handled once the call is back in Python.

wasmtime-py calls the device import from C, through ctypes callbacks that catch only
``Exception``. A ``KeyboardInterrupt`` that leaves such a callback makes ctypes print
"Exception ignored on calling ctypes callback function" and hand wasmtime an undefined
result: the process then dies (a Ctrl-C during a loop of ``read_list`` on a ``FileDevice``
segfaulted in 3 of 10 runs). The device glue catches what the device itself raises (see
``_gate.Gate.hold``), but a signal's handler runs wherever the interpreter next checks for
signals, which may be in wasmtime-py's own code around the glue, where no ``try`` of ours is.

So while a call is inside the guest on the main thread (Python runs signal handlers there and
nowhere else), SIGINT's handler is one that only notes the signal; the call's own handler runs
once the call has returned (``KeyboardInterrupt``, for Python's default one). A guest that runs
a long time without calling its device delays Ctrl-C until its time limit stops it. SIGINT only:
other signals' Python handlers are the application's, and rarely raise.
"""

from __future__ import annotations

import _signal
import threading
from types import FrameType
from typing import Any

#: The frame of each SIGINT noted while deferred (main thread only, as are the handlers).
_noted: list[FrameType | None] = []

#: Whether the main thread is deferring already (a device of one partitioner that calls
#: another): only the outermost puts the noting handler in, and the real one back.
_deferring = False


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(frame)


def defer() -> Any:
    """Starts noting SIGINT rather than handling it, on the main thread; returns what
    ``resume`` takes (``None`` if there is nothing to defer)."""
    global _deferring
    if _deferring or threading.current_thread() is not threading.main_thread():
        return None
    # `_signal`, which `signal` wraps: its `getsignal` and `signal` convert to and from enums,
    # 4 µs each on every call here (these take 0.03 µs and 0.25 µs).
    handler = _signal.getsignal(_signal.SIGINT)
    if not callable(handler):
        # `SIG_DFL`, `SIG_IGN`, or a handler not set from Python: no Python code runs for it.
        return None
    _signal.signal(_signal.SIGINT, _note)
    _deferring = True
    return handler


def resume(handler: Any) -> None:
    """Puts SIGINT's ``handler`` back (what ``defer`` returned), and runs it for a SIGINT noted
    meanwhile (raising ``KeyboardInterrupt``, for Python's default one)."""
    global _deferring
    if handler is None:
        return
    _deferring = False
    _signal.signal(_signal.SIGINT, handler)
    if _noted:
        frame = _noted[0]
        _noted.clear()
        handler(_signal.SIGINT, frame)
