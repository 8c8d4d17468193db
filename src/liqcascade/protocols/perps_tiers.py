"""Notional margin tiers, the rule Hyperliquid and the centralised exchanges share.

A tier table lists, per market, the notional at which each tier starts, the maximum leverage
allowed in it and its maintenance margin rate. The maintenance margin of a position of
notional ``N`` in tier ``n`` is ``N · mmr(n) − deduction(n)``, with the deduction chosen so
that the requirement is a continuous function of ``N``::

    deduction(0) = 0
    deduction(n) = deduction(n − 1) + floor(n) · (mmr(n) − mmr(n − 1))

Hyperliquid states this rule and sets ``mmr(n) = 1 / (2 · max_leverage(n))``
(hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers); Binance's USDⓈ-M futures
publish ``mmr`` per tier and call the deduction the *maintenance amount*
(www.binance.com/en/futures/trading-rules/perpetual/portfolio-margin/notional-limit:
"Maintenance Margin = Notional Position Value * Maintenance Margin Rate - Maintenance Amount").

A tier covers notionals above its floor up to and including the next floor ("0 < Position ≤
50,000" in Binance's tables). The initial margin is the notional over the tier's maximum
leverage (the engines do not know the leverage an owner chose, so they use the cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols import perps_tiers_kernels_python as _py
from liqcascade.protocols.perps_base import MarginState

_K = jit_functions(_py.FUNCTIONS)

__all__ = ["MarginTiers", "PositionTiers", "TierTable", "hyperliquid_tiers", "liquidation_price", "positions_of"]


@dataclass(frozen=True)
class MarginTiers:
    """One market's tiers. ``floor`` ascending from 0 (quote notional where each tier starts),
    ``max_leverage`` (> 0) and ``maintenance_rate`` (in (0, 1]) per tier; ``deduction`` is
    derived (see the module docstring)."""

    floor: FloatArray
    max_leverage: FloatArray
    maintenance_rate: FloatArray
    deduction: FloatArray

    @classmethod
    def build(cls, floor: Sequence[float], max_leverage: Sequence[float], maintenance_rate: Sequence[float],
              source: str = "<tiers>", key: str = "tiers") -> "MarginTiers":
        """Check and build; a ConfigError names ``source`` and ``key`` on bad input."""
        f = np.asarray(floor, dtype=np.float64)
        lev = np.asarray(max_leverage, dtype=np.float64)
        mmr = np.asarray(maintenance_rate, dtype=np.float64)
        if f.ndim != 1 or f.size == 0 or lev.shape != f.shape or mmr.shape != f.shape:
            raise ConfigError(source, key, "floor, max_leverage and maintenance_rate of one length ≥ 1")
        if f[0] != 0 or np.any(np.diff(f) <= 0) or not np.all(np.isfinite(f)):
            raise ConfigError(source, f"{key}.floor", "finite notionals rising strictly from 0", f.tolist())
        if not np.all(np.isfinite(lev) & (lev > 0)):
            raise ConfigError(source, f"{key}.max_leverage", "leverages > 0", lev.tolist())
        if not np.all(np.isfinite(mmr) & (mmr > 0) & (mmr <= 1)):
            raise ConfigError(source, f"{key}.maintenance_rate", "rates in (0, 1]", mmr.tolist())
        ded = np.concatenate([[0.0], np.cumsum(f[1:] * np.diff(mmr))])
        return cls(f, lev, mmr, ded)

    def tier(self, notional: FloatArray) -> IntArray:
        """The tier index of each notional (a floor belongs to the tier below it)."""
        if self.floor.size <= 16:
            # a count of floors passed: ~1 ms per floor on a million notionals, where
            # searchsorted takes ~16 ms even against two floors
            t = np.zeros(np.shape(notional), dtype=np.int64)
            for f in self.floor[1:]:
                t += notional > f
            return t
        return np.maximum(np.searchsorted(self.floor, notional, side="left") - 1, 0)

    def maintenance(self, notional: FloatArray) -> FloatArray:
        """``N · mmr − deduction`` at each notional's tier (quote, ≥ 0)."""
        t = self.tier(notional)
        return notional * self.maintenance_rate[t] - self.deduction[t]

    def initial(self, notional: FloatArray) -> FloatArray:
        """``N / max_leverage`` at each notional's tier."""
        return notional / self.max_leverage[self.tier(notional)]


def hyperliquid_tiers(floor: Sequence[float], max_leverage: Sequence[float], source: str = "<tiers>",
                      key: str = "tiers") -> MarginTiers:
    """Hyperliquid's tiers: maintenance rate half the initial margin rate at maximum leverage."""
    lev = np.asarray(max_leverage, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return MarginTiers.build(floor, lev, 0.5 / lev, source, key)


@dataclass(frozen=True)
class TierTable:
    """Tiers per market name, resolved against a book's market list."""

    tiers: Mapping[str, MarginTiers]
    source: str = "<tiers>"

    def for_markets(self, markets: Sequence[str]) -> tuple[MarginTiers, ...]:
        """The tiers of each of ``markets``; a market with none is a ConfigError naming it."""
        missing = [m for m in markets if m not in self.tiers]
        if missing:
            raise ConfigError(self.source, f"tiers.{missing[0]}", f"a tier table for every market (known: {sorted(self.tiers)})")
        return tuple(self.tiers[m] for m in markets)

    def _flat(self, markets) -> tuple[IntArray, dict[str, FloatArray]]:
        """Every market's tiers in one array per field, market ``k``'s rows from ``start[k]``."""
        tables = self.for_markets(markets)
        start = np.concatenate([[0], np.cumsum([t.floor.size for t in tables])]).astype(np.int64)
        fields = ("floor", "maintenance_rate", "deduction", "max_leverage")
        return start, {f: np.concatenate([getattr(t, f) for t in tables]) if tables else np.zeros(0) for f in fields}

    def maintenance_slope(self, book: PerpBook, mark: FloatArray) -> FloatArray:
        """Per position, the maintenance's change per unit of its market's price toward its
        liquidation (see :attr:`~liqcascade.protocols.perps_base.PerpCapabilities.maintenance_slope`)."""
        start, flat = self._flat(book.markets)
        out = np.empty(book.n_positions)
        _K["tier_slope"](book.market, book.size, np.ascontiguousarray(mark, dtype=np.float64), start, flat["floor"],
                         flat["maintenance_rate"], out)
        return out

    def margin(self, book: PerpBook, mark: FloatArray, funding: FloatArray | None = None) -> MarginState:
        """Equity, maintenance, initial margin and notional per account at ``mark``, in one
        compiled pass over the positions (the same numbers as :meth:`per_position` summed
        per account, tested)."""
        start, flat = self._flat(book.markets)
        m = np.ascontiguousarray(mark, dtype=np.float64)
        f = np.zeros(len(book.markets)) if funding is None else np.ascontiguousarray(funding, dtype=np.float64)
        n = book.n_accounts
        out = [np.empty(n) for _ in range(4)]
        _K["tiered_margin"](book.account, book.market, book.size, book.entry_price, book.funding_index, f, m,
                            book.collateral, start, flat["floor"], flat["maintenance_rate"], flat["deduction"],
                            flat["max_leverage"], *out)
        return MarginState(equity=out[0], maintenance=out[1], initial=out[2], notional=out[3])

    def per_position(self, market: np.ndarray, notional: FloatArray, markets: Sequence[str]) -> "PositionTiers":
        """Maintenance and initial margin, maintenance rate and deduction per position."""
        tables = self.for_markets(markets)
        mm = np.zeros_like(notional)
        im = np.zeros_like(notional)
        rate = np.zeros_like(notional)
        for k, t in enumerate(tables):
            on = market == k
            if on.all():  # one market holds every position: no masked copies
                on = slice(None)
            elif not on.any():
                continue
            n = notional[on]
            tier = t.tier(n)
            r = t.maintenance_rate[tier]
            rate[on] = r
            mm[on] = n * r - t.deduction[tier]
            im[on] = n / t.max_leverage[tier]
        return PositionTiers(maintenance=mm, initial=im, maintenance_rate=rate)


@dataclass(frozen=True)
class PositionTiers:
    """Per position: maintenance and initial requirement (quote) and the marginal maintenance rate."""

    maintenance: FloatArray
    initial: FloatArray
    maintenance_rate: FloatArray


def positions_of(book_offsets: IntArray, accounts: IntArray) -> IntArray:
    """The position indices of ``accounts`` (dense), account by account, from CSR offsets."""
    accounts = np.asarray(accounts, dtype=np.int64)
    start = book_offsets[accounts]
    count = book_offsets[accounts + 1] - start
    total = int(count.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # each position's index is its account's start plus its rank within the account
    first = np.repeat(np.cumsum(count) - count, count)
    return np.repeat(start, count) + (np.arange(total) - first)


def liquidation_price(mark: FloatArray, size: FloatArray, available: FloatArray, rate: FloatArray) -> FloatArray:
    """The price of a position's market at which its account's equity meets its maintenance,
    the other markets held still: ``mark − side · available / |size| / (1 − side · rate)``.

    ``available`` is the account's equity less its maintenance at ``mark`` (per position),
    ``rate`` the position's marginal maintenance rate. This is Hyperliquid's published formula
    (hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations, "Computing liquidation
    price", with ``l`` the maintenance rate); it solves ``E + size·(p − m) = MM + |size|·(p − m)·rate``
    exactly while the position stays in its tier. A long whose price would be ≤ 0 is never
    liquidated by this market alone: ``nan``."""
    side = np.sign(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = mark - side * available / np.abs(size) / (1.0 - side * rate)
    return np.where(p > 0, p, np.nan)


class TieredMargin:
    """The margin part of a :class:`~liqcascade.protocols.perps_base.MarginEngine` whose
    ``settings.tiers`` carry notional tiers (Hyperliquid, the Binance-like engine): equity and
    requirements from the tiers, the requirement's slope (``maintenance_slope`` capability),
    and liquidation while equity is below a positive maintenance requirement."""

    def margin(self, book: PerpBook, mark: FloatArray, funding: FloatArray | None = None) -> MarginState:
        return self.settings.tiers.margin(book, mark, funding)  # type: ignore[attr-defined]

    def maintenance_slope(self, book: PerpBook, mark: FloatArray) -> FloatArray:
        """Per position, the requirement's slope toward its liquidation (declared in the capabilities)."""
        return self.settings.tiers.maintenance_slope(book, mark)  # type: ignore[attr-defined]

    def liquidatable(self, book: PerpBook, state: MarginState) -> BoolArray:
        return (state.maintenance > 0) & (state.equity < state.maintenance)
