"""Threads (issue 14): two numba threads are never slower than one at any book size of the bench.

One static cascade (-30 % ETH and LSTs, the core benchmark's thin venues) on synthetic Aave v3
books of 1,000 to 1,000,000 accounts, timed on one and on two threads in alternation (so a
change in the machine's load hits both alike); the target is the ratio of the medians,
two threads / one thread <= 1.1 (the 10 % is timing noise: below ``liqcascade._jit.SERIAL_BELOW``
accounts both run on one thread, by design). The numbers are identical on both (asserted).
"""

from __future__ import annotations

import time

import numba
import numpy as np
import pytest

from test_bench_core import SHOCK, _model

from liqcascade.engine.static import StaticCascade
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.model.synthetic import synthetic_book

SIZES = (1_000, 10_000, 100_000, 1_000_000)
RATIO_LIMIT = 1.1


def alternate(run, rounds: int) -> dict[int, list[float]]:
    """Seconds of ``run()`` on 1 and 2 threads, ``rounds`` each, one thread count after the other."""
    times: dict[int, list[float]] = {1: [], 2: []}
    before = numba.get_num_threads()
    try:
        for _ in range(rounds):
            for threads in (1, 2):
                numba.set_num_threads(threads)
                t0 = time.perf_counter()
                run()
                times[threads].append(time.perf_counter() - t0)
    finally:
        numba.set_num_threads(before)
    return times


@pytest.mark.parametrize("n", SIZES)
def test_two_threads_never_slower(benchmark, record, target, n):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 (make bench sets 2)")
    snap = load_aave_reserve_config()
    solver = StaticCascade(_model(snap, synthetic_book(snap.params, snap.price_array, n_accounts=n, seed=11), False))
    ends = []
    for threads in (1, 2):  # compile, and the same numbers on both
        numba.set_num_threads(threads)
        out = solver.run(SHOCK)
        ends.append((out.prices_final.tobytes(), out.tallies.acct_repaid_usd.tobytes()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert ends[0] == ends[1]
    rounds = 7 if n >= 1_000_000 else 21
    times = benchmark.pedantic(alternate, args=(lambda: solver.run(SHOCK), rounds), rounds=1, iterations=1)
    one, two = float(np.median(times[1])), float(np.median(times[2]))
    benchmark.extra_info.update({"one_thread_s": one, "two_threads_s": two, "ratio": two / one})
    record(f"threads_static_{n}", benchmark, 2 * rounds * n)
    target.ratio_at_most(f"two threads / one thread, static cascade, {n:,} accounts "
                         f"({two * 1e3:.3g} ms / {one * 1e3:.3g} ms)", two / one, RATIO_LIMIT)


SIM_SIZES = (1_000, 10_000, 100_000)
SIM_BLOCKS = 600


@pytest.mark.parametrize("n", SIM_SIZES)
def test_two_threads_never_slower_block_by_block(benchmark, record, target, n):
    """The same for the block loop: 600 blocks of a crash (GBM with a hard drift, Chainlink
    oracle, one pool) on books of 1,000 to 100,000 accounts, one and two threads in turn."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 (make bench sets 2)")
    from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
    from liqcascade.engine.static import MarketModel
    from liqcascade.markets.cpmm import ConstantProductPool
    from liqcascade.markets.oracle import ChainlinkPush
    from liqcascade.protocols.aave_v3 import V3_3
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules
    from liqcascade.scenarios import gbm

    snap = load_aave_reserve_config()
    params, px = snap.params, snap.price_array
    weth = float(px[params.index("WETH")])
    model = MarketModel(synthetic_book(params, px, n_accounts=n, seed=6), AaveV3Rules(params, V3_3), px,
                        {"WETH": ConstantProductPool.from_price_depth("WETH", weth, 100e6)})
    path = gbm({"WETH": weth}, {"WETH": 1.2}, [[1.0]], SIM_BLOCKS, seed=2, drift=-150.0)
    settings = SimSettings(Liquidators(liquidations_per_block=50, gas_gwei=30), Dynamics(600, 0.5))

    def run():
        return simulate(model, path, ChainlinkPush(0.005, 3600), settings)

    events = []
    for threads in (1, 2):  # compile, and the same events on both
        numba.set_num_threads(threads)
        events.append(run().table("events"))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert events[0].equals(events[1]) and len(events[0]) > 0
    times = benchmark.pedantic(alternate, args=(run, 5), rounds=1, iterations=1)
    one, two = float(np.median(times[1])), float(np.median(times[2]))
    benchmark.extra_info.update({"one_thread_s": one, "two_threads_s": two, "ratio": two / one})
    record(f"threads_simulate_{n}", benchmark, 2 * 5 * n * SIM_BLOCKS)
    target.ratio_at_most(f"two threads / one thread, block by block, {n:,} accounts x {SIM_BLOCKS} blocks "
                         f"({two * 1e3:.3g} ms / {one * 1e3:.3g} ms)", two / one, RATIO_LIMIT)
