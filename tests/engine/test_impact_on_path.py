"""impact_on_path: with "none" the path stays the market (sales get slippage, no price move is
kept); "full" is today's behaviour; "none" is refused with venues that carry depth on."""

import math

import numpy as np
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)


def run(mode):
    rows = [(k, "WETH", 10.0, 0.0) for k in range(20)] + [(k, "USDC", 0.0, 16000.0 + 100 * k) for k in range(20)]
    m = MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES,
                    {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 1e6)})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=20)
    settings = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=600, permanent_fraction=0.5, impact_on_path=mode),
                           check_conservation=True)
    return path, simulate(m, path, Instant(), settings)


def test_none_keeps_the_path_as_the_market():
    path, res = run("none")
    w = res["steps"].query("asset == 'WETH'")
    assert res.summary["accounts_liquidated"] > 0
    np.testing.assert_array_equal(w["reference_price"].to_numpy(), path.prices[:, 0])
    # the oracle reads the pool re-centred on the path: its mid to float rounding
    np.testing.assert_allclose(w["oracle_price"].to_numpy(), path.prices[:, 0], rtol=1e-14)
    # the sales' proceeds are the pool's: below the path price times the amount
    a = res["assets"].set_index("asset").loc["WETH"]
    assert a["proceeds"] < a["sold"] * 1800.0


def test_full_moves_the_reference_below_the_path():
    path, res = run("full")
    w = res["steps"].query("asset == 'WETH'")
    assert w["reference_price"].min() < path.prices[:, 0].min()


def test_none_is_refused_with_depth_that_refills():
    with pytest.raises(ConfigError, match="impact_on_path"):
        Dynamics(depth_half_life_s=300.0, impact_on_path="none")


def run_excess(baseline):
    rows = [(k, "WETH", 10.0, 0.0) for k in range(20)] + [(k, "USDC", 0.0, 16000.0 + 100 * k) for k in range(20)]
    m = MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES,
                    {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 1e6)})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=20)
    settings = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=600, permanent_fraction=0.5,
                                               impact_on_path="excess"), check_conservation=True)
    return simulate(m, path, Instant(), settings, impact_baseline={"WETH": baseline})


def test_excess_between_none_and_full():
    """A baseline covering every sale is "none"; an empty one is "full"; half of the first
    block's sales lands between them."""
    _, none = run("none")
    _, full = run("full")
    sold = float(none["assets"].set_index("asset").loc["WETH", "sold"])
    ref = lambda r: r["steps"].query("asset == 'WETH'")["reference_price"].to_numpy()  # noqa: E731
    big = np.zeros(20)
    big[0] = 2 * sold  # available from the first block on, more than is ever sold
    np.testing.assert_array_equal(ref(run_excess(big)), ref(none))
    np.testing.assert_array_equal(ref(run_excess(np.zeros(20))), ref(full))
    half = np.zeros(20)
    half[0] = 0.5 * sold
    mid = ref(run_excess(half))
    assert ref(full).min() < mid.min() < ref(none).min()


def test_excess_needs_a_baseline():
    rows = [("a", "WETH", 1.0, 0.0)]
    m = MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES, {})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, n_blocks=3)
    with pytest.raises(ConfigError, match="impact_baseline"):
        simulate(m, path, Instant(), SimSettings(dynamics=Dynamics(impact_on_path="excess")))
