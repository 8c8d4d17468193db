"""The block-by-block system of markets: the one-market identity, composition invariance
in time, conservation per market and for the system, and one liquidator population
shared across markets (hand case)."""

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import simulate_system
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush, Instant
from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm, instant_shock

from .conftest import PARAMS, PRICES, book
from .test_dynamic import UNBOUNDED, random_book


def pool(depth=2e6):
    return ConstantProductPool.from_price_depth("WETH", 2000.0, depth)


def market(b, version=V3_3, venues=None):
    return MarketModel(b, AaveV3Rules(PARAMS, version), PRICES, {} if venues is None else venues)


def system(markets, venues=None):
    return SystemModel(PARAMS.symbols, PRICES, markets, {"WETH": pool()} if venues is None else venues)


def _gbm(seed, n=400):
    return gbm({"WETH": 2000.0}, {"WETH": 1.2}, [[1.0]], n_blocks=n, seed=seed, drift=-3.0)


SETTINGS = [
    SimSettings(Liquidators(liquidations_per_block=3, gas_gwei=30.0), Dynamics(600.0, 0.5), check_conservation=True),
    SimSettings(Liquidators(capital_usd=30_000, latency_blocks=2, spread_blocks=3, min_profit_usd=5.0)),
    SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf)),
]


@pytest.mark.parametrize("settings", SETTINGS)
def test_one_market_system_is_the_single_market_simulation_bit_for_bit(one_numba_thread, settings):
    # same order of operations: ranking, sale grid, one sale per asset, proceeds * (x / x = 1)
    b = random_book(n=300, seed=3)
    alone = simulate(market(b, venues={"WETH": pool()}), _gbm(5), ChainlinkPush(0.005, 3600), settings)
    out = simulate_system(system({"m": market(b)}), _gbm(5), ChainlinkPush(0.005, 3600), settings)["m"]
    assert alone.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "assets", "summary"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)
