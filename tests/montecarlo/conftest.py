"""A tiny Monte Carlo scenario (200 accounts, 30 blocks of 5 minutes, a violent GBM) shared by
the runner, store and CLI tests, written into each test's own directory."""

from __future__ import annotations

from pathlib import Path

import pytest

TINY = """
name = "tiny-montecarlo"

[market]
protocol = "aave_v3"
version = "3.3-3.4"

[positions]
source = "synthetic"
n_accounts = 200
seed = 3

[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 2e6

[[venues]]
kind = "cpmm"
asset = "WBTC"
reserve_usd = 2e6

[simulation]
path = "shock"
drive = { ETH = ["WETH", "wstETH"], BTC = ["WBTC"] }

[simulation.oracle]
kind = "instant"

[simulation.liquidators]
liquidations_per_block = 20
gas_gwei = 0

[simulation.dynamics]
permanent_fraction = 0.5

[montecarlo]
blocks = 30
block_seconds = 300
seed = 11
vol = { ETH = 3.0, BTC = 2.5 }
corr = [[1.0, 0.8], [0.8, 1.0]]
reserves_usd = 1000.0

[montecarlo.jumps]
intensity = 2000
mean = { ETH = -0.04, BTC = -0.03 }
std = { ETH = 0.02, BTC = 0.02 }
"""


@pytest.fixture(autouse=True)
def one_numba_thread():
    """The tiny books here call the parallel kernels on a few accounts, where thread start-up
    is all the cost (and on a loaded machine far more than the work): run them on one
    thread, as every Monte Carlo worker does. Results do not depend on it."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def write_scenario(folder: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    p = folder / name
    p.write_text(text)
    return p


@pytest.fixture
def tiny(tmp_path) -> Path:
    """Path of the tiny scenario file."""
    return write_scenario(tmp_path)
