"""Calls into the component with each export's types looked up once, not on every call.

On every call, wasmtime-py 50's ``component.Func.__call__`` asks the C API for the function's
type and builds a Python ``ValType`` for each parameter and for the result; and each variant,
option and result type asks the C API for its cases again for every value it converts. For a
one-sector read that was most of the call: a profile of 2000 ``readinto`` calls of 512 bytes
took 0.80 s under cProfile with ``Func.__call__``, 0.25 s with :class:`TypedFunc`.

:class:`TypedFunc` makes the same call through the same C API
(``wasmtime_component_func_call``), with the same conversions of arguments and result (the
types' ``convert_to_c`` and ``convert_from_c``), on types looked up once when the component is
instantiated, with their cases kept (:func:`_frozen`). A component's types never change.

It reads wasmtime-py's C API declarations (``wasmtime._ffi``) and type classes, as
:mod:`blockpart._byte_lists` does: the package requires wasmtime-py 50.
"""

from __future__ import annotations

import ctypes
from typing import Any

from wasmtime import Storelike
from wasmtime import _ffi as ffi
from wasmtime.component import Func
from wasmtime.component._enter import enter_wasm
from wasmtime.component._types import ValType, VariantLikeType


class TypedFunc:
    """An exported function, called as ``Func`` is: ``func(store, *args)``."""

    def __init__(self, func: Func, store: Storelike) -> None:
        self._func = func
        # Kept alive: the value types may refer to what the function type owns.
        self._type = func.type(store)
        self._params = [_frozen(ty) for _name, ty in self._type.params]
        self._result = None if self._type.result is None else _frozen(self._type.result)

    def __call__(self, store: Storelike, *args: Any) -> Any:
        if len(args) != len(self._params):
            raise TypeError(f"{len(args)} arguments given, {len(self._params)} expected")
        values = (ffi.wasmtime_component_val_t * len(args))()
        lowered = 0
        try:
            for ty, arg in zip(self._params, args):
                ty.convert_to_c(store, arg, ctypes.pointer(values[lowered]))
                lowered += 1
            result_type = self._result
            result = None if result_type is None else ffi.wasmtime_component_val_t()
            enter_wasm(
                lambda: ffi.wasmtime_component_func_call(
                    ctypes.byref(self._func._func),
                    store._context(),
                    values,
                    lowered,
                    None if result is None else ctypes.byref(result),
                    0 if result is None else 1,
                )
            )
            if result_type is None or result is None:
                return None
            return result_type.convert_from_c(result)
        finally:
            for i in range(lowered):
                ffi.wasmtime_component_val_delete(ctypes.byref(values[i]))


def _frozen(ty: ValType) -> ValType:
    """``ty``, with its cases looked up now if it is a variant, option or result, and so on
    down through those cases' payloads. Records, tuples and lists are left as wasmtime-py
    made them (variants inside them still look their cases up per value): the calls that
    matter for speed, ``map`` and the transfers, return a ``u64`` or nothing, or an error.

    A ``VariantLikeType`` asks the C API for its cases, and works out whether its values come
    tagged, on every value it converts (``_cases`` and ``_tagged``); the answers never change,
    so they are kept on the type object, which only this module holds.
    """
    if isinstance(ty, VariantLikeType):
        cases = [(name, None if case is None else _frozen(case)) for name, case in ty._cases()]
        tagged = ty._tagged()
        ty._cases = lambda: cases  # type: ignore[method-assign]
        ty._tagged = lambda: tagged  # type: ignore[method-assign]
    return ty
