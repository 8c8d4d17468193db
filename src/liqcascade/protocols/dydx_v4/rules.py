"""dYdX v4's margin engine in float64 over a :class:`~liqcascade.model.perps.PerpBook`.

The same rules as :mod:`.exact` (which cites v4-chain @ 84d4664b), in dollars and base units
and vectorised over every account; tied to the exact form by property tests
(``tests/protocols/test_dydx_v4.py``):

- ``IMR = Σ notional·IMF(OI)``, the IMF rising linearly from the tier's base to 1 as the
  market's open interest (long base units · mark) goes from the lower to the upper cap;
  ``MMR = Σ notional·IMF_base·maintenance_fraction``; liquidatable iff ``MMR > 0`` and
  ``equity < MMR``.
- A liquidated position's worst (fillable) price ``m − ABR·SMMR·PMMR/size`` with
  ``ABR = clamp(BA·(1 − TNC/TMMR), 0, 1)``; its bankruptcy price ``m − TNC·PMMR/(TMMR·size)``
  (closing every position of the account at its own leaves the equity at exactly zero).
- Insurance fund, per fill: ``δ = −filled·(price − bankruptcy price)``; a positive δ is a fee
  capped at ``max_liquidation_fee·|quote|``; a negative one the fund covers while it can.
- Deleveraging (:class:`DydxDeleveraging`): each deficit account's positions are closed at
  their bankruptcy price against opposite positions of other accounts, visited from a
  pseudo-random start in book order, no ranking.

Simplification, said here and in docs/perps.md: dYdX liquidates one position per
subaccount per block (``GetPerpetualPositionToLiquidate``); :meth:`DydxV4Rules.orders`
closes every position of a liquidatable account at once, each at its own fillable price.
Tier figures: ``protocol/scripts/genesis/sample_pregenesis.json`` @ 84d4664b.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import (
    MARKET_ORDER, AdlCloses, Fills, LiquidationOrders, MarginEngine, MarginState, PerpCapabilities, Settlement,
)

__all__ = ["DydxV4Rules", "DydxDeleveraging", "Tier", "TIERS"]


@dataclass(frozen=True)
class Tier:
    """A liquidity tier: base initial margin fraction, maintenance fraction (of the IMF) and
    the open-interest caps in USD (upper cap 0: the IMF is never scaled)."""

    initial_margin: float
    maintenance_fraction: float
    oi_lower_cap: float = 0.0
    oi_upper_cap: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 < self.initial_margin <= 1.0):
            raise ConfigError("<python>", "tier.initial_margin", "a fraction in (0, 1]", self.initial_margin)
        if not (0.0 <= self.maintenance_fraction <= 1.0):
            raise ConfigError("<python>", "tier.maintenance_fraction", "a fraction in [0, 1]", self.maintenance_fraction)
        if not (0.0 <= self.oi_lower_cap <= self.oi_upper_cap or self.oi_upper_cap == 0.0):
            raise ConfigError("<python>", "tier.oi_lower_cap", "at most oi_upper_cap", self.oi_lower_cap)

    @property
    def max_leverage(self) -> float:
        return 1.0 / self.initial_margin


TIERS: dict[str, Tier] = {
    "large-cap": Tier(0.02, 0.6),
    "small-cap": Tier(0.10, 0.5, 20e6, 50e6),
    "long-tail": Tier(0.20, 0.5, 5e6, 10e6),
    "safety": Tier(1.0, 0.2, 2e6, 5e6),
    "isolated": Tier(0.05, 0.6, 0.5e6, 1e6),
    "mid-cap": Tier(0.05, 0.6, 40e6, 100e6),
}
"""dYdX v4's liquidity tiers 0-5 (``sample_pregenesis.json`` @ 84d4664b; caps there in quote
quantums, here in USD)."""


class DydxV4Rules:
    """The dYdX v4 :class:`~liqcascade.protocols.perps_base.MarginEngine`.

    ``tiers`` maps a market name to its tier; other markets get ``default_tier``. Liquidation
    config defaults are the genesis ones: fee cap 0.5 %, bankruptcy adjustment 1, spread to
    maintenance margin ratio 0.1."""

    name = "dydx_v4"
    capabilities = PerpCapabilities(partial_liquidation=False, backstop=False, insurance_fund=True, deleveraging=True,
                                    linear_maintenance=True)

    def __init__(self, tiers: Mapping[str, Tier] | None = None, default_tier: Tier = TIERS["large-cap"],
                 max_liquidation_fee: float = 0.005, bankruptcy_adjustment: float = 1.0,
                 spread_to_mmr: float = 0.1) -> None:
        self.tiers = dict(tiers or {})
        self.default_tier = default_tier
        self.max_liquidation_fee = float(max_liquidation_fee)
        self.bankruptcy_adjustment = float(bankruptcy_adjustment)
        self.spread_to_mmr = float(spread_to_mmr)

    # ------------------------------------------------------------------ tiers
    def tier_of(self, market: str) -> Tier:
        return self.tiers.get(market, self.default_tier)

    def _tier_columns(self, markets: tuple[str, ...]) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        t = [self.tier_of(m) for m in markets]
        return (np.array([x.initial_margin for x in t]), np.array([x.maintenance_fraction for x in t]),
                np.array([x.oi_lower_cap for x in t]), np.array([x.oi_upper_cap for x in t]))

    def max_leverage(self, market: str) -> float:
        """The leverage a position may open at in ``market``: 1 / its tier's base IMF."""
        return self.tier_of(market).max_leverage

    def maintenance_rate(self, markets: tuple[str, ...]) -> FloatArray:
        """Per market, the maintenance margin per dollar of notional (IMF_base · fraction)."""
        imf, mf, _, _ = self._tier_columns(markets)
        return imf * mf

    def initial_rate(self, book: PerpBook, mark: FloatArray) -> FloatArray:
        """Per market, the open-interest-scaled IMF at ``mark``."""
        imf, _, lo, hi = self._tier_columns(book.markets)
        oi = book.open_interest()[0] * np.asarray(mark, dtype=np.float64)
        span = np.where(hi > lo, hi - lo, 1.0)
        scale = np.where(oi <= lo, 0.0, np.where(oi >= hi, 1.0, (oi - lo) / span))
        scale = np.where(hi > 0, scale, 0.0)
        return imf + scale * (1.0 - imf)

    # ------------------------------------------------------------------ contract
    def margin(self, book: PerpBook, mark: FloatArray, funding: FloatArray | None) -> MarginState:
        notional = book.notional(mark)
        maint = book.per_account(notional * self.maintenance_rate(book.markets)[book.market])
        initial = book.per_account(notional * self.initial_rate(book, mark)[book.market])
        return MarginState(book.equity(mark, funding), maint, initial, book.per_account(notional))

    def liquidatable(self, book: PerpBook, state: MarginState) -> BoolArray:
        return (state.maintenance > 0.0) & (state.equity < state.maintenance)

    def orders(self, book: PerpBook, state: MarginState, mark: FloatArray, accounts: IntArray) -> LiquidationOrders:
        picked = np.zeros(book.n_accounts, dtype=bool)
        picked[np.asarray(accounts, dtype=np.int64)] = True
        pos = np.flatnonzero(picked[book.account] & (book.size != 0.0))
        if not pos.size:
            return LiquidationOrders.none()
        a, s = book.account[pos], book.size[pos]
        m = np.asarray(mark, dtype=np.float64)[book.market[pos]]
        pmmr = np.abs(s) * m * self.maintenance_rate(book.markets)[book.market[pos]]
        tnc, tmmr = state.equity[a], state.maintenance[a]
        abr = np.clip(self.bankruptcy_adjustment * (1.0 - tnc / tmmr), 0.0, 1.0)
        worst = m - abr * self.spread_to_mmr * pmmr / s
        bankrupt = m - tnc * pmmr / (tmmr * s)
        return LiquidationOrders(pos.astype(np.int64), -s, worst, bankrupt, np.full(pos.size, MARKET_ORDER, dtype=np.int8))

    def settle(self, book: PerpBook, orders: LiquidationOrders, fills: Fills, fund_balance: float) -> Settlement:
        """Fees first (they are in the fund before any deficit is drawn), then the fills that
        closed below bankruptcy draw on the fund in row order while it lasts."""
        p = orders.position
        f = np.asarray(fills.filled, dtype=np.float64)
        price = np.where(f != 0.0, np.asarray(fills.average_price, dtype=np.float64), 0.0)
        realised = -f * (price - book.entry_price[p])
        delta = -f * (price - orders.bankruptcy_price)
        fee = np.minimum(self.max_liquidation_fee * np.abs(f) * price, np.maximum(delta, 0.0))
        need = np.maximum(-delta, 0.0)
        available = float(fund_balance) + float(fee.sum())
        before = np.cumsum(need) - need
        covered = np.clip(available - before, 0.0, need)
        acct = book.account[p]
        n = book.n_accounts
        change = np.bincount(acct, weights=realised - fee + covered, minlength=n)
        deficit = np.bincount(acct, weights=need - covered, minlength=n)
        return Settlement(change, float(fee.sum() - covered.sum()), deficit)

    # ------------------------------------------------------------------ helpers
    def deleveraging(self, seed: int = 0) -> "DydxDeleveraging":
        """dYdX's deleveraging policy for this engine (starts drawn with ``seed``)."""
        return DydxDeleveraging(self, seed)


class DydxDeleveraging:
    """dYdX's deleveraging as an :data:`~liqcascade.protocols.perps_base.AdlPolicy`: every
    position of a deficit account is closed at its bankruptcy price (as ``engine.orders``
    gives it) against the opposite positions of accounts without a deficit, visited in book
    order from a start drawn by a seeded generator (dYdX: ``GetPseudoRand(ctx).Intn``), each
    taking up to its own size. No ranking."""

    def __init__(self, engine: MarginEngine, seed: int = 0) -> None:
        self.engine = engine
        self.rng = np.random.default_rng(seed)

    def __call__(self, book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlCloses:
        deficit = np.asarray(deficit, dtype=np.float64)
        bad = np.flatnonzero(deficit > 0)
        if not bad.size:
            return AdlCloses.none()
        sub, pos = book.subset(bad)
        orders = self.engine.orders(sub, self.engine.margin(sub, mark, None), mark, np.arange(sub.n_accounts))
        takers = deficit[book.account] <= 0.0
        sides: dict[tuple[int, bool], IntArray] = {}
        left: dict[int, float] = {}
        rows: list[tuple[int, float, float]] = []
        for j, bp in zip(pos[orders.position], orders.bankruptcy_price):
            if not np.isfinite(bp):
                continue
            key = (int(book.market[j]), bool(book.size[j] > 0))
            if key not in sides:  # the opposite side of this market, once per call
                opposite = book.size < 0 if key[1] else book.size > 0
                sides[key] = np.flatnonzero((book.market == key[0]) & takers & opposite)
            rows.extend(self._offset(book, int(j), sides[key], left, float(bp)))
        if not rows:
            return AdlCloses.none()
        p, close, price = zip(*rows)
        return AdlCloses(np.array(p, dtype=np.int64), np.array(close), np.array(price))

    def _offset(self, book: PerpBook, j: int, cands: IntArray, left: dict, price: float):
        """Close position ``j`` against ``cands`` from a pseudo-random start; ``left`` holds
        what this call already took from each candidate."""
        if not cands.size:
            return []
        start = int(self.rng.integers(cands.size))
        out = []
        remaining = -float(book.size[j])
        for i in range(cands.size):
            if remaining == 0.0:
                break
            k = int(cands[(start + i) % cands.size])
            have = left.get(k, float(book.size[k]))
            if have == 0.0:
                continue
            take = remaining if abs(remaining) <= abs(have) else have
            out += [(j, take, price), (k, -take, price)]
            left[k] = have - take
            remaining -= take
        return out
