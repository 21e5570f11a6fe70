"""What a read costs on each data path, against a plain read of the same bytes, in one run.

    python bench/data_paths.py [--sizes 512,65536,1048576] [--rounds 9]

Reads ``size`` bytes from sector 1 of a 64 MiB disk of random bytes, kept twice: in a
``bytearray`` and in a file (in the page cache after the first round). For each backing:

- ``plain``: the read without the package, the baseline: a slice of the ``bytearray``
  (``view[a:b].tobytes()``), ``os.pread`` of the file;
- ``device``: ``MemoryDevice.read`` / ``FileDevice.read`` called directly, with their checks;
- ``mapped``: ``Partition.read`` (``partition.map`` in the guest, then the device's read);
- ``into``: ``Partition.readinto`` into one reused ``bytearray`` (no allocation per read);
- ``list``: ``Partition.read_list``, the bytes through the guest as ``list<u8>``.

Rounds are interleaved (every size and way once per round, in turn), each timing a batch of
reads long enough to measure; the table gives per read the median over rounds, the spread
(lowest to highest round) and the median's ratio to ``plain`` on the same backing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from blockpart import FileDevice, MemoryDevice, Partitioner
from blockpart.driver import _host_name

#: How long a batch of reads should take, at least, to be timed.
BATCH = 0.02


def per_read(call: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - start) / count


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="512,65536,1048576")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    disk = bytearray(os.urandom(64 << 20))
    view = memoryview(disk)
    with tempfile.NamedTemporaryFile() as file:
        file.write(disk)
        file.flush()
        fd = os.open(file.name, os.O_RDONLY)
        devices = {
            "memory": MemoryDevice(disk, read_only=True),
            "file": FileDevice(file.name, read_only=True),
        }
        partitioner = Partitioner()
        ways: dict[tuple[str, int, str], Callable[[], object]] = {}
        for backing, device in devices.items():
            part = partitioner.whole(device).slice(1, (64 << 11) - 1)
            for size in sizes:
                buffer = bytearray(size)
                plain: Callable[[], object]
                if backing == "memory":
                    plain = lambda size=size: view[512 : 512 + size].tobytes()  # noqa: E731
                else:
                    plain = lambda size=size: os.pread(fd, size, 512)  # noqa: E731
                expected = disk[512 : 512 + size]
                assert plain() == expected
                assert part.read(0, size) == expected
                assert part.read_list(0, size) == expected
                assert part.readinto(0, buffer) == size and buffer == expected
                ways[backing, size, "plain"] = plain
                ways[backing, size, "device"] = lambda d=device, s=size: d.read(1, s)
                ways[backing, size, "mapped"] = lambda p=part, s=size: p.read(0, s)
                ways[backing, size, "into"] = lambda p=part, b=buffer: p.readinto(0, b)
                ways[backing, size, "list"] = lambda p=part, s=size: p.read_list(0, s)

        # Batch sizes, from one timed read each (warms the page cache and the code too).
        counts = {key: max(1, round(BATCH / max(per_read(call, 1), 1e-7))) for key, call in ways.items()}
        samples: dict[tuple[str, int, str], list[float]] = {key: [] for key in ways}
        for _ in range(args.rounds):
            for key, call in ways.items():
                samples[key].append(per_read(call, counts[key]))

        print(_host_name())
        print(f"{args.rounds} interleaved rounds; per read: median (lowest to highest), x plain")
        for backing in devices:
            print(f"\n{backing:6} {'size':>8}  " + "  ".join(f"{way:>30}" for way in ("plain", "device", "mapped", "into", "list")))
            for size in sizes:
                plain_median = statistics.median(samples[backing, size, "plain"])
                cells = []
                for way in ("plain", "device", "mapped", "into", "list"):
                    times = samples[backing, size, way]
                    median = statistics.median(times)
                    cells.append(
                        f"{us(median)} ({us(min(times))}-{us(max(times))}) {median / plain_median:5.1f}x"
                    )
                print(f"{'':6} {size:>8}  " + "  ".join(f"{cell:>30}" for cell in cells))
        os.close(fd)


if __name__ == "__main__":
    main()
