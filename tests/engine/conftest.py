from dataclasses import dataclass

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


@dataclass(frozen=True)
class SweptBook:
    """What one call of an Aave ``sweep`` kernel left: its counts and the buffers it wrote."""

    found: int
    calls: int
    arrays: object
    tallies: object
    touched: np.ndarray
    q: np.ndarray


def aave_sweep(sweep, version: int, b: PositionBook, prices: np.ndarray) -> SweptBook:
    """One round of ``sweep`` (the compiled kernel or its plain-Python twin) over every account of
    ``b`` at ``prices``, every bound 0 (every account read), ``cum_bound`` 1, 64 calls at most."""
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules
    from liqcascade.protocols.base import Tallies

    arr = AaveV3Rules(PARAMS, version).prepare(b)
    t = Tallies.zeros(3, b.n_accounts, b.n_rows)
    touched = np.zeros(b.n_accounts, dtype=np.bool_)
    q = np.zeros(b.n_accounts)
    found, calls = sweep(
        version, 0, b.n_accounts, arr.offsets, arr.asset, arr.coll, arr.debt, prices, arr.params.key, arr.params.lt,
        arr.params.bonus, arr.params.fee, 64, 0.0, t.seized, t.fee, t.repaid, t.deficit, t.acct_seized_usd,
        t.acct_repaid_usd, t.acct_bad_debt_usd, t.acct_calls, t.acct_blocked, touched, q, 1.0, t.flows,
    )
    return SweptBook(int(found), int(calls), arr, t, touched, q)


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
