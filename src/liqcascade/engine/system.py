"""A system of markets: several protocols over one asset universe, selling into shared venues.

Every market keeps its own book, rules and liquidators' limits; they meet in the venues:
each round of the static cascade, every market liquidates what is eligible at the common
prices and all their sales go through each asset's venue together (one price per asset for
everyone, :func:`~liqcascade.engine.static.solve_fixed_point`). A single-market scenario is
the system of that one market, and its numbers are today's engine's to the bit.

A **stablecoin issued by a market** (:class:`IssuedCoin`: DAI by a Maker market, crvUSD by
crvusd) is a system asset with its own venue. The debt its issuer's liquidations repay in it
is bought on that venue by the liquidators (a ``buy_share`` of it: a Liquity liquidation
offsets debt against Stability Pool deposits already held, so buys nothing), after the
round's sales, lifting its price; the venue's marginal price is the price every market sees
for the coin in the next round, as collateral or as debt. A system without issued coins runs
exactly as before.

Liquidators are unbounded unless ``SystemModel.liquidators`` has a population with finite
capital or calls per round: then each round is made by those populations
(:mod:`liqcascade.engine.system_liquidators`), and without one the cascade is exactly as before.

Owners (``SystemModel.owners``) link accounts of different markets to one holder; they
change only what is reported per owner, never how a market liquidates its accounts.

Contagion is what the system adds over the markets run alone: :meth:`SystemCascade.alone`
runs one market with the same shock and the same (fresh) venues, and
:meth:`SystemCascade.run` with ``only=`` runs any subset (the leave-one-out matrix of
:mod:`liqcascade.risk.contagion` drops one market at a time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.engine.static import (
    CascadeOutcome,
    CascadeSettings,
    FixedPointTrace,
    MarketModel,
    MarketPass,
    StaticCascade,
    VenueRound,
    _buyable,
    shock_vector,
    solve_fixed_point,
)
from liqcascade.engine.system_liquidators import BoundedPass, Ledger, LiquidatorRounds, StaticLiquidators
from liqcascade.engine.system_pegs import PegState, Psm, PsmSwap, Redemptions, Troves, psm_swap, redeem
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue

PRICE_TOLERANCE = 1e-12
"""Relative difference allowed between a market's reference price and the system's."""


@dataclass(frozen=True)
class IssuedCoin:
    """A stablecoin ``asset`` issued by the system's market ``issuer``: the debt the issuer's
    liquidations repay in it is burnt, and liquidators buy ``buy_share`` of it on the coin's
    venue first (1: Maker keepers and crvUSD liquidators pay in a coin they must acquire;
    0: Liquity's Stability Pool offsets debt with deposits it already holds)."""

    asset: str
    issuer: str
    buy_share: float = 1.0
    supply: float | None = None
    """Tokens outstanding at the start (None: not tracked); see :mod:`liqcascade.engine.system_pegs`."""
    psm: Psm | None = None
    redemptions: Redemptions | None = None

    @property
    def pegged(self) -> bool:
        """True when the coin declares a supply or a peg mechanism (its table has their columns)."""
        return self.supply is not None or self.psm is not None or self.redemptions is not None


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
    issued: tuple[IssuedCoin, ...] = ()
    """Stablecoins issued by markets of the system (at most one issuer per coin)."""
    owners: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Per market name, the owner label of each account (original account order; None
    where the account is linked to no owner). Reporting only: see the module docstring."""
    liquidators: tuple[StaticLiquidators, ...] = ()
    """Liquidator populations with capital and capacity (at most one shared, one per market:
    :mod:`liqcascade.engine.system_liquidators`); none bounded: unbounded, as before."""

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
        self._check_issued()
        self._check_liquidators()
        for name, labels in self.owners.items():
            if name not in self.markets:
                raise ConfigError(self.source, "owners", f"market names {list(self.names)}", name)
            n = self.markets[name].book.n_accounts
            if np.shape(labels) != (n,):
                raise ConfigError(self.source, f"owners.{name}", f"one owner label (or None) per account ({n})",
                                  np.shape(labels))

    def _check_issued(self) -> None:
        seen: set[str] = set()
        for c in self.issued:
            key = f"stablecoins.{c.asset}"
            if c.asset in seen:
                raise ConfigError(self.source, key, "one issuer per coin", c.asset)
            seen.add(c.asset)
            if c.asset not in self.assets:
                raise ConfigError(self.source, key, f"an asset of the system {list(self.assets)}", c.asset)
            if c.issuer not in self.markets:
                raise ConfigError(self.source, f"{key}.issuer", f"a market of the system {list(self.names)}", c.issuer)
            if c.asset not in self.markets[c.issuer].assets:
                raise ConfigError(self.source, f"{key}.issuer", f"a market that has {c.asset} among its assets "
                                  f"({c.issuer!r} has {list(self.markets[c.issuer].assets)})", c.issuer)
            if c.asset not in self.venues:
                raise ConfigError(self.source, key, f"a [[venues]] entry for {c.asset} (its price is its venue's)",
                                  "no venue")
            if not self.venues[c.asset].capabilities.quotes_buy:
                raise ConfigError(self.source, key, f"a venue for {c.asset} that quotes purchases "
                                  "(a pool: kind = 'cpmm' or 'univ3')", type(self.venues[c.asset]).__name__)
            if not (0.0 <= float(c.buy_share) <= 1.0):
                raise ConfigError(self.source, f"{key}.buy_share", "a fraction in [0, 1]", c.buy_share)
            self._check_pegs(c, key)

    def _check_pegs(self, c: IssuedCoin, key: str) -> None:
        issuer = self.markets[c.issuer]
        if c.supply is not None:
            if not (np.isfinite(c.supply) and c.supply > 0.0):
                raise ConfigError(self.source, f"{key}.supply", "tokens outstanding, finite and > 0", c.supply)
            _, debt = issuer.book.totals_by_asset()
            owed = float(debt[issuer.assets.index(c.asset)])
            if c.supply < owed * (1.0 - 1e-9):
                raise ConfigError(self.source, f"{key}.supply", f"at least the debt {c.issuer!r} owes in "
                                  f"{c.asset} ({owed:,.0f}: every debt token was minted)", c.supply)
        if c.psm is not None:
            for name in ("tin", "tout"):
                v = float(getattr(c.psm, name))
                if not 0.0 <= v < 1.0:
                    raise ConfigError(self.source, f"{key}.psm.{name}", "a fee in [0, 1)", v)
            for name in ("gem_balance", "mint_room"):
                v = float(getattr(c.psm, name))
                if not v >= 0.0 or math.isnan(v):
                    raise ConfigError(self.source, f"{key}.psm.{name}", "gem (USD) >= 0", v)
        if c.redemptions is not None:
            from liqcascade.protocols.liquity_v1.rules import LiquityV1Rules

            rules = issuer.rules
            if not isinstance(rules, LiquityV1Rules) or rules.debt_asset != c.asset:
                raise ConfigError(self.source, f"{key}.redemptions", f"an issuer whose troves owe {c.asset} "
                                  "(a liquity_v1 market)", c.issuer)
            if c.supply is None:
                raise ConfigError(self.source, f"{key}.supply", "the coin's supply (a redemption raises the base "
                                  "rate by the redeemed share of it)", "none")
            if not 0.0 <= float(c.redemptions.base_rate) <= 1.0:
                raise ConfigError(self.source, f"{key}.redemptions.base_rate", "a rate in [0, 1]",
                                  c.redemptions.base_rate)

    def _check_liquidators(self) -> None:
        seen: set[str | None] = set()
        for pop in self.liquidators:
            if pop.market is not None and pop.market not in self.markets:
                raise ConfigError(self.source, "liquidators", f"market names {list(self.names)}", pop.market)
            if pop.market in seen:
                raise ConfigError(self.source, "liquidators", "one population per market and one shared",
                                  pop.name)
            seen.add(pop.market)

    @property
    def bounded(self) -> bool:
        """True when some liquidator population has finite capital or capacity."""
        return any(pop.bounded for pop in self.liquidators)

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
    coins: Mapping[str, "CoinTotals"] = field(default_factory=dict)
    """Per issued coin whose issuer ran: what was repaid (burnt) and bought on its venue."""
    liquidators: Mapping[str, Ledger] = field(default_factory=dict)
    """Per liquidator population, when some are bounded: its ledger over the cascade."""


@dataclass
class CoinTotals:
    """One issued coin over a cascade: tokens of debt its issuer's liquidations repaid
    (burnt), tokens bought on its venue for that and their USD cost, rounds with a purchase."""

    asset: str
    issuer: str
    repaid: float = 0.0
    bought: float = 0.0
    cost_usd: float = 0.0
    rounds: int = 0
    peg: PegState | None = None
    """The coin's supply, PSM and redemptions when it declares them."""


class IssuedPurchases:
    """The ``after_trade`` step of :func:`solve_fixed_point` for the issued coins: after a
    round's sales, each coin's issuer's liquidators buy ``buy_share`` of the debt they repaid
    in it on its venue (one purchase per coin per round); the purchase is booked as the
    issuer's ``bought`` (so the market's round rows and totals carry it)."""

    def __init__(self, system: SystemModel, names: Sequence[str], passes: list[MarketPass], buy_debt: bool) -> None:
        self.passes = passes
        # with buy_debt every market's repaid debt is already bought in trade_round: only booked here
        self.buy = not buy_debt
        self.plan = [
            (c, system.assets.index(c.asset), names.index(c.issuer),
             system.markets[c.issuer].assets.index(c.asset)) for c in system.issued if c.issuer in names
        ]
        self.totals = {c.asset: CoinTotals(c.asset, c.issuer) for c, _, _, _ in self.plan}
        self.pegs = {c.asset: PegState.start(c.supply, c.psm, c.redemptions) for c, _, _, _ in self.plan if c.pegged}
        self.system = system
        self.round = 0
        for a, st in self.pegs.items():
            self.totals[a].peg = st

    def __call__(self, live: dict[int, Venue], trade: VenueRound) -> list[VenueRound]:
        p_new = trade.prices_after.copy()
        own: dict[int, tuple[FloatArray, FloatArray, FloatArray]] = {}
        for coin, i, k, j in self.plan:
            repaid = float(self.passes[k].tallies.repaid[j])
            amount = repaid * float(coin.buy_share)
            tot = self.totals[coin.asset]
            tot.repaid += repaid
            if not self.buy:
                if trade.bought[i] > 0.0:  # the issuer's pro-rata part of trade_round's purchase
                    tot.bought += float(trade.bought[i] * (repaid / trade.repaid[i]))
                    tot.cost_usd += float(trade.bought_cost[i] * (repaid / trade.repaid[i]))
                    tot.rounds += 1
                continue
            if amount > 0.0 and i in live:
                amount = _buyable(live[i], amount)  # what the pool cannot sell comes from outside it
            if amount <= 0.0 or i not in live:
                continue
            cost, live[i] = live[i].buy(amount)
            p_new[i] = live[i].mid_price()
            bought, bought_cost, whole = own.setdefault(
                k, (trade.bought.copy(), trade.bought_cost.copy(), trade.repaid.copy()))
            # the issuer's share of the purchase is all of it: whole = its own repaid
            bought[i], bought_cost[i], whole[i] = amount, cost, repaid
            tot.bought += amount
            tot.cost_usd += cost
            tot.rounds += 1
        for coin, i, k, j in self.plan:
            if coin.asset in self.pegs:
                self.pegs[coin.asset].supply -= float(self.passes[k].tallies.repaid[j])
        if not own:
            return [trade] * len(self.passes)
        shared = replace(trade, prices_after=p_new)
        return [replace(shared, bought=own[k][0], bought_cost=own[k][1], repaid=own[k][2]) if k in own else shared
                for k in range(len(self.passes))]

    def arbitrage(self, live: dict[int, Venue], prices: FloatArray) -> FloatArray:
        """The ``before_round`` step of :func:`solve_fixed_point`: each pegged coin's PSM, then
        its redemptions, trade on its venue (:mod:`liqcascade.engine.system_pegs`) at the
        round's start; the prices after."""
        p_new = prices.copy()
        self.round += 1
        for coin, i, k, j in self.plan:
            st = self.pegs.get(coin.asset)
            if st is None or i not in live:
                continue
            venue = live[i]
            swap = PsmSwap()
            redeemed, cancelled = st.redeemed, st.debt_cancelled
            if coin.psm is not None:
                swap, venue = psm_swap(venue, coin.psm, st)
            if coin.redemptions is not None:
                part = self.passes[k]
                rules = part.solver.model.rules
                arrays = part.arrays
                c = rules.params.symbols.index(rules.collateral)
                troves = Troves(arrays.coll, arrays.debt, np.flatnonzero(arrays.asset == c),
                                np.flatnonzero(arrays.asset == j), rules.mcr)
                price = float(p_new[self.system.assets.index(rules.collateral)])
                _, _, venue = redeem(venue, coin.redemptions, st, troves, price)
                # the redeemed troves' rows differ from the base book: reset them next run
                part.solver._dirty = int(arrays.offsets[-1])
            if venue is not live[i]:
                live[i] = venue
                p_new[i] = venue.mid_price()
            st.log.append({
                "round": self.round, "asset": coin.asset, "price_before": float(prices[i]),
                "price_after": float(p_new[i]), "supply": st.supply, "psm_minted": swap.minted,
                "psm_burnt": swap.burnt, "psm_gem": st.gem if coin.psm is not None else math.nan,
                "redeemed": st.redeemed - redeemed, "redemption_debt_cancelled": st.debt_cancelled - cancelled,
                "base_rate": st.base_rate if coin.redemptions is not None else math.nan,
            })
        return p_new


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
        self, shocks: Mapping[str, float] | FloatArray, only: Sequence[str] | None = None, keep_arrays: bool = True,
        trades: bool = False,
    ) -> SystemOutcome:
        """The fixed point of the markets ``only`` (all when None) from ``shocks``; ``trades``: keep
        each market's per-row flows (:meth:`StaticCascade.run`)."""
        sysm = self.system
        shock = sysm.shock_vector(shocks) if isinstance(shocks, Mapping) else np.asarray(shocks, dtype=np.float64)
        names = list(sysm.names if only is None else only)
        for n in names:
            if n not in self.solvers:
                raise ConfigError(sysm.source, "markets", f"market names {list(sysm.names)}", n)
        keep = trades and keep_arrays
        bounded = LiquidatorRounds(sysm.liquidators, names) if sysm.bounded else None
        if bounded is None:
            passes = [self.solvers[n].start(self._index[n], trades=keep) for n in names]
        else:
            passes = [BoundedPass(self.solvers[n], self._index[n], bounded, k, keep) for k, n in enumerate(names)]
            bounded.passes = passes
        venues = {sysm.assets.index(a): v for a, v in sysm.venues.items()}
        p0 = np.asarray(sysm.prices, dtype=np.float64)
        buys = IssuedPurchases(sysm, names, passes, self.settings.buy_debt) if sysm.issued else None
        pegs = buys.arbitrage if buys is not None and buys.pegs else None
        after = buys
        if bounded is not None:
            bounded.then, after = buys, bounded
        trace = solve_fixed_point(passes, p0, shock, venues, self.settings, after, pegs)
        if bounded is not None:
            bounded.finish()
        outs = {n: part.outcome(trace, shock, keep_arrays) for n, part in zip(names, passes)}
        return SystemOutcome(trace, shock, outs, {} if buys is None else buys.totals,
                             {} if bounded is None else bounded.ledgers)

    def alone(self, name: str, shocks: Mapping[str, float] | FloatArray, keep_arrays: bool = True) -> CascadeOutcome:
        """Market ``name`` run by itself with the same shock and fresh shared venues."""
        return self.run(shocks, only=[name], keep_arrays=keep_arrays).markets[name]

    def summarize(self, name: str, out: CascadeOutcome) -> dict[str, object]:
        """Market ``name``'s summary (as the single-market engine's)."""
        return self.solvers[name].summarize(out)

    def totals(self, name: str, out: CascadeOutcome) -> dict[str, object]:
        """Market ``name``'s counts and USD totals (:meth:`StaticCascade.totals`)."""
        return self.solvers[name].totals(out)
