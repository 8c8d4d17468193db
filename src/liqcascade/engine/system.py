"""A system of markets: several protocols over one asset universe, selling into shared venues.

Every market keeps its own book, rules and liquidators' limits; they meet in the venues:
each round of the static cascade, every market liquidates what is eligible at the common
prices and all their sales go through each asset's venue together (one price per asset for
everyone, :func:`~liqcascade.engine.static.solve_fixed_point`). A single-market scenario is
the system of that one market, and its numbers are today's engine's to the bit.

Contagion is what the system adds over the markets run alone: :meth:`SystemCascade.alone`
runs one market with the same shock and the same (fresh) venues, and
:meth:`SystemCascade.run` with ``only=`` runs any subset (the leave-one-out matrix of
:mod:`liqcascade.risk.contagion` drops one market at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.engine.static import (
    CascadeOutcome,
    CascadeSettings,
    FixedPointTrace,
    MarketModel,
    StaticCascade,
    shock_vector,
    solve_fixed_point,
)
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue

PRICE_TOLERANCE = 1e-12
"""Relative difference allowed between a market's reference price and the system's."""


@dataclass(frozen=True)
class SystemModel:
    """Markets (name -> :class:`MarketModel`) over one asset universe and its reference
    prices, with the venues (per asset symbol) everyone sells into. A market's own
    ``venues`` are ignored here: the system's are shared."""

    assets: tuple[str, ...]
    prices: FloatArray
    markets: Mapping[str, MarketModel]
    venues: Mapping[str, Venue] = field(default_factory=dict)
    source: str = "<system>"

    def __post_init__(self) -> None:
        p = np.asarray(self.prices, dtype=np.float64)
        if p.shape != (len(self.assets),) or not np.all(np.isfinite(p) & (p > 0)):
            raise ConfigError(self.source, "prices", f"one finite price > 0 per asset ({len(self.assets)})", p.shape)
        if len(set(self.assets)) != len(self.assets):
            raise ConfigError(self.source, "assets", "distinct asset symbols", list(self.assets))
        if not self.markets:
            raise ConfigError(self.source, "markets", "at least one market")
        for name, m in self.markets.items():
            for j, a in enumerate(m.assets):
                if a not in self.assets:
                    raise ConfigError(self.source, f"markets.{name}", f"assets of the system {list(self.assets)}", a)
                ref = p[self.assets.index(a)]
                if abs(float(m.prices[j]) - ref) > PRICE_TOLERANCE * ref:
                    raise ConfigError(self.source, f"markets.{name}.prices.{a}",
                                      f"the system's reference price {ref!r} (one price per asset)", float(m.prices[j]))
        for a in self.venues:
            if a not in self.assets:
                raise ConfigError(self.source, f"venues.{a}", f"an asset of the system {list(self.assets)}", a)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.markets)

    def index(self, name: str) -> np.ndarray:
        """System asset index of each of market ``name``'s assets."""
        return np.array([self.assets.index(a) for a in self.markets[name].assets], dtype=np.int64)

    def shock_vector(self, shocks: Mapping[str, float], source: str = "<shock>") -> FloatArray:
        """Per-asset fractional drops over the universe (0.3 = -30 %); unknown assets are errors."""
        return shock_vector(self.assets, shocks, source)

    def holdings_usd(self) -> tuple[FloatArray, FloatArray]:
        """Collateral and debt per system asset (USD at the reference prices), all markets."""
        coll, debt = np.zeros(len(self.assets)), np.zeros(len(self.assets))
        for name, m in self.markets.items():
            c, d = m.book.totals_by_asset()
            ix = self.index(name)
            np.add.at(coll, ix, c * m.prices)
            np.add.at(debt, ix, d * m.prices)
        return coll, debt


@dataclass(frozen=True)
class SystemOutcome:
    """End state of one system cascade: the common prices and each market's outcome
    (prices there in the market's own asset order)."""

    trace: FixedPointTrace
    shocks: FloatArray
    markets: Mapping[str, CascadeOutcome]


class SystemCascade:
    """A reusable solver for a system: each market's book is prepared and sorted once
    (see :class:`StaticCascade`), then any shock and any subset of markets can be run."""

    def __init__(
        self,
        system: SystemModel,
        settings: CascadeSettings | None = None,
        market_settings: Mapping[str, CascadeSettings] | None = None,
    ) -> None:
        self.system = system
        self.settings = settings or CascadeSettings()
        own = dict(market_settings or {})
        self.solvers = {name: StaticCascade(m, own.get(name, self.settings)) for name, m in system.markets.items()}
        self._index = {name: system.index(name) for name in system.markets}

    def run(
        self, shocks: Mapping[str, float] | FloatArray, only: Sequence[str] | None = None, keep_arrays: bool = True
    ) -> SystemOutcome:
        """The fixed point of the markets ``only`` (all when None) from ``shocks``."""
        sysm = self.system
        shock = sysm.shock_vector(shocks) if isinstance(shocks, Mapping) else np.asarray(shocks, dtype=np.float64)
        names = list(sysm.names if only is None else only)
        for n in names:
            if n not in self.solvers:
                raise ConfigError(sysm.source, "markets", f"market names {list(sysm.names)}", n)
        passes = [self.solvers[n].start(self._index[n], trades=keep_arrays) for n in names]
        venues = {sysm.assets.index(a): v for a, v in sysm.venues.items()}
        p0 = np.asarray(sysm.prices, dtype=np.float64)
        trace = solve_fixed_point(passes, p0, shock, venues, self.settings)
        outs = {n: part.outcome(trace, shock, keep_arrays) for n, part in zip(names, passes)}
        return SystemOutcome(trace, shock, outs)

    def alone(self, name: str, shocks: Mapping[str, float] | FloatArray, keep_arrays: bool = True) -> CascadeOutcome:
        """Market ``name`` run by itself with the same shock and fresh shared venues."""
        return self.run(shocks, only=[name], keep_arrays=keep_arrays).markets[name]

    def summarize(self, name: str, out: CascadeOutcome) -> dict[str, object]:
        """Market ``name``'s summary (as the single-market engine's)."""
        return self.solvers[name].summarize(out)

    def totals(self, name: str, out: CascadeOutcome) -> dict[str, object]:
        """Market ``name``'s counts and USD totals (:meth:`StaticCascade.totals`)."""
        return self.solvers[name].totals(out)
