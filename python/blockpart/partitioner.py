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

from wasmtime import Config, Engine, Store, WasmtimeError
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
from ._gate import Gate, Unusable
from .devices import BlockDevice, Buffer, bytes_read
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

#: The largest ``memory_limit``: what wasmtime's C API takes (an int64; larger values wrapped,
#: 2**70 to 0).
MEMORY_LIMIT_MAX = 2**63 - 1

#: The longest ``time_limit``, in seconds: a year (``None`` is no limit). The deadline is a
#: number of ticks, which a larger value made wrap (1e300 and 2**70 trapped at once).
TIME_LIMIT_MAX = 365 * 24 * 3600

#: How many partitions and devices one instance holds at most. Each is a handle in the store,
#: and wasmtime allows a store 100 000 live handles (wasmtime-py cannot raise that): past it, the
#: guest traps and the instance is lost, its partitions with it. The 1 000 left over are for the
#: handles a call lends the guest while it runs.
PARTITION_LIMIT = 99_000

#: How often the engine's epoch advances, in seconds: the time limit's granularity.
_TICK = 0.01

#: What wasmtime's lowering of a `list<u8>` into the guest is granted, as a multiple of the
#: package's own conversion of it (see `_Clock.lowered`): twice the largest ratio measured.
_LOWERING = 4.0

#: A deadline no call reaches (``time_limit=None``), in ticks: about 22 years.
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
    try:
        return engine, Component.from_file(engine, path)
    except WasmtimeError as error:
        why = _why_not(path, error)
        raise ValueError(f"{path} is not a WebAssembly component: {why}") from None


def _why_not(path: str, error: WasmtimeError) -> str:
    """Why wasmtime could not load ``path``, in one line. Its message runs to many (a file that
    is no wasm binary is parsed as WebAssembly text, and the error shows its first line)."""
    lines = [line.strip() for line in str(error).splitlines()]
    with open(path, "rb") as file:
        if file.read(4) != b"\0asm":
            return f"neither a binary (which starts with \\0asm) nor text ({lines[0]})"
    # A binary: the error and its causes ("Caused by:", then one numbered line each).
    causes = [line.split(": ", 1)[-1] if line[:1].isdigit() else line for line in lines]
    return ": ".join(line for line in causes if line and line != "Caused by:")


def _memory_limit(value: int | None) -> int | None:
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MEMORY_LIMIT_MAX
    ):
        raise ValueError(
            f"memory_limit must be a number of bytes from 0 to 2**63 - 1, or None for no limit, "
            f"not {value!r}"
        )
    return value


def _time_limit(value: float | None) -> float | None:
    # `not 0 < value`, not `value <= 0`: NaN compares false both ways.
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= TIME_LIMIT_MAX
    ):
        raise ValueError(
            f"time_limit must be a number of seconds above 0 and at most {TIME_LIMIT_MAX} "
            f"(a year), or None for no limit, not {value!r}"
        )
    return None if value is None else float(value)


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
        # A deadline N ticks away comes after N - 1 to N ticks, so one tick more, as the Rust
        # host grants: a guest always has its limit (and at most two ticks more), and a limit
        # under a tick does not stop a call at once.
        return math.ceil(left / _TICK) + 1 if left > 0 else 0

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

#: Each method of `device`: its WIT name, how its Python result becomes the WIT's, and whether
#: the WIT gives it an error to return (`info` and `disconnect` have none).
_DEVICE_METHODS: dict[str, tuple[str, Callable[[Any], Any], bool]] = {
    "info": ("info", _wit.info_to_wit, False),
    "read": ("read", bytes_read, True),
    "write": ("write", lambda result: None, True),
    "flush": ("flush", lambda result: None, True),
    "discard": ("discard", lambda result: None, True),
    "write-zeroes": ("write_zeroes", lambda result: None, True),
    "disconnect": ("disconnect", lambda result: None, False),
}


def _device_method(
    devices: dict[int, BlockDevice],
    clock: _Clock,
    gate: Gate,
    method: str,
    to_wit: Callable[[Any], Any],
    fallible: bool,
) -> Callable[..., Any]:
    def interrupted(name: str) -> Any:
        # The guest's request fails, as cleanly as its WIT type allows.
        if fallible:
            return _wit.device_error_to_wit(DeviceError("io", f"interrupted by {name}"))
        raise WasmtimeError(f"the device's {method} was interrupted by {name}")

    def call(store: Any, this: ResourceAny, *args: Any) -> Any:
        start = time.monotonic()
        try:
            device = devices[this.to_host(store).rep]
            if gate.holding:
                # The call is being interrupted: no more device requests in it.
                return interrupted("an earlier request")
            return to_wit(getattr(device, method)(*args))
        except DeviceError as error:
            if not fallible:
                raise
            # The `result`'s error.
            return _wit.device_error_to_wit(error)
        except Exception:
            # Any other `Exception` traps the guest, and the call that entered it raises that
            # exception: a bug in the device, not a refusal.
            raise
        except BaseException as error:
            # Never out of the callback (see `_gate`): held, raised once the call is back.
            gate.hold(error)
            return interrupted(type(error).__name__)
        finally:
            # The device's time is the host's, not the guest's.
            clock.exclude(store, time.monotonic() - start)

    return call


def _drop_device(devices: dict[int, BlockDevice], gate: Gate) -> Callable[[Any, int], None]:
    def drop(store: Any, rep: int) -> None:
        try:
            devices.pop(rep).stats.drops += 1
        except Exception:
            raise
        except BaseException as error:
            gate.hold(error)

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


#: The exports that give partitions: each adds handles to the store.
_GIVE_PARTITIONS = frozenset(("whole", "connect", "subpartition", "slice", "table-open"))


class Partitioner:
    """One instance of the partitioner component, with its own memory and handles.

    ``whole`` and ``connect`` hand it a device and give partitions of it; ``read_table`` and
    ``open`` read the MBR or GPT at the start of a partition. A refusal raises
    :class:`~blockpart.PartitionError` (:class:`~blockpart.TableError` for a table). Any other
    exception from a call into the guest (a trap, or an exception a device raised that is no
    :class:`~blockpart.DeviceError`) is raised as itself and leaves the instance unusable:
    every later call raises ``RuntimeError`` saying so (``drop`` does nothing); make a new one.

    A ``KeyboardInterrupt``, ``SystemExit`` or other ``BaseException`` that is no
    ``Exception``, raised by a device while the guest called it, is raised as itself once the
    call is back: the guest's request fails as an ``io`` device error, and the instance goes on
    (for ``info`` and ``disconnect``, whose WIT has no error, the guest traps and the instance
    is unusable). A Ctrl-C on the main thread while the guest runs is handled once the call
    returns.

    Threads may share a ``Partitioner``: a lock admits one call into the instance at a time,
    and the others wait for it (mapped reads and writes hold it only for ``map``, and move
    their bytes in parallel). A device called by the guest must not call back into the
    ``Partitioner`` calling it: that raises ``RuntimeError`` (where it would wait for itself).

    It holds at most ``PARTITION_LIMIT`` (99 000) partitions and devices at once: partitions
    not dropped (disconnected ones too), and devices the guest holds (one per ``whole`` or
    ``connect``, until no partition of it is connected). A call that would give more raises
    ``RuntimeError`` before reaching the guest; drop partitions to make room.

    ``component`` is the partitioner's file, by default the one in the package.

    The instance is bounded as the Rust host bounds one: ``memory_limit`` bytes of linear memory
    (256 MiB; at most 2**63 - 1; tables 10 000 elements) and ``time_limit`` seconds of the
    guest's own execution per call (10 s; above 0, at most ``TIME_LIMIT_MAX``, a year; counted
    in ticks of 10 ms, with one more; the time its device requests take is not counted),
    ``None`` for no limit; a limit outside that raises ``ValueError``. A guest past a limit
    traps: the call raises :class:`wasmtime.WasmtimeError` (``wasm trap: interrupt`` for the
    time limit), as any trap does, and the instance is done.
    """

    def __init__(
        self,
        component: str | os.PathLike[str] | None = None,
        *,
        memory_limit: int | None = MEMORY_LIMIT,
        time_limit: float | None = TIME_LIMIT,
    ) -> None:
        memory_limit = _memory_limit(memory_limit)
        time_limit = _time_limit(time_limit)
        path = Path(component) if component is not None else COMPONENT
        if not path.is_file():
            raise FileNotFoundError(
                f"no partitioner component at {path}: in a clone of blockpart, "
                "`cargo run --release -- component -o python/blockpart/partitioner.wasm` "
                "makes it, before `pip install ./python`"
            )
        engine, component_ = _compiled(str(path.resolve()))
        self._store = Store(engine)
        self._store.set_limits(
            memory_size=-1 if memory_limit is None else memory_limit,
            table_elements=TABLE_ELEMENTS,
        )
        self._clock = _Clock(time_limit)
        self._gate = Gate()
        # The devices handed over and not yet dropped by the guest, by the `rep` they have
        # there. Reps are never reused: a stale one finds nothing.
        self._devices: dict[int, BlockDevice] = {}
        self._reps = itertools.count(1)
        # Partitions given and not dropped: each holds a handle in the store (one never
        # dropped, for as long as the store lives). Counted inside the gate.
        self._partitions = 0
        linker = Linker(engine)
        with linker.root() as root:
            with root.add_instance(_interface("block-device")) as block_device:
                block_device.add_resource(
                    "device", ResourceType.host(_DEVICE), _drop_device(self._devices, self._gate)
                )
                for name, (method, to_wit, fallible) in _DEVICE_METHODS.items():
                    block_device.add_func(
                        f"[method]device.{name}",
                        _device_method(
                            self._devices, self._clock, self._gate, method, to_wit, fallible
                        ),
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
        """Calls the export ``name`` and returns its result, as wasmtime-py gives it but with a
        :class:`Partition` for each partition it gives. In ``args``, a ``Partition`` stands for
        its handle and a ``BlockDevice`` is handed over, both inside the gate: a partition
        another thread drops is never used after, and a call refused for want of room hands
        over nothing."""
        with self._gate:
            if name in _GIVE_PARTITIONS:
                self._make_room()
            # The `rep` of the device that the partitions given are of: the one handed over,
            # or the partition's the call splits or reads.
            device = 0
            values = []
            for arg in args:
                if isinstance(arg, Partition):
                    device, arg = arg._device, arg._live()
                elif isinstance(arg, BlockDevice):
                    device, arg = self._hand_over(arg)
                values.append(arg)
            lists = sum(len(value) for value in values if isinstance(value, (bytes, bytearray)))

            def call() -> Any:
                # wasmtime-py 50 runs the post-return itself; 39 needed `post_return` after
                # each call.
                self._clock.arm(self._store, lists)
                with _byte_lists.lowering(self._clock.lowered):
                    return self._funcs[name](self._store, *values)

            return self._given(self._gate.enter(call), device)

    def _given(self, result: Any, device: int) -> Any:
        """``result``, with each partition handle in it (alone, or in a tuple) as a
        :class:`Partition` of ``device``, counted."""
        if isinstance(result, ResourceAny):
            self._partitions += 1
            return Partition(self, result, device)
        if isinstance(result, tuple):
            return tuple(self._given(item, device) for item in result)
        return result

    def _make_room(self) -> None:
        """Refuses a call that gives partitions once ``PARTITION_LIMIT`` handles are held."""
        if self._partitions + len(self._devices) >= PARTITION_LIMIT:
            raise RuntimeError(
                f"this Partitioner is at its limit of {PARTITION_LIMIT} partitions and devices "
                f"held at once ({self._partitions} partitions not dropped, {len(self._devices)} "
                "held by the guest): drop partitions to make room"
            )

    def _call(self, name: str, *args: Any) -> Any:
        """Calls the export ``name``; a ``Variant`` result is the error (see ``_wit``)."""
        result = self._invoke(name, *args)
        if isinstance(result, Variant):
            raise _wit.error_from_wit(result)
        return result

    def _hand_over(self, device: BlockDevice) -> tuple[int, ResourceHost]:
        """The device's `rep`, the host's name for it, and the handle the guest gets."""
        rep = next(self._reps)
        self._devices[rep] = device
        return rep, ResourceHost.own(rep, _DEVICE)

    def _drop(self, partition: Partition) -> None:
        """``partition.drop()``: its handle, once; nothing on an unusable instance, whose
        handles go with it."""
        try:
            with self._gate:
                handle, partition._handle = partition._handle, None
                if handle is None:
                    return
                self._partitions -= 1

                def call() -> None:
                    # The guest's destructor runs: a call like any other, with its own budget.
                    self._clock.arm(self._store)
                    handle.drop(self._store)

                self._gate.enter(call)
        except Unusable:
            partition._handle = None

    @staticmethod
    def _device_arg(device: BlockDevice) -> BlockDevice:
        if not isinstance(device, BlockDevice):
            raise TypeError(f"a device must be a BlockDevice, not {type(device).__name__}")
        return device

    def _mine(self, partition: Partition) -> Partition:
        if not isinstance(partition, Partition) or partition._partitioner is not self:
            raise ValueError("the partition is not one of this partitioner's")
        return partition

    def whole(self, device: BlockDevice) -> Partition:
        """The whole device as one partition; split it with ``subpartition`` or ``slice``."""
        return self._call("whole", self._device_arg(device))  # type: ignore[no-any-return]

    def connect(self, first_sectors: int, device: BlockDevice) -> tuple[Partition, Partition]:
        """Splits ``device`` at ``first_sectors``: ``[0, first)`` and ``[first, size)``. On
        error the guest drops the device (``whole`` and ``subpartition`` keep it)."""
        first_sectors = _u64("first_sectors", first_sectors)
        head, tail = self._call("connect", first_sectors, self._device_arg(device))
        return head, tail

    def read_table(self, disk: Partition) -> Table:
        """The MBR or GPT at the start of ``disk``, a whole device or any partition of one."""
        result = self._invoke("table-read", self._mine(disk))
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
        result = self._invoke("table-open", self._mine(disk), number)
        if not isinstance(result, Partition):
            raise _wit.table_error_from_wit(result)
        return result


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
        return self._partitioner._call(name, self, *args)

    def subpartition(self, first_sectors: int) -> tuple[Partition, Partition]:
        """Splits this partition at ``first_sectors``: ``[0, first)`` and ``[first, size)``."""
        head, tail = self._call("subpartition", _u64("first_sectors", first_sectors))
        return head, tail

    def slice(self, sector_start: int, sectors: int) -> Partition:
        """The ``sectors`` sectors from ``sector_start``, as partition tables give them."""
        return self._call(  # type: ignore[no-any-return]
            "slice", _u64("sector_start", sector_start), _u64("sectors", sectors)
        )

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
        data = self._on_device("read", lambda device: bytes_read(device.read(at, length)))
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
        """Drops the partition's handle; dropping twice does nothing, and so does dropping a
        partition of an unusable :class:`Partitioner` (its handles go with it)."""
        self._partitioner._drop(self)

    def __enter__(self) -> Partition:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.drop()
