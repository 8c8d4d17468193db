"""Quiet blocks skipped as a whole (engine/dynamic/quiet.py): the same tables, bit for bit,
as the block-by-block loop, and the oracle's count of its quiet blocks."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, loop, quiet, simulate
from liqcascade.markets.oracle import ChainlinkPush
from liqcascade.scenarios import gbm

from .test_dynamic import UNBOUNDED, model, random_book


def assert_same_result(a, b) -> None:
    """Every table of the two results equal, value for value (NaN where NaN)."""
    assert sorted(a.tables) == sorted(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True, obj=name)


def both(m, path, oracle, sim: SimSettings, **kw):
    on = simulate(m, path, oracle, dataclasses.replace(sim, skip_quiet_blocks=True), **kw)
    off = simulate(m, path, oracle, dataclasses.replace(sim, skip_quiet_blocks=False), **kw)
    return on, off


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    vol=st.sampled_from([0.02, 0.3, 1.5]),
    drift=st.sampled_from([0.0, -30.0]),
    deviation=st.sampled_from([0.0, 0.002, 0.005, 0.02, math.inf]),
    heartbeat=st.sampled_from([60.0, 3600.0, math.inf]),
    depth=st.sampled_from([2e5, 2e6]),
    venues=st.booleans(),
    spread=st.sampled_from([1, 3]),
    latency=st.sampled_from([0, 2]),
    phi=st.sampled_from([0.0, 0.5, 1.0]),
    gas=st.booleans(),
)
def test_skipping_is_exact(one_numba_thread, seed, vol, drift, deviation, heartbeat, depth, venues, spread, latency,
                           phi, gas):
    """Random books, paths and oracles: skipping quiet blocks on and off give the same tables
    (the liquidations, the records of every block, the summary)."""
    m = model(random_book(120, seed), depth=depth, venues=venues)
    path = gbm({"WETH": 2000.0}, {"WETH": vol}, [[1.0]], 160, seed=seed, drift=drift)
    if gas:
        path = path.with_gas(np.random.default_rng(seed).uniform(5, 50, 160))
    sim = SimSettings(Liquidators(gas_gwei=30, spread_blocks=spread, latency_blocks=latency),
                      Dynamics(600, phi), check_conservation=True)
    ends = []
    real = loop.build_result
    loop.build_result = lambda run, state, *rest: (ends.append(state.ostate.block), real(run, state, *rest))[1]
    try:
        on, off = both(m, path, ChainlinkPush(deviation, heartbeat), sim)
    finally:
        loop.build_result = real
    assert_same_result(on, off)
    # the oracle's clock: one step per block after block 0, skipped or not
    assert ends == [159, 159]


def test_crash_then_calm_skips_and_matches(one_numba_thread, monkeypatch):
    """A path that falls 30 % in its first 20 blocks (liquidations; their sales) and is flat
    after: the tables are the same, and a block runs on its own only when it is not quiet: a
    block whose oracle price differs from the block before (the feed opened a round: the
    venue recovering from the sales' impact, the heartbeat), or one right after a block with a
    liquidation (its sales), or block 0. Every other block of the 900 is skipped over."""
    m = model(random_book(300, 1))
    prices = np.concatenate([np.linspace(2000.0, 1400.0, 20), np.full(880, 1400.0)])
    path = gbm({"WETH": 2000.0}, {"WETH": 0.0}, [[1.0]], 900, seed=0)
    path = dataclasses.replace(path, prices=prices[:, None])
    sim = SimSettings(UNBOUNDED, Dynamics(600, 0.5))
    ran = []
    real = loop.run_block
    primed = []
    monkeypatch.setattr(loop, "run_block", lambda run, s, b, p=None: (ran.append(b), primed.append(p is not None),
                                                                      real(run, s, b, p)))
    on = simulate(m, path, ChainlinkPush(0.005, 3600), sim)
    alone = list(ran)
    # some blocks that were not quiet reuse the prices their attempt computed (and match: below)
    assert any(primed)
    off = simulate(m, path, ChainlinkPush(0.005, 3600), dataclasses.replace(sim, skip_quiet_blocks=False))
    assert_same_result(on, off)
    steps = on.table("steps").query("asset == 'WETH'").reset_index(drop=True)
    assert on.summary["accounts_liquidated"] > 0
    oracle_moved = np.flatnonzero(np.diff(steps["oracle_price"].to_numpy()) != 0) + 1
    after_liquidation = np.flatnonzero(steps["accounts_liquidated"].to_numpy() > 0) + 1
    expected = sorted({0, *oracle_moved.tolist(), *after_liquidation.tolist()} - {900})
    # the heartbeat's rounds at the same price do not move the oracle price: skipped runs end
    # there too, so those blocks (every 300 blocks of 12 s) run alone as well
    heartbeat = [b for b in alone if b not in expected]
    assert set(expected) <= set(alone)
    assert len(heartbeat) <= 3 and len(alone) < 900 // 4


def test_unprofitable_candidates_stay_quiet(one_numba_thread, monkeypatch):
    """After a crash some accounts stay eligible but below the profit floor (gas at 30 gwei,
    min_profit_usd 0): the blocks after it are still skipped over while no one would take
    them, with the same tables (their counts of eligible and unprofitable accounts included)."""
    m = model(random_book(300, 1))
    prices = np.concatenate([np.linspace(2000.0, 1400.0, 20), np.full(880, 1400.0)])
    path = gbm({"WETH": 2000.0}, {"WETH": 0.0}, [[1.0]], 900, seed=0)
    path = dataclasses.replace(path, prices=prices[:, None])
    sim = SimSettings(Liquidators(gas_gwei=30, latency_blocks=2), Dynamics(600, 0.5))
    ran = []
    real = loop.run_block
    monkeypatch.setattr(loop, "run_block", lambda run, s, b, p=None: (ran.append(b), real(run, s, b, p)))
    on = simulate(m, path, ChainlinkPush(0.005, 3600), sim)
    alone = len(ran)
    off = simulate(m, path, ChainlinkPush(0.005, 3600), dataclasses.replace(sim, skip_quiet_blocks=False))
    assert_same_result(on, off)
    steps = on.table("steps").query("asset == 'WETH'")
    assert (steps["eligible_accounts"].iloc[-300:] > 0).all()
    assert (steps["left_unprofitable"].iloc[-300:] == steps["eligible_accounts"].iloc[-300:]).all()
    assert alone < 900 // 4


def test_off_runs_every_block(monkeypatch):
    """skip_quiet_blocks=False takes the block-by-block path for every block."""
    m = model(random_book(50, 2))
    path = gbm({"WETH": 2000.0}, {"WETH": 0.01}, [[1.0]], 40, seed=1)
    calls = []
    monkeypatch.setattr(quiet, "advance", lambda *a: calls.append(a) or 0)
    simulate(m, path, ChainlinkPush(0.005, 3600), SimSettings(skip_quiet_blocks=False))
    assert calls == []
    simulate(m, path, ChainlinkPush(0.005, 3600), SimSettings())
    assert len(calls) == 40


def test_chainlink_quiet_blocks_by_hand():
    """Answer 100 at t=0, deviation 1 %, heartbeat 60 s, 12 s blocks: 100.5 and 99.2 open no
    round; 101.0 deviates by exactly 1 % and opens one (>=): two quiet blocks. Times alone:
    the heartbeat opens a round at t=60, so from t=12 four blocks are quiet."""
    o = ChainlinkPush(0.01, 60.0)
    s0 = o.init(np.array([100.0]), 0)
    market = np.array([[100.5], [99.2], [101.0], [100.0]])
    n, s = o.quiet_blocks(s0, np.array([12, 24, 36, 48]), market)
    assert n == 2
    # the state is what step gives block by block
    s_step = s0
    for t, m in zip([12, 24], market[:2]):
        s_step, _ = o.step(s_step, t, m)
    for f in s0._fields:
        assert np.array_equal(getattr(s, f), getattr(s_step, f)), f
    n, _ = o.quiet_blocks(s0, np.array([12, 24, 36, 48, 60, 72]), np.full((6, 1), 100.0))
    assert n == 4


def test_chainlink_quiet_blocks_with_delay_is_zero():
    """A feed with a delay has rounds in flight that land on their own: no quiet count."""
    o = ChainlinkPush(0.01, 3600.0, delay_blocks=2)
    s0 = o.init(np.array([100.0]), 0)
    assert o.quiet_blocks(s0, np.array([12, 24]), np.full((2, 1), 100.0))[0] == 0


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0])
def test_chainlink_quiet_blocks_stop_before_a_bad_price(bad):
    """A price step rejects ends the count before it (step raises there, as before)."""
    o = ChainlinkPush(0.01, 3600.0)
    s0 = o.init(np.array([100.0]), 0)
    assert o.quiet_blocks(s0, np.array([12, 24, 36]), np.array([[100.0], [bad], [100.0]]))[0] == 1
