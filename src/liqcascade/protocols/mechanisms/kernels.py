"""The shared book loops assembled per protocol: each protocol's kernel
(:class:`~liqcascade.protocols.mechanisms.kernels_python.KernelSpec`, in its own folder) is
linked into the loops of ``kernels_python`` and compiled by
:func:`~liqcascade._jit.jit_functions` as one set per protocol, cached by name.

Why one compiled set per protocol rather than one switch: numba resolves a called global
at compile time, so a loop compiled over Morpho's ``next_call`` calls it directly, with no
branch on the protocol in the hot loop; a new protocol brings its own kernel and edits
nothing here. ``LIQCASCADE_DISABLE_JIT=1`` gives the same linked functions uncompiled (the
plain-Python twins).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Callable

from liqcascade._jit import jit_enabled, jit_functions
from liqcascade.protocols.mechanisms import kernels_python as _py
from liqcascade.protocols.mechanisms.kernels_python import KernelSpec


@dataclass(frozen=True)
class KernelSet:
    """One protocol's book kernels (see ``kernels_python`` for their arguments)."""

    spec: KernelSpec
    sweep: Callable
    sweep_serial: Callable
    scan: Callable
    first_call: Callable
    liquidate_list: Callable


def link(spec: KernelSpec) -> dict[str, Callable]:
    """The shared loops and ``spec``'s functions as plain-Python clones over one globals dict
    in which every name of the set is bound to its clone (so the shared loops' calls to
    ``next_call``/``apply_call`` reach the protocol's). Each clone's qualified name carries
    the protocol's name: numba's on-disk cache is keyed by the qualified name, and the same
    loop compiled over two protocols' kernels must not share a cache entry."""
    functions = {**_py.FUNCTIONS, **spec.functions}
    shared: dict[str, object] = {}
    for fn in functions.values():
        shared.update(fn.__globals__)
    linked: dict[str, Callable] = {}
    for name, fn in functions.items():
        code = fn.__code__.replace(co_qualname=f"{spec.name}.{name}")
        clone = types.FunctionType(code, shared, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__doc__ = fn.__doc__
        linked[name] = clone
    shared.update(linked)
    return linked


def assemble(spec: KernelSpec, enabled: bool | None = None) -> KernelSet:
    """``spec``'s kernel set: compiled (JIT on) or the plain-Python twins (``enabled=False``
    or ``LIQCASCADE_DISABLE_JIT=1``)."""
    linked = link(spec)
    fns = jit_functions(linked, parallel=_py.PARALLEL, enabled=enabled)
    return KernelSet(spec, fns["sweep"], fns["sweep_serial"], fns["scan"], fns["first_call"],
                     fns["liquidate_list"])


_CACHE: dict[tuple[str, bool], KernelSet] = {}


def kernels_of(spec: KernelSpec) -> KernelSet:
    """The kernel set the engines run for ``spec``, assembled once per protocol and process."""
    key = (spec.name, jit_enabled())
    ks = _CACHE.get(key)
    if ks is None:
        ks = _CACHE[key] = assemble(spec)
    return ks
