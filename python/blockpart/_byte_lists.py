"""``list<u8>`` to and from wasmtime-py in bulk, instead of a byte at a time.

wasmtime-py hands every component value through wasmtime's C API as a
``wasmtime_component_val_t``: a 32-byte tagged union, one per list element, so a ``list<u8>``
of 1 MiB is an array of 32 MiB. wasmtime-py 50 fills and reads that array element by element
in Python (``ListType.convert_to_c`` and ``convert_from_c``), about 1 µs a byte: a 1 MiB read
through a partition took 1.8 s here, and the writes of 64 MiB and a sector that the
conformance suite sends (to see them refused as too large) would take over a minute each, past
its 30 s wait for a reply. Here both directions are strided copies between ``bytes`` and that
array (``cells[offset::32] = data``), done in C by ``memoryview``: the same values reach
wasmtime, and a 1 MiB read takes 0.17 s, most of it wasmtime's own conversion of the array
(``bench/read_cost.py``; the package's README, "What a read costs", has the numbers).

:func:`enable` replaces the two methods on wasmtime-py's ``ListType`` for lists of ``u8``
only, and keeps every other list on wasmtime-py's own code; importing :mod:`blockpart` calls
it. The layout (each element's ``kind`` byte, and its ``u8`` in the union) is read from
wasmtime-py's own ctypes declarations, not written down here.

A call's arguments are converted after its time limit started (wasmtime-py converts them
inside ``Func.__call__``), and a device's result while the guest waits: :func:`lowering` tells
the caller how long each ``list<u8>`` took, so that it can keep that host time, and wasmtime's
own lowering of the same list, out of the guest's budget (``partitioner._Clock.lowered``).
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from wasmtime import _ffi as ffi
from wasmtime.component._types import ListType

_CELL = ctypes.sizeof(ffi.wasmtime_component_val_t)
_KIND = ffi.wasmtime_component_val_t.kind.offset
_BYTE = (
    ffi.wasmtime_component_val_t.of.offset + cast(Any, ffi.wasmtime_component_valunion_t).u8.offset
)
_U8 = bytes((ffi.WASMTIME_COMPONENT_U8.value,))

_STOCK = (ListType.convert_to_c, ListType.convert_from_c)

#: Per thread, what to tell of each `list<u8>` argument converted (see `lowering`).
_listener = threading.local()


@contextlib.contextmanager
def lowering(converted: Callable[[Any, float, int], None]) -> Iterator[None]:
    """Within the block, on this thread, calls ``converted(store, seconds, count)`` after each
    ``list<u8>`` is converted, with the store of the call, the conversion's time and the
    list's length."""
    outer = getattr(_listener, "converted", None)
    _listener.converted = converted
    try:
        yield
    finally:
        _listener.converted = outer


def _cells(data: Any, count: int) -> memoryview:
    """The bytes of the ``count`` values of a list's array, from its ``data`` pointer."""
    array = (ctypes.c_ubyte * (count * _CELL)).from_address(ctypes.addressof(data.contents))
    return memoryview(array).cast("B")


def _convert_to_c(self: ListType, store: Any, val: Any, ptr: Any) -> None:
    if not (isinstance(val, (bytes, bytearray, memoryview)) and self._is_bytes()):
        _STOCK[0](self, store, val, ptr)
        return
    start = time.monotonic()
    data = memoryview(val).cast("B")
    count = len(data)
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, count)
    if count:
        cells = _cells(raw.data, count)
        cells[_KIND::_CELL] = _U8 * count
        cells[_BYTE::_CELL] = data
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
    ptr.contents.of.list = raw
    converted = getattr(_listener, "converted", None)
    if converted is not None:
        converted(store, time.monotonic() - start, count)


def _convert_from_c(self: ListType, c: Any) -> Any:
    if not self._is_bytes():
        return _STOCK[1](self, c)
    assert c.kind == ffi.WASMTIME_COMPONENT_LIST.value
    values = c.of.list
    try:
        count = values.size
        return _cells(values.data, count)[_BYTE::_CELL].tobytes() if count else b""
    finally:
        ffi.wasmtime_component_vallist_delete(ctypes.byref(values))


def enable() -> None:
    """Converts every ``list<u8>`` in bulk, in this process."""
    ListType.convert_to_c = _convert_to_c  # type: ignore[method-assign]
    ListType.convert_from_c = _convert_from_c  # type: ignore[method-assign]


def disable() -> None:
    """Back to wasmtime-py's own conversion, a byte at a time (to measure the difference)."""
    ListType.convert_to_c, ListType.convert_from_c = _STOCK  # type: ignore[method-assign]
