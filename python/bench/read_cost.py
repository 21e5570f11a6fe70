"""What a read costs from Python: ``os.pread``, a ``FileDevice``, and a partition.

    python bench/read_cost.py [--sizes 4096,65536,1048576] [--rounds N]

Reads the first N bytes of a 64 MiB file of random bytes (in the page cache after the first
round), best of ``--rounds``, with:

- ``os.pread``: the plain file read, the baseline;
- ``FileDevice.read``: the same through the package's device, with its checks;
- ``Partition.read_list``: through the component (the device's read crosses into the guest as a
  ``list<u8>``, and the partition's result back out), with the package's bulk ``list<u8>``
  conversion, split into the time in the device's ``pread``, in the package's conversions, and
  the rest (wasmtime's C API: one 32-byte value per byte, both ways, and the guest);
- ``Partition.read_list``, wasmtime-py's own conversion: a byte at a time in Python.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from collections.abc import Callable

from wasmtime.component._types import ListType

from blockpart import FileDevice, Partitioner, _byte_lists
from blockpart.driver import _host_name


def best(rounds: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


class Timed:
    """Wraps `owner.name` to add up the time spent in it."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner, self.name = owner, name
        self.original = getattr(owner, name)
        self.total = 0.0
        original = self.original

        def timed(*args: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args)
            finally:
                self.total += time.perf_counter() - start

        setattr(owner, name, timed)

    def restore(self) -> None:
        setattr(self.owner, self.name, self.original)


def split(rounds: int, call: Callable[[], object]) -> tuple[float, float, float]:
    """Best total of `call`, with the device's reads and the list conversions of that round."""
    results = []
    for _ in range(rounds):
        timers = [
            Timed(FileDevice, "_read"),
            Timed(ListType, "convert_to_c"),
            Timed(ListType, "convert_from_c"),
        ]
        start = time.perf_counter()
        call()
        total = time.perf_counter() - start
        for timer in timers:
            timer.restore()
        results.append((total, timers[0].total, timers[1].total + timers[2].total))
    return min(results)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:10.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4096,65536,1048576")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    with tempfile.NamedTemporaryFile() as file:
        file.write(os.urandom(64 << 20))
        file.flush()
        fd = os.open(file.name, os.O_RDONLY)
        device = FileDevice(file.name, sector_size=512, read_only=True)
        partitioner = Partitioner()
        whole = partitioner.whole(FileDevice(file.name, sector_size=512, read_only=True))
        _, partition = whole.subpartition(1)
        print(_host_name())
        print(
            "size        pread ms   device ms     part. ms  (pread,    lists,     rest)   stock ms"
        )
        for size in sizes:
            assert partition.read_list(0, size) == os.pread(fd, size, 512)
            native = best(args.rounds, functools.partial(os.pread, fd, size, 512))
            direct = best(args.rounds, functools.partial(device.read, 1, size))
            read = functools.partial(partition.read_list, 0, size)
            total, in_pread, in_lists = split(args.rounds, read)
            _byte_lists.disable()
            try:
                stock = best(max(1, args.rounds // 3), read)
            finally:
                _byte_lists.enable()
            rest = total - in_pread - in_lists
            print(
                f"{size:>8} {ms(native)}  {ms(direct)}   {ms(total)}"
                f"  ({ms(in_pread).strip()}, {ms(in_lists).strip()}, {ms(rest).strip()})"
                f" {ms(stock)}"
            )
        for item in (partition, whole):
            item.drop()
        device.close()
        os.close(fd)


if __name__ == "__main__":
    main()
