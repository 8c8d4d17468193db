"""Constant-product pool: Uniswap v2 closed forms by hand, and the Venue contract."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool


def test_sell_matches_xyk_by_hand():
    # 1000 tokens / 1000 USD, fee 0.3 %: selling 1000 tokens returns 1000·997/1997 USD
    pool = ConstantProductPool("T", 1000.0, 1000.0, 0.003)
    proceeds, after = pool.sell(1000.0)
    assert proceeds == pytest.approx(997_000 / 1997, rel=1e-14)
    # the whole input joins the reserve (v2): 2000 tokens, 1000 − proceeds USD
    assert after.reserve_asset == 2000.0
    assert after.reserve_numeraire == pytest.approx(1000 - 997_000 / 1997, rel=1e-14)
    assert after.k > pool.k  # fees stay in the pool


def test_fee_free_pool_keeps_k_and_halves_price():
    pool = ConstantProductPool("T", 100.0, 100.0, 0.0)
    proceeds, after = pool.sell(100.0)
    assert proceeds == 50.0  # 100·100/200
    assert after.k == pytest.approx(pool.k, rel=1e-15)
    assert after.mid_price() == 0.25  # 50/200


def test_buy_matches_get_amount_in_by_hand():
    pool = ConstantProductPool("T", 100.0, 100.0, 0.0)
    assert pool.quote_buy(50.0) == 100.0  # 100·50/(50)
    fee_pool = ConstantProductPool("T", 100.0, 100.0, 0.003)
    assert fee_pool.quote_buy(50.0) == pytest.approx(100 / 0.997, rel=1e-14)
    assert math.isinf(pool.quote_buy(100.0))


def test_from_price_depth_and_mid_price_is_the_marginal_sale_price():
    pool = ConstantProductPool.from_price_depth("ETH", 2000.0, 50e6, fee=0.003)
    assert pool.mid_price() == pytest.approx(2000.0, rel=1e-14)
    assert pool.spot_price() == pytest.approx(2000.0 / 0.997, rel=1e-14)
    assert pool.reserve_numeraire == 50e6
    # derivative of the proceeds at 0 is the mid price
    h = 1e-4
    assert pool.quote_sell(h) / h == pytest.approx(2000.0, rel=1e-6)


def test_amount_to_price_closed_form_fee_free():
    # fee 0: (x + a)^2 = x·y/p  →  a = sqrt(k/p) − x ; x = y = 100, p = 0.25 → a = 100
    pool = ConstantProductPool("T", 100.0, 100.0, 0.0)
    assert pool.amount_to_price(0.25) == pytest.approx(100.0, rel=1e-14)


def test_with_mid_price_moves_along_k():
    pool = ConstantProductPool.from_price_depth("ETH", 2000.0, 50e6)
    moved = pool.with_mid_price(1400.0)
    assert moved.mid_price() == pytest.approx(1400.0, rel=1e-14)
    assert moved.k == pytest.approx(pool.k, rel=1e-14)


def test_two_chunks_earn_slightly_less_because_fees_join_the_asset_reserve():
    # x=1000, chunks 100 then 200 vs 300 at once: the reserve left after two chunks exceeds
    # the one-shot reserve by y·x·20000γ(1−γ) / ((x+γ100)(x+100+γ200)(x+γ300))  (by hand)
    x, y, g = 1000.0, 2e6, 0.997
    pool = ConstantProductPool("T", x, y, 1 - g)
    once = pool.quote_sell(300.0)
    p1, after = pool.sell(100.0)
    p2, _ = after.sell(200.0)
    gap = y * x * 20000 * g * (1 - g) / ((x + g * 100) * (x + 100 + g * 200) * (x + g * 300))
    assert once - (p1 + p2) == pytest.approx(gap, rel=1e-6)


def test_bad_inputs_name_the_key():
    with pytest.raises(ConfigError, match="reserve_asset"):
        ConstantProductPool("T", -1.0, 1.0)
    with pytest.raises(ConfigError, match="fee"):
        ConstantProductPool("T", 1.0, 1.0, fee=1.0)
    with pytest.raises(ConfigError, match="amount"):
        ConstantProductPool("T", 1.0, 1.0).quote_sell(-1.0)


reserves = st.floats(1e-2, 1e9)
fees = st.sampled_from([0.0, 0.0005, 0.003, 0.01])


@settings(max_examples=150, deadline=None)
@given(reserves, reserves, fees, st.floats(1e-4, 10.0), st.floats(1.01, 50.0))
def test_venue_contract(venue_contract, x, y, fee, frac_a, ratio):
    pool = ConstantProductPool("T", x, y, fee)
    a = frac_a * x
    venue_contract(pool, a, a * ratio, path_independent=(fee == 0.0))


@settings(max_examples=100, deadline=None)
@given(reserves, reserves, fees, st.floats(1.0001, 100.0))
def test_amount_to_buy_price_inverts(x, y, fee, up):
    pool = ConstantProductPool("T", x, y, fee)
    assert pool.buy_price() == pytest.approx(pool.mid_price() / (1 - fee) ** 2, rel=1e-14)
    target = pool.buy_price() * up
    n = pool.amount_to_buy_price(target)
    assert 0 < n < x
    after = pool.buy(n)[1]
    assert after.buy_price() == pytest.approx(target, rel=1e-9)
    # the marginal purchase price is the derivative of the cost
    h = 1e-7 * after.reserve_asset
    assert after.quote_buy(h) / h == pytest.approx(after.buy_price(), rel=1e-6)


@settings(max_examples=150, deadline=None)
@given(reserves, reserves, fees, st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e12)), min_size=1, max_size=40))
def test_quote_sells_is_quote_sell_of_each_bit_for_bit(x, y, fee, amounts):
    """The block loop's grid quotes (``capabilities.quotes_many``) equal the single quotes."""
    pool = ConstantProductPool("T", x, y, fee)
    assert ConstantProductPool.capabilities.quotes_many
    assert pool.quote_sells(amounts) == [pool.quote_sell(a) for a in amounts]
    with pytest.raises(ConfigError, match="amount"):
        pool.quote_sells([1.0, math.nan])


@settings(max_examples=150, deadline=None)
@given(reserves, reserves, fees, st.floats(1e-6, 1e9))
def test_with_mid_price_is_the_checked_replace(x, y, fee, price):
    """Re-centring copies the fields without the field checks: the same pool the checked
    constructor gives from the same reserves (x' = sqrt(k / s), y' = sqrt(k s), s = p / (1 - fee))."""
    from dataclasses import replace

    pool = ConstantProductPool("T", x, y, fee)
    spot = price / (1.0 - fee)
    moved = pool.with_mid_price(price)
    assert type(moved) is ConstantProductPool
    assert moved == replace(pool, reserve_asset=math.sqrt(x * y / spot), reserve_numeraire=math.sqrt(x * y * spot))


def test_with_mid_price_out_of_range_names_the_reserve():
    """A price so far off that a reserve leaves the floats is refused, naming it (not copied unchecked)."""
    with pytest.raises(ConfigError, match="reserve_asset"):
        ConstantProductPool("T", 1e-300, 1e-300).with_mid_price(1e300)
