"""New accounts during a run (engine/dynamic/openings.py): a hand case, healthy at the prices
it opens at (liquidated in its opening block only by that block's oracle step), book
conservation, the Poisson count against its mean, determinism by seed, rate 0 is today's run,
and the same openings in a one-market system as in the single-market run."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.dynamic.openings import LABEL, opening_means, plan_openings, trailing_returns
from liqcascade.engine.static import MarketModel
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import MarketSim, simulate_system
from liqcascade.markets.oracle import Instant
from liqcascade.model.behaviour import BehaviourParams, OpenParams
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import linear_shock

from .conftest import PARAMS, PRICES, book

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
CHECKED = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
pytestmark = pytest.mark.usefixtures("one_numba_thread")
FLAT_HF = (1.5,) * 21
FLAT_SIZE = (1.0,) * 21


def market(n=20, hf_lo=1.3, hf_hi=2.0):
    """n accounts of one WETH owing USDC, HF at 2000 spread over [hf_lo, hf_hi]: the mean debt
    is 2000 * 0.85 * mean(1 / hf)."""
    rows = []
    for i, hf in enumerate(np.linspace(hf_lo, hf_hi, n)):
        rows += [(f"x{i}", "WETH", 1.0, 0.0), (f"x{i}", "USDC", 0.0, 2000.0 * 0.85 / hf)]
    return MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES, {})


def opening(rate=1.0, slope=0.0, hf=FLAT_HF, size=FLAT_SIZE, rng=(-0.3, 0.3), scale=1.0):
    return OpenParams(rate, slope, hf, size, rng, ("WETH", "USDC"), scale)


def behaviour(op, seed=0):
    """No reactions (probability 0), only openings."""
    return BehaviourParams((0.0, 1.0), (0.0,), (0.0,), 1.5, 1.2, 0.0, seed, op)


FLAT = linear_shock({"WETH": 2000.0}, {"WETH": 0.0}, n_blocks=49, duration_blocks=1, block_seconds=3600)
FALL = linear_shock({"WETH": 2000.0}, {"WETH": -0.3}, n_blocks=97, duration_blocks=24, block_seconds=3600)


def test_a_new_account_opens_at_its_hf_and_size_by_hand():
    # 20 accounts owing a mean of 2000 * 0.85 * mean(1/hf); rate 1 per account and day over two
    # flat days: every opening owes that mean (size 1) at HF 1.5, so it deposits
    # debt * 1.5 / (2000 * 0.85) WETH
    m = market()
    mean_debt = float(np.mean(2000.0 * 0.85 / np.linspace(1.3, 2.0, 20)))
    r = simulate(m, FLAT, Instant(), CHECKED, behaviour=behaviour(opening()))
    s = r.summary
    k = s["accounts_opened"]
    assert k > 0 and s["accounts"] == 20 + k
    assert s["opened_debt_USDC"] == pytest.approx(k * mean_debt, rel=1e-12)
    assert s["opened_collateral_WETH"] == pytest.approx(k * mean_debt * 1.5 / (2000 * 0.85), rel=1e-12)
    assert s["accounts_liquidated"] == 0 and s["openings_clamped"] == 0


def test_the_number_opened_follows_its_poisson_mean():
    # law of large numbers over seeds: the mean count is within 4 standard errors of the
    # summed Poisson means (on a fall, with the return slope on)
    m = market()
    op = opening(rate=0.5, slope=-6.0)
    mean = float(opening_means(op, m, FALL).sum())
    counts = [plan_openings(op, m, FALL, seed=s).block.shape[0] for s in range(400)]
    assert abs(np.mean(counts) - mean) < 4 * math.sqrt(mean / 400)
    # the fall raises the rate: exp(6 * 0.3) at most, against a flat path's
    flat = float(opening_means(op, m, linear_shock({"WETH": 2000.0}, {"WETH": 0.0}, n_blocks=97,
                                                   duration_blocks=24, block_seconds=3600)).sum())
    assert flat == pytest.approx(0.5 * 20 * 96 / 24, rel=1e-12) and flat < mean < flat * math.exp(1.8)


def test_trailing_returns_by_hand():
    t = np.arange(0, 5 * 43200, 43200)  # half-days
    p = np.array([100.0, 100.0, 110.0, 121.0, 121.0])
    r = trailing_returns(t, p)
    # block b reads block b-1 against 24 h before it (the first price before the start)
    assert r == pytest.approx([0.0, 0.0, 0.0, math.log(1.1), math.log(1.21)])


@settings(max_examples=25, deadline=None)
@given(lo=st.floats(1.001, 1.3), spread=st.floats(0.0, 3.0), fall=st.floats(0.0, 0.5), seed=st.integers(0, 2**31))
@example(lo=1.0625, spread=0.0, fall=0.5, seed=0)  # a 9 % block fall liquidates HF 1.0625 in its opening block
def test_an_account_opens_healthy_at_the_prices_it_sees_and_the_book_is_conserved(lo, spread, fall, seed):
    # an owner opens at the previous block's oracle (what the protocol checks when the
    # transaction lands, openings.py); the block's own oracle step may then take it below 1.
    # With no venue the oracle is the path, and HF is linear in the collateral's price, so an
    # account opened at block b is liquidated in that block exactly when hf * p[b] / p[b-1] < 1
    hfq = tuple(np.linspace(lo, lo + spread, 21))
    path = linear_shock({"WETH": 2000.0}, {"WETH": -fall}, n_blocks=30, duration_blocks=10, block_seconds=3600)
    m = market()
    r = simulate(m, path, Instant(), CHECKED, behaviour=behaviour(opening(rate=2.0, hf=hfq), seed))
    plan = plan_openings(opening(rate=2.0, hf=hfq), m, path, seed)
    ev = r["events"]
    new = ev[ev["account_id"].astype(str).str.startswith(LABEL)] if len(ev) else ev
    first = new.groupby("account_id")["block"].min() if len(new) else pd.Series(dtype=np.int64)
    p = np.asarray(path.prices)[:, list(path.assets).index("WETH")]
    b = plan.block
    at_open = plan.hf * p[b] / p[np.maximum(b - 1, 0)]  # HF at the block's own oracle
    liquidated_at_open = np.zeros(b.shape[0], dtype=bool)
    for acct, blk in first.items():
        j = int(str(acct).removeprefix(LABEL))
        assert blk >= b[j]  # never before it opened
        liquidated_at_open[j] = blk == b[j]
    assert np.all(plan.hf >= lo)  # opened healthy at the prices it saw
    assert np.all(at_open[liquidated_at_open] < 1 + 1e-9)
    assert np.all(liquidated_at_open[at_open < 1 - 1e-9])
    # conservation (check_conservation) held in every block; what was opened is in the tallies
    assert r.summary["accounts_opened"] == b.shape[0]


def test_same_seed_same_run_and_another_seed_another():
    m = market()
    a, b = (simulate(m, FALL, Instant(), CHECKED, behaviour=behaviour(opening(), 7)) for _ in range(2))
    c = simulate(m, FALL, Instant(), CHECKED, behaviour=behaviour(opening(), 8))
    pd.testing.assert_frame_equal(a["events"], b["events"])
    assert a.summary["accounts_opened"] == b.summary["accounts_opened"]
    assert (a.summary["accounts_opened"], a.summary["opened_debt_USDC"]) != \
        (c.summary["accounts_opened"], c.summary["opened_debt_USDC"])
    d = simulate(m, FALL, Instant(), CHECKED, behaviour=behaviour(opening(), 7), behaviour_stream=1)
    assert d.summary["opened_debt_USDC"] != a.summary["opened_debt_USDC"]


def test_scale_zero_and_no_pair_are_todays_run():
    m = market()
    base = simulate(m, FALL, Instant(), CHECKED)
    zero = simulate(m, FALL, Instant(), CHECKED, behaviour=behaviour(opening(scale=0.0)))
    pd.testing.assert_frame_equal(base["steps"], zero["steps"])
    assert zero.summary["accounts_opened"] == 0
    unpaired = behaviour(OpenParams(1.0, 0.0, FLAT_HF, FLAT_SIZE, (-0.3, 0.3)))
    assert "accounts_opened" not in simulate(m, FALL, Instant(), CHECKED, behaviour=unpaired).summary


def test_one_market_system_opens_the_same_accounts_as_the_single_market_run():
    from liqcascade.markets.cpmm import ConstantProductPool

    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 2e6)
    m = market(hf_lo=1.02, hf_hi=1.6)
    beh = BehaviourParams((0.0, 0.1, 1.0), (0.3, 0.01), (0.0, 0.05), 1.2, 1.1, 0.5, 4, opening(rate=0.5, slope=-5.0))
    alone = simulate(MarketModel(m.book, m.rules, m.prices, {"WETH": pool}), FALL, Instant(), CHECKED, behaviour=beh,
                     behaviour_stream=2)
    sysm = SystemModel(PARAMS.symbols, PRICES, {"m": m}, {"WETH": pool})
    out = simulate_system(sysm, FALL, Instant(), CHECKED, per_market={"m": MarketSim(behaviour=beh)},
                          behaviour_stream=2)["m"]
    assert alone.summary["accounts_opened"] > 0 and alone.summary["owner_protects"] > 0
    for name in ("steps", "events", "summary"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)


def test_a_market_draws_the_same_openings_together_and_alone_and_its_own_stream():
    from liqcascade.markets.cpmm import ConstantProductPool

    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 2e6)
    a, b = market(hf_lo=1.02, hf_hi=1.6), market(n=30, hf_lo=1.05, hf_hi=1.8)
    sysm = SystemModel(PARAMS.symbols, PRICES, {"a": a, "b": b}, {"WETH": pool})
    beh = {n: MarketSim(behaviour=behaviour(opening(rate=0.5, slope=-5.0), seed=9)) for n in ("a", "b")}
    together = simulate_system(sysm, FALL, Instant(), CHECKED, per_market=beh, behaviour_stream=1)
    for n in ("a", "b"):
        alone = simulate_system(sysm, FALL, Instant(), CHECKED, only=[n], per_market=beh, behaviour_stream=1)[n]
        # the collateral is set at the oracle's price, which the other market's sales move
        for k in ("accounts_opened", "opened_debt_USDC"):
            assert alone.summary[k] == together[n].summary[k]
        assert alone.summary["opened_collateral_WETH"] != together[n].summary["opened_collateral_WETH"]
    # market k of M on path stream s draws stream s * M + k: b's openings are plan stream 3
    plan = plan_openings(opening(rate=0.5, slope=-5.0), b, FALL, seed=9, stream=3)
    assert together["b"].summary["accounts_opened"] == plan.block.shape[0]
    assert together["b"].summary["opened_debt_USDC"] == pytest.approx(plan.debt_usd.sum(), rel=1e-12)
