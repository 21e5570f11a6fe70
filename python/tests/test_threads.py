"""One `Partitioner` shared by threads: a lock admits one call into the instance at a time
(without it, eight threads poisoned the instance every run, and crashed about one run in ten),
and a device that calls back into its own `Partitioner` is refused rather than left waiting
for itself."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from blockpart import Info, MemoryDevice, Partitioner

from conftest import pattern

THREADS = 8
ROUNDS = 40


class Watched(MemoryDevice):
    """Notes the most requests it was ever in at once, through the guest or mapped."""

    def __init__(self, buffer: bytearray) -> None:
        super().__init__(buffer)
        self._lock = threading.Lock()
        self.inside = self.most = 0

    def _enter(self) -> None:
        with self._lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.0001)  # let any other thread in, if one could come in

    def _leave(self) -> None:
        with self._lock:
            self.inside -= 1

    def _read(self, offset: int, length: int) -> bytes:
        self._enter()
        try:
            return super()._read(offset, length)
        finally:
            self._leave()

    def _write(self, offset: int, data: memoryview) -> None:
        self._enter()
        try:
            super()._write(offset, data)
        finally:
            self._leave()


def test_threads_sharing_a_partitioner_take_turns_and_every_result_is_right() -> None:
    partitioner = Partitioner()
    guest = Watched(bytearray(THREADS * 2 * 512))  # reached through the guest only
    whole = partitioner.whole(guest)
    mapped = partitioner.whole(MemoryDevice(bytearray(THREADS * 512)))
    wrong: list[Any] = []

    def work(index: int) -> None:
        try:
            for round_ in range(ROUNDS):
                data = pattern(1024, seed=index * ROUNDS + round_)
                part = whole.slice(index * 2, 2)
                part.write_list(0, data)
                if part.read_list(0, 1024) != data or part.get_offset() != index * 2:
                    wrong.append((index, round_, "list"))
                part.drop()
                mapped.write(index, data[:512])
                if mapped.read(index, 512) != data[:512]:
                    wrong.append((index, round_, "mapped"))
        except BaseException as error:  # noted for the assertion, not left in the thread
            wrong.append((index, error))

    threads = [threading.Thread(target=work, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert wrong == []
    assert guest.most == 1, "two calls were inside the guest at once"
    assert whole.info() == Info(True, 512, THREADS * 2)


def test_a_device_that_calls_back_into_its_own_partitioner_is_refused(
    memory_disk: bytearray,
) -> None:
    partitioner = Partitioner()

    class CallsBack(MemoryDevice):
        def _read(self, offset: int, length: int) -> bytes:
            partitioner.whole(MemoryDevice(bytearray(512)))
            return super()._read(offset, length)

    whole = partitioner.whole(CallsBack(memory_disk))
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            whole.read_list(0, 512)
        except BaseException as error:
            outcome.append(error)

    # In a thread, so that a call left waiting for itself fails the test rather than hang it.
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the call back waited for itself"
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError), outcome
    assert "a device called back into the Partitioner that is calling it" in str(outcome[0])
    # The device raised an exception that is no DeviceError: the guest trapped.
    with pytest.raises(RuntimeError, match="unusable: a call failed with RuntimeError"):
        whole.info()
