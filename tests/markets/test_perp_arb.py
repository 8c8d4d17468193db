"""Basis arbitrage between a constant-product spot pool and a linear-depth perp book: the
equilibrium price in closed form (Lambert W), the capital and speed limits, and the band."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import lambertw

from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.orderbook import DepthCurve
from liqcascade.markets.perp_arb import BasisArbitrageur, arb_band, basis_arbitrage
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import DepthDynamics

S = 2e9  # perp depth density: 20 M USD within 1 %
X, Y = 1_000.0, 100_000_000.0  # spot pool: 1 000 BTC and 100 M USD, price 100 000, no fee
K = X * Y
RESOLUTION = 1e-12
"""A budget-capped buy leg costs the budget less at most this fraction of it: the bisection stops
at the largest float amount within the budget, so what it leaves is one float step of the amount's
cost and the cost's rounding (measured at most 3e-16 of the budget on these venues)."""


def perp(p0: float) -> PerpOrderBookVenue:
    curve = DepthCurve((0.5,), (S * 0.5,))
    return PerpOrderBookVenue("BTC", p0, DepthDynamics(curve, curve, 600.0, 0.0))


def spot() -> ConstantProductPool:
    return ConstantProductPool("BTC", X, Y, fee=0.0)


def equilibrium_tokens(p0: float, band: float) -> float:
    """Tokens q moved when the perp (reference p0) is rich: the pool's price after buying q,
    K/(X-q)^2, times (1 + band) equals the perp's after selling q, p0 exp(-q p0 / S). With
    u = X - q and a = p0 / (2S): u e^(a u) = sqrt(K (1 + band) / p0) e^(a X), so
    u = W(a sqrt(K (1 + band) / p0) e^(a X)) / a."""
    a = p0 / (2.0 * S)
    u = lambertw(a * math.sqrt(K * (1.0 + band) / p0) * math.exp(a * X)).real / a
    return X - u


@pytest.mark.parametrize("p0, band", [(101_000.0, 0.0), (103_000.0, 0.0), (103_000.0, 0.001)])
def test_rich_perp_meets_the_pool_at_the_lambert_w_equilibrium(p0, band):
    trade = basis_arbitrage(perp(p0), spot(), BasisArbitrageur(1e12, band), dt_s=1.0)
    q = equilibrium_tokens(p0, band)
    assert trade.perp_sold
    assert trade.tokens == pytest.approx(q, rel=1e-9)
    assert trade.perp.mid_price() == pytest.approx(p0 * math.exp(-q * p0 / S), rel=1e-9)
    assert trade.perp.mid_price() == pytest.approx((1.0 + band) * trade.spot.buy_price(), rel=1e-9)
    assert trade.buy_cost == pytest.approx(Y * q / (X - q), rel=1e-9)  # the pool's exact purchase cost


def test_cheap_perp_is_bought_and_spot_sold_to_the_mirror_equilibrium():
    # perp at 97 000, pool at 100 000: the pool's price after selling q, K/(X+q)^2, equals the
    # perp's after buying q, p0 exp(q p0 / S); with u = X + q: u e^(a u) = sqrt(K / p0) e^(a X)
    p0 = 97_000.0
    a = p0 / (2.0 * S)
    q = lambertw(a * math.sqrt(K / p0) * math.exp(a * X)).real / a - X
    trade = basis_arbitrage(perp(p0), spot(), BasisArbitrageur(1e12), dt_s=1.0)
    assert not trade.perp_sold
    assert trade.tokens == pytest.approx(q, rel=1e-9)
    assert trade.spot.mid_price() == pytest.approx(K / (X + q) ** 2, rel=1e-9)


def test_no_trade_inside_the_band():
    trade = basis_arbitrage(perp(100_050.0), spot(), BasisArbitrageur(1e12, band=0.001), dt_s=1.0)
    assert trade.tokens == 0.0 and trade.perp.mid_price() == 100_050.0


@given(st.floats(1e5, 5e7))
@settings(max_examples=25, deadline=None)
def test_capital_caps_the_buy_leg_and_is_used_up(capital):
    p0 = 103_000.0
    q_free = equilibrium_tokens(p0, 0.0)
    full_cost = Y * q_free / (X - q_free)
    trade = basis_arbitrage(perp(p0), spot(), BasisArbitrageur(capital), dt_s=1.0)
    assert trade.buy_cost <= min(capital, full_cost) * (1 + 1e-9)
    if capital < full_cost:
        assert trade.buy_cost == pytest.approx(capital, rel=1e-9)
        # all of it spent: no rounding rest left to buy dust with in the steps after
        assert trade.arbitrageur.capital_usd == 0.0
        assert trade.perp.mid_price() > trade.spot.buy_price()  # the gap is left partly open
        after = basis_arbitrage(trade.perp, trade.spot, trade.arbitrageur, dt_s=1.0)
        assert after.tokens == 0.0 and after.arbitrageur.capital_usd == 0.0


def test_speed_caps_notional_per_step():
    trade = basis_arbitrage(perp(103_000.0), spot(), BasisArbitrageur(1e12, max_notional_per_s=2e5), dt_s=2.0)
    assert trade.buy_cost == pytest.approx(4e5, rel=1e-9)  # the free equilibrium costs 1.45 M
    assert trade.arbitrageur.capital_usd == 1e12 - 4e5  # the step's whole budget spent
    assert 0.0 <= 4e5 - trade.buy_cost <= RESOLUTION * 4e5


def test_arbitrage_profit_is_positive_when_it_trades():
    trade = basis_arbitrage(perp(103_000.0), spot(), BasisArbitrageur(1e12), dt_s=1.0)
    assert trade.profit > 0.0


def test_band_adds_fees_and_funding():
    assert arb_band(0.001, 0.0005, 0.0002) == pytest.approx(0.0017)
    with pytest.raises(ConfigError, match="band"):
        arb_band(0.0, 0.0, -0.01)


def test_bad_arbitrageur_is_an_error():
    with pytest.raises(ConfigError, match="capital_usd"):
        BasisArbitrageur(-1.0)
    with pytest.raises(ConfigError, match="dt_s"):
        basis_arbitrage(perp(1.0), spot(), BasisArbitrageur(1.0), dt_s=-1.0)


@given(st.floats(90_000.0, 110_000.0), st.floats(0.0, 0.005), st.floats(1e4, 1e8))
@settings(max_examples=40, deadline=None)
def test_tokens_are_conserved_and_the_gap_closes_to_the_band_or_the_budget(p0, band, capital):
    before_perp, before_spot = perp(p0), spot()
    trade = basis_arbitrage(before_perp, before_spot, BasisArbitrageur(capital, band), dt_s=1.0)
    q = trade.tokens
    sign = 1.0 if trade.perp_sold else -1.0
    # what one venue gave up the other took in
    assert trade.perp.net_sold == pytest.approx(before_perp.net_sold + sign * q, abs=1e-9)
    assert trade.spot.reserve_asset == pytest.approx(before_spot.reserve_asset - sign * q, rel=1e-12)
    # the capital lost is the buy leg's cost: exactly when the prices met, and to the float
    # resolution of the budget's bisection when the budget capped it (the whole budget is spent)
    left = trade.arbitrageur.capital_usd
    if left > 0.0:  # uncapped (the budget here is the capital): the cost, taken off exactly
        assert left == capital - trade.buy_cost
    else:
        assert 0.0 <= capital - trade.buy_cost <= RESOLUTION * capital
    rich_after, cheap_buy_after = (
        (trade.perp.mid_price(), trade.spot.buy_price()) if trade.perp_sold
        else (trade.spot.mid_price(), trade.perp.buy_price())
    )  # fmt: skip
    if q > 0.0:
        assert rich_after >= (1 + band) * cheap_buy_after * (1 - 1e-9)  # never past the band
        if trade.buy_cost < capital * (1 - 1e-9):
            assert rich_after == pytest.approx((1 + band) * cheap_buy_after, rel=1e-9)


def test_a_perp_liquidation_reaches_the_spot_pool_through_the_arbitrageur():
    # both at 100 000; a 300 BTC liquidation sale on the perp; the arbitrageur, 2 M USD a second,
    # buys the perp back and sells spot until the two meet: the spot price falls too
    p, s = perp(100_000.0), spot()
    _, p = p.sell(300.0)
    arb = BasisArbitrageur(1e9, max_notional_per_s=2e6)
    moved = 0.0
    for _ in range(60):
        trade = basis_arbitrage(p, s, arb, dt_s=1.0)
        p, s, arb = trade.perp, trade.spot, trade.arbitrageur
        moved += trade.tokens
        if trade.tokens == 0.0:
            break
    assert s.mid_price() < 100_000.0 * 0.99  # the cascade reached spot
    assert p.mid_price() == pytest.approx(s.buy_price(), rel=1e-9)  # and the two meet
    # 300 BTC sold into a perp and then shared with the pool: the pool took `moved` of them
    assert s.reserve_asset == pytest.approx(X + moved, rel=1e-12)
    assert p.net_sold == pytest.approx(300.0 - moved, rel=1e-9)
