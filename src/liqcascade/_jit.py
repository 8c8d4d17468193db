"""Compile pure-Python kernels with numba, keeping the plain source as the twin.

Every hot loop is written once, as plain Python in a ``*_python`` module (readable,
coverable, the reference). :func:`jit_functions` returns numba-compiled copies of those
functions in which calls to each other also go to the compiled copies. Setting
``LIQCASCADE_DISABLE_JIT=1`` returns the plain functions instead, so tests and coverage
see real lines and a numba problem can be ruled out in one switch.
"""

from __future__ import annotations

import os
import types
from typing import Callable

DISABLE_JIT_ENV = "LIQCASCADE_DISABLE_JIT"


def jit_enabled() -> bool:
    return os.environ.get(DISABLE_JIT_ENV, "").strip().lower() not in {"1", "true", "yes"}


def jit_functions(
    functions: dict[str, Callable], parallel: frozenset[str] = frozenset(), enabled: bool | None = None
) -> dict[str, Callable]:
    """Compile ``functions`` (name -> plain function) with numba.

    Each function is rebuilt over a globals dict in which every name in ``functions``
    points at its compiled twin, so a kernel that calls a helper calls the compiled
    helper. Names in ``parallel`` compile with ``parallel=True`` (their ``prange``
    loops run on all numba threads). With JIT disabled the input is returned as is.
    """
    if enabled is None:
        enabled = jit_enabled()
    if not enabled:
        return dict(functions)
    import numba

    # One globals dict shared by every clone: the union of the source modules' globals,
    # with each kernel name rebound to its compiled twin. numba compiles lazily, at the
    # first call, by which time every name below is bound.
    shared: dict[str, object] = {}
    for fn in functions.values():
        shared.update(fn.__globals__)
    compiled: dict[str, Callable] = {}
    for name, fn in functions.items():
        clone = types.FunctionType(fn.__code__, shared, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__doc__ = fn.__doc__
        compiled[name] = numba.njit(cache=False, nogil=True, parallel=name in parallel)(clone)
    shared.update(compiled)
    return compiled
