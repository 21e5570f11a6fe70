"""The limits a `Partitioner` puts on its instance, as the Rust host's: memory and time."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from wasmtime import WasmtimeError

from blockpart import Info, MemoryDevice, PartitionError, Partitioner
from blockpart.partitioner import MEMORY_LIMIT_MAX, PARTITION_LIMIT, TIME_LIMIT_MAX

from conftest import pattern

#: The live handles wasmtime allows a store.
STORE_HANDLES = 100_000

#: The repository's root, where cargo builds the hostile component.
ROOT = Path(__file__).resolve().parents[2]


def hostile() -> Path:
    """The newest `blockpart_hostile.component.wasm` cargo built; skip without one, or fail
    under CI=true (which builds it first: a skip there is a check that never ran)."""
    built = sorted(
        ROOT.glob("target/*/build/blockpart-test-artifacts-*/out/blockpart_hostile.component.wasm"),
        key=lambda path: path.stat().st_mtime,
    )
    if not built:
        why = "`cargo build --release -p blockpart-test-artifacts` builds the hostile guest"
        if os.environ.get("CI") == "true":
            pytest.fail(f"no hostile guest under CI: {why}")
        pytest.skip(why)
    return built[-1]


def test_a_read_past_the_memory_limit_traps_and_a_fresh_partitioner_works() -> None:
    length = 2 << 20
    disk = bytearray(pattern(length))
    whole = Partitioner(memory_limit=2 << 20).whole(MemoryDevice(disk))
    assert whole.read_list(0, 512) == disk[:512]  # small requests fit
    # A mapped read's bytes never enter the guest's memory: any size fits.
    assert whole.read(0, length) == disk
    with pytest.raises(WasmtimeError, match="wasm trap"):
        whole.read_list(0, length)
    assert Partitioner().whole(MemoryDevice(disk)).read(0, length) == disk


def test_the_time_limit_stops_a_guest_that_loops_and_a_fresh_partitioner_works() -> None:
    disk = bytearray(b"L" + bytes(8 * 512 - 1))  # first byte 'L': the hostile `read` loops
    whole = Partitioner(component=hostile(), time_limit=0.2).whole(MemoryDevice(disk))
    start = time.monotonic()
    with pytest.raises(WasmtimeError, match="wasm trap: interrupt"):
        whole.read_list(0, 512)
    # The clock ticks every 10 ms from wherever it stood, so the loop runs 190 ms or more:
    # only a bound on a hang is asserted, not the time itself.
    assert time.monotonic() - start < 5
    assert Partitioner().whole(MemoryDevice(disk)).info() == Info(True, 512, 8)


class SlowDevice(MemoryDevice):
    def _read(self, offset: int, length: int) -> bytes:
        time.sleep(0.3)
        return super()._read(offset, length)


def test_the_time_a_device_takes_is_not_the_guests() -> None:
    disk = bytearray(pattern(8 * 512))
    whole = Partitioner(time_limit=0.1).whole(SlowDevice(disk))
    assert whole.read_list(0, 1024) == disk[:1024]  # 0.3 s in the device, well within 0.1 s of guest


def test_limits_are_keywords_and_checked() -> None:
    with pytest.raises(TypeError):
        Partitioner(None, 1 << 20)  # type: ignore[misc]
    with pytest.raises(ValueError, match="memory_limit"):
        Partitioner(memory_limit=-1)
    with pytest.raises(ValueError, match="time_limit"):
        Partitioner(time_limit=float("nan"))
    assert Partitioner(memory_limit=None, time_limit=None).whole(
        MemoryDevice(bytearray(512))
    ).info() == Info(True, 512, 1)


#: Each limit out of range, and why it matters.
OUT_OF_RANGE = [
    # A deadline this far wrapped, and the guest trapped at once; infinity raised OverflowError.
    ("time_limit", 1e300),
    ("time_limit", 2**70),
    ("time_limit", float("inf")),
    ("time_limit", float("nan")),
    ("time_limit", TIME_LIMIT_MAX + 1),
    ("time_limit", 0),  # could never start
    ("time_limit", -1.0),
    ("time_limit", True),
    ("time_limit", "10"),
    # The C API's int64 wrapped 2**70 to 0.
    ("memory_limit", 2**70),
    ("memory_limit", 2**63),
    ("memory_limit", -1),
    ("memory_limit", 1.5),
    ("memory_limit", True),
]


@pytest.mark.parametrize(
    ("name", "value"), OUT_OF_RANGE, ids=[f"{name}={value!r}" for name, value in OUT_OF_RANGE]
)
def test_a_limit_out_of_range_is_refused_naming_the_range(name: str, value: Any) -> None:
    with pytest.raises(ValueError) as caught:
        Partitioner(**{name: value})
    message = str(caught.value)
    assert message.startswith(f"{name} must be a number of ")
    valid = "above 0 and at most 31536000 (a year)" if name == "time_limit" else "0 to 2**63 - 1"
    assert valid in message
    assert message.endswith(f"or None for no limit, not {value!r}")


def test_the_largest_limits_work() -> None:
    partitioner = Partitioner(memory_limit=MEMORY_LIMIT_MAX, time_limit=TIME_LIMIT_MAX)
    assert partitioner.whole(MemoryDevice(bytearray(512))).info() == Info(True, 512, 1)


def test_past_its_partition_limit_a_partitioner_refuses_more_and_drops_still_work() -> None:
    # Each partition, and each device the guest holds, is a handle in the store, of which
    # wasmtime allows 100 000: past that the guest trapped, and even `drop` raised.
    partitioner = Partitioner()
    whole = partitioner.whole(MemoryDevice(bytearray(pattern(8 * 512))))
    parts = []
    with pytest.raises(RuntimeError) as caught:
        for _ in range(STORE_HANDLES):
            parts.append(whole.slice(1, 1))
    # The device, `whole` and the slices.
    assert 1 + 1 + len(parts) == PARTITION_LIMIT
    assert str(caught.value) == (
        f"this Partitioner is at its limit of {PARTITION_LIMIT} partitions and devices held at "
        f"once ({PARTITION_LIMIT - 1} partitions not dropped, 1 held by the guest): drop "
        "partitions to make room"
    )
    # Calls that give no partition still work, and so does a `with` block's drop.
    assert parts[-1].read_list(0, 512) == whole.read_list(1, 512)
    with parts.pop():
        pass
    with whole.slice(2, 1) as again:  # room for one
        assert again.get_offset() == 2
    for part in parts:
        part.drop()
    assert whole.subpartition(4)[1].get_offset() == 4


def test_converting_a_list_for_the_guest_is_not_the_guests_time() -> None:
    # 8 MiB and a byte, refused as unaligned by the guest before any device request: about
    # 0.3 s of the package's conversion and 0.4 s of wasmtime's, before the guest runs.
    whole = Partitioner(time_limit=0.1).whole(MemoryDevice(bytearray(8 * 512)))
    with pytest.raises(PartitionError) as caught:
        whole.write_list(0, bytes((8 << 20) + 1))
    assert caught.value.kind == "unaligned"
