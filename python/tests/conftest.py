"""What the tests share: the package README's example, and small devices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blockpart import MemoryDevice, Partitioner

#: The package's own README (python/README.md), whose "Usage" section has the example the
#: tests run.
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> tuple[str, list[str]]:
    """The first Python block of the "## Usage" section of the package's README
    (python/README.md), and what it prints: the comment ending each `print(...)` line, in
    order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Usage\n", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "the README's Usage section has a ```python block"
    expected = [
        line.rsplit("  # ", 1)[1]
        for line in code.group(1).splitlines()
        if line.lstrip().startswith("print(")
    ]
    return code.group(1), expected


@pytest.fixture
def partitioner() -> Partitioner:
    return Partitioner()


def pattern(length: int, seed: int = 1) -> bytes:
    """Bytes that differ from sector to sector and from seed to seed."""
    return bytes((index * 7 + index // 512 + seed) % 251 for index in range(length))


@pytest.fixture
def memory_disk() -> bytearray:
    """64 sectors of 512 bytes, patterned."""
    return bytearray(pattern(64 * 512))


@pytest.fixture
def memory_device(memory_disk: bytearray) -> MemoryDevice:
    return MemoryDevice(memory_disk, sector_size=512)
