import numpy as np
import pytest

from liqcascade.model import AssetParams, PositionBook, RiskParams

# Hand-made market used across engine tests: WETH collateral (LT 85 %, bonus 5 %,
# protocol fee 10 % of the bonus), USDC and DAI debt at $1.
PARAMS = RiskParams.from_assets(
    [
        AssetParams("WETH", 18, 0.80, 0.85, 0.05, 0.10),
        AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.10),
        AssetParams("DAI", 18, 0.75, 0.78, 0.045, 0.10),
    ]
)
PRICES = np.array([2000.0, 1.0, 1.0])


def book(rows):
    """rows: (account, asset symbol, collateral, debt)."""
    ids = [r[0] for r in rows]
    idx = [PARAMS.index(r[1]) for r in rows]
    return PositionBook.from_rows(ids, idx, [r[2] for r in rows], [r[3] for r in rows], PARAMS.symbols)


@pytest.fixture
def params():
    return PARAMS
