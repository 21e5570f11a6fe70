"""The WIT's records, variants and errors as Python values (see ``wit/blockpart.wit``).

Records are named tuples with the WIT's field names in snake case. A WIT error is an exception
whose ``kind`` is the variant's case, spelt as the WIT spells it (``"out-of-bounds"``), and whose
``value`` is the case's payload, or ``None`` for a case without one. u64 values are ``int``.
"""

from __future__ import annotations

from typing import NamedTuple


class Info(NamedTuple):
    """What a block device or partition is (WIT ``types.info``)."""

    read_write: bool
    sector_size: int
    size_sectors: int


class Access(NamedTuple):
    """A refused request, in sectors relative to the partition (WIT ``types.access``)."""

    sector_start: int
    sectors: int
    size_sectors: int


class DeviceError(Exception):
    """A block device's refusal or failure (WIT ``types.device-error``).

    ``kind`` is ``"disconnected"``, ``"is-read-only"``, ``"out-of-bounds"``, ``"unaligned"`` or
    ``"io"``; ``value`` is the message of an ``"io"`` error, ``None`` otherwise. A device raises
    it, and the partitioner receives it as the ``result``'s error.
    """

    KINDS = ("disconnected", "is-read-only", "out-of-bounds", "unaligned", "io")

    def __init__(self, kind: str, value: str | None = None) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"{kind!r} is not a device-error: one of {', '.join(self.KINDS)}")
        if (kind == "io") != isinstance(value, str):
            raise ValueError("an io device-error has a message, and only that one")
        super().__init__(kind if value is None else f"{kind}: {value}")
        self.kind = kind
        self.value = value


#: The payload of each ``PartitionError`` kind.
PartitionErrorValue = Access | int | DeviceError | str | None


class PartitionError(Exception):
    """Why a partition refused or failed a request (WIT ``types.error``).

    ``kind`` and ``value``: ``"out-of-bounds"`` with an :class:`Access`; ``"unaligned"`` and
    ``"too-large"`` with the length in bytes; ``"disconnected"`` and ``"is-read-only"`` with
    ``None``; ``"device"`` with the device's :class:`DeviceError`; ``"invalid-device"`` with a
    message. Every kind but ``"device"`` was found before any device I/O: nothing was read or
    written.
    """

    def __init__(self, kind: str, value: PartitionErrorValue = None) -> None:
        super().__init__(kind if value is None else f"{kind}: {value}")
        self.kind = kind
        self.value = value


class Mbr(NamedTuple):
    """A DOS master boot record, with its 32-bit disk signature (WIT ``label.mbr``)."""

    disk_signature: int


class Gpt(NamedTuple):
    """What a GPT header says of the disk (WIT ``gpt-header``)."""

    disk_guid: str
    first_usable: int
    last_usable: int
    from_backup: bool


class Entry(NamedTuple):
    """One partition of a table (WIT ``partition-table.entry``), in sectors of the disk.

    ``partition_type`` is the MBR system ID (an ``int``, 0x83 for Linux) or the GPT type GUID
    (a ``str``); ``guid`` is ``None`` for MBR.
    """

    number: int
    start: int
    sectors: int
    partition_type: int | str
    guid: str | None
    name: str
    bootable: bool
    attributes: int


class Table(NamedTuple):
    """A disk's partition table (WIT ``partition-table.table``)."""

    label: Mbr | Gpt
    sector_size: int
    size_sectors: int
    entries: list[Entry]


class BadEntry(NamedTuple):
    """An entry that breaks a rule of its table, and what is wrong with it."""

    number: int
    reason: str


#: The payload of each ``TableError`` kind.
TableErrorValue = BadEntry | str | int | PartitionError | None


class TableError(Exception):
    """Why a table could not be read, or an entry not opened (WIT ``table-error``).

    ``kind`` and ``value``: ``"no-table"`` with ``None``; ``"bad-entry"`` with a
    :class:`BadEntry`; ``"corrupt"`` with a message; ``"no-entry"`` with the number asked for;
    ``"read"`` with the :class:`PartitionError` reading the disk gave.
    """

    def __init__(self, kind: str, value: TableErrorValue = None) -> None:
        super().__init__(kind if value is None else f"{kind}: {value}")
        self.kind = kind
        self.value = value
