"""Block devices for the partitioner's ``block-device`` import, written in Python.

The partitioner calls a device's ``info``, ``read``, ``write``, ``flush``, ``discard``,
``write_zeroes`` and ``disconnect``; a partition's mapped reads and writes call its
``read_into`` and ``write`` at the device sector the partitioner mapped them to.
:class:`BlockDevice` implements them, checking every request itself as the contract says
(``BlockDevice`` in ``core/src/device.rs``): the guest holds the whole device it was handed
and may call it, or map a request onto it, with any numbers, so the device, not the partition,
is what stops it. A subclass supplies the storage through ``_read``, ``_write``, ``_zero`` and
``_flush`` (and ``_read_into``, if it can fill a buffer without a copy), called only with
requests that passed.
"""

from __future__ import annotations

import contextlib
import operator
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from .values import DeviceError, Info

#: What a buffer of bytes may be: anything with the buffer protocol.
Buffer = bytes | bytearray | memoryview


def _sector_size(value: int) -> int:
    """`value`, if it is a sector size, as the Rust core's `SectorSize`: a power of two, at least
    512, and a WIT u32 (which would wrap 2**32 to 0)."""
    if not 512 <= operator.index(value) <= 2**31 or value & (value - 1):
        raise ValueError(
            f"sector size {value} is not a power of two from 512 to 2**31 (a u32 holds up to that)"
        )
    return value


def bytes_read(data: object) -> bytes | memoryview:
    """What a device's read gave, as bytes: ``bytes`` as it is, another buffer as a view of its
    bytes. Anything else is the device error ``io``, never bytes: ``bytes(n)`` of an ``int`` is
    ``n`` zero bytes."""
    if isinstance(data, bytes):
        return data
    try:
        return memoryview(data).cast("B")  # type: ignore[arg-type]
    except TypeError:
        raise DeviceError(
            "io", f"the device's read gave {type(data).__name__}, not bytes"
        ) from None


@dataclass
class DeviceStats:
    """Requests that reached a host's devices (every method but ``info`` and ``disconnect``,
    counted before the device's own checks) and handles the partitioner dropped. Share one
    between devices to count them together."""

    requests: int = 0
    drops: int = 0


class BlockDevice:
    """The base of every device the partitioner can be handed.

    Its methods take and return what the WIT says, with ``int`` for u64 and ``bytes`` for
    ``list<u8>``, and raise :class:`~blockpart.DeviceError` for a refusal or failure. A request
    is checked in this order: disconnected; ``is-read-only`` for a write, discard or
    write-zeroes on a read-only device; ``unaligned`` for a length that is not whole sectors;
    ``out-of-bounds`` unless ``sector_start + sectors <= size_sectors`` (Python's integers
    cannot overflow, so ``2**64 - 1`` is just a large number, and a negative one is out of
    bounds too). Zero-length requests that pass succeed without touching the storage.

    ``close`` (or leaving a ``with`` block) disconnects the device and releases its storage.
    The partitioner dropping its handle does not: the device belongs to whoever made it.
    """

    def __init__(
        self,
        *,
        sector_size: int,
        size_sectors: int,
        read_only: bool = False,
        stats: DeviceStats | None = None,
    ) -> None:
        self._sector_size = _sector_size(sector_size)
        self._size_sectors = operator.index(size_sectors)
        self._read_only = bool(read_only)
        self._connected = True
        self.stats = stats if stats is not None else DeviceStats()

    @property
    def sector_size(self) -> int:
        return self._sector_size

    @property
    def size_sectors(self) -> int:
        return self._size_sectors

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def connected(self) -> bool:
        return self._connected

    def info(self) -> Info:
        return Info(not self._read_only, self._sector_size, self._size_sectors)

    def read(self, sector_start: int, length: int) -> bytes:
        """Reads ``length`` bytes (whole sectors) from sector ``sector_start``."""
        offset, length = self._check(sector_start, length, writes=False)
        return self._read(offset, length) if length else b""

    def read_into(self, sector_start: int, buffer: Buffer) -> None:
        """Reads ``len(buffer)`` bytes (whole sectors) from sector ``sector_start`` into
        ``buffer``, any writable buffer. A refused request leaves it as it was."""
        view = memoryview(buffer).cast("B")
        if view.readonly:
            raise TypeError("read_into needs a writable buffer, such as a bytearray")
        offset, length = self._check(sector_start, len(view), writes=False)
        if length:
            self._read_into(offset, view)

    def write(self, sector_start: int, data: Buffer) -> None:
        """Writes ``data`` (whole sectors) from sector ``sector_start``."""
        view = memoryview(data).cast("B")
        offset, length = self._check(sector_start, len(view), writes=True)
        if length:
            self._write(offset, view)

    def flush(self) -> None:
        """Makes every completed write durable."""
        self._check(0, 0, writes=False)
        self._flush()

    def discard(self, sector_start: int, sectors: int) -> None:
        """Drops the contents of ``sectors`` sectors; here they read as zeroes afterwards."""
        self.write_zeroes(sector_start, sectors)

    def write_zeroes(self, sector_start: int, sectors: int) -> None:
        """Sets ``sectors`` sectors from ``sector_start`` to zero."""
        offset, length = self._check(
            sector_start, operator.index(sectors) * self._sector_size, writes=True
        )
        if length:
            self._zero(offset, length)

    def disconnect(self) -> None:
        """Refuses every later request with ``disconnected``."""
        self._connected = False

    def close(self) -> None:
        """Disconnects the device and releases what it holds; closing twice does nothing."""
        self._connected = False

    def __enter__(self) -> BlockDevice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check(self, sector_start: int, length: int, *, writes: bool) -> tuple[int, int]:
        """Counts the request, then checks it; returns its byte offset and length."""
        self.stats.requests += 1
        sector_start, length = operator.index(sector_start), operator.index(length)
        if not self._connected:
            raise DeviceError("disconnected")
        if writes and self._read_only:
            raise DeviceError("is-read-only")
        if length % self._sector_size:
            raise DeviceError("unaligned")
        if sector_start < 0 or length < 0:
            raise DeviceError("out-of-bounds")
        if sector_start + length // self._sector_size > self._size_sectors:
            raise DeviceError("out-of-bounds")
        return sector_start * self._sector_size, length

    # What a subclass provides: `offset` and `length` in bytes, inside the device, non-empty.

    def _read(self, offset: int, length: int) -> bytes:
        raise NotImplementedError

    def _read_into(self, offset: int, buffer: memoryview) -> None:
        # By default through `_read`: one copy more than a device that fills `buffer` itself.
        data = bytes_read(self._read(offset, len(buffer)))
        if len(data) != len(buffer):
            raise DeviceError("io", f"asked for {len(buffer)} bytes, the device read {len(data)}")
        buffer[:] = data

    def _write(self, offset: int, data: memoryview) -> None:
        raise NotImplementedError

    def _zero(self, offset: int, length: int) -> None:
        raise NotImplementedError

    def _flush(self) -> None:
        pass


class MemoryDevice(BlockDevice):
    """A device over a buffer of whole sectors, used in place: the caller sees every write.

    A writable device needs a writable buffer (a ``bytearray``); a read-only one may be over
    ``bytes``.
    """

    def __init__(
        self,
        buffer: Buffer,
        *,
        sector_size: int = 512,
        read_only: bool = False,
        stats: DeviceStats | None = None,
    ) -> None:
        view = memoryview(buffer).cast("B")
        sector_size = _sector_size(sector_size)
        if view.readonly and not read_only:
            raise TypeError("a writable MemoryDevice needs a writable buffer, such as a bytearray")
        if len(view) % sector_size:
            raise ValueError(
                f"{len(view)} bytes is not a whole number of {sector_size}-byte sectors"
            )
        super().__init__(
            sector_size=sector_size,
            size_sectors=len(view) // sector_size,
            read_only=read_only,
            stats=stats,
        )
        self.buffer = buffer
        self._view = view

    def _read(self, offset: int, length: int) -> bytes:
        return self._view[offset : offset + length].tobytes()

    def _read_into(self, offset: int, buffer: memoryview) -> None:
        buffer[:] = self._view[offset : offset + len(buffer)]

    def _write(self, offset: int, data: memoryview) -> None:
        self._view[offset : offset + len(data)] = data

    def _zero(self, offset: int, length: int) -> None:
        self._view[offset : offset + length] = bytes(length)


@contextlib.contextmanager
def _io() -> Iterator[None]:
    """Reports a failure of the file as the device error ``io``."""
    try:
        yield
    except OSError as error:
        raise DeviceError("io", str(error)) from error


class FileDevice(BlockDevice):
    """A device over a regular file or a block device, with positional reads and writes.

    ``flush`` is ``fdatasync``; ``discard`` and ``write_zeroes`` write zeroes. The size is the
    file's when opened, in whole sectors, and the device never grows the file. Anything but a
    regular file or a block device (a FIFO, a terminal) is refused, without waiting on it.
    """

    _ZERO_CHUNK = 1 << 20

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        sector_size: int = 512,
        read_only: bool = False,
        stats: DeviceStats | None = None,
    ) -> None:
        self._fd = -1
        sector_size = _sector_size(sector_size)
        flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC | os.O_NONBLOCK
        fd = os.open(path, flags)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISREG(mode):
                size = os.fstat(fd).st_size
            elif stat.S_ISBLK(mode):
                size = os.lseek(fd, 0, os.SEEK_END)
            else:
                raise ValueError(f"{os.fspath(path)} is not a regular file or a block device")
            if size % sector_size:
                raise ValueError(
                    f"{os.fspath(path)} is {size} bytes, "
                    f"not a whole number of {sector_size}-byte sectors"
                )
            os.set_blocking(fd, True)
            super().__init__(
                sector_size=sector_size,
                size_sectors=size // sector_size,
                read_only=read_only,
                stats=stats,
            )
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _read(self, offset: int, length: int) -> bytes:
        with _io():
            data = os.pread(self._fd, length, offset)
            if len(data) == length:
                return data
            chunks = bytearray(data)
            while len(chunks) < length:
                chunk = os.pread(self._fd, length - len(chunks), offset + len(chunks))
                if not chunk:
                    raise OSError(f"the file ends {len(chunks)} bytes into a read of {length}")
                chunks += chunk
            return bytes(chunks)

    def _read_into(self, offset: int, buffer: memoryview) -> None:
        with _io():
            done = 0
            while done < len(buffer):
                count = os.preadv(self._fd, [buffer[done:]], offset + done)
                if not count:
                    raise OSError(f"the file ends {done} bytes into a read of {len(buffer)}")
                done += count

    def _write(self, offset: int, data: memoryview) -> None:
        with _io():
            done = 0
            while done < len(data):
                done += os.pwrite(self._fd, data[done:], offset + done)

    def _zero(self, offset: int, length: int) -> None:
        zeroes = memoryview(bytes(min(length, self._ZERO_CHUNK)))
        for done in range(0, length, len(zeroes)):
            self._write(offset + done, zeroes[: min(len(zeroes), length - done)])

    def _flush(self) -> None:
        with _io():
            os.fdatasync(self._fd)

    def close(self) -> None:
        super().close()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __del__(self) -> None:
        self.close()
