"""The perp margin-engine registry: engine name -> its :class:`PerpSpec`.

A margin engine is one folder under ``liqcascade/protocols/`` with a ``plugin.py`` that defines
``PERP_SPEC``; naming the folder in :data:`BUILTIN_PERPS` registers it. Perp scenarios, the
perp engines and ``liqcascade conformance`` read this registry, so adding a margin engine
edits no engine.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from liqcascade.errors import ConfigError
from liqcascade.protocols.perps_base import MarginEngine

BUILTIN_PERPS: tuple[str, ...] = ("dydx_v4", "hyperliquid", "cex_perp")
"""Margin-engine folders registered with the package."""


@dataclass(frozen=True)
class PerpSpec:
    """One margin engine as the rest of the package sees it."""

    name: str
    """The value of a perp market's ``engine`` key."""
    title: str
    """How people name it ("dYdX v4")."""
    build: Callable[[Any], MarginEngine]
    """Builds the :class:`MarginEngine` from the engine's validated settings (or its defaults on None)."""


_SPECS: dict[str, PerpSpec] = {}


def register(spec: PerpSpec) -> PerpSpec:
    """Add ``spec`` (an engine already registered under that name is an error)."""
    if spec.name in _SPECS and _SPECS[spec.name] is not spec:
        raise ValueError(f"margin engine {spec.name!r} is registered twice")
    _SPECS[spec.name] = spec
    return spec


def _load() -> dict[str, PerpSpec]:
    for name in BUILTIN_PERPS:
        if name not in _SPECS:
            register(importlib.import_module(f"liqcascade.protocols.{name}.plugin").PERP_SPEC)
    return _SPECS


def names() -> tuple[str, ...]:
    """Every registered margin-engine name."""
    return tuple(_load())


def spec(name: str, source: str = "<config>", key: str = "perps.engine") -> PerpSpec:
    """The registered engine ``name``; a ConfigError naming ``source`` and ``key`` otherwise."""
    specs = _load()
    if name not in specs:
        raise ConfigError(source, key, f"one of {list(specs)}", name)
    return specs[name]
