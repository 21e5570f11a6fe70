"""`list<u8>` crosses in bulk (`blockpart._byte_lists`), with the same bytes as wasmtime-py's
own conversion, a byte at a time."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from blockpart import MemoryDevice, Partitioner, _byte_lists


@pytest.fixture(params=["bulk", "stock"])
def conversion(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "stock":
        _byte_lists.disable()
    yield request.param
    _byte_lists.enable()


def test_every_byte_value_crosses_both_ways_unchanged(conversion: str) -> None:
    disk = bytearray(128 * 512)
    _, rest = Partitioner().connect(1, MemoryDevice(disk))
    data = bytes(range(256)) * 2 + os.urandom(63 * 512)
    rest.write_list(0, data)
    assert disk[512 : 512 + len(data)] == data
    assert rest.read_list(0, len(data)) == data
    assert rest.read_list(64, 0) == b""
    rest.write_list(64, bytearray(data[:512]))
    rest.write_list(65, memoryview(data)[:512])
    assert rest.read_list(64, 1024) == data[:512] * 2
