"""Threads of the numba kernels (``liqcascade._jit``): a passive wait policy set before numba's
OpenMP runtime starts (unless the user chose one), one thread for small work, and the same
numbers on any thread count."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from liqcascade import _jit

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_quiet_threads_sets_passive_unless_the_user_chose():
    env: dict[str, str] = {}
    assert _jit.quiet_threads(env) is True
    assert env == {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}
    for name in _jit.WAIT_POLICY_ENV:
        mine = {name: "7"}
        assert _jit.quiet_threads(mine) is False
        assert mine == {name: "7"}  # nothing added, nothing overridden


def test_work_argument_follows_the_kernels_names():
    def sweep(version, policy, upto, offsets): ...
    def health_pass(accounts, offsets): ...
    def health_all(offsets, asset): ...
    def gather_rows(rows, asset): ...
    def sweep_rows(upto, offsets, rows): ...
    def other(x): ...

    assert _jit.work_argument(gather_rows) == (0, 0)
    assert _jit.work_argument(sweep_rows) == (0, 0)  # the accounts' bound first
    assert _jit.work_argument(sweep) == (2, 0)
    assert _jit.work_argument(health_pass) == (0, 0)
    assert _jit.work_argument(health_all) == (0, 1)
    assert _jit.work_argument(other) == (-1, 0)


def test_small_work_runs_on_one_thread(monkeypatch):
    numba = pytest.importorskip("numba")
    if not _jit.jit_enabled() or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs the JIT and at least 2 numba threads")
    seen = []
    k = _jit.SizedKernel(lambda upto, offsets: seen.append(numba.get_num_threads()), 0, 0)
    numba.set_num_threads(2)
    monkeypatch.setattr(_jit, "SERIAL_BELOW", 100)
    k(99, None)
    k(100, None)
    k(np.int64(5), None)
    assert seen == [1, 2, 1]
    assert numba.get_num_threads() == 2  # restored
    offs = _jit.SizedKernel(lambda offsets: seen.append(numba.get_num_threads()), 0, 1)
    offs(np.zeros(100))  # 99 accounts
    offs(np.zeros(101))
    assert seen[-2:] == [1, 2]


def _omp_env(extra: dict[str, str]) -> str:
    """stderr of a process that runs one parallel kernel with ``OMP_DISPLAY_ENV=VERBOSE`` (the
    OpenMP runtime prints its settings when it starts; GNU's shows ``OMP_WAIT_POLICY =
    'PASSIVE'`` even when unset, so the spin count is what tells)."""
    code = (
        "import numpy as np\n"
        "from liqcascade.protocols.aave_v3 import kernels as k\n"
        "import numba\n"
        "o = np.array([0, 1], dtype=np.int64)\n"
        "k.health_all(o, np.zeros(1, dtype=np.int32), np.ones(1), np.zeros(1), np.ones(1), np.ones(1), np.zeros(1))\n"
        "print(numba.threading_layer())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in _jit.WAIT_POLICY_ENV}
    env.update({"PYTHONPATH": SRC, "NUMBA_NUM_THREADS": "2", "OMP_DISPLAY_ENV": "VERBOSE", **extra})
    env.pop(_jit.DISABLE_JIT_ENV, None)
    # SERIAL_BELOW would keep one account on one thread: the runtime starts all the same
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    if p.stdout.strip() != "omp":
        pytest.skip(f"numba's threading layer here is {p.stdout.strip()!r}, not OpenMP")
    return p.stderr


@pytest.mark.slow
def test_the_openmp_runtime_starts_passive():
    err = _omp_env({})
    if "GOMP_SPINCOUNT" not in err:
        pytest.skip("not GNU OpenMP: its spin count is not displayed")
    # a spin count of 0: a waiting thread sleeps at once (the default, unset, is 300000 spins)
    assert "GOMP_SPINCOUNT = '0'" in err, err


@pytest.mark.slow
def test_a_users_wait_policy_is_kept():
    err = _omp_env({"OMP_WAIT_POLICY": "ACTIVE"})
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in err, err
    if "GOMP_SPINCOUNT" in err:
        assert "GOMP_SPINCOUNT = '0'" not in err, err


def test_a_system_gives_the_same_numbers_on_one_and_two_threads(monkeypatch):
    """Every parallel kernel of a system cascade (Aave and the generic mechanism sweep, Morpho
    Blue) on one and on two threads, every call parallel: bit-identical."""
    numba = pytest.importorskip("numba")
    if not _jit.jit_enabled() or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs the JIT and at least 2 numba threads")
    from liqcascade.engine.static import MarketModel
    from liqcascade.engine.system import SystemCascade, SystemModel
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.markets.cpmm import ConstantProductPool
    from liqcascade.model.synthetic import Archetype, synthetic_book
    from liqcascade.protocols.aave_v3 import V3_3
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules
    from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

    monkeypatch.setattr(_jit, "SERIAL_BELOW", 0)
    snap = load_aave_reserve_config()
    params, px = snap.params, snap.price_array
    pair = Archetype("WETH_USDC", 1.0, {"WETH": 1.0}, {"USDC": 1.0})
    morpho = synthetic_book(params, px, n_accounts=3_000, seed=5, archetypes=(pair,), n_collateral_probs=(1.0,),
                            n_debt_probs=(1.0,))
    markets = {"aave": MarketModel(synthetic_book(params, px, n_accounts=3_000, seed=4), AaveV3Rules(params, V3_3), px),
               "morpho": MarketModel(morpho, MorphoBlueRules(params), px)}
    weth = float(px[params.index("WETH")])
    system = SystemModel(params.symbols, px, markets, {"WETH": ConstantProductPool.from_price_depth("WETH", weth, 2e6)})
    ends = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = SystemCascade(system).run({"WETH": 0.3, "wstETH": 0.3})
            ends.append([out.trace.prices_final.tobytes()] + [
                b for o in out.markets.values()
                for b in (o.arrays.coll.tobytes(), o.arrays.debt.tobytes(), o.tallies.acct_seized_usd.tobytes())])
    finally:
        numba.set_num_threads(before)
    assert ends[0] == ends[1]
    assert out.trace.rounds > 1 and all((o.tallies.acct_calls > 0).any() for o in out.markets.values())


def test_a_simulation_gives_the_same_numbers_on_one_and_two_threads(monkeypatch):
    """The block loop (its candidates' health pass and liquidation kernels) on one and on two
    threads, every parallel call parallel: the same tables, bit for bit."""
    numba = pytest.importorskip("numba")
    if not _jit.jit_enabled() or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs the JIT and at least 2 numba threads")
    from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
    from liqcascade.engine.static import MarketModel
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.markets.cpmm import ConstantProductPool
    from liqcascade.markets.oracle import ChainlinkPush
    from liqcascade.model.synthetic import synthetic_book
    from liqcascade.protocols.aave_v3 import V3_3
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules
    from liqcascade.scenarios import gbm

    monkeypatch.setattr(_jit, "SERIAL_BELOW", 0)
    snap = load_aave_reserve_config()
    params, px = snap.params, snap.price_array
    weth = float(px[params.index("WETH")])
    model = MarketModel(synthetic_book(params, px, n_accounts=4_000, seed=6), AaveV3Rules(params, V3_3), px,
                        {"WETH": ConstantProductPool.from_price_depth("WETH", weth, 5e6)})
    path = gbm({"WETH": weth}, {"WETH": 1.5}, [[1.0]], 300, seed=4, drift=-200.0)
    settings = SimSettings(Liquidators(liquidations_per_block=30, gas_gwei=30), Dynamics(600, 0.5))
    tables = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            res = simulate(model, path, ChainlinkPush(0.005, 3600), settings)
            tables.append({name: res.table(name) for name in ("steps", "events")})
    finally:
        numba.set_num_threads(before)
    assert len(tables[0]["events"]) > 30  # liquidations in several blocks: the kernels ran
    for name in ("steps", "events"):
        assert tables[0][name].equals(tables[1][name]), name
