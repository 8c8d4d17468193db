"""Small system scenarios ([[markets]]) for the Monte Carlo, sweep and calibration tests of
systems, written into each test's own directory.

- :data:`TWO`: the tiny Monte Carlo scenario of ``tests/montecarlo/conftest.py`` (a violent GBM
  with jumps over 30 blocks of 5 minutes) with two markets, Aave v3 and Morpho Blue, selling
  WETH and WBTC into two shared pools.
- :func:`one_market_system`: that tiny single-market scenario as a ``[[markets]]`` file of its
  one market (same keys), whose numbers must be the single-market ones.
- :data:`HAND`: the one-account book of ``tests/calibrate/conftest.py`` as market ``a`` of a
  system, beside market ``b`` whose one account never comes near liquidation (health 16 at
  reference prices, 11.2 after the 30 % drop); no venue and ``engine.impact = false``, so the
  markets do not move each other's prices and the hand formula of the calibration holds for the
  system's total.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.calibrate.conftest import ONE
from tests.montecarlo.conftest import TINY

TWO = """
name = "tiny-system-montecarlo"

[[markets]]
name = "aave"
protocol = "aave_v3"
version = "3.3-3.4"

[markets.positions]
source = "synthetic"
n_accounts = 120
seed = 3

[[markets]]
name = "morpho"
protocol = "morpho_blue"
assets = ["WETH", "USDC"]

[markets.positions]
source = "synthetic"
n_accounts = 80
seed = 5
pair = ["WETH", "USDC"]

[shock]
WETH = 0.3

[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 2e6

[[venues]]
kind = "cpmm"
asset = "WBTC"
reserve_usd = 2e6
""" + TINY[TINY.index("[simulation]"):]

HAND_BOOK_A = "account,asset,collateral,debt\na,WETH,100,0\na,USDC,0,128000\n"
HAND_BOOK_B = "account,asset,collateral,debt\nb,WETH,100,0\nb,USDC,0,10000\n"

_HAND_MARKET = """
[[markets]]
name = "{name}"
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]

[markets.overrides.WETH]
ltv = 0.7
liquidation_threshold = 0.8
liquidation_bonus = 0.05
protocol_fee = 0.0

[markets.positions]
source = "file"
path = "{name}.csv"
"""

HAND = ('name = "hand-system"\n' + _HAND_MARKET.format(name="a") + _HAND_MARKET.format(name="b")
        + "\n" + ONE[ONE.index("[prices.overrides]"):])  # the calibration tests' hand case: its prices, shock and runs


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Tiny books: run the parallel kernels on one thread, as every Monte Carlo worker does."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def two(tmp_path) -> Path:
    p = tmp_path / "two.toml"
    p.write_text(TWO)
    return p


def one_market_system(folder: Path) -> tuple[Path, Path]:
    """(the tiny single-market file, the same market as a one-market system file)."""
    single = folder / "single.toml"
    single.write_text(TINY)
    system = folder / "system.toml"
    as_system = TINY.replace("[market]", '[[markets]]\nname = "aave"').replace("[positions]", "[markets.positions]")
    system.write_text(as_system)
    return single, system


@pytest.fixture
def hand(tmp_path) -> Path:
    (tmp_path / "a.csv").write_text(HAND_BOOK_A)
    (tmp_path / "b.csv").write_text(HAND_BOOK_B)
    p = tmp_path / "hand.toml"
    p.write_text(HAND)
    return p
