"""The venue registry: venue kind -> its scenario table (a settings model) and its builder.

A venue kind is one module, ``liqcascade/markets/<kind>_plugin.py``, that defines ``SPEC`` (a
:class:`VenueSpec`); naming the kind in :data:`BUILTIN` registers it (code outside the package,
a test for one, calls :func:`register`). The scenario config (the ``[[venues]]`` tables, a union
over the registered settings models keyed by ``kind``) and the scenario builder read this
registry, so adding a venue edits no engine and no config code.

Builders get a :class:`VenueContext`; they never look up files of the scenario themselves:
``ctx.resolve(text, key)`` (passed in by ``io``) turns a path written in the table into an
existing file, relative to the scenario, or fails naming the scenario and ``venues.N.<key>``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict

from liqcascade._registry import Registry
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue

__all__ = ["BUILTIN", "Settings", "VenueContext", "VenueSpec", "kinds", "register", "settings_models", "spec"]

BUILTIN = ("cpmm", "orderbook", "impact", "univ3", "perp_orderbook")
"""Venue kinds registered with the package (module ``liqcascade.markets.<kind>_plugin``), in
the order the config lists them."""


class Settings(BaseModel):
    """Base of a venue's scenario table (one ``[[venues]]`` entry): unknown keys are errors,
    values are strict (a quoted "1.0" is text), nothing is changed after validation.

    Every subclass has ``kind: Literal["<its kind>"]`` and ``asset: str`` (the asset sold into
    the venue), both described; :class:`VenueSpec` checks it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def _no_file(text: str, key: str) -> Path:
    raise ConfigError("<python>", key, "no file lookups here (build through liqcascade.io.scenario)", text)


def _no_files(settings: Settings) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class VenueContext:
    """What a venue builder gets."""

    settings: Settings
    """The venue's validated table (an instance of its spec's ``settings``)."""
    price: float
    """Reference USD price of ``settings.asset`` in the scenario."""
    resolve: Callable[[str, str], Path] = _no_file
    """``resolve(path_text, key)``: the existing file ``path_text`` names, relative to the
    scenario; an error names ``venues.N.<key>`` otherwise."""
    source: str = "<python>"
    """The scenario's name, for errors."""
    key: str = "venues"
    """This table's key in the scenario (``venues.N``), for errors."""

    @property
    def asset(self) -> str:
        return self.settings.asset  # type: ignore[attr-defined]  # every Settings has one (checked)

    def error(self, field: str, expected: str, got: object = None) -> ConfigError:
        """A ConfigError naming the scenario and ``venues.N.<field>``."""
        return ConfigError(self.source, f"{self.key}.{field}", expected, got)


@dataclass(frozen=True)
class VenueSpec:
    """One venue kind as the rest of the package sees it."""

    kind: str
    """The value of ``kind`` in a ``[[venues]]`` table."""
    title: str
    """How people name it ("constant-product pool")."""
    settings: type[Settings]
    """The model of its ``[[venues]]`` table."""
    build: Callable[[VenueContext], Venue]
    """Builds the venue centred at the reference price."""
    files: Callable[[Settings], dict[str, str]] = _no_files
    """The files a table names: its key -> the path as written (the run id hashes their
    content, so a run changes when a file does); none by default."""

    def __post_init__(self) -> None:
        fields = self.settings.model_fields
        kind = fields.get("kind")
        if kind is None or typing.get_args(kind.annotation) != (self.kind,):
            raise ValueError(f"venue {self.kind!r}: {self.settings.__name__} needs kind: Literal[{self.kind!r}]")
        if "asset" not in fields:
            raise ValueError(f"venue {self.kind!r}: {self.settings.__name__} needs asset: str")


_REGISTRY: Registry[VenueSpec] = Registry(
    "venue kind", BUILTIN, lambda k: f"liqcascade.markets.{k}_plugin", "SPEC", lambda s: s.kind
)


def register(spec: VenueSpec) -> VenueSpec:
    """Add ``spec`` (another spec already registered under that kind is an error)."""
    return _REGISTRY.register(spec)


def unregister(kind: str) -> None:
    """Remove a kind registered with :func:`register` (tests; a built-in kind cannot go)."""
    _REGISTRY.unregister(kind)


def _load() -> dict[str, VenueSpec]:
    return _REGISTRY.specs()


def kinds() -> tuple[str, ...]:
    """Every registered venue kind (built-in ones first)."""
    return _REGISTRY.names()


def spec(kind: object, source: str = "<config>", key: str = "venues.kind") -> VenueSpec:
    """The registered venue ``kind``; a ConfigError naming ``source``, ``key`` and the known kinds otherwise."""
    return _REGISTRY.get(kind, source, key, "a venue kind, one of")


def settings_models() -> tuple[type[Settings], ...]:
    """The settings model of every registered kind, in :func:`kinds` order."""
    return tuple(s.settings for s in _load().values())
