"""Every conversion between wasmtime-py's component values and :mod:`blockpart.values`.

wasmtime-py gives a record as a ``Record`` whose attributes are the WIT's field names, dashes
and all (``getattr(record, "size-sectors")``). A variant (``result`` and ``option`` too) is a
``Variant(tag, payload)`` only when its cases cannot be told apart by their payloads' Python
types; otherwise it is the bare payload, ``None`` for a case without one. So ``types.error`` and
``device-error`` come as ``Variant``s (several cases have no payload), while ``label`` comes as
an ``int`` (mbr) or a ``Record`` (gpt), ``partition-type`` as an ``int`` or a ``str``, and
``table-error`` as ``None`` (no-table), a ``Record`` (bad-entry), a ``str`` (corrupt), an
``int`` (no-entry) or the ``Variant`` of the ``error`` (read). The functions below take either
form, so a wasmtime-py that tags more often still works.
"""

from __future__ import annotations

from typing import Any

from wasmtime.component import Record, Variant

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


def _field(record: Any, name: str) -> Any:
    return getattr(record, name)


def _untagged(value: Any) -> Any:
    """The payload of a variant whose cases' payloads differ in type (an int or a str, ...)."""
    return value.payload if isinstance(value, Variant) else value


def _record(**fields: Any) -> Record:
    record = Record()
    for name, value in fields.items():
        setattr(record, name.replace("_", "-"), value)
    return record


def info_to_wit(info: Info) -> Record:
    return _record(
        read_write=bool(info.read_write),
        sector_size=info.sector_size,
        size_sectors=info.size_sectors,
    )


def info_from_wit(record: Any) -> Info:
    return Info(
        read_write=_field(record, "read-write"),
        sector_size=_field(record, "sector-size"),
        size_sectors=_field(record, "size-sectors"),
    )


def device_error_to_wit(error: DeviceError) -> Variant:
    return Variant(error.kind, error.value)


def device_error_from_wit(variant: Any) -> DeviceError:
    return DeviceError(variant.tag, variant.payload)


def error_from_wit(variant: Any) -> PartitionError:
    tag, payload = variant.tag, variant.payload
    if tag == "out-of-bounds":
        payload = Access(
            sector_start=_field(payload, "sector-start"),
            sectors=_field(payload, "sectors"),
            size_sectors=_field(payload, "size-sectors"),
        )
    elif tag == "device":
        payload = device_error_from_wit(payload)
    return PartitionError(tag, payload)


_TABLE_ERROR_KINDS = ("no-table", "bad-entry", "corrupt", "no-entry", "read")


def table_error_from_wit(value: Any) -> TableError:
    if isinstance(value, Variant) and value.tag in _TABLE_ERROR_KINDS:
        tag, payload = value.tag, value.payload
    else:
        # Untagged: the payload's type tells the case (`types.error`'s tags are none of these).
        tag = {type(None): "no-table", Record: "bad-entry", str: "corrupt", int: "no-entry"}.get(
            type(value), "read"
        )
        payload = value
    if tag == "bad-entry":
        payload = BadEntry(number=_field(payload, "number"), reason=_field(payload, "reason"))
    elif tag == "read":
        payload = error_from_wit(payload)
    return TableError(tag, payload)


def table_from_wit(record: Any) -> Table:
    label = _untagged(_field(record, "label"))
    if isinstance(label, int):
        disk_label: Mbr | Gpt = Mbr(disk_signature=label)
    else:
        header = label
        disk_label = Gpt(
            disk_guid=_field(header, "disk-guid"),
            first_usable=_field(header, "first-usable"),
            last_usable=_field(header, "last-usable"),
            from_backup=_field(header, "from-backup"),
        )
    return Table(
        label=disk_label,
        sector_size=_field(record, "sector-size"),
        size_sectors=_field(record, "size-sectors"),
        entries=[_entry_from_wit(entry) for entry in _field(record, "entries")],
    )


def _entry_from_wit(record: Any) -> Entry:
    return Entry(
        number=_field(record, "number"),
        start=_field(record, "start"),
        sectors=_field(record, "sectors"),
        partition_type=_untagged(_field(record, "partition-type")),
        guid=_field(record, "guid"),
        name=_field(record, "name"),
        bootable=_field(record, "bootable"),
        attributes=_field(record, "attributes"),
    )
