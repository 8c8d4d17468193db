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

    _invalidate_stale_cache(functions.values())
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
        compiled[name] = numba.njit(cache=True, nogil=True, parallel=name in parallel)(clone)
    shared.update(compiled)
    return compiled


def _invalidate_stale_cache(functions) -> None:
    """Drop numba's on-disk cache when any kernel source file changed.

    numba checks only the file of the function it compiles, not the files of the
    functions it calls, so an edit to ``fast.py`` alone would leave a stale compiled
    ``liquidate_one`` in the cache. A stamp of all the source files involved, kept
    beside each cache, catches that.
    """
    import hashlib
    from pathlib import Path

    files = sorted({Path(fn.__code__.co_filename) for fn in functions})
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(f.read_bytes())
        except OSError:
            return
    digest = h.hexdigest()
    # one stamp per group of kernels: two groups may share a folder (the mechanism kernels
    # call the Aave ones) and must not take each other's stamp for a change
    group = hashlib.sha256("\n".join(str(f) for f in files).encode()).hexdigest()[:12]
    stems = {f.stem for f in files}
    for f in files:
        cache_dir = f.parent / "__pycache__"
        stamp = cache_dir / f"liqcascade-jit-{group}.stamp"
        try:
            if stamp.is_file() and stamp.read_text() == digest:
                continue
            if cache_dir.is_dir():
                for old in list(cache_dir.glob("*.nbi")) + list(cache_dir.glob("*.nbc")):
                    if old.name.split(".", 1)[0] in stems:
                        old.unlink(missing_ok=True)
            cache_dir.mkdir(exist_ok=True)
            stamp.write_text(digest)
        except OSError:
            # a read-only install: numba then compiles in memory, nothing is stale
            continue
