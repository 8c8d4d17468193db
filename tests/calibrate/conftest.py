"""A one-account book whose calibration answers are computable by hand, written into each
test's own directory.

Account ``a``: 100 WETH of collateral at $2,000, 128,000 USDC of debt; WETH's threshold 0.8
and bonus 5 % (no protocol fee), so its health factor is h = 100 * 2000 * 0.8 / 128000 = 1.25.
WETH falls 30 % (the ``[shock]``, or in every Monte Carlo path a certain "depeg" of ETH at a
random block over a zero-volatility GBM: a degenerate path distribution). No venue sells WETH,
so there is no price impact, and liquidators are unbounded and pay no gas.

With ``book = health`` the account keeps h under a candidate threshold L: its debt is
D(L) = 200000 * L / 1.25 = 160000 L. After the drop the collateral is worth 140000 and the
health is 1.25 * 0.7 = 0.875 < 0.95, so Aave 3.3 closes the whole position: the liquidator
takes all the collateral and repays 140000 / 1.05; the rest is bad debt::

    bad_debt(L) = max(0, 160000 L - 140000 / 1.05)          (zero up to L0 = 0.833333...)

so the largest L whose bad debt is at most a budget B is L* = (B + 140000 / 1.05) / 160000
(B = 5000: L* = 0.8645833...).
"""

from __future__ import annotations

from pathlib import Path

import pytest

BOOK = """account,asset,collateral,debt
a,WETH,100,0
a,USDC,0,128000
"""

ONE = """
name = "one-account"

[market]
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]

[market.overrides.WETH]
ltv = 0.7
liquidation_threshold = 0.8
liquidation_bonus = 0.05
protocol_fee = 0.0

[positions]
source = "file"
path = "one.csv"

[prices.overrides]
WETH = 2000.0
USDC = 1.0

[shock]
WETH = 0.3

[engine]
impact = false

[simulation]
path = "shock"
drive = { ETH = ["WETH"] }

[simulation.oracle]
kind = "instant"

[simulation.liquidators]
liquidations_per_block = 1e300
calls_per_account = 10
gas_gwei = 0

[montecarlo]
blocks = 12
block_seconds = 300
seed = 1
vol = { ETH = 0.0 }

[[montecarlo.depeg]]
asset = "ETH"
drop = 0.3
probability = 1.0
"""

C, P, H, DROP, BONUS = 100.0, 2000.0, 1.25, 0.3, 0.05


def bad_debt(lt: float) -> float:
    """The module docstring's closed form."""
    return max(0.0, C * P * lt / H - C * P * (1 - DROP) / (1 + BONUS))


def best_lt(budget: float) -> float:
    return (budget + C * P * (1 - DROP) / (1 + BONUS)) / (C * P / H)


def write_one(folder: Path) -> Path:
    """The one-account scenario (``one.toml`` and its ``one.csv``) written into ``folder``."""
    (folder / "one.csv").write_text(BOOK)
    p = folder / "one.toml"
    p.write_text(ONE)
    return p


@pytest.fixture
def one(tmp_path) -> Path:
    return write_one(tmp_path)
