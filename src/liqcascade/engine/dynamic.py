"""The block-by-block simulation: the cascade in time.

Each block (12 s by default):

1. **Reference price.** The exogenous path's price (assets not on the path keep their
   reference price) times the *permanent* part of all liquidation selling so far.
2. **Venues.** Each venue's price is the reference times the *transient* part of the
   selling, which decays with ``recovery_half_life_s`` (arbitrage and refilling depth
   pulling the venue back). A venue whose target moved is re-centred there
   (``Venue.with_mid_price``); one whose target did not move keeps its state, so
   consecutive sales walk down the same curve.
3. **Oracle.** Reads the venues' prices (the market) by its own rules (Chainlink push,
   TWAP, OSM, instant): the protocol sees the oracle's price, not the market's.
4. **Eligible accounts** at the oracle's prices. Only accounts that can have crossed 1
   are looked at: when no oracle price changed, only last block's eligible accounts;
   otherwise the HF0-sorted prefix with per-account lower bounds (as in the static
   solver), so a quiet block costs next to nothing.
5. **Liquidators** price each eligible account's next call: collateral received times
   the venue price, net of the slippage of this block's total sale of that asset, minus
   the debt repaid at the market price and the gas (``gas_per_call`` at the block's gas
   price, in the gas asset's price). They take the most profitable ones first, each
   above ``min_profit_usd``, up to ``liquidations_per_block`` accounts and
   ``capital_usd`` of debt per block, once an account has been eligible for
   ``latency_blocks``. What is unprofitable or beyond capacity waits; what nobody ever
   liquidates turns into bad debt by the protocol's rules.
6. **Selling.** Liquidators sell a share ``1 / spread_blocks`` of their inventory into the
   venues each block (1 = all at once); each sale's price move is split into the
   permanent part (``permanent_fraction``, into the reference price) and the transient
   part (decaying).

In the limit of unbounded liquidators, an instant oracle, no recovery and a one-block
shock, every block is one round of the static cascade, and the simulation ends at the
static fixed point (a test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray
from liqcascade.engine import kernels as _kernels
from liqcascade.engine.result import Result, _clean
from liqcascade.engine.static import MarketModel, SortedBook
from liqcascade.errors import ConfigError, LiqcascadeError
from liqcascade.markets.base import Venue
from liqcascade.protocols.base import LiquidationLimits, Lots, Tallies


@dataclass(frozen=True)
class Liquidators:
    """The liquidator population (in aggregate)."""

    liquidations_per_block: float = math.inf
    """Accounts liquidated per block at most (block space / bot count); inf = unbounded."""
    calls_per_account: int = 1
    """Liquidation calls on one account per block at most."""
    gas_per_call: float = 500_000.0
    """Gas units one liquidation costs (call plus the swap that sells the collateral)."""
    gas_asset: str | None = "WETH"
    """Asset whose price converts gas (in gwei) to USD; None = gas costs nothing."""
    gas_gwei: float = 20.0
    """Gas price when the path carries none."""
    min_profit_usd: float = 0.0
    """Smallest profit after slippage and gas that a liquidator acts on."""
    capital_usd: float = math.inf
    """Debt (USD) liquidators can repay per block; inf = flash loans."""
    latency_blocks: int = 0
    """Blocks an account must have been eligible before a liquidator acts."""
    spread_blocks: int = 1
    """Liquidators sell 1/spread_blocks of their inventory each block (1 = at once)."""
    min_repay_usd: float = 0.0
    """Calls repaying less than this are not made."""

    def __post_init__(self) -> None:
        checks = [
            ("liquidations_per_block", self.liquidations_per_block > 0, "a number > 0 (inf = unbounded)"),
            ("calls_per_account", int(self.calls_per_account) >= 1, "an integer >= 1"),
            ("gas_per_call", self.gas_per_call >= 0 and math.isfinite(self.gas_per_call), "a finite number >= 0"),
            ("gas_gwei", self.gas_gwei >= 0 and math.isfinite(self.gas_gwei), "a finite number >= 0"),
            ("capital_usd", self.capital_usd > 0, "a number > 0 (inf = flash loans)"),
            ("latency_blocks", int(self.latency_blocks) >= 0, "an integer >= 0"),
            ("spread_blocks", int(self.spread_blocks) >= 1, "an integer >= 1"),
            ("min_repay_usd", self.min_repay_usd >= 0, "a number >= 0"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<liquidators>", f"liquidators.{key}", expected, getattr(self, key))


@dataclass(frozen=True)
class Dynamics:
    """How venues recover from liquidation selling."""

    recovery_half_life_s: float = 600.0
    """Half-life of the transient price impact (0 = arbitraged away within a block, inf = never)."""
    permanent_fraction: float = 0.5
    """Share of each sale's price move that stays in the reference price."""
    depth_half_life_s: float | None = None
    """Order books and impact laws: half-life of the depth consumed by selling. None: they
    are re-centred at full depth and their price recovers with ``recovery_half_life_s``.
    Set: market makers re-quote around the reference price (exogenous path and permanent
    impact) while the consumed depth refills with this half-life, so the price recovers
    as the depth does."""
    arb_capital_usd: float = math.inf
    """Capital (USD) arbitrageurs can put into each AMM pool per block. Finite: they trade
    the pool toward the reference price (buying or selling) with at most this much, and
    the half-life does not apply to pools; inf: pools follow the half-life exactly."""

    def __post_init__(self) -> None:
        if not (self.recovery_half_life_s >= 0):
            raise ConfigError("<dynamics>", "dynamics.recovery_half_life_s", "a number >= 0 (inf = no recovery)",
                              self.recovery_half_life_s)
        if not (0.0 <= self.permanent_fraction <= 1.0):
            raise ConfigError("<dynamics>", "dynamics.permanent_fraction", "a fraction in [0, 1]",
                              self.permanent_fraction)
        if self.depth_half_life_s is not None and not (self.depth_half_life_s > 0):
            raise ConfigError("<dynamics>", "dynamics.depth_half_life_s", "a number of seconds > 0 (inf: never refills)",
                              self.depth_half_life_s)
        if not (self.arb_capital_usd > 0):
            raise ConfigError("<dynamics>", "dynamics.arb_capital_usd", "a number > 0 (inf = unlimited)",
                              self.arb_capital_usd)

    def depth_decay(self, block_seconds: float) -> float:
        h = self.depth_half_life_s
        return 1.0 if h is None or math.isinf(h) else 0.5 ** (block_seconds / h)

    def decay(self, block_seconds: float) -> float:
        """Factor on the log transient impact per block."""
        if self.recovery_half_life_s == 0:
            return 0.0
        if math.isinf(self.recovery_half_life_s):
            return 1.0
        return 0.5 ** (block_seconds / self.recovery_half_life_s)


@dataclass(frozen=True)
class SimSettings:
    liquidators: Liquidators = field(default_factory=Liquidators)
    dynamics: Dynamics = field(default_factory=Dynamics)
    check_conservation: bool = False
    """Check conservation every block (debug; costs a pass over the book per block)."""


class ConservationError(LiqcascadeError):
    """A conservation identity failed during a simulation (a bug: please report it)."""


def simulate(
    model: MarketModel,
    path,
    oracle,
    settings: SimSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    config: Mapping[str, object] | None = None,
    oracle_input: Mapping[str, FloatArray] | None = None,
    venue_depth: Mapping[str, FloatArray] | None = None,
    sorted_book: SortedBook | None = None,
) -> Result:
    """Run ``model`` block by block along ``path`` (a :class:`~liqcascade.scenarios.PricePath`)
    with ``oracle`` (a :class:`~liqcascade.markets.oracle.Oracle`).

    Tables: ``steps`` (per block and asset: reference, venue and oracle price; per block:
    eligible, liquidated, left undone as unprofitable or beyond capacity, USD seized and
    repaid, bad debt so far, shortfall of eligible accounts), ``events`` (per liquidated
    account and block), ``summary`` (one row) and ``assets``.

    ``oracle_input`` (asset -> a price per block) replaces the market price the oracle
    reads for those assets: an oracle on another venue than the one liquidators sell
    into (the USDe replay's on-chain pool while the exchange price depegs).

    ``venue_depth`` (asset -> USD per side, per block) makes that asset's venue a
    constant-product pool (fee 0.3 %) whose depth follows the series: whenever the depth
    changes the pool is rebuilt at the current market price with the new depth (a
    replay's real pool reserves, e.g. Uniswap v2 ETH/DAI every 10 minutes on 2021-05-19).

    ``sorted_book`` (``SortedBook.of(model)``, prepared once) saves re-sorting the book when
    the same model runs many paths (Monte Carlo); it is only read.
    """
    st = settings or SimSettings()
    liq = st.liquidators
    assets = model.assets
    k = len(assets)
    for a in path.assets:
        if a not in assets:
            raise ConfigError("<path>", "path.assets", f"assets of the market {list(assets)}", a)
    gas_idx = -1
    if liq.gas_asset is not None:
        if liq.gas_asset not in assets:
            raise ConfigError("<liquidators>", "liquidators.gas_asset", f"an asset of the market {list(assets)}",
                              liq.gas_asset)
        gas_idx = assets.index(liq.gas_asset)
    feeds: dict[int, FloatArray] = {}
    for a, series in (oracle_input or {}).items():
        if a not in assets:
            raise ConfigError("<oracle>", f"oracle_input.{a}", f"an asset of the market {list(assets)}", a)
        arr = np.asarray(series, dtype=np.float64)
        if arr.shape != (len(path.times),) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ConfigError("<oracle>", f"oracle_input.{a}", f"{len(path.times)} finite prices > 0, one per block", arr.shape)
        feeds[assets.index(a)] = arr
    depths: dict[int, FloatArray] = {}
    for a, series in (venue_depth or {}).items():
        if a not in assets:
            raise ConfigError("<venues>", f"venue_depth.{a}", f"an asset of the market {list(assets)}", a)
        if a in model.venues:
            raise ConfigError("<venues>", f"venue_depth.{a}", "an asset with no other venue (the pool is its venue)", a)
        arr = np.asarray(series, dtype=np.float64)
        if arr.shape != (len(path.times),) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ConfigError("<venues>", f"venue_depth.{a}", f"{len(path.times)} finite depths > 0", arr.shape)
        depths[assets.index(a)] = arr
    rules = model.rules
    global_effects = bool(getattr(rules, "global_effects", False))
    wb = sorted_book if sorted_book is not None else SortedBook.of(model)
    arrays = wb.fresh()
    # a protocol that sells what it takes over time (Maker's auctions, Comet's store front)
    aftermarket = rules.aftermarket(k) if hasattr(rules, "aftermarket") else None
    n = model.book.n_accounts
    tallies = Tallies.zeros(k, n)
    # with finite capital each pick is charged for its first call only, so allow one call
    calls_each = int(liq.calls_per_account) if math.isinf(liq.capital_usd) else 1
    limits = LiquidationLimits(calls_each, liq.min_repay_usd)

    p0 = np.asarray(model.prices, dtype=np.float64)
    path_cols = np.array([assets.index(a) for a in path.assets], dtype=np.int64)
    times = np.asarray(path.times)
    nb = int(times.shape[0])
    gas_path = None if path.gas_gwei is None else np.asarray(path.gas_gwei, dtype=np.float64)
    decay = st.dynamics.decay(float(path.block_seconds))
    finite_arb = not math.isinf(st.dynamics.arb_capital_usd)
    depth_mode = st.dynamics.depth_half_life_s is not None
    ddecay = st.dynamics.depth_decay(float(path.block_seconds))
    phi = st.dynamics.permanent_fraction

    perm = np.zeros(k)  # log permanent impact in the reference price
    trans = np.zeros(k)  # log transient impact (venue below reference)
    exo = p0.copy()
    exo[path_cols] = path.prices[0]
    venues: dict[int, Venue] = {assets.index(a): v.with_mid_price(float(exo[assets.index(a)])) for a, v in model.venues.items()}
    from liqcascade.markets.cpmm import ConstantProductPool

    for i, arr in depths.items():
        venues[i] = ConstantProductPool.from_price_depth(assets[i], float(exo[i]), float(arr[0]), 0.003)
    market = exo.copy()
    for i, v in venues.items():
        market[i] = v.mid_price()
    seen = market.copy()
    for i, arr in feeds.items():
        seen[i] = arr[0]
    ostate = oracle.init(seen, int(times[0]))
    o_prev = p0  # the book's bounds (HF0, q) are relative to the model's prices
    q = wb.hf0_sorted.copy()
    cum_bound = 1.0
    bound = 1.0
    cand = None
    liquidated_last = _EMPTY
    prev_elig = _EMPTY
    # unsafe accounts the protocol's limits hold back (Maker: vaults waiting for Dog room):
    # eligible and waiting in the records, though no liquidator can act on them yet
    held_by_limits = getattr(rules, "held_by_limits", None) if aftermarket is not None else None
    held = _EMPTY
    eligible_since = np.full(n, -1, dtype=np.int64)
    inventory = np.zeros(k)
    totals = {name: np.zeros(k) for name in ("seized", "fee", "sold", "proceeds", "repaid", "deficit", "protocol_sold",
                                             "protocol_proceeds", "returned")}

    # per-block records (preallocated; no Python object per block)
    rec_ref = np.empty((nb, k))
    rec_mkt = np.empty((nb, k))
    rec_orc = np.empty((nb, k))
    rec_int = np.zeros((nb, 6), dtype=np.int64)  # eligible, liquidated, calls, unprofitable, over capacity, waiting
    rec_usd = np.zeros((nb, 5))  # seized, repaid, written off (cum), shortfall of eligible, gas gwei
    ev_parts: list[tuple] = []
    written_off = 0.0
    first_eligible_block = -1
    last_liquidation_block = -1
    for b in range(nb):
        t = int(times[b])
        exo[path_cols] = path.prices[b]
        trans *= decay
        target = exo * np.exp(perm + trans)
        for i, v in venues.items():
            mid = v.mid_price()
            if i in depths and b > 0 and depths[i][b] != depths[i][b - 1]:
                v = ConstantProductPool.from_price_depth(assets[i], float(target[i]), float(depths[i][b]), 0.003)
                venues[i] = v
            elif depth_mode and isinstance(v, _BOOKS):
                ref_i = exo[i] * math.exp(perm[i])
                v = _requote(v, ref_i, v.net_sold * ddecay)
                venues[i] = v
                trans[i] = math.log(v.mid_price() / ref_i)
            elif finite_arb and isinstance(v, _POOLS):
                ref_i = exo[i] * math.exp(perm[i])
                if abs(ref_i / mid - 1.0) > 1e-12:
                    v = _arbitrage(v, ref_i, st.dynamics.arb_capital_usd)
                    venues[i] = v
                trans[i] = math.log(v.mid_price() / ref_i)
            elif abs(target[i] / mid - 1.0) > 1e-12:
                v = v.with_mid_price(float(target[i]))
                venues[i] = v
            market[i] = v.mid_price()
        free = np.ones(k, dtype=np.bool_)
        free[list(venues)] = False
        market[free] = target[free]
        seen = market.copy()
        for i, arr in feeds.items():
            seen[i] = arr[b]
        if b == 0:
            o = oracle.read(ostate)  # init already took block 0's price
        else:
            ostate, o = oracle.step(ostate, t, seen)
        o = np.asarray(o, dtype=np.float64)
        gas = float(gas_path[b]) if gas_path is not None else liq.gas_gwei

        # the protocol's limits on liquidations in progress (Maker's Dog: room for more
        # auctions); room freed since last block lets accounts that waited be picked again
        limits_freed = aftermarket is not None and aftermarket.sync_limits(arrays.state)
        if b == 0 or not np.array_equal(o, o_prev) or global_effects or limits_freed:
            ratio0 = o / p0
            bound = max(bound, float(ratio0.max() / ratio0.min()))
            step = o / o_prev
            cum_bound *= float(step.max() / step.min())
            if cum_bound > 1e100:
                # keep the product finite over long runs: rescale every bound (q / cum is what counts)
                q /= cum_bound
                cum_bound = 1.0
            upto = n if global_effects else wb.prefix_len(bound)
            scanned = rules.scan(arrays, o, upto, q, cum_bound)
            cand = _Candidates.build(rules, arrays, o, scanned)
            if held_by_limits is not None:
                held = held_by_limits(arrays, o, np.setdiff1d(scanned, cand.elig, assume_unique=True))
        else:
            # same oracle prices: only the accounts liquidated last block can have changed
            cand = cand.refresh(rules, arrays, o, liquidated_last)
            if held_by_limits is not None and (held.size or liquidated_last.size):
                # a bark may have left a vault waiting; returned collateral may have made one safe
                pool = np.union1d(held, liquidated_last)
                held = held_by_limits(arrays, o, np.setdiff1d(pool, cand.elig, assume_unique=True))
        o_prev = o
        # latency clocks: start for new candidates, reset for those that left; a vault waiting
        # for the protocol's room keeps its clock (liquidators have seen it) and is picked the
        # block the room frees if it has waited its latency
        seen = cand.elig if not held.size else np.union1d(cand.elig, held)
        if seen is not prev_elig:
            gone = prev_elig[~np.isin(prev_elig, seen, assume_unique=True)] if prev_elig.size else prev_elig
            eligible_since[gone] = -1
            fresh = seen[eligible_since[seen] < 0]
            eligible_since[fresh] = b
            prev_elig = seen
        tallies.reset_assets()
        n_liq = calls = n_unprof = n_cap = n_wait = 0
        liquidated_last = _EMPTY
        elig = cand.elig
        shortfall = cand.shortfall
        if held.size:
            if first_eligible_block < 0:
                first_eligible_block = b
            hv = rules.health(arrays, o, held)
            shortfall += float(np.clip(hv.debt_usd - hv.collateral_usd, 0.0, None).sum())
        if elig.size:
            if first_eligible_block < 0:
                first_eligible_block = b
            ca, da = cand.coll_asset, cand.debt_asset
            # profit at the market price, then net of this block's slippage per asset
            gas_usd = gas * 1e-9 * liq.gas_per_call * (market[gas_idx] if gas_idx >= 0 else 0.0)
            received, paid = cand.received, cand.paid
            gross = received * market[ca] + cand.reward_usd - paid * market[da] - gas_usd
            waiting = b - eligible_since[elig] < liq.latency_blocks
            ok = (gross >= liq.min_profit_usd) & ~waiting
            okidx = np.flatnonzero(ok)
            order = okidx[np.argsort(-gross[okidx], kind="stable")]
            # the proceeds curve of each venue asset at this block (quotes on a grid up
            # to everything the candidates could sell), for marginal slippage per pick
            grid_q = np.zeros((k, _GRID))
            grid_p = np.zeros((k, _GRID))
            has_grid = np.zeros(k, dtype=np.bool_)
            for i in np.unique(ca[order]):
                if i in venues:
                    qmax = float(received[order][ca[order] == i].sum())
                    if qmax > 0:
                        qs = qmax * _GRID_SHAPE
                        grid_q[i] = qs
                        grid_p[i] = [venues[i].quote_sell(float(x)) for x in qs]
                        has_grid[i] = True
            cap = len(order) if math.isinf(liq.liquidations_per_block) else int(liq.liquidations_per_block)
            rep_usd = paid * market[da]
            picked_profit = np.empty(len(order))
            work = order.copy()
            taken = int(_kernels.greedy_pick(
                work, received, ca, gross, market, grid_q, grid_p, has_grid, rep_usd, cap,
                liq.capital_usd if not math.isinf(liq.capital_usd) else 1e308, liq.min_profit_usd, picked_profit,
            ))
            chosen = elig[work[:taken]]
            profit = picked_profit[:taken]
            n_wait = int(waiting.sum())
            n_unprof = int(((gross < liq.min_profit_usd) & ~waiting).sum()) + (len(order) - taken if taken < cap else 0)
            n_cap = len(order) - taken if taken >= cap else 0
            if chosen.size:
                snap = _snapshot(arrays, o, chosen) if aftermarket is not None else None
                calls, ev = rules.liquidate_list(arrays, o, chosen, tallies, limits)
                if snap is not None:
                    aftermarket.receive(t, _lots(arrays, snap), o)
                liquidated_last = np.sort(chosen)
                did = ev.calls > 0
                n_liq = int(did.sum())
                if n_liq:
                    last_liquidation_block = b
                    ev_parts.append((b, ev.account[did], ev.calls[did], ev.seized_usd[did], ev.repaid_usd[did],
                                     ev.bad_debt_usd[did], profit[did]))
                    written_off += float(ev.bad_debt_usd.sum())
        # the protocol's own sales: keepers and buyers take collateral and sell it on
        if aftermarket is not None:
            am = aftermarket.step(t, o, _exit_depth(venues, market))
            inventory += am.sold
            totals["protocol_sold"] += am.sold
            totals["protocol_proceeds"] += am.proceeds_usd
            if am.returned_rows.size:
                np.add.at(arrays.coll, am.returned_rows, am.returned_amount)
                np.add.at(totals["returned"], arrays.asset[am.returned_rows], am.returned_amount)
            written_off += am.bad_debt_usd
        # selling
        inventory += tallies.seized - tallies.fee
        sell = inventory / liq.spread_blocks
        proceeds = np.zeros(k)
        for i in np.flatnonzero(sell > 0):
            if i in venues:
                before = venues[i].mid_price()
                proceeds[i], venues[i] = venues[i].sell(float(sell[i]))
                after = venues[i].mid_price()
                d = math.log(after / before) if after > 0 else -50.0
                perm[i] += phi * d
                trans[i] += (1.0 - phi) * d
                if depth_mode and isinstance(venues[i], _BOOKS):
                    # the permanent share moves the quotes; only the rest stays as consumed depth
                    ref_i = exo[i] * math.exp(perm[i])
                    base = venues[i].with_mid_price(ref_i)
                    venues[i] = _requote(base, ref_i, base.amount_to_price(after) if after < ref_i else 0.0)
                market[i] = after
            else:
                proceeds[i] = sell[i] * market[i]
        inventory -= sell
        for name, arr in (("seized", tallies.seized), ("fee", tallies.fee), ("sold", sell), ("proceeds", proceeds),
                          ("repaid", tallies.repaid), ("deficit", tallies.deficit)):
            totals[name] += arr
        if st.check_conservation:
            _check(model, arrays, totals, inventory, b, aftermarket)
        rec_ref[b] = exo * np.exp(perm)
        rec_mkt[b] = market
        rec_orc[b] = o
        rec_int[b] = (len(elig) + held.size, n_liq, calls, n_unprof, n_cap, n_wait + held.size)
        rec_usd[b] = (float((tallies.seized * o).sum()), float((tallies.repaid * o).sum()), written_off, shortfall, gas)
        if progress is not None:
            progress(b + 1, nb)

    return _result(model, path, wb, arrays, tallies, totals, inventory, times, rec_ref, rec_mkt, rec_orc, rec_int,
                   rec_usd, ev_parts, first_eligible_block, last_liquidation_block, o_prev, config, aftermarket)


def _arbitrage(venue, ref: float, capital: float):
    """Trade ``venue`` toward the marginal sale price ``ref`` with at most ``capital`` USD:
    buy from it when it is below ``ref``, sell into it when above (bisection on the size
    when the full move costs more than the capital)."""
    mid = venue.mid_price()
    if ref > mid:
        spread = venue.buy_price() / mid
        full = venue.amount_to_buy_price(ref * spread)
        cost = lambda a: venue.quote_buy(a)  # noqa: E731
        trade = venue.buy
    else:
        full = venue.amount_to_price(ref)
        cost = lambda a: venue.quote_sell(a)  # noqa: E731
        trade = venue.sell
    if not (full > 0.0) or not math.isfinite(full):
        return venue
    amount = full
    if not (cost(full) <= capital):
        lo, hi = 0.0, full
        for _ in range(60):
            m = 0.5 * (lo + hi)
            if cost(m) <= capital:
                lo = m
            else:
                hi = m
        amount = lo
    if amount <= 0.0:
        return venue
    return trade(amount)[1]


def _requote(venue, ref: float, consumed: float):
    """An order book (or impact law) re-quoted around ``ref`` with ``consumed`` tokens of
    its bid depth still taken (negative: ask depth taken)."""
    base = venue.with_mid_price(ref)
    if consumed > 0.0:
        return base.sell(consumed)[1]
    if consumed < 0.0:
        return base.buy(-consumed)[1]
    return base


def _venue_types():
    from liqcascade.markets.cpmm import ConstantProductPool
    from liqcascade.markets.impact import PowerLawImpact
    from liqcascade.markets.orderbook import OrderBookVenue
    from liqcascade.markets.univ3 import UniswapV3Venue

    return (ConstantProductPool, UniswapV3Venue), (OrderBookVenue, PowerLawImpact)


_POOLS, _BOOKS = _venue_types()
_EMPTY = np.empty(0, dtype=np.int64)
_GRID = 33
_GRID_SHAPE = np.linspace(0.0, 1.0, _GRID) ** 2  # denser at small sizes, where most picks sit


@dataclass(frozen=True)
class _Candidates:
    """The eligible accounts (ascending working index) with their next call and health at
    the oracle prices of the block they were computed in: debt the call clears, what the
    liquidator receives (collateral tokens), pays (debt tokens) and is rewarded (USD)."""

    elig: np.ndarray
    repaid: FloatArray
    received: FloatArray
    paid: FloatArray
    reward_usd: FloatArray
    coll_asset: np.ndarray
    debt_asset: np.ndarray
    gap: FloatArray  # debt above collateral, USD, >= 0

    @property
    def shortfall(self) -> float:
        return float(self.gap.sum())

    @classmethod
    def build(cls, rules, arrays, prices, accounts) -> "_Candidates":
        fc = rules.first_call(arrays, prices, accounts)
        live = fc.repaid > 0.0
        acc = accounts[live]
        v = rules.health(arrays, prices, acc)
        if fc.costs is None:  # the liquidator repays and keeps the seized collateral net of the fee
            received, paid, reward = fc.seized - fc.fee, fc.repaid, np.zeros(accounts.shape[0])
        else:
            received, paid, reward = fc.costs.received, fc.costs.paid, fc.costs.reward_usd
        return cls(acc, fc.repaid[live], received[live], paid[live], reward[live], fc.collateral_asset[live],
                   fc.debt_asset[live], np.clip(v.debt_usd - v.collateral_usd, 0.0, None))

    def refresh(self, rules, arrays, prices, changed) -> "_Candidates":
        """The same set at the same prices after the accounts ``changed`` (ascending) were liquidated."""
        if changed.size == 0:
            return self
        keep = ~np.isin(self.elig, changed, assume_unique=True)
        new = _Candidates.build(rules, arrays, prices, changed)
        elig = np.concatenate([self.elig[keep], new.elig])
        order = np.argsort(elig, kind="stable")
        merged = {f: np.concatenate([getattr(self, f)[keep], getattr(new, f)])[order] for f in _CAND_FIELDS}
        return _Candidates(elig[order], **merged)


_CAND_FIELDS = ("repaid", "received", "paid", "reward_usd", "coll_asset", "debt_asset", "gap")


def _snapshot(arrays, prices, accounts):
    """Rows of ``accounts`` (each account's rows together) with their owner, collateral
    (tokens) and debt (tokens) before a call, and the row's price."""
    starts, ends = arrays.offsets[accounts], arrays.offsets[accounts + 1]
    counts = ends - starts
    rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    owner = np.repeat(accounts, counts)
    return rows, owner, arrays.coll[rows].copy(), arrays.debt[rows].copy(), prices[arrays.asset[rows]]


def _lots(arrays, snap):
    """What the protocol took from the snapshot's accounts: collateral per row, and each
    account's debt taken over (USD) on its first row that lost collateral."""
    rows, owner, coll0, debt0, price = snap
    taken = coll0 - arrays.coll[rows]
    _, acct = np.unique(owner, return_inverse=True)
    debt_gone = np.bincount(acct, weights=(debt0 - arrays.debt[rows]) * price)
    hit = np.flatnonzero(taken > 0.0)
    first = np.ones(hit.size, dtype=np.bool_)
    first[1:] = owner[hit][1:] != owner[hit][:-1]
    debt_usd = np.where(first, debt_gone[acct[hit]], 0.0)
    return Lots(owner[hit], rows[hit], arrays.asset[rows[hit]], taken[hit], debt_usd)


def _exit_depth(venues, market):
    """``depth(asset, price)``: tokens of ``asset`` the venue, as it stands, absorbs before
    its marginal price falls to ``price`` (no venue: all of it at the market price)."""
    def depth(i: int, price: float) -> float:
        v = venues.get(i)
        if v is None:
            return math.inf if float(market[i]) >= price else 0.0
        return float(v.amount_to_price(price))

    return depth


def _check(model: MarketModel, arrays, totals, inventory, b: int, after=None) -> None:
    if (arrays.coll < 0).any() or (arrays.debt < 0).any():
        raise ConservationError(f"block {b}: a negative balance")
    coll0, debt0 = model.book.totals_by_asset()
    k = len(model.assets)
    coll1 = np.bincount(arrays.asset, weights=arrays.coll, minlength=k)
    debt1 = np.bincount(arrays.asset, weights=arrays.debt, minlength=k)
    scale = np.maximum(1.0, coll0)
    if not np.allclose((coll0 - coll1) / scale, (totals["seized"] - totals["returned"]) / scale, rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: collateral removed from the book != collateral seized - returned")
    if not np.allclose(totals["seized"] + totals["protocol_sold"], totals["sold"] + inventory + totals["fee"],
                       rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: seized != sold + held + protocol fee")
    if after is not None and not np.allclose(
        after.holdings(), totals["fee"] - totals["protocol_sold"] - totals["returned"], rtol=1e-9, atol=1e-9
    ):
        raise ConservationError(f"block {b}: protocol holdings != kept - sold on - returned")
    dscale = np.maximum(1.0, debt0)
    if not np.allclose((debt0 - debt1) / dscale, (totals["repaid"] + totals["deficit"]) / dscale, rtol=1e-9, atol=1e-9):
        raise ConservationError(f"block {b}: debt removed != repaid + written off")


def _result(model, path, wb, arrays, tallies, totals, inventory, times, rec_ref, rec_mkt, rec_orc, rec_int, rec_usd,
            ev_parts, first_b, last_b, o_final, config, after=None) -> Result:
    assets = model.assets
    nb = len(times)
    tracked = sorted(set(np.flatnonzero((np.ptp(rec_ref, axis=0) > 0) | (np.ptp(rec_orc, axis=0) > 0)
                                        | (totals["seized"] > 0))) | {assets.index(a) for a in path.assets})
    cols = np.array(tracked, dtype=np.int64)
    m = len(cols)
    steps = pd.DataFrame(
        {
            "block": np.repeat(np.arange(nb), m),
            "time": np.repeat(times, m),
            "asset": np.tile(np.asarray(assets, dtype=object)[cols], nb),
            "reference_price": rec_ref[:, cols].ravel(),
            "market_price": rec_mkt[:, cols].ravel(),
            "oracle_price": rec_orc[:, cols].ravel(),
            "eligible_accounts": np.repeat(rec_int[:, 0], m),
            "accounts_liquidated": np.repeat(rec_int[:, 1], m),
            "liquidation_calls": np.repeat(rec_int[:, 2], m),
            "left_unprofitable": np.repeat(rec_int[:, 3], m),
            "left_over_capacity": np.repeat(rec_int[:, 4], m),
            "waiting_latency": np.repeat(rec_int[:, 5], m),
            "collateral_seized_usd": np.repeat(rec_usd[:, 0], m),
            "debt_repaid_usd": np.repeat(rec_usd[:, 1], m),
            "bad_debt_written_off_usd": np.repeat(rec_usd[:, 2], m),
            "eligible_shortfall_usd": np.repeat(rec_usd[:, 3], m),
            "gas_gwei": np.repeat(rec_usd[:, 4], m),
        }
    )
    if ev_parts:
        ev = pd.DataFrame(
            {
                "block": np.concatenate([np.full(len(p[1]), p[0]) for p in ev_parts]),
                "account_id": np.concatenate([model.book.account_ids[wb.perm[p[1]]] for p in ev_parts]),
                "calls": np.concatenate([p[2] for p in ev_parts]),
                "collateral_seized_usd": np.concatenate([p[3] for p in ev_parts]),
                "debt_repaid_usd": np.concatenate([p[4] for p in ev_parts]),
                "bad_debt_written_off_usd": np.concatenate([p[5] for p in ev_parts]),
                "expected_profit_usd": np.concatenate([p[6] for p in ev_parts]),
            }
        )
        ev.insert(1, "time", times[ev["block"].to_numpy()])
    else:
        ev = pd.DataFrame(columns=["block", "time", "account_id", "calls", "collateral_seized_usd", "debt_repaid_usd",
                                   "bad_debt_written_off_usd", "expected_profit_usd"])
    touched = np.flatnonzero(tallies.acct_calls > 0)
    everyone = np.arange(model.book.n_accounts, dtype=np.int64)
    unrec = float(model.rules.unrecoverable_debt(arrays, o_final, everyone).sum())
    # what was already unrecoverable before the run, valued at the same (final) prices
    unrec_before = float(model.rules.unrecoverable_debt(wb.base, o_final, everyone).sum())
    end = model.rules.health(arrays, o_final, everyone)
    below = (end.hf < 1.0) & (end.collateral_usd > 0)
    shortfall = float(np.clip(end.debt_usd[below] - end.collateral_usd[below], 0.0, None).sum())
    bs = float(path.block_seconds)
    summary = {
        **model.rules.describe(),
        **model.rules.outcome_facts(arrays, o_final),
        "accounts": model.book.n_accounts,
        "blocks": nb,
        "block_seconds": bs,
        "accounts_liquidated": int(touched.size),
        "liquidation_calls": int(tallies.acct_calls.sum()),
        "collateral_seized_usd": float(tallies.acct_seized_usd.sum()),
        "debt_repaid_usd": float(tallies.acct_repaid_usd.sum()),
        "liquidator_proceeds_usd": float(totals["proceeds"].sum()),
        "bad_debt_written_off_usd": float(tallies.acct_bad_debt_usd.sum()),
        "bad_debt_unrecoverable_usd": unrec - unrec_before,
        # auctions and store-front sales that finished short (Maker: debt the lot did not cover)
        "bad_debt_aftermarket_usd": float(after.facts().get("auction_bad_debt_usd", 0.0)) if after is not None else 0.0,
        "bad_debt_usd": float(tallies.acct_bad_debt_usd.sum()) + unrec - unrec_before
        + (float(after.facts().get("auction_bad_debt_usd", 0.0)) if after is not None else 0.0),
        "bad_debt_before_usd": unrec_before,
        "below_hf1_accounts_end": int(below.sum()),
        "below_hf1_debt_usd_end": float(end.debt_usd[below].sum()),
        "shortfall_end_usd": shortfall,
        "eligible_accounts_end": int(rec_int[-1, 0]) if nb else 0,
        "left_unprofitable_block_max": int(rec_int[:, 3].max()) if nb else 0,
        "left_over_capacity_block_max": int(rec_int[:, 4].max()) if nb else 0,
        "first_eligible_block": first_b,
        "last_liquidation_block": last_b,
        "cleared": bool(nb and rec_int[-1, 0] == 0),
        # from the first eligible account to the last liquidation, when everything cleared
        "time_to_clear_s": ((last_b - first_b + 1) * bs if first_b >= 0 and last_b >= first_b else 0.0)
        if (nb and rec_int[-1, 0] == 0) else float("nan"),
        "inventory_unsold_usd": float((inventory * rec_mkt[-1]).sum()) if nb else 0.0,
        "protocol_holdings_usd": float((after.holdings() * rec_mkt[-1]).sum()) if after is not None and nb else 0.0,
        **(after.facts() if after is not None else {}),
    }
    assets_rows = []
    for i, a in enumerate(assets):
        if totals["seized"][i] or totals["repaid"][i] or i in cols:
            assets_rows.append({
                "asset": a,
                "price_start": float(rec_ref[0, i]),
                "reference_min": float(rec_ref[:, i].min()),
                "market_min": float(rec_mkt[:, i].min()),
                "oracle_min": float(rec_orc[:, i].min()),
                "reference_end": float(rec_ref[-1, i]),
                **{name: float(v[i]) for name, v in totals.items()},
                "inventory_end": float(inventory[i]),
            })
    tables = {"summary": pd.DataFrame([summary]), "steps": steps, "events": _clean(ev), "assets": pd.DataFrame(assets_rows)}
    return Result("simulation", tables, dict(config or {}))


def drive_path(path, drive: Mapping[str, list[str]], assets: tuple[str, ...], p0: FloatArray, source: str = "<path>"):
    """Re-express ``path`` in market assets: each path asset moves the market assets it
    drives by the same relative path, from their reference prices ``p0``.

    ``drive`` maps a path asset to market assets; a path asset not in ``drive`` drives the
    market asset of the same name. A replay of May 2021 (ETH) applied to a book at today's
    prices thus moves WETH, wstETH, ... by May 2021's returns.
    """
    from liqcascade.scenarios import PricePath

    cols, names = [], []
    for j, a in enumerate(path.assets):
        targets = drive.get(a, [a] if a in assets else [])
        if not targets:
            raise ConfigError(source, f"simulation.drive.{a}", f"market assets that path asset {a} moves "
                              f"(one of {list(assets)})", None)
        for t in targets:
            if t not in assets:
                raise ConfigError(source, f"simulation.drive.{a}", f"assets of the market {list(assets)}", t)
            if t in names:
                raise ConfigError(source, f"simulation.drive.{a}", "each market asset driven by one path asset", t)
            names.append(t)
            cols.append(j)
    unknown = [a for a in drive if a not in path.assets]
    if unknown:
        raise ConfigError(source, "simulation.drive", f"path assets among {list(path.assets)}", unknown)
    rel = path.prices / path.prices[0]
    prices = np.column_stack([rel[:, j] * p0[assets.index(t)] for j, t in zip(cols, names)])
    meta = {**path.meta, "driven": {t: path.assets[j] for j, t in zip(cols, names)}}
    return PricePath(path.times, tuple(names), prices, path.block_seconds, path.gas_gwei, meta)
