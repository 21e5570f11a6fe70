"""The mapped path: `read`, `readinto` and `write` are checked and mapped by the guest
(`partition.map`), and the package moves the bytes on the device it handed over."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blockpart import (
    Access,
    DeviceError,
    DeviceStats,
    FileDevice,
    MemoryDevice,
    PartitionError,
    Partitioner,
)

from conftest import pattern
from test_limits import hostile

LIMIT = 64 << 20  # the largest transfer, in bytes


def refusal(call: Callable[[], Any]) -> PartitionError:
    with pytest.raises(PartitionError) as caught:
        call()
    return caught.value


def test_map_says_where_a_transfer_lands_through_nesting(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    _, rest = partitioner.connect(8, memory_device)
    inner = rest.slice(4, 16)
    assert inner.map("read", 2, 3 * 512) == 8 + 4 + 2
    assert inner.map("write", 16, 0) == 8 + 4 + 16  # an empty transfer at the end
    assert memory_device.stats.requests == 0  # map makes no device request
    with pytest.raises(ValueError, match="direction"):
        inner.map("sideways", 0, 512)


def test_a_mapped_write_lands_at_the_offset_and_nowhere_else(
    partitioner: Partitioner, memory_disk: bytearray, memory_device: MemoryDevice
) -> None:
    original = bytes(memory_disk)
    _, rest = partitioner.connect(8, memory_device)
    inner = rest.slice(4, 16)
    data = pattern(3 * 512, seed=9)
    for at, buffer in ((2, data), (6, bytearray(data)), (10, memoryview(data))):
        inner.write(at, buffer)
    expected = bytearray(original)
    for sector in (14, 18, 22):
        expected[sector * 512 : (sector + 3) * 512] = data
    assert memory_disk == expected
    assert inner.read(2, 3 * 512) == data


def test_a_mapped_read_returns_the_bytes_at_the_offset(
    partitioner: Partitioner, memory_disk: bytearray, tmp_path: Path
) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(memory_disk)
    for device in (MemoryDevice(memory_disk), FileDevice(path, read_only=True)):
        _, rest = partitioner.connect(8, device)
        assert rest.read(3, 2 * 512) == memory_disk[11 * 512 : 13 * 512]
        buffer = bytearray(b"\xee" * 4 * 512)
        assert rest.readinto(3, memoryview(buffer)[512:1536]) == 1024
        assert buffer == b"\xee" * 512 + memory_disk[11 * 512 : 13 * 512] + b"\xee" * 512
        assert rest.read(56, 0) == b""
        assert rest.readinto(56, bytearray()) == 0
        device.close()


@pytest.mark.parametrize(
    ("request_", "kind", "value"),
    [
        (lambda part, buffer: part.read(56, 512), "out-of-bounds", Access(56, 1, 56)),
        (lambda part, buffer: part.readinto(55, buffer), "out-of-bounds", Access(55, 2, 56)),
        (lambda part, buffer: part.write(57, bytes(0)), "out-of-bounds", Access(57, 0, 56)),
        (
            lambda part, buffer: part.write(2**64 - 1, bytes(512)),
            "out-of-bounds",
            Access(2**64 - 1, 1, 56),
        ),
        (lambda part, buffer: part.readinto(0, memoryview(buffer)[:511]), "unaligned", 511),
        (lambda part, buffer: part.write(0, bytes(513)), "unaligned", 513),
        (lambda part, buffer: part.read(0, LIMIT + 512), "too-large", LIMIT + 512),
        (lambda part, buffer: part.write(0, bytes(LIMIT + 512)), "too-large", LIMIT + 512),
    ],
)
def test_a_refused_mapped_request_changes_nothing_and_makes_no_device_request(
    partitioner: Partitioner,
    memory_disk: bytearray,
    memory_device: MemoryDevice,
    request_: Any,
    kind: str,
    value: Any,
) -> None:
    original = bytes(memory_disk)
    _, rest = partitioner.connect(8, memory_device)
    buffer = bytearray(b"\xee" * 1024)
    error = refusal(lambda: request_(rest, buffer))
    assert (error.kind, error.value) == (kind, value)
    assert memory_disk == original
    assert buffer == b"\xee" * 1024
    assert memory_device.stats.requests == 0


def test_a_read_only_device_refuses_mapped_writes_of_any_length(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    original = bytes(memory_disk)
    device = MemoryDevice(original, read_only=True)
    _, rest = partitioner.connect(8, device)
    for data in (bytes(512), b"", bytes(511)):
        assert refusal(lambda: rest.write(0, data)).kind == "is-read-only"
    assert rest.read(0, 512) == original[8 * 512 : 9 * 512]
    with pytest.raises(TypeError, match="writable"):
        rest.readinto(0, bytes(512))
    assert device.stats.requests == 1  # the read


def test_a_disconnected_partition_refuses_mapped_requests(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    whole = partitioner.whole(memory_device)
    whole.disconnect()
    assert refusal(lambda: whole.read(0, 512)).kind == "disconnected"
    assert refusal(lambda: whole.write(0, bytes(512))).kind == "disconnected"
    assert memory_device.stats.requests == 0


def test_mapped_requests_count_as_device_requests_and_empty_ones_do_not(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    stats = DeviceStats()
    whole = partitioner.whole(MemoryDevice(memory_disk, stats=stats))
    whole.read(0, 512)
    whole.readinto(1, bytearray(1024))
    whole.write(2, bytes(512))
    assert stats.requests == 3
    whole.read(0, 0)
    whole.readinto(64, bytearray())
    whole.write(64, b"")
    assert stats.requests == 3
    whole.read_list(0, 512)  # the guest's own request, counted the same
    assert stats.requests == 4


def test_a_device_error_on_the_mapped_path_is_the_partitions_device_error(
    partitioner: Partitioner, memory_disk: bytearray, tmp_path: Path
) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(8 * 512))
    with FileDevice(path) as device:
        whole = partitioner.whole(device)
        path.write_bytes(bytes(4 * 512))  # shrinks under the device
        error = refusal(lambda: whole.readinto(2, bytearray(4 * 512)))
        assert error.kind == "device" and isinstance(error.value, DeviceError)
        assert (error.value.kind, error.value.value) == (
            "io",
            "the file ends 1024 bytes into a read of 2048",
        )


def test_a_mapped_write_of_the_largest_transfer_is_quick_and_never_enters_the_guest() -> None:
    disk = bytearray(LIMIT)
    # 2 MiB of guest memory: the list path could not hold 64 MiB in it.
    whole = Partitioner(memory_limit=2 << 20).whole(MemoryDevice(disk))
    data = pattern(LIMIT, seed=3)
    start = time.monotonic()
    whole.write(0, data)
    elapsed = time.monotonic() - start
    assert disk == data
    # A bound on a hang, not a benchmark: about 0.07 s here, and the list path about 6 s.
    assert elapsed < 5


def device_at(mode: str, sectors: int = 8, **kwargs: Any) -> tuple[bytes, MemoryDevice]:
    disk = mode.encode() + pattern(sectors * 512)[1:]
    return disk, MemoryDevice(bytearray(disk) if not kwargs else disk, **kwargs)


@pytest.mark.parametrize("mode", ["a", "b", "c"])
def test_a_guest_that_maps_outside_the_device_reaches_nothing(mode: str) -> None:
    disk, device = device_at(mode)
    whole = Partitioner(component=hostile()).whole(device)
    for request in (
        lambda: whole.read(0, 1024),
        lambda: whole.readinto(0, bytearray(1024)),
        lambda: whole.write(0, bytes(1024)),
    ):
        error = refusal(request)
        assert (error.kind, getattr(error.value, "kind", None)) == ("device", "out-of-bounds")
    assert device.buffer == disk


def test_a_guest_that_maps_a_write_on_a_read_only_device_writes_nothing() -> None:
    disk, device = device_at("o", read_only=True)
    whole = Partitioner(component=hostile()).whole(device)
    error = refusal(lambda: whole.write(0, bytes(512)))
    assert (error.kind, getattr(error.value, "kind", None)) == ("device", "is-read-only")
    assert bytes(device.buffer) == disk


def test_a_guest_that_maps_after_dropping_the_device_is_an_error_not_a_crash() -> None:
    disk, device = device_at("d")
    whole = Partitioner(component=hostile()).whole(device)
    assert device.stats.drops == 1
    for request in (
        lambda: whole.read(0, 512),
        lambda: whole.readinto(0, bytearray(512)),
        lambda: whole.write(0, bytes(512)),
    ):
        with pytest.raises(RuntimeError, match="device it had dropped"):
            request()
    assert whole.read(0, 0) == b""  # an empty transfer needs no device
    assert device.buffer == disk
