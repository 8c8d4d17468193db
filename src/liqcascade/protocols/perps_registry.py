"""The perp margin-engine registry: engine name -> its :class:`PerpSpec`.

A margin engine is one folder under ``liqcascade/protocols/`` with a ``plugin.py`` that defines
``PERP_SPEC``; naming the folder in :data:`BUILTIN_PERPS` registers it. Perp scenarios, the
perp engines and ``liqcascade conformance`` read this registry, so adding a margin engine
edits no engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from liqcascade._registry import Registry
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


_REGISTRY: Registry[PerpSpec] = Registry(
    "margin engine", BUILTIN_PERPS, lambda n: f"liqcascade.protocols.{n}.plugin", "PERP_SPEC", lambda s: s.name
)


def register(spec: PerpSpec) -> PerpSpec:
    """Add ``spec`` (an engine already registered under that name is an error)."""
    return _REGISTRY.register(spec)


def unregister(name: str) -> None:
    """Remove an engine added with :func:`register` (tests; a built-in one cannot go)."""
    _REGISTRY.unregister(name)


def names() -> tuple[str, ...]:
    """Every registered margin-engine name."""
    return _REGISTRY.names()


def spec(name: str, source: str = "<config>", key: str = "perps.engine") -> PerpSpec:
    """The registered engine ``name``; a ConfigError naming ``source`` and ``key`` otherwise."""
    return _REGISTRY.get(name, source, key)
