"""Errors as Python sees them: the WIT's cases as `kind`, their payloads as `value`.

What each request must give is the conformance suite's business (it runs through the driver);
these check the Python shape of the answers, and what is Python's own: arguments a u64 cannot
hold, and exceptions that are no WIT error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blockpart import (
    Access,
    BadEntry,
    BlockDevice,
    DeviceError,
    FileDevice,
    Info,
    MemoryDevice,
    Partitioner,
    PartitionError,
    TableError,
)

LIMIT = 64 << 20  # the largest transfer, in bytes


def refusal(call: Callable[[], Any], error: type[Exception] = PartitionError) -> Any:
    with pytest.raises(error) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("request_", "kind", "value"),
    [
        (lambda boot, rest: boot.read(8, 512), "out-of-bounds", Access(8, 1, 8)),
        (
            lambda boot, rest: rest.write(2**64 - 1, bytes(512)),
            "out-of-bounds",
            Access(2**64 - 1, 1, 56),
        ),
        (lambda boot, rest: rest.read(0, 511), "unaligned", 511),
        (lambda boot, rest: rest.read(0, LIMIT + 512), "too-large", LIMIT + 512),
        # The list path refuses as the mapped one does.
        (lambda boot, rest: boot.read_list(8, 512), "out-of-bounds", Access(8, 1, 8)),
        (lambda boot, rest: rest.read_list(0, 511), "unaligned", 511),
        (lambda boot, rest: rest.write_list(0, bytes(511)), "unaligned", 511),
        (lambda boot, rest: boot.subpartition(9), "out-of-bounds", Access(9, 0, 8)),
    ],
)
def test_a_refusal_is_a_partition_error_with_the_wit_case_and_its_payload(
    partitioner: Partitioner, memory_device: MemoryDevice, request_: Any, kind: str, value: Any
) -> None:
    boot, rest = partitioner.connect(8, memory_device)
    error = refusal(lambda: request_(boot, rest))
    assert (error.kind, error.value) == (kind, value)
    assert str(error) == f"{kind}: {value}"


def test_cases_without_a_payload_have_none(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    whole = partitioner.whole(MemoryDevice(bytes(memory_disk), read_only=True))
    error = refusal(lambda: whole.write(0, bytes(512)))
    assert (error.kind, error.value, str(error)) == ("is-read-only", None, "is-read-only")
    whole.disconnect()
    error = refusal(lambda: whole.read(0, 512))
    assert (error.kind, error.value) == ("disconnected", None)


class FailingDevice(MemoryDevice):
    """Fails every read of sector 3 with an `io` error."""

    def _read(self, offset: int, length: int) -> bytes:
        if offset <= 3 * 512 < offset + length:
            raise DeviceError("io", "sector 3 is unreadable")
        return super()._read(offset, length)


def test_a_device_failure_arrives_as_device_with_the_device_error(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    _, rest = partitioner.connect(2, FailingDevice(memory_disk))
    error = refusal(lambda: rest.read(0, 4 * 512))
    assert error.kind == "device"
    assert isinstance(error.value, DeviceError)
    assert (error.value.kind, error.value.value) == ("io", "sector 3 is unreadable")
    assert rest.read(2, 512) == bytes(memory_disk[4 * 512 : 5 * 512])


def test_a_file_that_shrank_under_its_device_gives_io(
    partitioner: Partitioner, tmp_path: Path
) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(8 * 512))
    with FileDevice(path) as device:
        whole = partitioner.whole(device)
        path.write_bytes(bytes(4 * 512))
        error = refusal(lambda: whole.read(2, 4 * 512))
        assert (error.kind, error.value.kind) == ("device", "io")
        assert "the file ends 1024 bytes into a read of 2048" in error.value.value


class LyingDevice(MemoryDevice):
    """Reports a sector size that is no power of two."""

    def info(self) -> Info:
        return Info(True, 1000, 8)


class ShortReadDevice(MemoryDevice):
    """Returns one byte less than asked for."""

    def _read(self, offset: int, length: int) -> bytes:
        return super()._read(offset, length)[:-1]


def test_a_device_that_breaks_its_contract_is_an_invalid_device(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    error = refusal(lambda: partitioner.whole(LyingDevice(memory_disk)))
    assert error.kind == "invalid-device"
    assert "1000" in error.value
    whole = partitioner.whole(ShortReadDevice(memory_disk))
    # The guest finds a short read on the list path, the package on the mapped one: the same
    # error.
    for read in (whole.read_list, whole.read):
        error = refusal(lambda: read(0, 512))
        assert (error.kind, error.value) == (
            "invalid-device",
            "asked for 512 bytes, the device read 511",
        )


class NoBytesDevice(BlockDevice):
    """Its `_read` gives an int: `bytes()` of it would be that many zero bytes."""

    def _read(self, offset: int, length: int) -> bytes:
        return length  # type: ignore[return-value]


def test_a_read_that_gives_no_bytes_is_a_device_error(partitioner: Partitioner) -> None:
    whole = partitioner.whole(NoBytesDevice(sector_size=512, size_sectors=8))
    # Through the guest, mapped, and mapped into a buffer (`BlockDevice`'s own `_read_into`).
    for read in (whole.read_list, whole.read, lambda at, n: whole.readinto(at, bytearray(n))):
        error = refusal(lambda: read(0, 512))
        assert (error.kind, error.value.kind) == ("device", "io")
        assert error.value.value == "the device's read gave int, not bytes"
    # A device whose own `read` gives no bytes.
    device = MemoryDevice(bytearray(512))
    device.read = lambda sector_start, length: "text"  # type: ignore[method-assign,assignment]
    error = refusal(lambda: partitioner.whole(device).read_list(0, 512))
    assert error.value.value == "the device's read gave str, not bytes"


@pytest.mark.parametrize("sector_size", [0, 256, 511, 513, 1000, 3 * 512, 2**32, 2**33, -512])
def test_a_device_refuses_a_sector_size_the_core_refuses(
    sector_size: int, tmp_path: Path
) -> None:
    # A power of two from 512, that a WIT u32 holds: wasmtime-py stored 2**32 as 0, and the
    # guest refused "sector size 0".
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(4096))
    message = re.escape(f"sector size {sector_size} is not a power of two from 512 to 2**31")
    for make in (
        lambda: BlockDevice(sector_size=sector_size, size_sectors=0),
        lambda: MemoryDevice(bytearray(), sector_size=sector_size),
        lambda: FileDevice(path, sector_size=sector_size),
    ):
        with pytest.raises(ValueError, match=message):
            make()
    assert BlockDevice(sector_size=2**31, size_sectors=0).info() == Info(True, 2**31, 0)


def mbr(*entries: tuple[int, int, int]) -> bytes:
    """Sector 0 with primary entries of (type, start, sectors), in slots from 1."""
    sector = bytearray(512)
    for slot, (kind, start, sectors) in enumerate(entries):
        at = 446 + 16 * slot
        sector[at + 4] = kind
        sector[at + 8 : at + 16] = start.to_bytes(4, "little") + sectors.to_bytes(4, "little")
    sector[510:] = b"\x55\xaa"
    return bytes(sector)


def test_table_errors_carry_their_payloads(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    whole = partitioner.whole(memory_device)
    whole.write(0, bytes(512))
    error = refusal(lambda: partitioner.read_table(whole), TableError)
    assert (error.kind, error.value) == ("no-table", None)

    whole.write(0, mbr((0x83, 8, 8)))
    error = refusal(lambda: partitioner.open(whole, 2), TableError)
    assert (error.kind, error.value) == ("no-entry", 2)

    whole.write(0, mbr((0x83, 8, 8), (0x83, 60, 8)))
    error = refusal(lambda: partitioner.read_table(whole), TableError)
    assert error.kind == "bad-entry"
    assert isinstance(error.value, BadEntry) and error.value.number == 2
    assert "not within the disk" in error.value.reason
    error = refusal(lambda: partitioner.open(whole, 1), TableError)
    assert error.kind == "bad-entry", "a table with a bad entry opens no entry"

    whole.disconnect()
    error = refusal(lambda: partitioner.read_table(whole), TableError)
    assert error.kind == "read"
    assert isinstance(error.value, PartitionError) and error.value.kind == "disconnected"


def test_a_device_refuses_with_device_error(memory_disk: bytearray) -> None:
    device = MemoryDevice(memory_disk, read_only=True)
    assert refusal(lambda: device.read(64, 512), DeviceError).kind == "out-of-bounds"
    assert refusal(lambda: device.read(0, 100), DeviceError).kind == "unaligned"
    assert refusal(lambda: device.write(0, bytes(100)), DeviceError).kind == "is-read-only"
    assert refusal(lambda: device.read(-1, 512), DeviceError).kind == "out-of-bounds"
    with pytest.raises(ValueError):
        DeviceError("on-fire")
    with pytest.raises(ValueError):
        DeviceError("io")


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda p, part: part.read(-1, 512), ValueError),
        (lambda p, part: part.read(0, 2**64), ValueError),
        (lambda p, part: part.slice(0, -8), ValueError),
        (lambda p, part: part.read(0.5, 512), TypeError),
        (lambda p, part: p.open(part, 2**32), ValueError),
        (lambda p, part: p.whole(bytearray(512)), TypeError),
        (lambda p, part: Partitioner().read_table(part), ValueError),
    ],
)
def test_arguments_no_wit_type_holds_are_refused_before_the_call(
    partitioner: Partitioner, memory_device: MemoryDevice, call: Any, error: type[Exception]
) -> None:
    # wasmtime-py would store -1 in a u64 as 2**64 - 1, and 2**64 as 0.
    whole = partitioner.whole(memory_device)
    requests = memory_device.stats.requests
    with pytest.raises(error):
        call(partitioner, whole)
    assert memory_device.stats.requests == requests


class BuggyDevice(MemoryDevice):
    def _read(self, offset: int, length: int) -> bytes:
        raise ZeroDivisionError("a bug in the device")


def test_an_exception_that_is_no_device_error_is_raised_as_itself(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    whole = partitioner.whole(BuggyDevice(memory_disk))
    # On the mapped path the package calls the device, not the guest: the instance goes on.
    with pytest.raises(ZeroDivisionError, match="a bug in the device"):
        whole.read(0, 512)
    assert whole.info() == Info(True, 512, 64)
    with pytest.raises(ZeroDivisionError, match="a bug in the device"):
        whole.read_list(0, 512)
    # The guest trapped: this instance is done, and says why; a new one is not.
    with pytest.raises(RuntimeError, match="unusable: a call failed with ZeroDivisionError"):
        whole.info()
    whole.drop()  # does nothing: the handle goes with the instance
    assert Partitioner().whole(MemoryDevice(memory_disk)).info() == Info(True, 512, 64)
