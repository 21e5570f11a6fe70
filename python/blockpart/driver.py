"""The conformance driver: ``python -m blockpart.driver``.

The Rust suite (``blockpart conformance --host "python -m blockpart.driver"``) talks to this
process in JSON lines over stdin and stdout, and this process does what it asks with the
package's own :class:`~blockpart.Partitioner` and devices. The protocol, with every request, is
``docs/driver-protocol.md`` at the repository's root; in short, one request per line in, one
reply per line out, in order::

    {"ok": value}                  the call succeeded
    {"error": {"tag": ..., ...}}   the call failed with its WIT error (error, table-error or
                                   device-error), shaped as jco gives it
    {"failure": "message"}         anything else: the case fails with this message

Values are shaped as jco gives them (records with camel-case fields, variants as ``{tag,
val}``), with u64 values as decimal strings both ways and byte data as base64. Nothing else
may be written to stdout: ``print`` goes to stderr here, which the suite quotes when the driver
dies.
"""

from __future__ import annotations

import base64
import binascii
import importlib.metadata
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import Partition, Partitioner
from .devices import BlockDevice, DeviceStats, FileDevice, MemoryDevice
from .values import (
    Access,
    BadEntry,
    DeviceError,
    Entry,
    Gpt,
    Info,
    PartitionError,
    Table,
    TableError,
)

#: The protocol version this driver speaks.
PROTOCOL = 2

_U64_MAX = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


class ProtocolError(Exception):
    """A request the driver cannot make sense of: a failure reply, never an error reply."""


Request = dict[str, Any]


# Reading requests.


def _field(request: Request, name: str) -> Any:
    if name not in request:
        raise ProtocolError(f'"{request.get("op")}" needs "{name}"')
    return request[name]


def _u64(request: Request, name: str) -> int:
    """A u64 argument: a decimal string, 0 to 2^64 - 1."""
    value = _field(request, name)
    if not (isinstance(value, str) and _DECIMAL.fullmatch(value) and int(value) <= _U64_MAX):
        raise ProtocolError(f'"{name}" must be a u64 as a decimal string, not {value!r}')
    return int(value)


def _u32(request: Request, name: str) -> int:
    """A u32 argument: a JSON number."""
    value = _field(request, name)
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32):
        raise ProtocolError(f'"{name}" must be a u32, not {value!r}')
    return value


def _bool(request: Request, name: str) -> bool:
    value = _field(request, name)
    if not isinstance(value, bool):
        raise ProtocolError(f'"{name}" must be a boolean')
    return value


def _string(request: Request, name: str) -> str:
    value = _field(request, name)
    if not isinstance(value, str):
        raise ProtocolError(f'"{name}" must be a string')
    return value


def _bytes(request: Request, name: str) -> bytes:
    """Byte data: base64 (RFC 4648, with padding)."""
    try:
        return base64.b64decode(_string(request, name), validate=True)
    except binascii.Error as error:
        raise ProtocolError(f'"{name}" must be base64: {error}') from error


# Writing replies: the WIT's values as jco shapes them, u64 values as decimal strings.


def _wire_u64(value: int) -> str:
    return str(value)


def _wire_bytes(data: bytes | bytearray) -> str:
    return base64.b64encode(data).decode("ascii")


def _wire_info(info: Info) -> dict[str, Any]:
    return {
        "readWrite": info.read_write,
        "sectorSize": info.sector_size,
        "sizeSectors": _wire_u64(info.size_sectors),
    }


def _variant(tag: str, val: Any = None) -> dict[str, Any]:
    return {"tag": tag} if val is None else {"tag": tag, "val": val}


def _wire_device_error(error: DeviceError) -> dict[str, Any]:
    return _variant(error.kind, error.value)


def _wire_error(error: PartitionError) -> dict[str, Any]:
    value = error.value
    if isinstance(value, Access):
        val: Any = {
            "sectorStart": _wire_u64(value.sector_start),
            "sectors": _wire_u64(value.sectors),
            "sizeSectors": _wire_u64(value.size_sectors),
        }
    elif isinstance(value, DeviceError):
        val = _wire_device_error(value)
    elif isinstance(value, int):  # unaligned, too-large: a length in bytes
        val = _wire_u64(value)
    else:
        val = value
    return _variant(error.kind, val)


def _wire_table_error(error: TableError) -> dict[str, Any]:
    value = error.value
    if isinstance(value, BadEntry):
        val: Any = {"number": value.number, "reason": value.reason}
    elif isinstance(value, PartitionError):
        val = _wire_error(value)
    else:
        val = value
    return _variant(error.kind, val)


def _wire_entry(entry: Entry) -> dict[str, Any]:
    kind = "mbr" if isinstance(entry.partition_type, int) else "gpt"
    return {
        "number": entry.number,
        "start": _wire_u64(entry.start),
        "sectors": _wire_u64(entry.sectors),
        "partitionType": _variant(kind, entry.partition_type),
        "guid": entry.guid,
        "name": entry.name,
        "bootable": entry.bootable,
        "attributes": _wire_u64(entry.attributes),
    }


def _wire_table(table: Table) -> dict[str, Any]:
    label = table.label
    if isinstance(label, Gpt):
        wire_label = _variant(
            "gpt",
            {
                "diskGuid": label.disk_guid,
                "firstUsable": _wire_u64(label.first_usable),
                "lastUsable": _wire_u64(label.last_usable),
                "fromBackup": label.from_backup,
            },
        )
    else:
        wire_label = _variant("mbr", label.disk_signature)
    return {
        "label": wire_label,
        "sectorSize": table.sector_size,
        "sizeSectors": _wire_u64(table.size_sectors),
        "entries": [_wire_entry(entry) for entry in table.entries],
    }


def _wire_refusal(error: PartitionError | TableError | DeviceError) -> dict[str, Any]:
    if isinstance(error, PartitionError):
        return _wire_error(error)
    if isinstance(error, TableError):
        return _wire_table_error(error)
    return _wire_device_error(error)


# What the driver holds: disks (an instance and its devices' counts), their partitions, and
# devices of its own. Ids are shared by all three, in the order they were made.


@dataclass
class _Disk:
    path: str
    sector_size: int
    read_only: bool
    partitioner: Partitioner
    stats: DeviceStats = field(default_factory=DeviceStats)
    handed_over: list[BlockDevice] = field(default_factory=list)
    parts: set[int] = field(default_factory=set)


@dataclass
class _Part:
    disk: _Disk
    partition: Partition


class Driver:
    """The driver's state, and one method per op."""

    def __init__(self) -> None:
        self._next_id = 0
        self._disks: dict[int, _Disk] = {}
        self._parts: dict[int, _Part] = {}
        self._devices: dict[int, tuple[BlockDevice, str]] = {}
        self._ops: dict[str, Callable[[Request], Any]] = {
            "hello": self.hello,
            "disk": self.disk,
            "counts": self.counts,
            "drop-disk": self.drop_disk,
            "whole": self.whole,
            "connect": self.connect,
            "subpartition": self.subpartition,
            "slice": self.slice,
            "get-offset": lambda r: _wire_u64(self._part(r).partition.get_offset()),
            "info": lambda r: _wire_info(self._part(r).partition.info()),
            "read": self.read,
            "write": self.write,
            "map": self.map,
            "read-mapped": self.read_mapped,
            "write-mapped": self.write_mapped,
            "flush": lambda r: self._part(r).partition.flush(),
            "discard": lambda r: self._part(r).partition.discard(*self._range(r)),
            "write-zeroes": lambda r: self._part(r).partition.write_zeroes(*self._range(r)),
            "disconnect": lambda r: self._part(r).partition.disconnect(),
            "drop": self.drop,
            "table-read": self.table_read,
            "table-open": self.table_open,
            "device": self.device,
            "device-info": lambda r: _wire_info(self._device(r).info()),
            "device-read": self.device_read,
            "device-write": self.device_write,
            "device-flush": lambda r: self._device(r).flush(),
            "device-discard": lambda r: self._device(r).discard(*self._range(r)),
            "device-write-zeroes": lambda r: self._device(r).write_zeroes(*self._range(r)),
            "device-bytes": self.device_bytes,
            "drop-device": self.drop_device,
        }

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def _lookup(self, table: dict[int, Any], request: Request, name: str, what: str) -> Any:
        key = _field(request, name)
        if not isinstance(key, int) or key not in table:
            raise ProtocolError(f"there is no {what} {json.dumps(key)}")
        return table[key]

    def _disk(self, request: Request) -> _Disk:
        return self._lookup(self._disks, request, "disk", "disk")  # type: ignore[no-any-return]

    def _part(self, request: Request) -> _Part:
        return self._lookup(self._parts, request, "part", "partition")  # type: ignore[no-any-return]

    def _device(self, request: Request) -> BlockDevice:
        return self._lookup(self._devices, request, "device", "device")[0]  # type: ignore[no-any-return]

    @staticmethod
    def _range(request: Request) -> tuple[int, int]:
        return _u64(request, "sectorStart"), _u64(request, "sectors")

    def _keep(self, disk: _Disk, partition: Partition) -> int:
        part_id = self._id()
        self._parts[part_id] = _Part(disk, partition)
        disk.parts.add(part_id)
        return part_id

    def _drop_part(self, part_id: int) -> None:
        part = self._parts.pop(part_id)
        part.disk.parts.discard(part_id)
        part.partition.drop()

    def _hand_over(self, disk: _Disk) -> FileDevice:
        """A fresh device over the disk's file, counted with the disk's other devices."""
        device = FileDevice(
            disk.path, sector_size=disk.sector_size, read_only=disk.read_only, stats=disk.stats
        )
        disk.handed_over.append(device)
        return device

    # Ops.

    def hello(self, request: Request) -> Any:
        protocol = _field(request, "protocol")
        if protocol != PROTOCOL:
            raise ProtocolError(f"this driver speaks protocol {PROTOCOL}, not {protocol}")
        return {"protocol": PROTOCOL, "host": _host_name()}

    def disk(self, request: Request) -> Any:
        disk = _Disk(
            path=_string(request, "path"),
            sector_size=_u32(request, "sectorSize"),
            read_only=_bool(request, "readOnly"),
            partitioner=Partitioner(),
        )
        disk_id = self._id()
        self._disks[disk_id] = disk
        return disk_id

    def counts(self, request: Request) -> Any:
        disk = self._disk(request)
        live = len(disk.handed_over) - disk.stats.drops
        return {"requests": _wire_u64(disk.stats.requests), "liveDevices": live}

    def drop_disk(self, request: Request) -> Any:
        disk = self._disk(request)
        del self._disks[request["disk"]]
        for part_id in sorted(disk.parts):
            self._drop_part(part_id)
        for device in disk.handed_over:
            device.close()

    def whole(self, request: Request) -> Any:
        disk = self._disk(request)
        return self._keep(disk, disk.partitioner.whole(self._hand_over(disk)))

    def connect(self, request: Request) -> Any:
        disk = self._disk(request)
        first = _u64(request, "firstSectors")
        pair = disk.partitioner.connect(first, self._hand_over(disk))
        return [self._keep(disk, partition) for partition in pair]

    def subpartition(self, request: Request) -> Any:
        part = self._part(request)
        pair = part.partition.subpartition(_u64(request, "firstSectors"))
        return [self._keep(part.disk, partition) for partition in pair]

    def slice(self, request: Request) -> Any:
        part = self._part(request)
        return self._keep(part.disk, part.partition.slice(*self._range(request)))

    def read(self, request: Request) -> Any:
        part = self._part(request)
        data = part.partition.read_list(_u64(request, "sectorStart"), _u64(request, "len"))
        return _wire_bytes(data)

    def write(self, request: Request) -> Any:
        part = self._part(request)
        part.partition.write_list(_u64(request, "sectorStart"), _bytes(request, "data"))

    def map(self, request: Request) -> Any:
        part = self._part(request)
        direction = _string(request, "direction")
        if direction not in ("read", "write"):
            raise ProtocolError(f'"direction" must be "read" or "write", not {direction!r}')
        at = part.partition.map(direction, _u64(request, "sectorStart"), _u64(request, "len"))
        return _wire_u64(at)

    def read_mapped(self, request: Request) -> Any:
        part = self._part(request)
        start, length = _u64(request, "sectorStart"), _u64(request, "len")
        # The package's own mapped read, into a buffer of `len` bytes as a caller makes it
        # (zeroed pages, untouched until the device fills them: 64 MiB and a sector, refused
        # as too large, costs nothing). A length no buffer can have fails the request.
        buffer = bytearray(length)
        part.partition.readinto(start, buffer)
        return _wire_bytes(buffer)

    def write_mapped(self, request: Request) -> Any:
        part = self._part(request)
        part.partition.write(_u64(request, "sectorStart"), _bytes(request, "data"))

    def drop(self, request: Request) -> Any:
        self._part(request)
        self._drop_part(request["part"])

    def table_read(self, request: Request) -> Any:
        part = self._part(request)
        return _wire_table(part.disk.partitioner.read_table(part.partition))

    def table_open(self, request: Request) -> Any:
        part = self._part(request)
        number = _u32(request, "number")
        return self._keep(part.disk, part.disk.partitioner.open(part.partition, number))

    def device(self, request: Request) -> Any:
        kind = _string(request, "kind")
        path = _string(request, "path")
        sector_size, read_only = _u32(request, "sectorSize"), _bool(request, "readOnly")
        device: BlockDevice
        if kind == "file":
            device = FileDevice(path, sector_size=sector_size, read_only=read_only)
        elif kind == "memory":
            # A copy of the file's bytes: the device's backing is this buffer, for device-bytes.
            with open(path, "rb") as file:
                buffer = bytearray(file.read())
            device = MemoryDevice(buffer, sector_size=sector_size, read_only=read_only)
        else:
            raise ProtocolError(f'there is no device kind {kind!r}: "file" or "memory"')
        device_id = self._id()
        self._devices[device_id] = (device, path)
        return device_id

    def device_read(self, request: Request) -> Any:
        device = self._device(request)
        return _wire_bytes(device.read(_u64(request, "sectorStart"), _u64(request, "len")))

    def device_write(self, request: Request) -> Any:
        device = self._device(request)
        device.write(_u64(request, "sectorStart"), _bytes(request, "data"))

    def device_bytes(self, request: Request) -> Any:
        device, path = self._lookup(self._devices, request, "device", "device")
        if isinstance(device, MemoryDevice):
            return _wire_bytes(bytes(device.buffer))
        with open(path, "rb") as file:
            return _wire_bytes(file.read())

    def drop_device(self, request: Request) -> Any:
        device, _ = self._lookup(self._devices, request, "device", "device")
        del self._devices[request["device"]]
        device.close()

    # Lines.

    def reply(self, line: str | bytes) -> dict[str, Any]:
        """The reply to one request line."""
        try:
            try:
                request = json.loads(line)
            except ValueError as error:
                raise ProtocolError(f"a request is not JSON: {error}") from error
            op = request.get("op") if isinstance(request, dict) else None
            if op not in self._ops:
                raise ProtocolError(f"there is no op {json.dumps(op)}")
            return {"ok": self._ops[op](request)}
        except (PartitionError, TableError, DeviceError) as error:
            return {"error": _wire_refusal(error)}
        except Exception as error:  # a failure of the call, reported to the case
            return {"failure": f"{type(error).__name__}: {error}"}


def _host_name() -> str:
    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "(version unknown)"

    python = sys.version.split()[0]
    return f"blockpart {version('blockpart')} (wasmtime-py {version('wasmtime')}, python {python})"


def main(
    stdin: Any | None = None,
    stdout: Any | None = None,
) -> None:
    """Answers requests from ``stdin`` (binary) on ``stdout`` (text) until ``stdin`` ends."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    # Only replies go to the real standard output: a stray print would break the protocol.
    sys.stdout = sys.stderr
    driver = Driver()
    for line in stdin:
        if not line.strip():
            continue
        try:
            stdout.write(json.dumps(driver.reply(line)) + "\n")
            stdout.flush()
        except BrokenPipeError:
            # The suite closing the pipe ends the driver, like the end of its input.
            return


if __name__ == "__main__":
    main()
