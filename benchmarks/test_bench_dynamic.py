"""Simulation speed target (issue: time): 100k accounts x 7,200 blocks (one day of 12 s
blocks) < 30 s on 2 cores, and >= 5x a naive per-account, per-block Python loop on a
smaller book (the ratio is per account-block); judged by ``judge.py``."""

from __future__ import annotations

import time

import numpy as np
import pytest
from judge import judge_speedup

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush
from liqcascade.model.synthetic import synthetic_book
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm

N_ACCOUNTS = 100_000
N_BLOCKS = 7_200
N_NAIVE_ACCOUNTS = 2_000
N_NAIVE_BLOCKS = 600


@pytest.fixture(scope="module")
def market():
    snap = load_aave_reserve_config()
    params, prices = snap.params, snap.price_array
    book = synthetic_book(params, prices, n_accounts=N_ACCOUNTS, seed=5)
    px = {s: float(prices[params.index(s)]) for s in params.symbols}
    venues = {
        "WETH": ConstantProductPool.from_price_depth("WETH", px["WETH"], 100e6),
        "wstETH": ConstantProductPool.from_price_depth("wstETH", px["wstETH"], 60e6),
        "WBTC": ConstantProductPool.from_price_depth("WBTC", px["WBTC"], 60e6),
    }
    model = MarketModel(book, AaveV3Rules(params, V3_3), prices, venues)
    start = {a: px[a] for a in ("WETH", "wstETH", "WBTC")}
    corr = [[1.0, 0.95, 0.7], [0.95, 1.0, 0.7], [0.7, 0.7, 1.0]]
    # a bad day: 120 % annualised volatility and a -40 %/day-equivalent drift
    path = gbm(start, {"WETH": 1.2, "wstETH": 1.2, "WBTC": 0.9}, corr, N_BLOCKS, seed=2, drift=-150.0)
    return model, path


def test_simulate_100k_accounts_one_day(benchmark, market, record, target):
    model, path = market
    settings = SimSettings(Liquidators(liquidations_per_block=50, gas_gwei=30), Dynamics(600, 0.5))
    simulate(model, path.slice(0, 50), ChainlinkPush(0.005, 3600), settings)  # compile
    res = benchmark.pedantic(simulate, args=(model, path, ChainlinkPush(0.005, 3600), settings), rounds=1, iterations=1)
    record("simulate_100k_x_7200", benchmark, N_ACCOUNTS * N_BLOCKS)
    benchmark.extra_info["accounts_liquidated"] = res.summary["accounts_liquidated"]
    assert res.summary["accounts_liquidated"] > 0
    target.at_most("simulation, 100k accounts x 7,200 blocks", benchmark.stats.stats.median, 30.0)


def naive_simulation(accounts, prices, lt, bonus, threshold=0.005, heartbeat=300):
    """Baseline: one dict per account, every account checked every block against a
    Chainlink-style oracle, one collateral and one debt each."""
    oracle = prices[0]
    last_t = 0
    liquidated = 0
    for t, p in enumerate(prices):
        if abs(p / oracle - 1) >= threshold or t - last_t >= heartbeat:
            oracle, last_t = p, t
        for acc in accounts:
            if acc["debt"] <= 0:
                continue
            hf = acc["coll"] * oracle * lt / acc["debt"]
            if hf < 1:
                cover = acc["debt"] * (0.5 if hf > 0.95 else 1.0)
                seize = min(acc["coll"], cover * (1 + bonus) / oracle)
                acc["coll"] -= seize
                acc["debt"] -= seize * oracle / (1 + bonus)
                liquidated += 1
    return liquidated


def test_simulate_naive_python(benchmark, market, record, target):
    model, path = market
    rng = np.random.default_rng(1)
    coll = rng.lognormal(1, 1.5, N_NAIVE_ACCOUNTS)
    debt = coll * 1800 * 0.83 / (1 + rng.beta(1.2, 5, N_NAIVE_ACCOUNTS))
    prices = path["WETH"][:N_NAIVE_BLOCKS].tolist()

    def run():
        accounts = [{"coll": c, "debt": d} for c, d in zip(coll.tolist(), debt.tolist())]
        return naive_simulation(accounts, prices, 0.83, 0.05)

    benchmark.pedantic(run, rounds=2, iterations=1)
    record("simulate_naive_python", benchmark, N_NAIVE_ACCOUNTS * N_NAIVE_BLOCKS)
    judge_speedup(target, "simulation per account-block", "simulate_100k_x_7200", "simulate_naive_python", 5.0)


QUIET_BLOCKS = 2_000
QUIET_NS_PER_ACCOUNT = 50.0


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_quiet_block_cost(benchmark, record, target, n):
    """Issue 14: a block in which nothing happens (no account eligible, nothing to sell) costs
    <= 50 ns per account of the book. The ETH/DAI book of the defi-abm comparison on a calm path
    (1 % annualised volatility: the oracle never moves by its 0.5 % deviation, no account comes
    near liquidation); the cost of a block is the time of 2,000 blocks less that of 20 (the run's
    set-up and result tables), over 1,980."""
    from test_bench_defi_abm import shared_scenario

    model, path, _ = shared_scenario(n, QUIET_BLOCKS)
    path = gbm({"WETH": float(path["WETH"][0])}, {"WETH": 0.01}, [[1.0]], QUIET_BLOCKS, seed=3)
    settings = SimSettings(Liquidators(liquidations_per_block=n, gas_gwei=30), Dynamics(600, 0.5))
    oracle = ChainlinkPush(0.005, 3600)
    short = path.slice(0, 20)
    res = simulate(model, path, oracle, settings)  # compile, and check the blocks are quiet
    assert int(res.table("steps")["eligible_accounts"].max()) == 0 and res.summary["accounts_liquidated"] == 0

    def pair() -> tuple[float, float]:
        t0 = time.perf_counter()
        simulate(model, short, oracle, settings)
        t1 = time.perf_counter()
        simulate(model, path, oracle, settings)
        return t1 - t0, time.perf_counter() - t1

    times = benchmark.pedantic(lambda: [pair() for _ in range(5)], rounds=1, iterations=1)
    per_block = float(np.median([(full - head) / (QUIET_BLOCKS - 20) for head, full in times]))
    benchmark.extra_info.update({"per_block_s": per_block, "per_account_ns": per_block / n * 1e9})
    record(f"quiet_block_{n}", benchmark, 5 * n * QUIET_BLOCKS)
    target.at_most(f"quiet block, {n:,} accounts ({per_block * 1e6:,.1f} us a block, {per_block / n * 1e9:.1f} ns "
                   "an account)", per_block, QUIET_NS_PER_ACCOUNT * 1e-9 * n)
