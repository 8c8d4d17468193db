"""Concentrated liquidity (Uniswap v3), written from the whitepaper, and a venue adapter.

Source of the math: Adams, Zinsmeister, Salem, Keefer, Robinson, *Uniswap v3 Core* (March
2021), §6.2 (price ``P = 1.0001^i`` at tick ``i``; within a tick range with active liquidity
``L``, ``Δ√P = Δy / L`` and ``Δ(1/√P) = Δx / L``), §6.2.3 (the swap steps to the next
initialized tick, crosses it and applies its ``liquidityNet``: ``L += net`` moving up,
``L −= net`` moving down) and §6.3 (a position ``[i_l, i_u)`` adds ``+L`` at ``i_l`` and ``−L``
at ``i_u``). The fee is taken on the input: of a gross input ``a`` only ``a·(1 − fee)`` moves
the price; the fee goes to LPs and does not change ``L``.

**Float64.** Everything here is float64 in *raw* units (token amounts in their smallest
unit, ``√P`` as a plain float rather than Q64.96, ``L`` as a float). The contract's integer
rounding (always in the pool's favour, ≤ 1 wei per step) is not reproduced; relative error is
~1e-15 per step. The fee is applied to the whole trade at once (``net = gross·(1 − fee)``),
which equals the contract's per-step fee up to that rounding.

State apart from calculation: :class:`V3PoolState` is frozen and holds no logic beyond
lookups; :func:`swap` is a pure function returning a :class:`SwapResult` with the new
state. The loop visits crossed initialized ticks only.

The real ETH/WBTC 0.3 % pool (0xCBCdF9626bC03E24f779434178A73a0B4bad62eD; token0 WBTC,
8 decimals; token1 WETH, 18 decimals; tick spacing 60) is rebuilt by
:func:`ethwbtc_pool` from the shipped Flipside extract (see
:func:`liquidity_profile_at_block` for what the file's columns really hold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.base import VenueCapabilities

__all__ = [
    "MIN_TICK",
    "MAX_TICK",
    "V3PoolState",
    "SwapResult",
    "UniswapV3Venue",
    "sqrt_price_at_tick",
    "tick_at_sqrt_price",
    "swap",
    "move_to_sqrt_price",
    "pool_from_profile",
    "liquidity_profile_at_block",
    "ethwbtc_pool",
    "ETHWBTC_TICK_AT_BLOCK_17M",
]

MIN_TICK = -887272
MAX_TICK = 887272
_LOG_BASE = math.log(1.0001)

ETHWBTC_TICK_AT_BLOCK_17M = 257362
"""Pool tick after the last swap at or before block 17 000 000 (block 16 999 765), from the
pool's Swap events in fsc-data-science/uniswap ``data/ethwbtc_trade_history.rda`` @ d2e389fb."""


def sqrt_price_at_tick(tick: int | float) -> float:
    """``√(1.0001^tick)``: raw token1 per raw token0, square-rooted."""
    return math.exp(0.5 * _LOG_BASE * tick)


def tick_at_sqrt_price(sqrt_price: float) -> int:
    """The tick ``i`` with ``√P(i) ≤ sqrt_price < √P(i+1)`` (float, corrected at the edges)."""
    t = math.floor(2.0 * math.log(sqrt_price) / _LOG_BASE)
    if sqrt_price_at_tick(t) > sqrt_price:
        t -= 1
    elif sqrt_price_at_tick(t + 1) <= sqrt_price:
        t += 1
    return max(MIN_TICK, min(MAX_TICK, t))


_MIN_SQRT = sqrt_price_at_tick(MIN_TICK)
_MAX_SQRT = sqrt_price_at_tick(MAX_TICK)


@dataclass(frozen=True, eq=False)
class V3PoolState:
    """A pool at one moment (raw units). No logic beyond lookups.

    ``ticks`` are the initialized ticks, sorted, with ``liquidity_net`` (raw L added when
    the price crosses the tick upward). ``liquidity`` is the active L at ``sqrt_price``;
    ``tick`` follows the contract: after crossing tick ``t`` downward it is ``t − 1``.
    """

    sqrt_price: float
    tick: int
    liquidity: float
    ticks: IntArray
    liquidity_net: FloatArray
    fee: float = 0.003
    decimals0: int = 18
    decimals1: int = 18
    tick_spacing: int = 60

    def price0(self) -> float:
        """Human price of token0 in token1 (fee-free), ``√P²·10^(d0−d1)``."""
        return self.sqrt_price**2 * 10.0 ** (self.decimals0 - self.decimals1)

    def liquidity_at_tick(self, tick: int) -> float:
        """Active liquidity when the current tick is ``tick`` (Σ net of ticks ≤ tick)."""
        i = int(np.searchsorted(self.ticks, tick, side="right"))
        return float(max(self.liquidity_net[:i].sum(), 0.0))


@dataclass(frozen=True, eq=False)
class SwapResult:
    """Raw amounts of one swap: ``amount_in`` gross (fee included), ``amount_out``, ``fee``."""

    amount_in: float
    amount_out: float
    fee_paid: float
    state: V3PoolState
    filled: bool
    """False when the pool ran out of liquidity (or hit the price limit) before the amount."""


def swap(
    state: V3PoolState,
    zero_for_one: bool,
    amount: float,
    exact_input: bool = True,
    sqrt_price_limit: float | None = None,
) -> SwapResult:
    """Swap through ``state`` (whitepaper §6.2.3), stepping over initialized ticks.

    ``zero_for_one``: token0 in, token1 out, price down. ``amount`` is raw: the gross input
    (``exact_input``) or the wanted output. ``amount = inf`` with a ``sqrt_price_limit``
    moves the pool to the limit and reports what it took. Per range with liquidity ``L``:

    * token0 in:  ``1/√P_new = 1/√P + Δx_net/L``,  token1 out ``L·(√P − √P_new)``;
    * token1 in:  ``√P_new = √P + Δy_net/L``,      token0 out ``L·(1/√P − 1/√P_new)``.
    """
    if not (amount >= 0.0) or math.isnan(amount):
        raise ConfigError("<python>", "amount", "a raw amount >= 0", amount)
    gamma = 1.0 - state.fee
    if sqrt_price_limit is None:
        sqrt_price_limit = _MIN_SQRT if zero_for_one else _MAX_SQRT
    ticks, nets = state.ticks, state.liquidity_net
    sp, tick, liq = state.sqrt_price, state.tick, state.liquidity
    # exact input: ``remaining`` is the net (after-fee) input; exact output: the output.
    remaining = amount * gamma if exact_input else amount
    total_in_net = 0.0
    total_out = 0.0
    limit_hit = False
    while remaining > 0.0:
        if zero_for_one:
            idx = int(np.searchsorted(ticks, tick, side="right")) - 1
            has_tick = idx >= 0
            target = sqrt_price_at_tick(int(ticks[idx])) if has_tick else _MIN_SQRT
            if target <= sqrt_price_limit:
                target, has_tick = sqrt_price_limit, False
        else:
            idx = int(np.searchsorted(ticks, tick, side="right"))
            has_tick = idx < len(ticks)
            target = sqrt_price_at_tick(int(ticks[idx])) if has_tick else _MAX_SQRT
            if target >= sqrt_price_limit:
                target, has_tick = sqrt_price_limit, False
        # amounts to move from sp to target in this range
        if zero_for_one:
            full_in = liq * (1.0 / target - 1.0 / sp)
            full_out = liq * (sp - target)
        else:
            full_in = liq * (target - sp)
            full_out = liq * (1.0 / sp - 1.0 / target)
        budget = remaining
        reach = (budget >= full_in) if exact_input else (budget >= full_out)
        if reach:
            step_in, step_out, sp = full_in, full_out, target
            remaining -= full_in if exact_input else full_out
            if has_tick:
                net = float(nets[idx])
                t = int(ticks[idx])
                if zero_for_one:
                    liq, tick = liq - net, t - 1
                else:
                    liq, tick = liq + net, t
                if liq < 0.0:  # float cancellation of a profile that sums to zero
                    liq = 0.0
            else:
                tick = tick_at_sqrt_price(sp)
                limit_hit = True
        else:
            if zero_for_one:
                if exact_input:
                    new_sp = 1.0 / (1.0 / sp + budget / liq)
                    step_in, step_out = budget, liq * (sp - new_sp)
                else:
                    new_sp = sp - budget / liq
                    step_in, step_out = liq * (1.0 / new_sp - 1.0 / sp), budget
                new_tick = min(max(tick_at_sqrt_price(new_sp), int(ticks[idx]) if has_tick else MIN_TICK), tick)
            else:
                if exact_input:
                    new_sp = sp + budget / liq
                    step_in, step_out = budget, liq * (1.0 / sp - 1.0 / new_sp)
                else:
                    new_sp = 1.0 / (1.0 / sp - budget / liq)
                    step_in, step_out = liq * (new_sp - sp), budget
                upper = int(ticks[idx]) - 1 if has_tick else MAX_TICK
                new_tick = max(min(tick_at_sqrt_price(new_sp), upper), tick)
            sp, tick = new_sp, new_tick
            remaining = 0.0
        total_in_net += step_in
        total_out += step_out
        if limit_hit:
            break
    gross_in = total_in_net / gamma
    if exact_input and remaining == 0.0 and math.isfinite(amount):
        gross_in = amount  # exactly what was asked, avoiding a /γ round trip
    new_state = replace(state, sqrt_price=sp, tick=tick, liquidity=liq)
    return SwapResult(gross_in, total_out, gross_in - total_in_net, new_state, remaining <= 0.0)


def move_to_sqrt_price(state: V3PoolState, sqrt_price: float) -> SwapResult:
    """Swap whatever it takes to bring the pool to ``sqrt_price`` (amounts gross of fee)."""
    if sqrt_price == state.sqrt_price:
        return SwapResult(0.0, 0.0, 0.0, state, True)
    zero_for_one = sqrt_price < state.sqrt_price
    sqrt_price = min(max(sqrt_price, _MIN_SQRT), _MAX_SQRT)
    return swap(state, zero_for_one, math.inf, True, sqrt_price)


def pool_from_profile(
    ticks: IntArray,
    liquidity_net: FloatArray,
    sqrt_price: float,
    fee: float,
    decimals0: int,
    decimals1: int,
    tick_spacing: int = 60,
) -> V3PoolState:
    """A pool state at ``sqrt_price`` over an initialized-tick profile (raw units)."""
    ticks = np.asarray(ticks, dtype=np.int64)
    nets = np.asarray(liquidity_net, dtype=np.float64)
    if ticks.ndim != 1 or ticks.shape != nets.shape or np.any(np.diff(ticks) <= 0):
        raise ConfigError("<python>", "ticks", "sorted unique ticks, one liquidity_net each", ticks)
    if not (0.0 <= fee < 1.0):
        raise ConfigError("<python>", "fee", "a fee in [0, 1)", fee)
    if not (_MIN_SQRT <= sqrt_price <= _MAX_SQRT):
        raise ConfigError("<python>", "sqrt_price", "within the tick range", sqrt_price)
    tick = tick_at_sqrt_price(sqrt_price)
    i = int(np.searchsorted(ticks, tick, side="right"))
    liq = float(max(nets[:i].sum(), 0.0))
    ticks.setflags(write=False)
    nets.setflags(write=False)
    return V3PoolState(float(sqrt_price), tick, liq, ticks, nets, float(fee), int(decimals0),
                       int(decimals1), int(tick_spacing))


# ---------------------------------------------------------------------- loading a real pool
_PROFILE_COLUMNS = ("block_number", "tick_lower", "tick_upper", "liquidity")
_ETHWBTC_FILE = "uniswap_v3_ethwbtc_030_liquidity_changes_to_block_17m.parquet"


def liquidity_profile_at_block(
    path: str | Path, block: int, tick_spacing: int = 60
) -> tuple[IntArray, FloatArray]:
    """Initialized ticks and their raw ``liquidityNet`` at ``block`` from a Flipside extract.

    What the file holds (checked against its source query, fsc-data-science/uniswap
    README @ d2e389fb, and against the pool's own Swap events): each row is the **running
    total** of liquidity of one ``(tick_lower, tick_upper)`` range as of ``block_number`` —
    the query already summed the signed ``INCREASE``/``DECREASE_LIQUIDITY`` actions with a
    window ``SUM(...) OVER (PARTITION BY tick_lower, tick_upper ORDER BY block_number)``.
    So the range's liquidity at a block is its *last* row at or before it (summing rows
    would double-count). ``liquidity`` is the raw L; ``net_adjusted_liquidity`` is
    ``liquidity / 1e13`` (``1e13 = 10^((8 + 18) / 2)``, Flipside's decimal adjustment for
    WBTC/WETH). Rows are ≥ 0 up to float noise (the smallest is −2.9e-11 adjusted); ranges
    at ≤ 0 are dropped, as the source package's ``liquidity_asof_block(clean = TRUE)`` does.

    Returns the sorted initialized ticks and ``liquidityNet`` (``+L`` at each lower tick,
    ``−L`` at each upper). Bad rows raise :class:`DataError` naming the row.
    """
    import pandas as pd

    path_s = str(path)
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # pyarrow raises several types for a bad file
        raise DataError(path_s, None, f"cannot read as Parquet: {e}") from e
    missing = [c for c in _PROFILE_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(path_s, None, f"missing column(s) {missing}; expected {list(_PROFILE_COLUMNS)}")
    lo = df["tick_lower"].to_numpy(np.int64)
    hi = df["tick_upper"].to_numpy(np.int64)
    liq = df["liquidity"].to_numpy(np.float64)
    blk = df["block_number"].to_numpy(np.int64)
    bad = ~(lo < hi) | (lo < MIN_TICK) | (hi > MAX_TICK) | (lo % tick_spacing != 0) | (hi % tick_spacing != 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path_s, i + 1, f"tick range [{lo[i]}, {hi[i]}) is not a valid range "
                        f"of spacing {tick_spacing}")
    bad = ~np.isfinite(liq)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(path_s, i + 1, f"column 'liquidity': not a finite number: {liq[i]}")
    sel = blk <= block
    if not sel.any():
        raise DataError(path_s, None, f"no row at or before block {block}")
    order = np.argsort(blk[sel], kind="stable")
    frame = pd.DataFrame({"lo": lo[sel][order], "hi": hi[sel][order], "liq": liq[sel][order]})
    last = frame.groupby(["lo", "hi"], sort=False).tail(1)
    last = last[last["liq"] > 0.0]
    all_ticks = np.concatenate([last["lo"].to_numpy(), last["hi"].to_numpy()])
    all_net = np.concatenate([last["liq"].to_numpy(), -last["liq"].to_numpy()])
    ticks, inv = np.unique(all_ticks, return_inverse=True)
    nets = np.zeros(len(ticks))
    np.add.at(nets, inv, all_net)
    cum = np.cumsum(nets)
    tol = 1e-9 * max(float(np.max(np.abs(cum))), 1.0)
    if cum.min() < -tol:
        raise DataError(path_s, None, f"rebuilt liquidity goes negative ({cum.min()}) at block {block}")
    return ticks, nets


def ethwbtc_pool(
    block: int = 17_000_000,
    tick: int | None = None,
    sqrt_price: float | None = None,
    path: str | Path | None = None,
) -> V3PoolState:
    """The Uniswap v3 ETH/WBTC 0.3 % pool's tick-liquidity profile at ``block`` (≤ 17 000 000).

    The file has no price. At the default block the pool is put in the middle of tick
    :data:`ETHWBTC_TICK_AT_BLOCK_17M`; for another block pass ``tick`` or ``sqrt_price``
    (raw: ``√(WETH wei per WBTC satoshi)``). Token0 is WBTC (8 decimals), token1 WETH (18).
    ``path`` defaults to the copy shipped in ``liqcascade/data``.
    """
    if path is None:
        res = resources.files("liqcascade").joinpath("data", _ETHWBTC_FILE)
        with resources.as_file(res) as p:
            ticks, nets = liquidity_profile_at_block(p, block)
    else:
        ticks, nets = liquidity_profile_at_block(path, block)
    if sqrt_price is None:
        if tick is None:
            if block != 17_000_000:
                raise ConfigError("<python>", "tick", "the pool's tick (or sqrt_price) at this block", None)
            tick = ETHWBTC_TICK_AT_BLOCK_17M
        sqrt_price = sqrt_price_at_tick(tick + 0.5)
    return pool_from_profile(ticks, nets, sqrt_price, 0.003, 8, 18, 60)


# ---------------------------------------------------------------------- venue adapter
@dataclass(frozen=True, eq=False)
class UniswapV3Venue:
    """Sell ``asset`` (one of the pool's tokens) into ``pool``, valued in the numeraire.

    ``other_price_usd`` is the numeraire price of the pool's other token, held fixed: a
    sale's proceeds (in the other token) are worth ``amount_out · other_price_usd``.
    ``mid_price()`` is the marginal sale price net of the fee,
    ``(1 − fee) · P_asset_in_other · other_price_usd``. Amounts are whole tokens
    (``decimals`` of the asset apply). Selling more than the pool can absorb: the part
    beyond its last liquidity earns nothing (the price runs to the pool's bound).
    """

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True, arbitraged=True)

    asset: str
    pool: V3PoolState
    asset_is_token0: bool
    other_price_usd: float

    def __post_init__(self) -> None:
        if not (self.other_price_usd > 0.0 and math.isfinite(self.other_price_usd)):
            raise ConfigError("<python>", "UniswapV3Venue.other_price_usd", "a finite price > 0",
                              self.other_price_usd)

    # unit helpers
    @property
    def _asset_unit(self) -> float:
        return 10.0 ** (self.pool.decimals0 if self.asset_is_token0 else self.pool.decimals1)

    @property
    def _other_unit(self) -> float:
        return 10.0 ** (self.pool.decimals1 if self.asset_is_token0 else self.pool.decimals0)

    def _sqrt_for_price(self, price: float) -> float:
        """Raw ``√P`` at which ``mid_price()`` would equal ``price``."""
        in_other = price / (self.other_price_usd * (1.0 - self.pool.fee))
        p0 = in_other if self.asset_is_token0 else 1.0 / in_other  # token0 in token1, human
        raw = p0 * 10.0 ** (self.pool.decimals1 - self.pool.decimals0)
        return math.sqrt(raw)

    def spot_price(self) -> float:
        """Fee-free pool price of the asset in the numeraire."""
        p0 = self.pool.price0()
        return (p0 if self.asset_is_token0 else 1.0 / p0) * self.other_price_usd

    def mid_price(self) -> float:
        return (1.0 - self.pool.fee) * self.spot_price()

    def quote_sell(self, amount: float) -> float:
        return self._sell(amount)[0]

    def _sell(self, amount: float) -> tuple[float, V3PoolState]:
        a = float(amount)
        if not (a >= 0.0 and math.isfinite(a)):
            raise ConfigError("<python>", "amount", "a finite amount >= 0", a)
        if a == 0.0:
            return 0.0, self.pool
        r = swap(self.pool, self.asset_is_token0, a * self._asset_unit, exact_input=True)
        return r.amount_out / self._other_unit * self.other_price_usd, r.state

    def sell(self, amount: float) -> tuple[float, "UniswapV3Venue"]:
        proceeds, state = self._sell(amount)
        return proceeds, (self if state is self.pool else replace(self, pool=state))

    def _buy(self, amount: float) -> tuple[float, V3PoolState]:
        a = float(amount)
        if not (a >= 0.0 and math.isfinite(a)):
            raise ConfigError("<python>", "amount", "a finite amount >= 0", a)
        if a == 0.0:
            return 0.0, self.pool
        r = swap(self.pool, not self.asset_is_token0, a * self._asset_unit, exact_input=False)
        if not r.filled:
            return math.inf, self.pool
        return r.amount_in / self._other_unit * self.other_price_usd, r.state

    def quote_buy(self, amount: float) -> float:
        return self._buy(amount)[0]

    def buy(self, amount: float) -> tuple[float, "UniswapV3Venue"]:
        cost, state = self._buy(amount)
        if math.isinf(cost):
            raise ConfigError("<python>", "amount", "no more than the pool holds", amount)
        return cost, (self if state is self.pool else replace(self, pool=state))

    def amount_to_price(self, price: float) -> float:
        """Gross tokens to sell until ``mid_price()`` is ``price`` (closed form per crossed range)."""
        p = float(price)
        if p >= self.mid_price():
            return 0.0
        if p <= 0.0:
            return math.inf
        r = move_to_sqrt_price(self.pool, self._sqrt_for_price(p))
        return r.amount_in / self._asset_unit

    def buy_price(self) -> float:
        """Marginal purchase price, ``spot / (1 − fee)``."""
        return self.spot_price() / (1.0 - self.pool.fee)

    def amount_to_buy_price(self, price: float) -> float:
        """Tokens to buy until ``buy_price()`` rises to ``price`` (the pool's bound caps it)."""
        p = float(price) * (1.0 - self.pool.fee) ** 2  # the same state's mid_price
        if p <= self.mid_price():
            return 0.0
        if math.isinf(p):
            return math.inf
        r = move_to_sqrt_price(self.pool, self._sqrt_for_price(p))
        return r.amount_out / self._asset_unit

    def with_mid_price(self, price: float) -> "UniswapV3Venue":
        """The pool after arbitrage moved it (along its liquidity, fees ignored) to ``price``."""
        p = float(price)
        if not (p > 0.0 and math.isfinite(p)):
            raise ConfigError("<python>", "price", "a finite price > 0", p)
        return replace(self, pool=move_to_sqrt_price(self.pool, self._sqrt_for_price(p)).state)

    def with_other_price_usd(self, price: float) -> "UniswapV3Venue":
        """Same pool, the other token revalued at ``price`` USD."""
        return replace(self, other_price_usd=float(price))
