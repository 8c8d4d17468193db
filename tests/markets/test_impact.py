"""Power-law impact venue: the integral of the square-root law by hand, and the contract."""

from __future__ import annotations

import math

import numpy as np

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.markets.impact import PowerLawImpact

# p0 = 100, D = 1e6 USD, Y = 1, δ = 1/2: selling Q = 100 tokens is 1e4 USD = 1 % of D,
# I = √0.01 = 0.1.


def test_square_root_law_by_hand():
    v = PowerLawImpact("X", 100.0, 1e6)
    assert v.impact(100.0) == pytest.approx(0.1, rel=1e-14)
    proceeds, after = v.sell(100.0)
    # ∫_0^100 100(1 − √(q·100/1e6)) dq = 100·(100 − 0.01·100^1.5/1.5) = 28000/3
    assert proceeds == pytest.approx(28000 / 3, rel=1e-13)
    assert after.mid_price() == pytest.approx(90.0, rel=1e-13)
    assert v.amount_to_price(90.0) == pytest.approx(100.0, rel=1e-12)


def test_permanent_fraction_moves_the_price_less_but_pays_the_same():
    v = PowerLawImpact("X", 100.0, 1e6, permanent=0.5)
    proceeds, after = v.sell(100.0)
    assert proceeds == pytest.approx(28000 / 3, rel=1e-13)
    assert after.mid_price() == pytest.approx(95.0, rel=1e-13)  # 100·(1 − 0.5·0.1)
    assert after.execution_price() == pytest.approx(90.0, rel=1e-13)
    assert v.amount_to_price(95.0) == pytest.approx(100.0, rel=1e-12)


def test_buy_cost_by_hand_and_linear_exponent():
    v = PowerLawImpact("X", 100.0, 1e6)
    assert v.quote_buy(100.0) == pytest.approx(100 * (100 + 0.01 * 1000 / 1.5), rel=1e-13)
    lin = PowerLawImpact("X", 100.0, 1e6, coefficient=2.0, exponent=1.0)
    # I = 2·q·1e-4, ∫_0^50 100(1 − 2e-4 q) dq = 100·(50 − 1e-4·2500) = 4975
    assert lin.quote_sell(50.0) == pytest.approx(4975.0, rel=1e-13)


def test_clamps_keep_prices_positive_and_proceeds_bounded():
    v = PowerLawImpact("X", 100.0, 1e6)
    # I reaches 1 at q* = (D/p0)·Y^-2 = 1e4; ∫_0^q* = 100·(1e4 − 0.01·1e6/1.5)
    cap = 100 * (1e4 - 0.01 * 1e6 / 1.5)
    assert v.quote_sell(1e4) == pytest.approx(cap, rel=1e-12)
    assert v.quote_sell(1e6) == pytest.approx(cap, rel=1e-12)
    assert v.sell(1e6)[1].mid_price() > 0.0


def test_with_mid_price_recentres():
    v = PowerLawImpact("X", 100.0, 1e6).sell(100.0)[1].with_mid_price(60.0)
    assert v.mid_price() == 60.0 and v.net_sold == 0.0


def test_no_permanent_impact_means_price_never_moves():
    v = PowerLawImpact("X", 100.0, 1e6, permanent=0.0)
    assert v.amount_to_price(99.0) == float("inf")
    assert v.sell(50.0)[1].mid_price() == 100.0


def test_bad_parameters():
    with pytest.raises(ConfigError, match="permanent"):
        PowerLawImpact("X", 100.0, 1e6, permanent=1.5)
    with pytest.raises(ConfigError, match="depth_usd"):
        PowerLawImpact("X", 100.0, 0.0)


@settings(max_examples=150, deadline=None)
@given(st.floats(0.01, 1e5), st.floats(1e4, 1e10), st.floats(0.1, 2.0), st.floats(0.2, 1.0),
       st.floats(0.05, 1.0), st.floats(1e-4, 0.3), st.floats(1.01, 3.0))
def test_venue_contract(venue_contract, p0, depth, y, delta, phi, frac, ratio):
    v = PowerLawImpact("X", p0, depth, y, delta, phi)
    q_star = depth / p0 * y ** (-1 / delta)  # where the impact reaches 100 %
    a = frac * q_star
    venue_contract(v, a, min(a * ratio, 0.9 * q_star), path_independent=True)


def test_buy_price_is_the_execution_price_and_inverts():
    v = PowerLawImpact("X", 100.0, 1e6, permanent=0.5).sell(100.0)[1]
    assert v.buy_price() == pytest.approx(90.0, rel=1e-13)  # 100·(1 − 0.1)
    # back to I = 0.05: Q_t = (D/p0)·0.05² = 25 → buy 75
    assert v.amount_to_buy_price(95.0) == pytest.approx(75.0, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    net_sold=st.floats(-5e4, 5e4),
    exponent=st.sampled_from([0.3, 0.5, 1.0, 1.7]),
    permanent=st.floats(0.0, 1.0),
    amounts=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 1e7)), min_size=1, max_size=40),
)
def test_quote_sells_is_quote_sell_of_each_bit_for_bit(net_sold, exponent, permanent, amounts):
    """The grid quotes the block loop takes (``capabilities.quotes_many``) are the single
    quotes, float for float: zero, inside the law, and beyond the size that exhausts it (q*)."""
    v = PowerLawImpact("X", 100.0, 1e6, 0.7, exponent, permanent, net_sold)
    assert PowerLawImpact.capabilities.quotes_many
    assert v.quote_sells(amounts) == [v.quote_sell(a) for a in amounts]


def test_quote_sells_refuses_a_bad_amount_like_quote_sell():
    with pytest.raises(ConfigError, match="amount"):
        PowerLawImpact("X", 100.0, 1e6).quote_sells([1.0, -1.0])


@settings(max_examples=100, deadline=None)
@given(net_sold=st.floats(-5e4, 5e4), price=st.floats(1e-6, 1e9))
def test_with_mid_price_is_the_checked_replace(net_sold, price):
    """Re-centring (fields copied without re-running the checks) gives the venue the field
    constructor gives: equal, the same type, ``Q = 0``, mid price ``price``."""
    from dataclasses import replace

    v = PowerLawImpact("X", 100.0, 1e6, 0.7, 0.5, 0.4, net_sold)
    w = v.with_mid_price(price)
    assert type(w) is PowerLawImpact and w == replace(v, price=price, net_sold=0.0)
    assert w.mid_price() == price and v.net_sold == net_sold  # the original unchanged
    with pytest.raises(ConfigError, match="price"):
        v.with_mid_price(math.inf)


def test_compiled_impact_quotes_equal_their_plain_twin():
    """The quote loop compiled and as plain Python: the same floats, and the same first bad amount."""
    from liqcascade._jit import jit_functions
    from liqcascade.markets import impact_python as plain

    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["impact_quotes"]
    rng = np.random.default_rng(7)
    for exponent in (0.3, 0.5, 1.0, 1.7):
        v = PowerLawImpact("X", 100.0, 1e6, 0.7, exponent, 0.5, float(rng.uniform(-5e4, 5e4)))
        amounts = np.concatenate([[0.0], rng.uniform(0.0, 1e7, 60), [math.inf, 1.0]])
        k = v.coefficient * (v.price / v.depth_usd) ** exponent / (1.0 + exponent)
        args = (v.net_sold, v.price, exponent, k, v._q_for_impact(1.0), v._cash(v.net_sold))
        got = [(fn(amounts, *args, out := np.zeros(amounts.shape[0])), out) for fn in (compiled, plain.impact_quotes)]
        assert got[0][0] == got[1][0] == 61  # the first amount that is not finite
        np.testing.assert_array_equal(got[0][1], got[1][1])
        assert got[0][1][:61].tolist() == [v.quote_sell(a) for a in amounts[:61]]
