"""The blockpart partitioner component in Python, through wasmtime-py.

A :class:`Partitioner` is one instance of the component; hand it a device (a
:class:`MemoryDevice`, a :class:`FileDevice`, or your own :class:`BlockDevice`) and it gives
:class:`Partition`\\ s of it, by position or by the disk's MBR or GPT::

    from blockpart import Partitioner, MemoryDevice

    p = Partitioner()
    whole = p.whole(MemoryDevice(bytearray(64 * 512), sector_size=512))
    boot, rest = whole.subpartition(8)

The contract is the WIT (``wit/blockpart.wit`` in the repository); the conformance suite runs
this package through :mod:`blockpart.driver`.
"""

from . import _byte_lists
from .devices import BlockDevice, DeviceStats, FileDevice, MemoryDevice
from .partitioner import COMPONENT, Partition, Partitioner
from .values import (
    Access,
    BadEntry,
    DeviceError,
    Entry,
    Gpt,
    Info,
    Mbr,
    PartitionError,
    Table,
    TableError,
)

_byte_lists.enable()

__all__ = [
    "COMPONENT",
    "Access",
    "BadEntry",
    "BlockDevice",
    "DeviceError",
    "DeviceStats",
    "Entry",
    "FileDevice",
    "Gpt",
    "Info",
    "Mbr",
    "MemoryDevice",
    "Partition",
    "PartitionError",
    "Partitioner",
    "Table",
    "TableError",
]
