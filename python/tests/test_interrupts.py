"""A `KeyboardInterrupt`, `SystemExit` or any `BaseException` that is no `Exception`, raised
inside a device callback, never crosses into wasmtime (it crashed the interpreter): the
guest's request fails, and the call raises it as itself once back in Python."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from wasmtime import Engine, Store, WasmtimeError

from blockpart import Info, MemoryDevice, Partitioner
from blockpart._gate import Gate
from blockpart.partitioner import _Clock, _device_method

from conftest import pattern
from test_errors import mbr


class Interrupted(BaseException):
    """A `BaseException` of the application's own."""


def raising(error: BaseException) -> Callable[..., Any]:
    def method(*args: Any) -> Any:
        raise error

    return method


#: Each call the guest makes of a device: the device's method, and a request of the partition
#: that makes the guest call it.
CALLBACKS: dict[str, tuple[str, Callable[[Partitioner, Any], Any]]] = {
    "read": ("read", lambda p, whole: whole.read_list(0, 512)),
    "read-table": ("read", lambda p, whole: p.read_table(whole)),
    "open": ("read", lambda p, whole: p.open(whole, 1)),
    "write": ("write", lambda p, whole: whole.write_list(0, bytes(512))),
    "flush": ("flush", lambda p, whole: whole.flush()),
    "discard": ("discard", lambda p, whole: whole.discard(0, 1)),
    "write-zeroes": ("write_zeroes", lambda p, whole: whole.write_zeroes(0, 1)),
}


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3), Interrupted("mine")])
@pytest.mark.parametrize("callback", list(CALLBACKS))
def test_a_base_exception_in_a_device_request_is_raised_after_the_call(
    partitioner: Partitioner, callback: str, error: BaseException
) -> None:
    method, request = CALLBACKS[callback]
    disk = bytearray(mbr((0x83, 8, 8)) + bytes(63 * 512))
    device = MemoryDevice(disk)
    whole = partitioner.whole(device)
    setattr(device, method, raising(error))
    with pytest.raises(type(error)) as caught:
        request(partitioner, whole)
    assert caught.value is error
    # The guest's request failed as a device error: the instance goes on.
    delattr(device, method)
    assert whole.read_list(0, 512) == disk[:512]
    assert partitioner.open(whole, 1).get_offset() == 8


def test_a_base_exception_in_a_drop_is_raised_after_the_call(
    partitioner: Partitioner, memory_device: MemoryDevice
) -> None:
    class Stats:
        requests = 0

        @property
        def drops(self) -> int:
            return 0

        @drops.setter
        def drops(self, value: int) -> None:
            raise KeyboardInterrupt

    whole = partitioner.whole(memory_device)
    memory_device.stats = Stats()  # type: ignore[assignment]
    with pytest.raises(KeyboardInterrupt):
        whole.drop()  # the guest drops the device with its last partition
    assert partitioner.whole(MemoryDevice(bytearray(512))).info() == Info(True, 512, 1)


def test_a_base_exception_in_info_traps_the_guest_and_later_calls_say_why(
    partitioner: Partitioner, memory_disk: bytearray
) -> None:
    # `info` has no error in the WIT: the guest can only trap.
    device = MemoryDevice(memory_disk)
    device.info = raising(KeyboardInterrupt())  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        partitioner.whole(device)  # the guest asks the device's info
    with pytest.raises(
        RuntimeError,
        match="this Partitioner is unusable: a call failed after a device raised "
        "KeyboardInterrupt; make a new one",
    ):
        partitioner.whole(MemoryDevice(memory_disk))


def test_a_base_exception_in_disconnect_traps_rather_than_leave_the_callback() -> None:
    # The partitioner never calls a device's `disconnect`; the glue is the same for it.
    device = MemoryDevice(bytearray(512))
    device.disconnect = raising(KeyboardInterrupt())  # type: ignore[method-assign]
    gate = Gate()
    call = _device_method({1: device}, _Clock(None), gate, "disconnect", lambda _: None, False)
    this = SimpleNamespace(to_host=lambda store: SimpleNamespace(rep=1))
    with pytest.raises(WasmtimeError, match="disconnect was interrupted by KeyboardInterrupt"):
        call(Store(Engine()), this)
    assert gate.holding


@pytest.fixture
def sigint_handler() -> Iterator[Callable[[Any], None]]:
    """Sets SIGINT's handler for the test, and puts the one before back."""
    previous = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, previous)


class CtrlC(MemoryDevice):
    """Sends itself SIGINT in each read while `events` is not None, and notes the read."""

    events: list[str] | None = None

    def _read(self, offset: int, length: int) -> bytes:
        if self.events is not None:
            signal.raise_signal(signal.SIGINT)
            self.events.append("read")
        return super()._read(offset, length)


def test_a_real_sigint_in_a_device_callback_raises_keyboard_interrupt_after_the_call(
    partitioner: Partitioner, memory_disk: bytearray, sigint_handler: Any
) -> None:
    sigint_handler(signal.default_int_handler)
    device = CtrlC(memory_disk)
    whole = partitioner.whole(device)
    device.events = []
    with pytest.raises(KeyboardInterrupt):
        whole.read_list(0, 512)
    assert device.events == ["read"]
    device.events = None
    assert whole.read_list(0, 512) == memory_disk[:512]


def test_a_sigint_while_the_guest_runs_is_handled_once_the_call_is_back(
    partitioner: Partitioner, sigint_handler: Any
) -> None:
    # Handled where it arrived, the signal's handler could run in wasmtime-py's own code
    # around the device glue, outside any `try` of the package's.
    disk = bytearray(pattern(8 * 512))
    device = CtrlC(disk)
    whole = partitioner.whole(device)
    device.events = events = []
    sigint_handler(lambda signum, frame: events.append("handled"))
    assert whole.read_list(0, 1024) == disk[:1024]  # a handler that does not raise
    assert events == ["read", "handled"]
