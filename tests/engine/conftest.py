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


@pytest.fixture(scope="module")
def one_numba_thread():
    """Books of a few dozen accounts: numba's thread team costs more than it saves (and
    spins when the machine is busy), so the compiled kernels run on one thread. The
    chunked sums make the results the same on any thread count (tested elsewhere)."""
    from liqcascade._jit import jit_enabled

    if not jit_enabled():
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def params():
    return PARAMS
