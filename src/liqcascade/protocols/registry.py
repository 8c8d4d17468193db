"""The protocol registry: protocol name -> its settings table and its rule builder (its
conformance handlers are found by the same folder name, see
:mod:`liqcascade.protocols.conformance`).

A protocol is one folder under ``liqcascade/protocols/`` with a ``plugin.py`` that defines
``SPEC`` (a :class:`ProtocolSpec`); naming the folder in :data:`BUILTIN` registers it. The
scenario config (``[market].protocol`` and the ``[market.<key>]`` settings tables), the
builders of the engines' rules and ``liqcascade conformance`` all read this registry, so
adding a protocol edits no engine and no config code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pydantic import BaseModel, ConfigDict

from liqcascade._registry import Registry
from liqcascade.model import PositionBook, RiskParams

BUILTIN = (
    "aave_v3", "compound_v2", "compound_v3", "maker", "liquity_v1", "liquity_v2", "morpho_blue", "euler_v2", "crvusd",
)
"""Protocol folders registered with the package, in the order the config lists them."""


class Settings(BaseModel):
    """Base of a protocol's settings table (``[market.<key>]``): unknown keys are errors,
    values are strict (a quoted "1.0" is text), nothing is changed after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


@dataclass(frozen=True)
class BuildContext:
    """What a rule builder gets: the market's parameters and book, the protocol's settings
    table (None when the scenario has none: the builder applies its defaults), the market's
    ``version`` and ``pair_policy``, and ``source`` for errors."""

    protocol: str
    params: RiskParams
    book: PositionBook | None
    settings: Settings | None
    version: str | None
    pair_policy: str
    source: str

    def settings_or(self, model: type[Settings]) -> Settings:
        return self.settings if self.settings is not None else model()


@dataclass(frozen=True)
class ProtocolSpec:
    """One protocol as the rest of the package sees it."""

    name: str
    """The value of ``[market].protocol``."""
    title: str
    """How people name it ("Aave v3")."""
    build: Callable[[BuildContext], object]
    """Builds the :class:`~liqcascade.protocols.base.LiquidationRules` the engines run."""
    settings_key: str | None = None
    """The ``[market.<key>]`` table of its settings (shared by protocols of one family)."""
    settings: type[Settings] | None = None
    settings_help: str = ""


_REGISTRY: Registry[ProtocolSpec] = Registry(
    "protocol", BUILTIN, lambda n: f"liqcascade.protocols.{n}.plugin", "SPEC", lambda s: s.name
)


def register(spec: ProtocolSpec) -> ProtocolSpec:
    """Add ``spec`` (a protocol already registered under that name is an error)."""
    return _REGISTRY.register(spec)


def _load() -> dict[str, ProtocolSpec]:
    return _REGISTRY.specs()


def names() -> tuple[str, ...]:
    """Every registered protocol name."""
    return _REGISTRY.names()


def spec(name: str, source: str = "<config>", key: str = "market.protocol") -> ProtocolSpec:
    """The registered protocol ``name``; a ConfigError naming ``source`` and ``key`` otherwise."""
    return _REGISTRY.get(name, source, key)


def settings_tables() -> dict[str, tuple[type[Settings], str]]:
    """``[market.<key>]`` -> (its model, its description), one entry per distinct key."""
    out: dict[str, tuple[type[Settings], str]] = {}
    for s in _load().values():
        if s.settings_key is not None and s.settings is not None and s.settings_key not in out:
            out[s.settings_key] = (s.settings, s.settings_help)
    return out


def build_rules(ctx: BuildContext):
    """The rules of ``ctx.protocol`` built by its registered builder."""
    return spec(ctx.protocol, ctx.source).build(ctx)
