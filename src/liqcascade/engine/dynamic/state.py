"""What a simulation starts from: the inputs fixed for the run (validated once) and the
state the block loop mutates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.candidates import Candidates
from liqcascade.engine.dynamic.records import AssetTotals, BlockRecords, EventBatch
from liqcascade.engine.dynamic.settings import SimSettings
from liqcascade.engine.static import SKIP_MARGIN, MarketModel, SortedBook
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue
from liqcascade.protocols.base import Aftermarket, BookArrays, Capabilities, LiquidationLimits, Tallies

EMPTY = np.empty(0, dtype=np.int64)
POOL_FEE = 0.003
"""Fee of the constant-product pools a ``venue_depth`` series builds (Uniswap v2's)."""


@dataclass(frozen=True)
class RunInputs:
    """What stays fixed through a run: the model, path, oracle and settings, with the
    lookups the loop needs (asset indexes, decay factors) computed once."""

    model: MarketModel
    path: object
    """A :class:`~liqcascade.scenarios.PricePath`."""
    oracle: object
    """A :class:`~liqcascade.markets.oracle.Oracle`."""
    settings: SimSettings
    capabilities: Capabilities
    book: SortedBook
    p0: FloatArray
    """The model's prices: the book's bounds (HF0, q) are relative to them."""
    path_cols: IntArray
    """Market asset index of each path column."""
    times: IntArray
    gas_path: FloatArray | None
    gas_idx: int
    """Index of the asset pricing gas; -1: gas costs nothing."""
    feeds: Mapping[int, FloatArray]
    """Asset index -> the price the oracle reads instead of the market's, per block."""
    depths: Mapping[int, FloatArray]
    """Asset index -> the USD depth per side of its constant-product pool, per block."""
    limits: LiquidationLimits
    decay: float
    """Factor on the log transient impact per block."""
    depth_decay: float
    """Factor on the depth order books still miss per block (depth mode)."""
    shortfall: bool = True
    """False: the eligible accounts' debt above collateral is not computed (the records'
    ``shortfall_usd`` stays 0): a run whose ``steps`` table is not built (a Monte Carlo path)."""

    @property
    def n_blocks(self) -> int:
        return int(self.times.shape[0])

    @property
    def assets(self) -> tuple[str, ...]:
        return self.model.assets

    @property
    def n_assets(self) -> int:
        return len(self.model.assets)

    @property
    def depth_mode(self) -> bool:
        return self.settings.dynamics.depth_half_life_s is not None

    @property
    def finite_arb(self) -> bool:
        return not math.isinf(self.settings.dynamics.arb_capital_usd)


def _per_block_series(model: MarketModel, path, series_by_asset, source: str, key: str, what: str):
    """``asset -> series`` as ``asset index -> float64 array``, one finite value > 0 per block."""
    out: dict[int, FloatArray] = {}
    assets = model.assets
    for a, series in (series_by_asset or {}).items():
        if a not in assets:
            raise ConfigError(source, f"{key}.{a}", f"an asset of the market {list(assets)}", a)
        if key == "venue_depth" and a in model.venues:
            raise ConfigError(source, f"{key}.{a}", "an asset with no other venue (the pool is its venue)", a)
        arr = np.asarray(series, dtype=np.float64)
        if arr.shape != (len(path.times),) or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ConfigError(source, f"{key}.{a}", f"{len(path.times)} {what}", arr.shape)
        out[assets.index(a)] = arr
    return out


CHOOSING_PROTOCOLS = "aave_v3 (Aave v2 included), compound_v2, morpho_blue, euler_v2, crvusd"
"""The protocols whose liquidator chooses the amount of a call (``capabilities.capped_calls``)."""


def check_strategy(rules, liq) -> None:
    """A strategy other than max close needs rules whose liquidator chooses the amount of a call
    (``capabilities.capped_calls``, declared by the protocol): elsewhere the protocol decides
    (Compound v3's absorb, Liquity, Maker's bark and take)."""
    if liq.strategy != "max_close" and not rules.capabilities.capped_calls:
        expected = (f"max_close for {rules.name} (the protocol decides what a liquidation takes; two_step and "
                    f"profit_max need one where the liquidator does: {CHOOSING_PROTOCOLS})")
        raise ConfigError("<liquidators>", "liquidators.strategy", expected, liq.strategy)


def prepare_inputs(model: MarketModel, path, oracle, settings: SimSettings | None, oracle_input, venue_depth,
                   sorted_book: SortedBook | None) -> RunInputs:
    """Check the run's inputs against the market (a :class:`ConfigError` naming the key)
    and compute what the loop looks up."""
    st = settings or SimSettings()
    liq = st.liquidators
    assets = model.assets
    for a in path.assets:
        if a not in assets:
            raise ConfigError("<path>", "path.assets", f"assets of the market {list(assets)}", a)
    gas_idx = -1
    if liq.gas_asset is not None:
        if liq.gas_asset not in assets:
            raise ConfigError("<liquidators>", "liquidators.gas_asset", f"an asset of the market {list(assets)}",
                              liq.gas_asset)
        gas_idx = assets.index(liq.gas_asset)
    check_strategy(model.rules, liq)
    feeds = _per_block_series(model, path, oracle_input, "<oracle>", "oracle_input", "finite prices > 0, one per block")
    depths = _per_block_series(model, path, venue_depth, "<venues>", "venue_depth", "finite depths > 0")
    # with finite capital each pick is charged for its first call only, so allow one call
    calls_each = int(liq.calls_per_account) if math.isinf(liq.capital_usd) else 1
    return RunInputs(
        model=model, path=path, oracle=oracle, settings=st, capabilities=model.rules.capabilities,
        book=sorted_book if sorted_book is not None else SortedBook.of(model),
        p0=np.asarray(model.prices, dtype=np.float64),
        path_cols=np.array([assets.index(a) for a in path.assets], dtype=np.int64),
        times=np.asarray(path.times),
        gas_path=None if path.gas_gwei is None else np.asarray(path.gas_gwei, dtype=np.float64),
        gas_idx=gas_idx, feeds=feeds, depths=depths, limits=LiquidationLimits(calls_each, liq.min_repay_usd),
        decay=st.dynamics.decay(float(path.block_seconds)),
        depth_decay=st.dynamics.depth_decay(float(path.block_seconds)),
    )


MAX_EPOCHS = 256
"""Oracle price vectors a :class:`ScanBounds` keeps; when full, every bound is restated
against the newest (one pass over the book), so a scan's cost per kept vector stays bounded."""


@dataclass
class ScanBounds:
    """Per-account skipping bounds of :meth:`~liqcascade.protocols.base.ScansSince.scan_since`:
    ``hf[k]`` is account ``k``'s HF at the oracle prices ``history[epoch[k]]``; ``n`` vectors
    of ``history`` are in use (the first: the model's prices, at which ``hf`` is the book's HF0)."""

    hf: FloatArray
    epoch: np.ndarray
    history: FloatArray
    n: int

    @classmethod
    def start(cls, hf0: FloatArray, p0: FloatArray) -> "ScanBounds":
        """Bounds on ``hf0`` (the book's HF at ``p0``; kept and updated in place, not copied)."""
        history = np.empty((MAX_EPOCHS, p0.shape[0]))
        history[0] = p0
        return cls(hf0, np.zeros(hf0.shape[0], dtype=np.int32), history, 1)

    def make_room(self, prices: FloatArray) -> None:
        """When every vector is in use: each bound restated at ``prices`` (divided by the
        spread of the price moves since its vector, and the margin), one vector left."""
        if self.n < self.history.shape[0]:
            return
        r = prices / self.history[:self.n]
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = r.max(axis=1) / r.min(axis=1) * SKIP_MARGIN
            self.hf /= spread[self.epoch]
        self.epoch[:] = 0
        self.history[0] = prices
        self.n = 1

    def keep(self, prices: FloatArray) -> None:
        """Store the prices of the scan that just ran (the accounts it read point at them)."""
        self.history[self.n] = prices
        self.n += 1


@dataclass
class SimulationState:
    """Everything the block loop mutates. Prices are per market asset; impacts are logs."""

    arrays: BookArrays
    """The working book (sorted by HF0)."""
    tallies: Tallies
    aftermarket: Aftermarket | None
    """The protocol's own sales over time (Maker's auctions, Comet's store front), if any."""
    venues: dict[int, Venue]
    perm: FloatArray
    """Log permanent impact in the reference price."""
    trans: FloatArray
    """Log transient impact (venue below reference)."""
    exo: FloatArray
    """The exogenous reference: the path's prices, the model's for assets off the path."""
    market: FloatArray
    """Venue prices (the reference's with its transient impact where no venue)."""
    ostate: object
    """The oracle's state."""
    o_prev: FloatArray
    """The oracle's prices of the last block (the model's before the first)."""
    q: FloatArray
    """Per-account HF lower bounds times ``cum_bound`` (see the static solver)."""
    cum_bound: float
    bound: float
    since: ScanBounds | None
    """The tighter bounds of rules with ``capabilities.scans_since`` (None for other rules). Its
    ``hf`` is ``q`` itself: a run uses one or the other (``q`` when the book moves, :mod:`.owners`)."""
    cand: Candidates | None
    liquidated_last: IntArray
    prev_elig: IntArray
    """The accounts whose latency clocks run."""
    held: IntArray
    """Unsafe accounts the protocol's limits hold back (Maker: vaults waiting for Dog room):
    eligible and waiting in the records, though no liquidator can act on them yet."""
    eligible_since: IntArray
    """Per account, the block it became eligible (-1: not eligible)."""
    inventory: FloatArray
    """Tokens liquidators (and the protocol's buyers) hold and have yet to sell."""
    totals: AssetTotals
    records: BlockRecords
    events: list[EventBatch]
    written_off: float = 0.0
    """Bad debt written off so far (USD)."""
    first_eligible_block: int = -1
    last_liquidation_block: int = -1
    owners: object | None = None
    baseline: object | None = None
    """What the path's own liquidations sold (:class:`~.baseline.Baseline`), for ``impact_on_path = "excess"``."""
    """The owners' actions and debt accrual (:class:`~.owners.OwnerState`), when the run has them."""


def initial_state(run: RunInputs, trades: bool = True) -> SimulationState:
    """Block 0's starting point: venues at the path's first prices, the oracle initialised
    on them, a fresh copy of the book. ``trades`` False: no per-row flows are kept (nothing
    reads them but the ``trades`` table; on a 100k book they are 16 floats a row, zeroed and
    written every path of a Monte Carlo run). A protocol aftermarket keeps them (it books
    returned collateral there)."""
    from liqcascade.markets.cpmm import ConstantProductPool

    model, k = run.model, run.n_assets
    assets = model.assets
    arrays = run.book.fresh()
    aftermarket = model.rules.aftermarket(k) if run.capabilities.aftermarket else None
    exo = run.p0.copy()
    exo[run.path_cols] = run.path.prices[0]
    venues: dict[int, Venue] = {assets.index(a): v.with_mid_price(float(exo[assets.index(a)]))
                                for a, v in model.venues.items()}
    for i, arr in run.depths.items():
        venues[i] = ConstantProductPool.from_price_depth(assets[i], float(exo[i]), float(arr[0]), POOL_FEE)
    market = exo.copy()
    for i, v in venues.items():
        market[i] = v.mid_price()
    seen = market.copy()
    for i, arr in run.feeds.items():
        seen[i] = arr[0]
    n = model.book.n_accounts
    rows = arrays.asset.shape[0] if trades or aftermarket is not None else 0
    q = run.book.hf0_sorted.copy()
    return SimulationState(
        arrays=arrays, tallies=Tallies.zeros(k, n, rows), aftermarket=aftermarket, venues=venues,
        perm=np.zeros(k), trans=np.zeros(k), exo=exo, market=market,
        ostate=run.oracle.init(seen, int(run.times[0])), o_prev=run.p0, q=q,
        cum_bound=1.0, bound=1.0, cand=None,
        since=ScanBounds.start(q, run.p0) if run.capabilities.scans_since else None,
        liquidated_last=EMPTY, prev_elig=EMPTY, held=EMPTY,
        eligible_since=np.full(n, -1, dtype=np.int64), inventory=np.zeros(k), totals=AssetTotals.zeros(k),
        records=BlockRecords.empty(run.n_blocks, k), events=[],
    )
