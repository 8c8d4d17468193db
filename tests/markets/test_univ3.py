"""Uniswap v3: whitepaper closed forms, the rebuilt ETH/WBTC pool, and on-chain swap vectors.

On-chain reference values come from the pool's own Swap events as recorded in
fsc-data-science/uniswap ``data/ethwbtc_trade_history.rda`` @ d2e389fb88f8f17a73bd70fb84a4656d9ba5c206
(columns block_number, liquidity_adjusted = L/1e13, tick, amount0_adjusted, amount1_adjusted).
They are independent of the liquidity file the profile is rebuilt from.
"""

from __future__ import annotations

import math
from importlib import resources

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.univ3 import (
    UniswapV3Venue,
    ethwbtc_pool,
    liquidity_profile_at_block,
    pool_from_profile,
    sqrt_price_at_tick,
    swap,
    tick_at_sqrt_price,
)

DATA = str(resources.files("liqcascade") / "data" / "uniswap_v3_ethwbtc_030_liquidity_changes_to_block_17m.parquet")


@pytest.fixture(scope="module")
def pool():
    return ethwbtc_pool()


def test_profile_never_negative_and_closes(pool):
    cum = np.cumsum(pool.liquidity_net)
    assert cum.min() >= -1e-9 * cum.max()
    assert abs(cum[-1]) <= 1e-9 * cum.max()  # every position's +L has its −L
    assert np.all(np.diff(pool.ticks) > 0) and np.all(pool.ticks % 60 == 0)


@pytest.mark.parametrize(
    "block, tick, liquidity_adjusted",
    [
        (16_999_765, 257_362, 243_850.886469825),  # last swap before block 17M
        (16_722_540, 256_911, 244_243.640263374),
        (15_416_873, 256_131, 222_283.475201612),
        (13_615_427, 256_694, 81_097.668170469),
    ],
)
def test_rebuilt_in_range_liquidity_matches_swap_events(block, tick, liquidity_adjusted):
    ticks, nets = liquidity_profile_at_block(DATA, block)
    active = nets[: np.searchsorted(ticks, tick, side="right")].sum()
    assert active == pytest.approx(liquidity_adjusted * 1e13, rel=1e-9)


def test_pool_at_block_17m(pool):
    assert pool.tick == 257_362
    assert pool.liquidity == pytest.approx(243_850.886469825e13, rel=1e-9)
    # 1.0001^257362 · 1e(8−18) WETH per WBTC
    assert pool.price0() == pytest.approx(1.0001 ** 257362.5 * 1e-10, rel=1e-9)
    assert 14.0 < pool.price0() < 16.0  # BTC/ETH ≈ 15 in April 2023


def test_onchain_swap_vector_block_16999638(pool):
    # Swap event: 34.365196 WBTC in, 515.223812 WETH out, tick 257382 → 257371, L = 2.438509e18
    # (no initialized tick between 257340 and 257400 in the range). Solve the pre-swap √P
    # from the two whitepaper relations with the fee on the input:
    #   √Pa − √Pb = Δy/L,   √Pa·√Pb = Δy/(Δx·(1 − 0.003))
    L, dx, dy = 243_850.886469825e13, 34.365196e8, 515.223812e18
    d, prod = dy / L, dy / (dx * 0.997)
    spa = 0.5 * (d + math.sqrt(d * d + 4 * prod))
    assert tick_at_sqrt_price(spa) == 257_382  # the fee-on-input convention lands on chain
    start = pool_from_profile(pool.ticks, pool.liquidity_net, spa, 0.003, 8, 18)
    r = swap(start, True, dx)
    assert r.amount_out == pytest.approx(dy, rel=1e-6)
    assert r.state.tick == 257_371
    assert r.fee_paid == pytest.approx(dx * 0.003, rel=1e-12)


def test_swap_within_one_range_is_the_closed_form(pool):
    dx = 1e8  # 1 WBTC
    r = swap(pool, True, dx)
    assert r.state.liquidity == pool.liquidity  # no tick crossed
    L = pool.liquidity
    assert 1 / r.state.sqrt_price - 1 / pool.sqrt_price == pytest.approx(dx * 0.997 / L, rel=1e-9)
    assert r.amount_out == pytest.approx(L * (pool.sqrt_price - r.state.sqrt_price), rel=1e-12)
    r1 = swap(pool, False, 1e18)  # 1 WETH in: Δ√P = Δy/L
    assert r1.state.sqrt_price - pool.sqrt_price == pytest.approx(1e18 * 0.997 / L, rel=1e-9)


def test_crossing_ticks_conserves_amounts(pool):
    dx = 3000e8  # 3000 WBTC: crosses many initialized ticks
    r = swap(pool, True, dx)
    assert r.state.tick < pool.tick - 600
    # independent walk: ranges between initialized ticks, L from the cumulative profile
    cum = np.cumsum(pool.liquidity_net)
    lo_sp, hi_sp = r.state.sqrt_price, pool.sqrt_price
    bounds = np.array([sqrt_price_at_tick(int(t)) for t in pool.ticks])
    edges = np.concatenate([[lo_sp], bounds[(bounds > lo_sp) & (bounds < hi_sp)], [hi_sp]])
    mids = 0.5 * (edges[:-1] + edges[1:])
    Ls = cum[np.searchsorted(bounds, mids, side="right") - 1]
    dx_net = np.sum(Ls * (1 / edges[:-1] - 1 / edges[1:]))
    dy = np.sum(Ls * (edges[1:] - edges[:-1]))
    assert dx_net == pytest.approx(dx * 0.997, rel=1e-9)
    assert r.amount_out == pytest.approx(dy, rel=1e-9)
    # and in chunks: the same path, the same totals
    state, out = pool, 0.0
    for chunk in (500e8, 1000e8, 1500e8):
        rr = swap(state, True, chunk)
        state, out = rr.state, out + rr.amount_out
    assert out == pytest.approx(r.amount_out, rel=1e-12)
    assert state.sqrt_price == pytest.approx(r.state.sqrt_price, rel=1e-12)
    assert state.liquidity == pytest.approx(r.state.liquidity, rel=1e-9)


def test_round_trip_loses_exactly_the_fees(pool):
    dx = 2000e8
    sold = swap(pool, True, dx)
    # buy back exactly the token0 that moved the price, Δx·(1 − fee): the pool returns home
    back = swap(sold.state, False, dx * 0.997, exact_input=False)
    assert back.state.sqrt_price == pytest.approx(pool.sqrt_price, rel=1e-12)
    assert back.state.liquidity == pytest.approx(pool.liquidity, rel=1e-9)
    assert back.state.tick == pool.tick
    # it costs the token1 received, grossed up by the fee: loss = fees only
    assert back.amount_in == pytest.approx(sold.amount_out / 0.997, rel=1e-9)


def test_venue_prices_and_with_mid_price(pool):
    v = UniswapV3Venue("WBTC", pool, True, other_price_usd=1860.0)
    assert v.mid_price() == pytest.approx(0.997 * pool.price0() * 1860.0, rel=1e-12)
    w = v.with_mid_price(0.7 * v.mid_price())
    assert w.mid_price() == pytest.approx(0.7 * v.mid_price(), rel=1e-9)
    e = UniswapV3Venue("WETH", pool, False, other_price_usd=27_900.0)
    assert e.mid_price() == pytest.approx(0.997 / pool.price0() * 27_900.0, rel=1e-12)
    assert e.sell(100.0)[1].pool.sqrt_price > pool.sqrt_price  # selling WETH raises WETH/WBTC √P


def test_loader_errors(tmp_path):
    with pytest.raises(ConfigError, match="tick"):
        ethwbtc_pool(block=16_000_000)
    import pandas as pd

    bad = pd.DataFrame({"block_number": [1, 2], "tick_lower": [0, 60], "tick_upper": [60, 30],
                        "liquidity": [1.0, 1.0]})
    p = tmp_path / "bad.parquet"
    bad.to_parquet(p)
    with pytest.raises(DataError) as e:
        liquidity_profile_at_block(p, 10)
    assert e.value.row == 2


@settings(max_examples=60, deadline=None)
@given(st.booleans(), st.floats(1e-3, 300.0), st.floats(1.01, 10.0))
def test_venue_contract(pool, venue_contract, asset_is_token0, a, ratio):
    if asset_is_token0:
        v = UniswapV3Venue("WBTC", pool, True, 1860.0)
    else:
        v = UniswapV3Venue("WETH", pool, False, 27_900.0)
        a *= 15.0
    venue_contract(v, a, a * ratio, path_independent=True)


def test_amount_to_buy_price_inverts(pool):
    v = UniswapV3Venue("WBTC", pool, True, 1860.0)
    assert v.buy_price() == pytest.approx(v.mid_price() / 0.997**2, rel=1e-12)
    target = v.buy_price() * 1.05
    n = v.amount_to_buy_price(target)
    assert n > 0
    assert v.buy(n)[1].buy_price() == pytest.approx(target, rel=1e-9)
