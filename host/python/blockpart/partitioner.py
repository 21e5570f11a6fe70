"""The partitioner component in wasmtime-py: instances, partitions, and the device import.

wasmtime-py calls the ``block-device`` functions the guest imports with a host resource as a
``ResourceAny``: its ``rep`` (an integer chosen here when the device was handed over) finds
the Python device. A method's ``self`` arrives borrowed, and ``to_host`` ends the borrow; a
``drop`` after it fails the call with "unknown handle index", and a borrow neither converted
nor dropped fails it with "borrow handles still remain at the end of the call". Partitions are
the guest's own resources: a ``ResourceAny`` each, dropped with ``drop``, which runs the
guest's destructor.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from wasmtime import Config, Engine, Store
from wasmtime.component import (
    Component,
    Linker,
    ResourceAny,
    ResourceHost,
    ResourceType,
    Variant,
)

from . import _byte_lists, _wit
from ._calls import TypedFunc
from .devices import BlockDevice, Buffer
from .values import DeviceError, Info, PartitionError, Table

#: The component, put in the package by the build (``blockpart component -o ...``).
COMPONENT = Path(__file__).with_name("partitioner.wasm")

_PACKAGE = "blockpart:partition"
_VERSION = "0.2.0"

#: The host resource type of ``block-device.device``: any number, the same in both directions.
_DEVICE = 0xB10C

_T = TypeVar("_T")

_U64_MAX = 2**64 - 1
_U32_MAX = 2**32 - 1


def _interface(name: str) -> str:
    return f"{_PACKAGE}/{name}@{_VERSION}"


#: The limits' defaults, the Rust host's (`blockpart_host::Limits`): bytes of linear memory,
#: seconds of the guest's own execution per call, and table elements.
MEMORY_LIMIT = 256 << 20
TIME_LIMIT = 10.0
TABLE_ELEMENTS = 10_000

#: How often the engine's epoch advances, in seconds: the time limit's granularity.
_TICK = 0.01

#: What wasmtime's lowering of a `list<u8>` into the guest is granted, as a multiple of the
#: package's own conversion of it (see `_Clock.lowered`): twice the largest ratio measured.
_LOWERING = 4.0

#: A deadline no call reaches (``time_limit=None``), in ticks: about 30 years.
_NO_DEADLINE = 2**36


def _tick(engine: weakref.ref[Engine]) -> None:
    # Holds the engine only while incrementing it: the thread ends once the engine is gone.
    while True:
        current = engine()
        if current is None:
            return
        current.increment_epoch()
        del current
        time.sleep(_TICK)


@functools.cache
def _compiled(path: str) -> tuple[Engine, Component]:
    """The component at ``path``, compiled once per process (about 0.1 s), in an engine with
    epoch interruption, whose epoch a daemon thread advances every ``_TICK`` seconds."""
    config = Config()
    config.epoch_interruption = True
    engine = Engine(config)
    threading.Thread(
        target=_tick, args=(weakref.ref(engine),), name="blockpart-epoch", daemon=True
    ).start()
    return engine, Component.from_file(engine, path)


class _Clock:
    """The time limit of one instance: the guest's own time in the current call, the host's
    time taken out (its device requests, and its conversion of the call's ``list<u8>``
    arguments). Shared by the instance and its device glue (never the store, which the glue
    must not keep alive)."""

    __slots__ = ("limit", "start", "host", "granted")

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.start = 0.0
        self.host = 0.0
        # Bytes of the call's own `list<u8>` arguments whose lowering is yet to be granted.
        self.granted = 0

    def ticks(self) -> int:
        """The deadline, in ticks from now, for what is left of the call's budget."""
        if self.limit is None:
            return _NO_DEADLINE
        left = self.limit - (time.monotonic() - self.start - self.host)
        return max(0, math.ceil(left / _TICK))

    def arm(self, store: Any, argument_bytes: int = 0) -> None:
        """Starts a call's budget (before each call into the guest), whose ``list<u8>``
        arguments hold ``argument_bytes`` bytes."""
        self.start, self.host, self.granted = time.monotonic(), 0.0, argument_bytes
        store.set_epoch_deadline(self.ticks())

    def lowered(self, store: Any, seconds: float, count: int) -> None:
        """The package took ``seconds`` to convert a ``list<u8>`` that wasmtime then lowers
        into the guest (a call's argument, or a device's result): host time, both.

        The package's conversion is measured, and taken out. Wasmtime's happens inside the
        call, before the guest runs, where Python cannot time it: it does the same work on the
        same array (one 32-byte value per byte), and is granted ``_LOWERING`` times the
        package's. Without that, the 64 MiB and a sector that the conformance suite writes (to
        see it refused as too large) left the guest nothing of a 10 s budget on a loaded CI
        machine: 2.3 s here and 2.7 s in wasmtime there, 6.1 s and 12.0 s on a 2-core machine
        at load 3, then the trap, in the guest's `cabi_realloc` before its first check. The
        grant follows the machine's speed of the moment, measured in the same call, and only
        the caller chooses how large it is: a guest cannot stretch it. Only the call's own
        arguments (converted first, before the guest runs) have the grant; a device's result,
        whose size the guest chooses, has its measured conversion taken out and no more, or a
        guest reading its device in a loop would gain time with each read."""
        grant = _LOWERING if 0 < count <= self.granted else 0.0
        self.granted -= min(count, self.granted)
        self.exclude(store, seconds * (1.0 + grant))

    def exclude(self, store: Any, seconds: float) -> None:
        """Takes ``seconds`` of the host's out of the call's budget, and re-arms the deadline
        (relative to the engine's epoch, which went on meanwhile) for what the guest has left.
        ``store`` is a ``Store`` or a ``StoreContext``, which has no ``set_epoch_deadline`` of
        its own; ``Store``'s takes either."""
        self.host += seconds
        Store.set_epoch_deadline(store, self.ticks())  # type: ignore[arg-type]


def _u64(name: str, value: int) -> int:
    # wasmtime-py would store a negative or too large value in a u64 modulo 2**64.
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _U64_MAX:
        raise ValueError(f"{name} must be a u64 (0 to 2**64 - 1), not {value}")
    return value


def _u32(name: str, value: int) -> int:
    if not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _U32_MAX:
        raise ValueError(f"{name} must be a u32 (0 to 2**32 - 1), not {value}")
    return value


# The device import: what the guest's calls to `block-device` do. The functions close over the
# instance's table of devices only, never over the `Partitioner`: wasmtime-py keeps them for as
# long as the store lives, and a reference back to it would keep the store alive for ever.

#: Each method of `device`: its WIT name, and how its Python result becomes the WIT's.
_DEVICE_METHODS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "info": ("info", _wit.info_to_wit),
    "read": ("read", bytes),
    "write": ("write", lambda result: None),
    "flush": ("flush", lambda result: None),
    "discard": ("discard", lambda result: None),
    "write-zeroes": ("write_zeroes", lambda result: None),
    "disconnect": ("disconnect", lambda result: None),
}


def _device_method(
    devices: dict[int, BlockDevice], clock: _Clock, method: str, to_wit: Callable[[Any], Any]
) -> Callable[..., Any]:
    def call(store: Any, this: ResourceAny, *args: Any) -> Any:
        device = devices[this.to_host(store).rep]
        start = time.monotonic()
        try:
            return to_wit(getattr(device, method)(*args))
        except DeviceError as error:
            # The `result`'s error. Any other exception traps the guest, and the call that
            # entered it raises that exception: a bug in the device, not a refusal.
            return _wit.device_error_to_wit(error)
        finally:
            # The device's time is the host's, not the guest's.
            clock.exclude(store, time.monotonic() - start)

    return call


def _drop_device(devices: dict[int, BlockDevice]) -> Callable[[Any, int], None]:
    def drop(store: Any, rep: int) -> None:
        devices.pop(rep).stats.drops += 1

    return drop


#: The exports called, by the names `Partitioner._invoke` takes: their interface and name.
_EXPORTS = {
    "whole": ("partition", "[static]partition.whole"),
    "connect": ("partition", "[static]partition.connect"),
    **{
        name: ("partition", f"[method]partition.{name}")
        for name in (
            "subpartition",
            "slice",
            "get-offset",
            "info",
            "read",
            "write",
            "map",
            "flush",
            "discard",
            "write-zeroes",
            "disconnect",
        )
    },
    "table-read": ("partition-table", "read"),
    "table-open": ("partition-table", "open"),
}


class Partitioner:
    """One instance of the partitioner component, with its own memory and handles.

    ``whole`` and ``connect`` hand it a device and give partitions of it; ``read_table`` and
    ``open`` read the MBR or GPT at the start of a partition. A refusal raises
    :class:`~blockpart.PartitionError` (:class:`~blockpart.TableError` for a table). Any other
    exception from a call (a trap, or an exception a device raised that is no
    :class:`~blockpart.DeviceError`) leaves the instance unusable: make a new one.

    ``component`` is the partitioner's file, by default the one in the package.

    The instance is bounded as the Rust host bounds one: ``memory_limit`` bytes of linear memory
    (256 MiB; tables 10 000 elements) and ``time_limit`` seconds of the guest's own execution
    per call (10 s; the time its device requests take is not counted), ``None`` for no limit.
    A guest past a limit traps: the call raises :class:`wasmtime.WasmtimeError` (``wasm trap:
    interrupt`` for the time limit), as any trap does, and the instance is done.
    """

    def __init__(
        self,
        component: str | os.PathLike[str] | None = None,
        *,
        memory_limit: int | None = MEMORY_LIMIT,
        time_limit: float | None = TIME_LIMIT,
    ) -> None:
        if memory_limit is not None and (
            not isinstance(memory_limit, int) or isinstance(memory_limit, bool) or memory_limit < 0
        ):
            raise ValueError(f"memory_limit must be a number of bytes or None, not {memory_limit!r}")
        if time_limit is not None and (
            isinstance(time_limit, bool)
            or not isinstance(time_limit, (int, float))
            or not time_limit >= 0
        ):
            raise ValueError(f"time_limit must be a number of seconds or None, not {time_limit!r}")
        path = Path(component) if component is not None else COMPONENT
        if not path.is_file():
            raise FileNotFoundError(
                f"no partitioner component at {path}: in a clone of blockpart, "
                "`cargo run --release -- component -o host/python/blockpart/partitioner.wasm` "
                "makes it, before `pip install ./host/python`"
            )
        engine, component_ = _compiled(str(path.resolve()))
        self._store = Store(engine)
        self._store.set_limits(
            memory_size=-1 if memory_limit is None else memory_limit,
            table_elements=TABLE_ELEMENTS,
        )
        self._clock = _Clock(None if time_limit is None else float(time_limit))
        # The devices handed over and not yet dropped by the guest, by the `rep` they have
        # there. Reps are never reused: a stale one finds nothing.
        self._devices: dict[int, BlockDevice] = {}
        self._reps = itertools.count(1)
        linker = Linker(engine)
        with linker.root() as root:
            with root.add_instance(_interface("block-device")) as block_device:
                block_device.add_resource(
                    "device", ResourceType.host(_DEVICE), _drop_device(self._devices)
                )
                for name, (method, to_wit) in _DEVICE_METHODS.items():
                    block_device.add_func(
                        f"[method]device.{name}", _device_method(self._devices, self._clock, method, to_wit)
                    )
        self._clock.arm(self._store)
        instance = linker.instantiate(self._store, component_)

        def export(interface: str, name: str) -> TypedFunc:
            index = instance.get_export_index(self._store, _interface(interface))
            if index is not None:
                index = instance.get_export_index(self._store, name, index)
            func = instance.get_func(self._store, index) if index is not None else None
            if func is None:
                raise TypeError(f"{path} exports no {interface} {name}: is it a partitioner?")
            return TypedFunc(func, self._store)

        self._funcs = {name: export(*where) for name, where in _EXPORTS.items()}

    def _invoke(self, name: str, *args: Any) -> Any:
        """Calls the export ``name`` and returns its result, as wasmtime-py gives it."""
        # wasmtime-py 50 runs the post-return itself; 39 needed `post_return` after each call.
        lists = sum(len(arg) for arg in args if isinstance(arg, (bytes, bytearray)))
        self._clock.arm(self._store, lists)
        with _byte_lists.lowering(self._clock.lowered):
            return self._funcs[name](self._store, *args)

    def _call(self, name: str, *args: Any) -> Any:
        """Calls the export ``name``; a ``Variant`` result is the error (see ``_wit``)."""
        result = self._invoke(name, *args)
        if isinstance(result, Variant):
            raise _wit.error_from_wit(result)
        return result

    def _hand_over(self, device: BlockDevice) -> tuple[int, ResourceHost]:
        """The device's `rep`, the host's name for it, and the handle the guest gets."""
        if not isinstance(device, BlockDevice):
            raise TypeError(f"a device must be a BlockDevice, not {type(device).__name__}")
        rep = next(self._reps)
        self._devices[rep] = device
        return rep, ResourceHost.own(rep, _DEVICE)

    def _handle(self, partition: Partition) -> ResourceAny:
        if not isinstance(partition, Partition) or partition._partitioner is not self:
            raise ValueError("the partition is not one of this partitioner's")
        return partition._live()

    def whole(self, device: BlockDevice) -> Partition:
        """The whole device as one partition; split it with ``subpartition`` or ``slice``."""
        rep, handle = self._hand_over(device)
        return Partition(self, self._call("whole", handle), rep)

    def connect(self, first_sectors: int, device: BlockDevice) -> tuple[Partition, Partition]:
        """Splits ``device`` at ``first_sectors``: ``[0, first)`` and ``[first, size)``. On
        error the guest drops the device (``whole`` and ``subpartition`` keep it)."""
        first_sectors = _u64("first_sectors", first_sectors)
        rep, handle = self._hand_over(device)
        head, tail = self._call("connect", first_sectors, handle)
        return Partition(self, head, rep), Partition(self, tail, rep)

    def read_table(self, disk: Partition) -> Table:
        """The MBR or GPT at the start of ``disk``, a whole device or any partition of one."""
        result = self._invoke("table-read", self._handle(disk))
        # `result<table, table-error>` comes tagged: a `table` and a `bad-entry` are both
        # records.
        if isinstance(result, Variant) and result.tag in ("ok", "err"):
            if result.tag == "err":
                raise _wit.table_error_from_wit(result.payload)
            result = result.payload
        return _wit.table_from_wit(result)

    def open(self, disk: Partition, number: int) -> Partition:
        """Entry ``number`` of ``disk``'s table, as a partition of ``disk``."""
        number = _u32("number", number)
        result = self._invoke("table-open", self._handle(disk), number)
        if not isinstance(result, ResourceAny):
            raise _wit.table_error_from_wit(result)
        return Partition(self, result, disk._device)


class Partition:
    """A bounds-checked window onto a device, itself a block device (WIT ``partition``).

    Positions and sizes are in sectors, relative to the partition; data lengths in bytes. Drop
    it with ``drop`` or by leaving a ``with`` block: the guest drops the device once no
    partition of it is left connected. A partition never dropped lives as long as its
    :class:`Partitioner`; using one after ``drop`` raises ``ValueError``.

    Reads and writes take one of two paths:

    - ``read``, ``readinto`` and ``write`` are *mapped*: the guest checks the request and says
      where on the device it lands (``map``), and the package then moves the bytes itself, on
      the device it handed over, straight into or out of the caller's buffer. The bytes never
      enter the guest, and cost what the device's own read or write costs, plus one call.
    - ``read_list`` and ``write_list`` go through the guest (``partition.read`` and ``write``,
      with a ``list<u8>``): the bytes are copied into its memory and out again, about 0.17 ms a
      KiB through wasmtime-py. For components that supply a device of their own, and to test
      the guest's path.

    Both refuse the same requests with the same errors, and a refused request moves no byte.
    """

    __slots__ = ("_partitioner", "_handle", "_device")

    def __init__(self, partitioner: Partitioner, handle: ResourceAny, device: int) -> None:
        self._partitioner = partitioner
        self._handle: ResourceAny | None = handle
        # The `rep` of the device this partition was made from: the one handed over for it
        # (`whole`, `connect`) or its parent's (`subpartition`, `slice`, `open`). Known to the
        # host, never taken from the guest: where a mapped request's bytes go.
        self._device = device

    def _live(self) -> ResourceAny:
        if self._handle is None:
            raise ValueError("the partition was dropped")
        return self._handle

    def _call(self, name: str, *args: Any) -> Any:
        return self._partitioner._call(name, self._live(), *args)

    def _child(self, handle: ResourceAny) -> Partition:
        return Partition(self._partitioner, handle, self._device)

    def subpartition(self, first_sectors: int) -> tuple[Partition, Partition]:
        """Splits this partition at ``first_sectors``: ``[0, first)`` and ``[first, size)``."""
        head, tail = self._call("subpartition", _u64("first_sectors", first_sectors))
        return self._child(head), self._child(tail)

    def slice(self, sector_start: int, sectors: int) -> Partition:
        """The ``sectors`` sectors from ``sector_start``, as partition tables give them."""
        handle = self._call("slice", _u64("sector_start", sector_start), _u64("sectors", sectors))
        return self._child(handle)

    def get_offset(self) -> int:
        """This partition's first sector on the device, through any nesting."""
        return int(self._call("get-offset"))

    def info(self) -> Info:
        """The device's ``read_write`` and ``sector_size``, with this partition's size."""
        return _wit.info_from_wit(self._call("info"))

    def map(self, direction: str, sector_start: int, length: int) -> int:
        """The device sector where a ``"read"`` or ``"write"`` (``direction``) of ``length``
        bytes from sector ``sector_start`` lands: checked as ``read`` or ``write`` checks it
        (same order, same errors), but not made. The guest makes no device request."""
        if direction not in ("read", "write"):
            raise ValueError(f'direction must be "read" or "write", not {direction!r}')
        return int(
            self._call("map", direction, _u64("sector_start", sector_start), _u64("length", length))
        )

    def _on_device(self, direction: str, request: Callable[[BlockDevice], _T]) -> _T:
        """Makes ``request`` of this partition's device, once ``map`` said where (for a
        transfer that is not empty: an empty one, once mapped, is done and makes no device
        request). The device counts it and checks it against its own bounds: a guest that
        maps a request elsewhere reaches nothing outside the device it was handed. Its
        refusal or failure is the partition's ``device`` error, as on the list path."""
        device = self._partitioner._devices.get(self._device)
        if device is None:
            # The guest keeps a device while a partition of it is connected, and it just said
            # this one is: it broke the contract. Nothing is read or written.
            raise RuntimeError(
                f"the partitioner mapped a {direction} on a partition whose device it had dropped"
            )
        try:
            return request(device)
        except DeviceError as error:
            raise PartitionError("device", error) from error

    def read(self, sector_start: int, length: int) -> bytes:
        """Reads ``length`` bytes (whole sectors) from sector ``sector_start``, mapped: the
        device reads them, not the guest."""
        at = self.map("read", sector_start, length)
        if length == 0:
            return b""
        data = self._on_device("read", lambda device: device.read(at, length))
        if len(data) != length:
            # What the guest says of a device's short read on the list path.
            raise PartitionError(
                "invalid-device", f"asked for {length} bytes, the device read {len(data)}"
            )
        return bytes(data)

    def readinto(self, sector_start: int, buffer: Buffer) -> int:
        """Reads ``len(buffer)`` bytes (whole sectors) from sector ``sector_start`` into
        ``buffer``, any writable buffer, mapped; returns that length. A refused request leaves
        ``buffer`` as it was; a device error may leave part of the data in it."""
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("readinto needs a writable buffer, such as a bytearray")
        at = self.map("read", sector_start, len(view))
        if len(view):
            self._on_device("read", lambda device: device.read_into(at, view))
        return len(view)

    def write(self, sector_start: int, data: Buffer) -> None:
        """Writes ``data`` (whole sectors; any buffer) from sector ``sector_start``, mapped:
        the device writes them from ``data``, not the guest."""
        view = memoryview(data).cast("B")
        at = self.map("write", sector_start, len(view))
        if len(view):
            self._on_device("write", lambda device: device.write(at, view))

    def read_list(self, sector_start: int, length: int) -> bytes:
        """``read`` through the guest: ``partition.read``, its bytes returned as a
        ``list<u8>``."""
        data = self._call("read", _u64("sector_start", sector_start), _u64("length", length))
        if len(data) != length:
            raise RuntimeError(f"the partitioner returned {len(data)} bytes of {length}")
        return data  # type: ignore[no-any-return]

    def write_list(self, sector_start: int, data: Buffer) -> None:
        """``write`` through the guest: ``partition.write``, ``data`` handed to it as a
        ``list<u8>``."""
        # `_byte_lists` converts any buffer; wasmtime-py's own conversion (`_byte_lists.disable`)
        # takes `bytes` only.
        data = data if isinstance(data, bytes) else bytes(data)
        self._call("write", _u64("sector_start", sector_start), data)

    def flush(self) -> None:
        """Flushes the device: every completed write becomes durable."""
        self._call("flush")

    def discard(self, sector_start: int, sectors: int) -> None:
        """Discards ``sectors`` sectors; their contents are unspecified afterwards."""
        self._call("discard", _u64("sector_start", sector_start), _u64("sectors", sectors))

    def write_zeroes(self, sector_start: int, sectors: int) -> None:
        """Sets ``sectors`` sectors from ``sector_start`` to zero."""
        self._call("write-zeroes", _u64("sector_start", sector_start), _u64("sectors", sectors))

    def disconnect(self) -> None:
        """Disconnects this partition only: its later requests fail with ``disconnected``."""
        self._call("disconnect")

    def drop(self) -> None:
        """Drops the partition's handle; dropping twice does nothing."""
        handle, self._handle = self._handle, None
        if handle is not None:
            # The guest's destructor runs: a call like any other, with its own time budget.
            self._partitioner._clock.arm(self._partitioner._store)
            handle.drop(self._partitioner._store)

    def __enter__(self) -> Partition:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.drop()
