"""Owners who react (engine/dynamic/behaviour.py): probability 0 leaves the run as it was,
hand cases with probability 1, seeded streams, and that more reaction never means more
liquidations in expectation (a statistical test with a stated tolerance)."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.markets.oracle import Instant
from liqcascade.model.behaviour import BehaviourParams
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock, linear_shock

from .conftest import PARAMS, PRICES, book

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
CHECKED = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
EDGES = (-0.5, 0.0, 0.5, 2.0)
pytestmark = pytest.mark.usefixtures("one_numba_thread")  # small books: one thread (conftest)


def params(protect=0.0, lever=0.0, restore=1.5, lever_hf=1.2, repay=0.0, seed=0, edges=EDGES):
    m = len(edges) - 1
    p = protect if isinstance(protect, tuple) else (protect,) * m
    q = lever if isinstance(lever, tuple) else (lever,) * m
    return BehaviourParams(tuple(edges), p, q, restore, lever_hf, repay, seed)


def market(rows):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES, {})


# one WETH against 1000 USDC: HF = 2000 * 0.85 / 1000 = 1.7 at block 0, 1.36 from block 1 (1600)
ONE = [("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1000.0)]
SHOCK = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=5, block_seconds=3600)


def _wide_book(n=60):
    """n accounts of one WETH, HF at 2000 spread evenly over [1.02, 1.6]."""
    rows = []
    for i, hf in enumerate(np.linspace(1.02, 1.6, n)):
        rows += [(f"x{i}", "WETH", 1.0, 0.0), (f"x{i}", "USDC", 0.0, 2000.0 * 0.85 / hf)]
    return market(rows)


DECLINE = linear_shock({"WETH": 2000.0}, {"WETH": -0.35}, n_blocks=40, duration_blocks=36, block_seconds=3600)


def test_probability_zero_is_todays_run():
    m = _wide_book()
    base = simulate(m, DECLINE, Instant(), CHECKED)
    off = simulate(m, DECLINE, Instant(), CHECKED, behaviour=params(0.0, 0.0))
    pd.testing.assert_frame_equal(base["steps"], off["steps"])
    pd.testing.assert_frame_equal(base["events"], off["events"])
    for col in base.summary:
        assert off.summary[col] == base.summary[col] or (pd.isna(off.summary[col]) and pd.isna(base.summary[col]))
    assert off.summary["owner_protects"] == 0 and off.summary["owner_levers"] == 0


def test_protect_by_deposit_restores_the_ratio_by_hand():
    # block 2: the owner sees block 1's oracle (1600): HF 1.36 < 1.5, tops up x WETH with
    # (1 + x) * 1600 * 0.85 / 1000 = 1.5  ->  x = 1500 / 1360 - 1
    res = simulate(market(ONE), SHOCK, Instant(), CHECKED, behaviour=params(1.0, restore=1.5))
    assert res.summary["owner_protects"] == 1  # afterwards HF = 1.5, not below restore_hf
    assert res.summary["owner_deposited_WETH"] == pytest.approx(1500.0 / 1360.0 - 1.0, rel=1e-9)
    assert res.summary["accounts_liquidated"] == 0


def test_protect_by_repayment_restores_the_ratio_by_hand():
    # 1360 / (1000 - y) = 1.5  ->  y = 1000 - 1360 / 1.5
    res = simulate(market(ONE), SHOCK, Instant(), CHECKED, behaviour=params(1.0, restore=1.5, repay=1.0))
    assert res.summary["owner_protects"] == 1
    assert res.summary["owner_repaid_USDC"] == pytest.approx(1000.0 - 1360.0 / 1.5, rel=1e-9)


def test_lever_draws_down_to_lever_hf_and_the_fall_then_liquidates():
    # block 1: the owner sees 2000 (HF 1.7 > 1.2) and draws y: 1700 / (1000 + y) = 1.2;
    # the oracle then reads 1600: HF = 1360 / (1700 / 1.2) = 0.96 < 1 -> liquidated.
    plain = simulate(market(ONE), SHOCK, Instant(), CHECKED)
    assert plain.summary["accounts_liquidated"] == 0
    res = simulate(market(ONE), SHOCK, Instant(), CHECKED, behaviour=params(0.0, 1.0, lever_hf=1.2))
    assert res.summary["owner_drawn_USDC"] == pytest.approx(1700.0 / 1.2 - 1000.0, rel=1e-9)
    assert res.summary["accounts_liquidated"] == 1


def test_per_block_probability_from_the_hourly_hazard():
    p = params(0.19)
    pp, pl = p.per_block(np.array([0.1]), 1800.0)  # half an hour: 1 - 0.81 ** 0.5 = 0.1
    assert pp[0] == pytest.approx(0.1, rel=1e-12) and pl[0] == 0.0
    # below the first edge the first bin applies, from the last edge up the last bin
    q = params((0.1, 0.2, 0.3))
    pp, _ = q.per_block(np.array([-9.0, -0.5, 0.0, 0.49, 1.99, 50.0]), 3600.0)
    assert pp.tolist() == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.3, 0.3])


def test_same_seed_same_numbers_and_streams_differ():
    m = _wide_book()
    b = params(0.3, 0.05, seed=7)
    r1 = simulate(m, DECLINE, Instant(), CHECKED, behaviour=b)
    r2 = simulate(m, DECLINE, Instant(), CHECKED, behaviour=b)
    pd.testing.assert_frame_equal(r1["events"], r2["events"])
    assert r1.summary["owner_protects"] == r2.summary["owner_protects"]
    draws = {simulate(m, DECLINE, Instant(), CHECKED, behaviour=b, behaviour_stream=s).summary["owner_deposited_WETH"]
             for s in range(3)}
    assert len(draws) == 3  # three paths, three different streams


@pytest.mark.slow
def test_more_reaction_never_more_liquidations_in_expectation():
    # 60 accounts through a 35 % decline over 36 hours, 10 seeds per level of the protect
    # hazard (0, 0.1, 0.6 per hour). Tolerance: a higher level may not show more mean
    # liquidations than a lower one by more than 2 standard errors of the difference.
    m = _wide_book()
    means, ses = [], []
    for level in (0.0, 0.1, 0.6):
        n = [simulate(m, DECLINE, Instant(), SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf)),
                      behaviour=params(level, restore=1.3, seed=s)).summary["accounts_liquidated"] for s in range(10)]
        means.append(float(np.mean(n)))
        ses.append(float(np.std(n, ddof=1) / math.sqrt(len(n))))
    for i in range(len(means) - 1):
        tol = 2.0 * math.hypot(ses[i], ses[i + 1])
        assert means[i + 1] <= means[i] + tol, (means, ses)
    assert means[-1] < means[0]  # and reacting owners do save vaults on this path


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(1.01, 2.0), st.floats(1.0, 2.0), st.floats(0.0, 1.0),
       st.floats(0.0, 0.6), st.integers(0, 2**16))
def test_any_reactions_keep_the_books_balanced(p, q, restore, lever_hf, repay, drop, seed):
    """Whatever the probabilities and targets: conservation holds every block (checked by the
    engine: it raises otherwise) and the tokens owners moved are never negative."""
    m = market([("a", "WETH", 2.0, 0.0), ("a", "USDC", 0.0, 2500.0), ("b", "WETH", 1.0, 0.0), ("b", "DAI", 0.0, 900.0),
                ("c", "WETH", 0.5, 0.0), ("c", "USDC", 0.0, 10.0)])
    path = linear_shock({"WETH": 2000.0}, {"WETH": -drop}, n_blocks=8, duration_blocks=6, block_seconds=1800)
    res = simulate(m, path, Instant(), CHECKED, behaviour=params(p, q, restore, lever_hf, repay, seed))
    s = res.summary
    assert all(v >= 0 for k, v in s.items() if k.startswith(("owner_deposited", "owner_repaid", "owner_drawn")))
    assert s["owner_protects"] >= 0 and s["owner_levers"] >= 0


# --- reactions that depend on the market: a log-rate slope on the 24 h return ---

def sloped(protect=0.0, lever=0.0, ps=0.0, ls=0.0, rng=(-0.5, 0.5), seed=0, restore=1.5, lever_hf=1.2):
    m = len(EDGES) - 1
    return BehaviourParams(EDGES, (protect,) * m, (lever,) * m, restore, lever_hf, 0.0, seed,
                           protect_return_slope=(ps,) * m, lever_return_slope=(ls,) * m, return_range=rng)


def test_zero_slopes_are_todays_run_bit_for_bit():
    m = _wide_book()
    plain = simulate(m, DECLINE, Instant(), CHECKED, behaviour=params(0.2, 0.05, restore=1.3, seed=3))
    zero = simulate(m, DECLINE, Instant(), CHECKED, behaviour=sloped(0.2, 0.05, 0.0, 0.0, seed=3, restore=1.3))
    pd.testing.assert_frame_equal(plain["steps"], zero["steps"])
    pd.testing.assert_frame_equal(plain["events"], zero["events"])
    for col in plain.summary:
        assert zero.summary[col] == plain.summary[col] or (pd.isna(zero.summary[col]) and pd.isna(plain.summary[col]))
    assert plain.summary["owner_protects"] > 0  # the reactions did run


def test_a_known_fall_makes_the_owner_protect_for_sure():
    # WETH 2000 -> 1600 at block 1. At block 2 the owner sees block 1 (HF 1.36) and the return
    # over the 24 hours before it, log(0.8) (the path holds its first price before it starts).
    # Hourly 0.5 with slope log(4) / log(0.8): 0.5 * 4 = 2, capped at 1, so the owner tops up
    # to 1.5 for sure; the slope multiplies the bin's probability, so 0 stays 0.
    # Three blocks: block 2 is the owner's only chance (at 0.5 alone, 10 seeds in a row would
    # all protect with probability 1 / 1024).
    ps = math.log(4.0) / math.log(0.8)
    short = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=3, block_seconds=3600)
    for seed in range(10):
        res = simulate(market(ONE), short, Instant(), CHECKED, behaviour=sloped(0.5, ps=ps, restore=1.5, seed=seed))
        assert res.summary["owner_protects"] == 1
        assert res.summary["owner_deposited_WETH"] == pytest.approx(1500.0 / 1360.0 - 1.0, rel=1e-9)
    none = simulate(market(ONE), short, Instant(), CHECKED, behaviour=sloped(0.0, ps=ps, restore=1.5))
    assert none.summary["owner_protects"] == 0


def test_the_return_is_read_per_block_from_the_path():
    from liqcascade.engine.dynamic.behaviour import asset_returns
    from liqcascade.engine.dynamic.openings import trailing_returns

    class Run:  # what asset_returns reads of a run
        times = np.arange(5) * 3600
        path = SHOCK
        path_cols = np.array([0])

    r = asset_returns(Run, 2)
    assert r[:, 0].tolist() == pytest.approx([0.0, 0.0, math.log(0.8), math.log(0.8), math.log(0.8)])
    assert r[:, 1].tolist() == [0.0] * 5  # an asset the path does not move
    assert r[:, 0].tolist() == trailing_returns(Run.times, np.asarray(SHOCK.prices)[:, 0]).tolist()


def test_a_negative_slope_protects_more_after_a_fall_in_expectation():
    # 60 accounts through a 35 % decline over 36 hours, 10 seeds: with slope -10 the hourly
    # protect probability is 0.05 * exp(10 * |r|) > 0.05 on every block after the first, so
    # owners protect more, and liquidations are not more numerous than at slope 0 by more
    # than 2 standard errors of the difference.
    m = _wide_book()
    quiet = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf))
    out = {}
    for ps in (0.0, -10.0):
        runs = [simulate(m, DECLINE, Instant(), quiet, behaviour=sloped(0.05, ps=ps, seed=s, restore=1.3)).summary
                for s in range(10)]
        out[ps] = (np.array([r["owner_protects"] for r in runs], float), np.array([r["accounts_liquidated"] for r in runs], float))
    (p0, l0), (p1, l1) = out[0.0], out[-10.0]
    se = lambda a, b: math.hypot(a.std(ddof=1), b.std(ddof=1)) / math.sqrt(len(a))  # noqa: E731
    assert p1.mean() > p0.mean() + 2 * se(p0, p1)
    assert l1.mean() <= l0.mean() + 2 * se(l0, l1)
