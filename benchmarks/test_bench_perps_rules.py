"""Perp rules speed targets (issue 13): ranking 1,000,000 positions for ADL < 50 ms, and the
liquidation map of 1,000,000 positions over 1,000 price levels < 100 ms, each beside a naive
per-position Python baseline measured in the same run (ratios per position).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from judge import judge_speedup

from liqcascade.engine.liqmap import liquidation_map
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine
from liqcascade.protocols.perps_adl import cex_score, rank

N = 1_000_000
N_NAIVE = 50_000
LEVELS = 1_000
LOW, HIGH = 50_000.0, 150_000.0
MARK = np.array([100_000.0])


def _book(n: int, seed: int = 1) -> PerpBook:
    """n isolated BTC accounts, one position each: sizes lognormal, both sides, leverage 2-40x."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(-1, 1.5, n) * rng.choice([-1.0, 1.0], n)
    entry = 100_000 * rng.lognormal(0, 0.05, n)
    collateral = np.abs(size) * entry / rng.uniform(2, 40, n)
    ids = np.arange(n, dtype=np.int64)
    return PerpBook(account=ids, market=np.zeros(n, np.int32), size=size, entry_price=entry,
                    funding_index=np.zeros(n), collateral=collateral, isolated=np.ones(n, bool),
                    declared_side=np.sign(size).astype(np.int8), owner=ids, account_ids=ids, owner_ids=ids,
                    offsets=np.arange(n + 1, dtype=np.int64), markets=("BTC",))


@pytest.fixture(scope="module")
def book():
    return _book(N)


@pytest.fixture(scope="module")
def scores(book):
    return cex_score(book, MARK)


def test_adl_rank_1M(benchmark, scores, record, target):
    order = rank(scores)  # compile
    benchmark.pedantic(rank, args=(scores,), rounds=20, iterations=1, warmup_rounds=2)
    record("adl_rank_1M", benchmark, N)
    # the ranking's definition: score descending at float32 precision, ties by index
    f = scores.astype(np.float32)
    assert np.all(np.diff(f[order]) <= 0)
    target.at_most("ADL ranking, 1M positions", benchmark.stats.stats.median, 0.050)


def test_adl_rank_numpy_argsort_1M(benchmark, scores, record):
    # reference only: NumPy's comparison argsort on the same scores
    benchmark.pedantic(np.argsort, args=(-scores,), rounds=10, iterations=1, warmup_rounds=1)
    record("adl_rank_numpy_argsort_1M", benchmark, N)


def test_adl_rank_naive_python(benchmark, scores, record, target):
    values = scores[:N_NAIVE].tolist()

    def naive():
        return sorted(range(len(values)), key=lambda i: -values[i])

    benchmark.pedantic(naive, rounds=5, iterations=1)
    record("adl_rank_naive_python", benchmark, N_NAIVE)
    judge_speedup(target, "ADL ranking per position", "adl_rank_1M", "adl_rank_naive_python", 10.0)


def test_liqmap_1M_1000_levels(benchmark, book, record, target):
    engine = HyperliquidEngine()
    args = (book, engine, MARK, "BTC", LOW, HIGH, LEVELS)
    lm = liquidation_map(*args)  # compile
    benchmark.pedantic(liquidation_map, args=args, rounds=15, iterations=1, warmup_rounds=2)
    record("liqmap_1M_1000_levels", benchmark, N)
    # every position is in a bin or one of the totals kept apart
    near = np.where(np.isnan(lm.liquidation_price), 0.0, np.abs(book.size) * lm.liquidation_price).sum()
    binned = lm.long.sum() + lm.short.sum() + lm.outside
    assert binned + lm.already == pytest.approx(near, rel=1e-9)
    target.at_most("liquidation map, 1M positions x 1,000 levels", benchmark.stats.stats.median, 0.100)


def _naive_map(rows, lo, step, levels):
    """Per position in plain Python: Hyperliquid's tier, maintenance, liquidation price, bin."""
    long = [0.0] * levels
    short = [0.0] * levels
    for size, entry, collateral in rows:
        notional = abs(size) * 100_000.0
        rate, deduction = (0.0125, 0.0) if notional <= 150e6 else (0.025, 1_875_000.0)
        available = collateral + size * (100_000.0 - entry) - (notional * rate - deduction)
        if available < 0:
            continue
        side = 1.0 if size > 0 else -1.0
        p = 100_000.0 - side * available / abs(size) / (1 - side * rate)
        if p <= 0:
            continue
        k = math.floor((p - lo) / step)
        if 0 <= k < levels:
            (long if size > 0 else short)[k] += abs(size) * p
    return long, short


def test_liqmap_naive_python(benchmark, book, record, target):
    rows = list(zip(book.size[:N_NAIVE].tolist(), book.entry_price[:N_NAIVE].tolist(),
                    book.collateral[:N_NAIVE].tolist()))
    step = (HIGH - LOW) / LEVELS
    long, short = benchmark.pedantic(_naive_map, args=(rows, LOW, step, LEVELS), rounds=5, iterations=1)
    record("liqmap_naive_python", benchmark, N_NAIVE)
    # the naive map of the first positions is the fast map of the same positions
    lm = liquidation_map(_first(book, N_NAIVE), HyperliquidEngine(), MARK, "BTC", LOW, HIGH, LEVELS)
    np.testing.assert_allclose(lm.long, long, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(lm.short, short, rtol=1e-9, atol=1e-6)
    judge_speedup(target, "liquidation map per position", "liqmap_1M_1000_levels", "liqmap_naive_python", 10.0)


def _first(book: PerpBook, n: int) -> PerpBook:
    ids = np.arange(n, dtype=np.int64)
    return PerpBook(account=ids, market=book.market[:n], size=book.size[:n], entry_price=book.entry_price[:n],
                    funding_index=book.funding_index[:n], collateral=book.collateral[:n], isolated=book.isolated[:n],
                    declared_side=book.declared_side[:n], owner=ids, account_ids=ids, owner_ids=ids,
                    offsets=np.arange(n + 1, dtype=np.int64), markets=book.markets)
