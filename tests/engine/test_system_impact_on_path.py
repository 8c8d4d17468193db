"""impact_on_path in a system of markets: "none" keeps the shared venues on the path, as the
single-market engine does (the system engine used to keep every sale's impact whatever the
setting, so a system replay's market and reference prices drifted from its path)."""

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import Dynamics, SimSettings, simulate
from liqcascade.engine.system_dynamic import simulate_system
from liqcascade.errors import ConfigError
from liqcascade.markets.oracle import Instant
from liqcascade.scenarios import instant_shock

from .test_dynamic import UNBOUNDED, random_book
from .test_system_dynamic import market, pool, system


def _settings(mode):
    return SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=600.0, permanent_fraction=0.5, impact_on_path=mode),
                       check_conservation=True)


def _path():
    return instant_shock({"WETH": 2000.0}, {"WETH": -0.25}, n_blocks=30)


def test_none_keeps_market_and_reference_on_the_path(one_numba_thread):
    b = random_book(n=300, seed=3)
    path = _path()
    out = simulate_system(system({"a": market(b), "b": market(random_book(n=200, seed=4))}), path, Instant(),
                          _settings("none"))
    for name in ("a", "b"):
        w = out[name]["steps"].query("asset == 'WETH'")
        assert out[name].summary["accounts_liquidated"] > 0  # there were sales to move the price
        np.testing.assert_array_equal(w["reference_price"].to_numpy(), path.prices[:, 0])
        np.testing.assert_allclose(w["market_price"].to_numpy(), path.prices[:, 0], rtol=1e-14)


def test_full_moves_the_shared_market_below_the_path(one_numba_thread):
    path = _path()
    out = simulate_system(system({"a": market(random_book(n=300, seed=3))}), path, Instant(), _settings("full"))
    w = out["a"]["steps"].query("asset == 'WETH'")
    assert w["market_price"].min() < path.prices[:, 0].min()


def test_one_market_system_under_none_is_the_single_market_simulation(one_numba_thread):
    b = random_book(n=300, seed=3)
    alone = simulate(market(b, venues={"WETH": pool()}), _path(), Instant(), _settings("none"))
    out = simulate_system(system({"m": market(b)}), _path(), Instant(), _settings("none"))["m"]
    assert alone.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "assets"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)


def test_excess_is_refused_in_a_system():
    with pytest.raises(ConfigError, match="impact_on_path"):
        simulate_system(system({"a": market(random_book(n=20, seed=3))}), _path(), Instant(), _settings("excess"))
