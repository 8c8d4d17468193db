"""The static solver's reset between runs (``engine/static_kernels_python.py``) and the premise it
rests on: rules that declare ``touched_only`` change the rows and tallies of no account they do not
mark touched."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade._jit import jit_functions
from liqcascade.engine import static_kernels_python as plain
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from . import mechanism_books as mb


def _buffers(rng: np.random.Generator, n: int, per: np.ndarray):
    """Working buffers of ``n`` accounts with ``per`` rows each, written over by a fake run."""
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(per, out=offsets[1:])
    rows = int(offsets[-1])
    base = (rng.random(rows), rng.random(rows))
    hf0 = rng.random(n) * 3.0
    touched = rng.random(n) < 0.4
    return dict(
        offsets=offsets, touched=touched, q=rng.random(n), hf0=hf0, amounts=(rng.random(rows), rng.random(rows)),
        base=base, usd=tuple(np.where(touched, rng.random(n), 0.0) for _ in range(3)),
        counts=tuple(np.where(touched, rng.integers(1, 5, n), 0) for _ in range(2)),
    )


def _reset(fn, upto: int, b: dict) -> None:
    fn(upto, b["offsets"], b["touched"], b["q"], b["hf0"], b["amounts"], b["base"], b["usd"], b["counts"])


def test_reset_by_hand():
    # three accounts with 2, 1 and 2 rows; the first and the third touched; all three looked at
    offsets = np.array([0, 2, 3, 5])
    touched = np.array([True, False, True])
    q, hf0 = np.array([9.0, 9.0, 9.0]), np.array([0.5, 1.5, 2.5])
    coll, debt = np.array([1.0, 1.0, 7.0, 1.0, 1.0]), np.array([2.0, 2.0, 8.0, 2.0, 2.0])
    base = (np.array([10.0, 11.0, 12.0, 13.0, 14.0]), np.array([20.0, 21.0, 22.0, 23.0, 24.0]))
    usd = (np.array([5.0, 0.0, 6.0]), np.array([1.0, 0.0, 2.0]), np.array([0.0, 0.0, 3.0]))
    counts = (np.array([2, 0, 1]), np.array([0, 0, 1]))
    plain.reset_touched(3, offsets, touched, q, hf0, (coll, debt), base, usd, counts)
    assert q.tolist() == [0.5, 1.5, 2.5]
    # the untouched account's row (7, 8) is not read: a touched_only rule never changed it
    assert coll.tolist() == [10.0, 11.0, 7.0, 13.0, 14.0]
    assert debt.tolist() == [20.0, 21.0, 8.0, 23.0, 24.0]
    assert all(a.tolist() == [0.0, 0.0, 0.0] for a in usd)
    assert all(a.tolist() == [0, 0, 0] for a in counts)
    assert touched.tolist() == [False, False, False]


def test_reset_stops_at_upto():
    offsets = np.array([0, 1, 2])
    touched = np.array([True, True])
    q, hf0 = np.array([9.0, 9.0]), np.array([0.5, 1.5])
    coll, debt = np.array([1.0, 1.0]), np.array([2.0, 2.0])
    usd = tuple(np.array([4.0, 4.0]) for _ in range(3))
    counts = tuple(np.array([3, 3]) for _ in range(2))
    plain.reset_touched(1, offsets, touched, q, hf0, (coll, debt), (np.zeros(2), np.zeros(2)), usd, counts)
    assert q.tolist() == [0.5, 9.0] and coll.tolist() == [0.0, 1.0] and debt.tolist() == [0.0, 2.0]
    assert touched.tolist() == [False, True] and usd[0].tolist() == [0.0, 4.0] and counts[1].tolist() == [0, 3]


def test_compiled_reset_is_its_plain_twin():
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["reset_touched"]
    rng = np.random.default_rng(3)
    per = rng.integers(0, 4, 500)
    for upto in (0, 1, 250, 500):
        a, b = _buffers(np.random.default_rng(upto), 500, per), _buffers(np.random.default_rng(upto), 500, per)
        _reset(plain.reset_touched, upto, a)
        _reset(compiled, upto, b)
        for name in ("touched", "q"):
            assert a[name].tobytes() == b[name].tobytes(), name
        for name in ("amounts", "usd", "counts"):
            for x, y in zip(a[name], b[name]):
                assert x.tobytes() == y.tobytes(), name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mb.books("compound_v2", 1, 30), st.floats(0.0, 0.9), st.floats(1e4, 1e7), st.sampled_from([V3_0, V3_3]),
       st.sampled_from(["max_close", "two_step", "profit_max"]))
def test_aave_changes_only_the_accounts_it_marks(book, shock, depth, version, strategy):
    """The premise of the touched-only reset, for the rules that declare it: after a cascade,
    every account not marked touched has the base book's rows and zero tallies."""
    rules = AaveV3Rules(mb.PARAMS, version)
    assert rules.capabilities.touched_only
    venues = {**mb.pool(depth), "WBTC": ConstantProductPool.from_price_depth("WBTC", 30000.0, depth / 2)}
    solver = StaticCascade(MarketModel(book, rules, mb.PRICES, venues), CascadeSettings(strategy=strategy))
    out = solver.run({"WETH": shock, "WBTC": shock / 2})
    base = solver._base
    for k in np.flatnonzero(~out.touched):
        r = slice(int(base.offsets[k]), int(base.offsets[k + 1]))
        assert out.arrays.coll[r].tobytes() == base.coll[r].tobytes()
        assert out.arrays.debt[r].tobytes() == base.debt[r].tobytes()
    t = out.tallies
    for arr in (t.acct_seized_usd, t.acct_repaid_usd, t.acct_bad_debt_usd, t.acct_calls, t.acct_blocked):
        assert not arr[~out.touched].any()
