"""Who holds what, and for how long: dropping partitions, closing devices, `with` blocks."""

from __future__ import annotations

import gc
import os
import weakref
from pathlib import Path

import pytest

from blockpart import (
    DeviceError,
    DeviceStats,
    FileDevice,
    MemoryDevice,
    Partitioner,
    PartitionError,
)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_guest_drops_the_device_with_the_last_partition_of_it(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    whole = partitioner.whole(memory_device)
    boot, rest = whole.subpartition(8)
    for partition in (whole, boot):
        partition.drop()
        assert memory_device.stats.drops == 0, "a partition of the device is still connected"
    rest.disconnect()
    assert memory_device.stats.drops == 1, "disconnected counts as no longer holding it"
    rest.drop()
    assert memory_device.stats.drops == 1


def test_dropping_twice_does_nothing_and_a_dropped_partition_refuses_every_call(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    whole = partitioner.whole(memory_device)
    whole.drop()
    whole.drop()
    for call in (
        lambda: whole.read(0, 512),
        lambda: whole.info(),
        lambda: whole.subpartition(1),
        lambda: partitioner.read_table(whole),
    ):
        with pytest.raises(ValueError, match="the partition was dropped"):
            call()


def test_a_with_block_drops_the_partition(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    with partitioner.whole(memory_device) as whole:
        with whole.slice(8, 8) as part:
            assert part.get_offset() == 8
        assert memory_device.stats.drops == 0
    assert memory_device.stats.drops == 1
    with pytest.raises(ValueError):
        whole.info()


def test_a_with_block_closes_a_file_device_and_the_guest_never_does(
    partitioner: Partitioner, tmp_path: Path
) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(16 * 512))
    before = open_fds()
    stats = DeviceStats()
    with FileDevice(path, sector_size=512, stats=stats) as device:
        assert open_fds() == before + 1
        with pytest.raises(PartitionError):
            partitioner.connect(32, device)  # past the end: the guest drops the device
        assert stats.drops == 1
        # The device is still the caller's, and still open.
        with partitioner.whole(device) as whole:
            whole.write(0, b"\x01" * 512)
    assert open_fds() == before
    with pytest.raises(DeviceError) as caught:
        device.read(0, 512)
    assert caught.value.kind == "disconnected"
    device.close()  # closing twice does nothing
    assert path.read_bytes()[:512] == b"\x01" * 512


def test_a_file_device_refuses_what_is_no_disk_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file or a block device"):
        FileDevice(fifo, read_only=True)  # opening a FIFO to read would wait for a writer
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    with pytest.raises(ValueError, match="not a whole number of 512-byte sectors"):
        FileDevice(odd)
    with pytest.raises(ValueError, match="not a power of two"):
        FileDevice(odd, sector_size=1000)


def test_a_writable_memory_device_needs_a_writable_buffer() -> None:
    with pytest.raises(TypeError, match="writable buffer"):
        MemoryDevice(bytes(512))
    assert MemoryDevice(bytes(512), read_only=True).info().read_write is False


def test_a_partitioner_is_freed_once_nothing_refers_to_it(memory_disk: bytearray) -> None:
    # wasmtime-py keeps the device functions as long as the store lives: they must not refer
    # back to the partitioner, or every instance would live for ever.
    partitioner = Partitioner()
    whole = partitioner.whole(MemoryDevice(memory_disk))
    whole.write(0, bytes(64 * 512))
    freed = weakref.ref(partitioner)
    del partitioner, whole
    gc.collect()
    assert freed() is None


def test_a_missing_component_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cargo run --release -- component -o"):
        Partitioner(tmp_path / "partitioner.wasm")


@pytest.mark.parametrize(
    ("contents", "why"),
    [
        (b"root:x:0:0:root:/root:/bin/bash\n", "neither a binary (which starts with \\0asm) nor"),
        # A core module: wasmtime's error and its cause, on one line.
        (b"\0asm\x01\0\0\0", "failed to parse WebAssembly module: attempted to parse a wasm"),
    ],
)
def test_a_file_that_is_no_component_is_refused_in_one_line(
    tmp_path: Path, contents: bytes, why: str
) -> None:
    path = tmp_path / "not.wasm"
    path.write_bytes(contents)
    with pytest.raises(ValueError) as caught:
        Partitioner(path)
    message = str(caught.value)
    assert message.startswith(f"{path.resolve()} is not a WebAssembly component: {why}")
    assert "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
