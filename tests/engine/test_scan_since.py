"""The scan by each account's HF since its last read (Aave's ``scan_since``, the block loop's
:class:`~liqcascade.engine.dynamic.state.ScanBounds`) and the final unrecoverable-debt pass
that reads again only the accounts whose rows changed."""

import math

import numpy as np
import pytest

from liqcascade._jit import jit_functions
from liqcascade.engine.dynamic import Liquidators, SimSettings
from liqcascade.engine.dynamic.loop import SimInputs, simulate_state
from liqcascade.engine.dynamic.results import changed_accounts, totals_row
from liqcascade.engine.dynamic.state import ScanBounds
from liqcascade.engine.static import SortedBook
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_0, kernels_python
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm

from .conftest import PRICES
from .test_dynamic import model, random_book


def _moves(seed: int, n: int) -> list[np.ndarray]:
    """Oracle prices of ``n`` scans: each asset moves by up to +-6 % a step, up and down."""
    rng = np.random.default_rng(seed)
    steps = np.exp(rng.uniform(-0.06, 0.06, (n, PRICES.shape[0])))
    return list(PRICES * np.cumprod(steps, axis=0))


def _eligible(rules, arrays, prices) -> np.ndarray:
    """Every account read at ``prices``: HF below 1 with some debt and some counted collateral."""
    v = rules.health(arrays, prices)
    return np.flatnonzero((v.debt_usd > 0.0) & (v.collateral_usd > 0.0) & (v.hf < 1.0))


@pytest.mark.parametrize("seed", range(4))
def test_scan_since_finds_exactly_the_accounts_a_full_read_finds(seed):
    """Bounds carried over 40 scans (a history of 4 vectors, so they are restated at the newest
    every few scans): each scan's eligible set is the one the health of every account gives."""
    m = model(random_book(n=300, seed=seed))
    rules, sb = m.rules, SortedBook.of(m)
    arrays = sb.fresh()
    n = arrays.n_accounts
    bounds = ScanBounds(sb.hf0_sorted.copy(), np.zeros(n, dtype=np.int32), np.empty((4, PRICES.shape[0])), 1)
    bounds.history[0] = PRICES
    for prices in _moves(seed, 40):
        bounds.make_room(prices)
        got = rules.scan_since(arrays, prices, n, bounds.hf, bounds.epoch, bounds.history, bounds.n)
        bounds.keep(prices)
        np.testing.assert_array_equal(got, _eligible(rules, arrays, prices))


def test_compiled_scan_since_equals_its_plain_twin():
    m = model(random_book(n=300, seed=5))
    sb = SortedBook.of(m)
    a, t = sb.fresh(), sb.fresh().params
    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)["scan_since"]
    history = np.array(_moves(5, 6))
    runs = []
    for fn in (compiled, kernels_python.scan_since):
        hf, epoch = sb.hf0_sorted.copy(), np.arange(a.n_accounts, dtype=np.int32) % 6
        out = np.empty(a.n_accounts, dtype=np.int64)
        k = fn(a.n_accounts, a.offsets, a.asset, a.coll, a.debt, PRICES * 0.9, t.key, t.lt, hf, epoch, history, 6, out)
        runs.append((out[:k], hf, epoch))
    for x, y in zip(*runs):
        np.testing.assert_array_equal(x, y)


def test_a_move_down_and_back_reads_fewer_accounts_than_the_running_product():
    """WETH 3 % down and back, ten times: the net move since a read is never above 3 %, where the
    running product of the steps' spreads grows by 3 % every scan, so the plain scan ends up
    reading every account with debt and the one since each read does not."""
    m = model(random_book(n=400, seed=2))
    rules, sb = m.rules, SortedBook.of(m)
    arrays = sb.fresh()
    n = arrays.n_accounts
    q, cum = sb.hf0_sorted.copy(), 1.0
    bounds = ScanBounds.start(sb.hf0_sorted.copy(), PRICES)
    read_plain = read_since = 0
    prev = PRICES
    for i in range(20):
        prices = PRICES * np.array([0.97 if i % 2 == 0 else 1.0, 1.0, 1.0])
        step = prices / prev
        cum *= float(step.max() / step.min())
        read_plain += int((q < cum * kernels_python.SKIP_MARGIN).sum())
        plain = rules.scan(arrays, prices, n, q, cum)
        before = bounds.epoch.copy()
        since = rules.scan_since(arrays, prices, n, bounds.hf, bounds.epoch, bounds.history, bounds.n)
        read_since += int((bounds.epoch != before).sum())  # a read account points at the new vector
        bounds.keep(prices)
        np.testing.assert_array_equal(plain, since)
        prev = prices
    assert read_since < read_plain


def test_changed_accounts_are_those_whose_rows_differ():
    m = model(random_book(n=20, seed=1))
    base = SortedBook.of(m).base
    work = base.with_amounts(base.coll.copy(), base.debt.copy())
    assert changed_accounts(base, work).size == 0
    work.coll[base.offsets[3]] *= 0.5  # account 3's first row
    work.debt[base.offsets[8] + 1] += 1.0  # account 8's second row
    np.testing.assert_array_equal(changed_accounts(base, work), [3, 8])
    # another layout (a copy of the offsets): nothing is known to be the same
    assert changed_accounts(base, type(base)(base.offsets.copy(), base.asset, base.coll, base.debt, base.params,
                                            base.aux, None)) is None


def test_the_unrecoverable_debt_equals_a_pass_over_every_account():
    """A crash that liquidates and leaves bad debt (v3.0: debt without collateral stays on the
    books): ``totals_row``'s unrecoverable debt, which reads again only the accounts whose rows
    changed, is the same float as two passes over everyone."""
    m = model(random_book(n=300, seed=3), depth=3e5, version=V3_0)
    path = gbm({"WETH": 2000.0}, {"WETH": 1.5}, [[1.0]], 200, seed=3, drift=-20.0)
    settings = SimSettings(Liquidators(min_profit_usd=-math.inf, gas_asset=None))
    fin = simulate_state(m, path, Instant(), SimInputs(settings))
    run, st = fin.run, fin.state
    everyone = np.arange(run.model.book.n_accounts, dtype=np.int64)
    rules: AaveV3Rules = run.model.rules
    now = float(rules.unrecoverable_debt(st.arrays, st.o_prev, everyone).sum())
    before = float(rules.unrecoverable_debt(run.book.base, st.o_prev, everyone).sum())
    row = totals_row(run, st)
    assert row["accounts_liquidated"] > 0 and now > 0.0
    assert row["bad_debt_unrecoverable_usd"] == now - before
    assert row["bad_debt_before_usd"] == before
