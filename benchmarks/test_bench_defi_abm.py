"""liqcascade against defi-abm (issue 14): per account-step, on one ETH/DAI book and price path,
>= 20x at 1,000 accounts and >= 100x at 10,000, measured side by side in this run.

defi-abm (github.com/auralshin/defi-abm, a Mesa agent model: one agent per loan, every agent
stepped every tick) is not on PyPI: it runs from its own virtualenv, whose Python
``LIQCASCADE_DEFI_ABM_PYTHON`` names (docs/benchmarks.md says how to make it); without it the
benchmark is skipped and docs/benchmarks.md's recorded figure stands. The shared scenario: the
same accounts (ETH collateral, DAI debt, each at its own loan-to-value), WETH's Aave v3
liquidation threshold as defi-abm's collateral factor and its bonus as the penalty, one ETH/DAI
constant-product pool of the same depth, and one GBM path of WETH, one price per block (step).
defi-abm's time excludes building its model; liqcascade's is the whole ``simulate`` call.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush
from liqcascade.model.book import PositionBook
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm

PYTHON_ENV = "LIQCASCADE_DEFI_ABM_PYTHON"
DRIVER = Path(__file__).with_name("defi_abm_step.py")
POOL_USD = 100e6  # per side
CASES = {1_000: (300, 20.0), 10_000: (100, 100.0)}  # accounts: (steps, speed-up floor)


def shared_scenario(n: int, steps: int):
    """The liqcascade model and path, and defi-abm's input, of one ETH/DAI book."""
    snap = load_aave_reserve_config()
    params, prices = snap.params, snap.price_array
    weth, dai = params.index("WETH"), params.index("DAI")
    rng = np.random.default_rng(n)
    eth = rng.lognormal(0.0, 1.0, n)
    ltv = rng.uniform(0.4, 0.7, n)  # below WETH's threshold (0.83): healthy at the start
    debt_dai = eth * prices[weth] * ltv / prices[dai]
    ids = np.repeat(np.arange(n), 2)
    book = PositionBook.from_rows(ids, np.tile([weth, dai], n), np.column_stack([eth, 0 * eth]).ravel(),
                                  np.column_stack([0 * eth, debt_dai]).ravel(), params.symbols)
    pool = ConstantProductPool.from_price_depth("WETH", float(prices[weth]), POOL_USD)
    model = MarketModel(book, AaveV3Rules(params, V3_3), prices, {"WETH": pool})
    path = gbm({"WETH": float(prices[weth])}, {"WETH": 0.8}, [[1.0]], steps, seed=3, drift=-20.0)
    lt, bonus = float(params.liquidation_threshold[weth]), float(params.liquidation_bonus[weth])
    spec = {"collateral": eth.tolist(), "ltv": ltv.tolist(), "collateral_factor": lt, "penalty": bonus,
            "reserve_eth": POOL_USD / float(prices[weth]), "reserve_dai": POOL_USD / float(prices[dai]),
            "prices": path["WETH"].tolist(), "seed": 1}
    return model, path, spec


def defi_abm_seconds(python: str, spec: dict, tmp: Path) -> dict:
    f = tmp / "spec.json"
    f.write_text(json.dumps(spec))
    p = subprocess.run([python, str(DRIVER), str(f)], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("n", sorted(CASES))
def test_against_defi_abm(benchmark, record, target, tmp_path, n):
    python = os.environ.get(PYTHON_ENV, "").strip()
    if not python:
        pytest.skip(f"defi-abm not available: set {PYTHON_ENV} to its virtualenv's python (docs/benchmarks.md)")
    steps, floor = CASES[n]
    model, path, spec = shared_scenario(n, steps + 1)
    settings = SimSettings(Liquidators(liquidations_per_block=n, gas_gwei=30), Dynamics(600, 0.5))
    simulate(model, path.slice(0, 20), ChainlinkPush(0.005, 3600), settings)  # compile
    abm = defi_abm_seconds(python, spec, tmp_path)
    benchmark.pedantic(simulate, args=(model, path, ChainlinkPush(0.005, 3600), settings), rounds=5, iterations=1)
    ours = benchmark.stats.stats.median / (n * (steps + 1))
    theirs = abm["seconds"] / (abm["accounts"] * abm["steps"])
    benchmark.extra_info.update({"defi_abm_s_per_account_step": theirs, "liqcascade_s_per_account_step": ours})
    record(f"defi_abm_comparison_{n}", benchmark, n * (steps + 1))
    target.speedup_at_least(f"per account-step vs defi-abm, {n:,} accounts ({theirs * 1e9:,.0f} ns / "
                            f"{ours * 1e9:,.1f} ns)", theirs / ours, floor, "defi-abm")
