"""The perp's book: the walk in closed form on one linear segment, path properties, refill and
re-sizing in time."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.markets.base import QuotesBuy, Requotes, Venue
from liqcascade.markets.orderbook import DepthCurve
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import DepthDynamics, shipped_dynamics

P0 = 100_000.0
S = 1e9  # notional per unit fraction: 10 M USD within 1 %
LINEAR = DepthCurve((0.5,), (S * 0.5,))  # one segment, density S, out to 50 %


def venue(stress: float = 0.0, half_life: float = 60.0) -> PerpOrderBookVenue:
    dyn = DepthDynamics(LINEAR, LINEAR, half_life_s=half_life, kappa=10.0)
    return PerpOrderBookVenue("BTC", P0, dyn, stress=stress)


def test_is_a_venue_that_quotes_buys_and_requotes():
    v = venue()
    assert isinstance(v, Venue) and isinstance(v, QuotesBuy) and isinstance(v, Requotes)
    assert v.capabilities.requotes and not v.capabilities.arbitraged


@pytest.mark.parametrize("stress", [0.0, 1.0])
def test_selling_walks_the_bids_in_closed_form(stress):
    # density s = S e^-x: selling q tokens takes the price to P0 exp(-q P0 / s), paying s (1 - exp(-q P0 / s))
    s = S * math.exp(-stress)
    q = 50.0
    proceeds, after = venue(stress).sell(q)
    assert after.mid_price() == pytest.approx(P0 * math.exp(-q * P0 / s), rel=1e-12)
    assert proceeds == pytest.approx(s * (1.0 - math.exp(-q * P0 / s)), rel=1e-12)


def test_buying_walks_the_asks_in_closed_form():
    q = 30.0
    cost, after = venue().buy(q)
    assert after.mid_price() == pytest.approx(P0 * math.exp(q * P0 / S), rel=1e-12)
    assert cost == pytest.approx(S * math.expm1(q * P0 / S), rel=1e-12)


@given(st.floats(0.0, 200.0), st.floats(0.0, 3.0))
def test_selling_then_buying_back_restores_the_mid_when_no_time_passes(q, stress):
    v = venue(stress)
    proceeds, sold = v.sell(q)
    cost, back = sold.buy(q)
    assert back.mid_price() == pytest.approx(v.mid_price(), rel=1e-9)
    assert cost == pytest.approx(proceeds, rel=1e-9, abs=1e-6)


@given(st.floats(0.0, 100.0), st.floats(0.0, 100.0))
def test_proceeds_and_price_are_monotone_in_size(a, b):
    lo, hi = sorted((a, b))
    v = venue(0.5)
    assert v.quote_sell(lo) <= v.quote_sell(hi)
    assert v.sell(lo)[1].mid_price() >= v.sell(hi)[1].mid_price()
    assert v.quote_buy(lo) <= v.quote_buy(hi)


def test_consumed_depth_refills_by_half_per_half_life_and_converges_to_the_profile():
    _, sold = venue(half_life=60.0).sell(50.0)
    assert sold.advance(60.0).net_sold == pytest.approx(25.0)
    assert sold.advance(120.0).net_sold == pytest.approx(12.5)
    far = sold.advance(60.0 * 60)
    assert far.mid_price() == pytest.approx(P0, rel=1e-12)
    assert sold.advance(0.0) == sold


def test_default_refill_half_life_is_the_fitted_depth_recovery():
    v = PerpOrderBookVenue("BTC", P0, shipped_dynamics())
    assert v.refill_half_life == shipped_dynamics().half_life_s


def test_resizing_the_book_keeps_the_mid_and_changes_the_impact():
    _, sold = venue(0.0).sell(50.0)
    thin = sold.with_stress(math.log(10.0))
    assert thin.mid_price() == pytest.approx(sold.mid_price(), rel=1e-12)
    # ten times thinner: the same further sale moves the log price ten times as far
    d_thick = math.log(sold.mid_price() / sold.sell(1.0)[1].mid_price())
    d_thin = math.log(thin.mid_price() / thin.sell(1.0)[1].mid_price())
    assert d_thin == pytest.approx(10.0 * d_thick, rel=1e-9)
    # and above the reference too
    _, bought = venue(0.0).buy(20.0)
    assert bought.with_stress(1.0).mid_price() == pytest.approx(bought.mid_price(), rel=1e-12)


def test_advance_refills_then_resizes():
    _, sold = venue(0.0, half_life=60.0).sell(50.0)
    later = sold.advance(60.0, stress=1.0)
    # after the refill 25 tokens are consumed of density S; then re-sized at that mid to density S/e
    mid = P0 * math.exp(-25.0 * P0 / S)
    assert later.mid_price() == pytest.approx(mid, rel=1e-12)
    assert later.net_sold == pytest.approx(25.0 / math.e, rel=1e-9)


def test_bad_arguments_are_errors():
    with pytest.raises(ConfigError, match="dt_s"):
        venue().advance(-1.0)
    with pytest.raises(ConfigError, match="refill_half_life_s"):
        PerpOrderBookVenue("BTC", P0, venue().dynamics, refill_half_life_s=0.0)
    with pytest.raises(ConfigError, match="stress"):
        venue(-1.0)


def test_the_venue_kind_builds_from_a_table_with_a_dynamics_file(tmp_path):
    from liqcascade.markets import registry
    from liqcascade.markets.perp_depth import DepthFit, write_dynamics

    dyn = DepthDynamics(LINEAR, LINEAR, half_life_s=120.0, kappa=1.0)
    fit = DepthFit(dyn, 0.0, 1.0, 0.0, 1, 15, 0.0, 0.0, 0)
    write_dynamics(tmp_path / "dyn.json", fit, "a hand-made curve")
    spec = registry.spec("perp_orderbook")
    table = {"kind": "perp_orderbook", "asset": "BTC", "dynamics": "dyn.json", "stress": 1.0}
    settings = spec.settings.model_validate(table)
    assert spec.files(settings) == {"dynamics": "dyn.json"}
    v = spec.build(registry.VenueContext(settings, P0, resolve=lambda text, key: tmp_path / text))
    assert v.refill_half_life == 120.0 and v.stress == 1.0
    q = 10.0  # density S / e at stress 1
    assert v.sell(q)[1].mid_price() == pytest.approx(P0 * math.exp(-q * P0 * math.e / S), rel=1e-12)


def test_evolve_applies_the_stress_law_then_refills_and_resizes():
    _, sold = venue(0.5, half_life=60.0).sell(50.0)  # kappa 10, half-life 60 s for both laws
    later = sold.evolve(60.0, -0.02)
    assert later.stress == pytest.approx(0.5 / 2 + 10.0 * 0.02)
    assert later == sold.advance(60.0, 0.45)


def test_a_scenario_resolves_and_hashes_the_dynamics_file(tmp_path):
    import hashlib

    from liqcascade.markets.perp_depth import DepthFit, write_dynamics

    from .test_registry import _in

    write_dynamics(tmp_path / "dyn.json", DepthFit(shipped_dynamics(), 0.0, 1.0, 0.0, 1, 15, 0.0, 0.0, 0), "copy")
    sc = _in(tmp_path, {"kind": "perp_orderbook", "dynamics": "dyn.json", "scale": 0.01})
    v = sc.model.venues["WETH"]
    assert isinstance(v, PerpOrderBookVenue) and v.refill_half_life == shipped_dynamics().half_life_s
    digest = hashlib.sha256((tmp_path / "dyn.json").read_bytes()).hexdigest()
    assert sc.resolved()["venues"][0]["dynamics"] == f"sha256:{digest}"
    with pytest.raises(ConfigError) as e:
        _in(tmp_path, {"kind": "perp_orderbook", "dynamics": "nowhere.json"})
    assert (e.value.file, e.value.key) == ("s.toml", "venues.0.dynamics")


@given(st.floats(0.0, 200.0), st.floats(0.0, 4.0), st.floats(0.0, 4.0))
def test_resizing_there_and_back_restores_the_book(q, s0, s1):
    _, sold = venue(s0).sell(q)
    back = sold.with_stress(s1).with_stress(s0)
    assert back.mid_price() == pytest.approx(sold.mid_price(), rel=1e-12)
    assert back.net_sold == pytest.approx(sold.net_sold, rel=1e-9, abs=1e-9)
