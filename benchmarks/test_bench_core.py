"""Core speed targets (issue: core). Each fast path is measured against a naive
per-account Python baseline in the same run; ratios are per account (or holding).

Targets on 2 cores (docs/benchmarks.md, judged by ``judge.py``): health-factor pass over
1M accounts / 2.5M holdings / 35 assets <= 20 ms and >= 10x the naive baseline per account;
one static cascade on the 1M-account book < 1 s; a 100-point cascade curve < 2 s (deep venues)
and < 4 s (thin); the static cascade on the naive baseline's book >= 5x the baseline per account.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numba
import numpy as np
import pandas as pd
import pytest

from core_model import SHOCK
from core_model import core_model as _model
from judge import judge_speedup

from liqcascade.engine.run import cascade_curve, run_static
from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model import AssetParams, PositionBook, RiskParams
from liqcascade.model.synthetic import synthetic_book
from liqcascade.protocols.aave_v3 import V3_0, kernels
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

N_ACCOUNTS = 1_000_000
N_ASSETS = 35
N_NAIVE = 20_000


@pytest.fixture(scope="module")
def hf_book():
    return _hf_book()


def _hf_book():
    """1M accounts, ~2.5M holdings over 35 assets, CSR layout (built directly with NumPy)."""
    rng = np.random.default_rng(1)
    per = rng.choice([1, 2, 3, 4], size=N_ACCOUNTS, p=[0.2, 0.3, 0.3, 0.2])  # mean 2.5
    offsets = np.zeros(N_ACCOUNTS + 1, dtype=np.int64)
    np.cumsum(per, out=offsets[1:])
    rows = int(offsets[-1])
    account = np.repeat(np.arange(N_ACCOUNTS, dtype=np.int64), per)
    asset = rng.integers(0, N_ASSETS, rows).astype(np.int32)
    coll = rng.lognormal(2, 2, rows) * (rng.random(rows) < 0.6)
    debt = rng.lognormal(1.5, 2, rows) * (coll == 0)
    lt_asset = rng.uniform(0.6, 0.93, N_ASSETS)
    lt = lt_asset[asset]
    prices = rng.lognormal(3, 2, N_ASSETS)
    # the table form (issue 14): one e-mode class besides none (a tenth of the accounts, +3 points
    # of LT on the first five assets), narrow asset ids and offsets
    lt_table = np.vstack([lt_asset, lt_asset])
    lt_table[1, :5] += 0.03
    emode = (rng.random(N_ACCOUNTS) < 0.1).astype(np.int16)
    return dict(offsets=offsets, account=account, asset=asset, coll=coll, debt=debt, lt=lt, prices=prices,
                lt_table=lt_table, emode=emode, offsets32=offsets.astype(np.int32), asset16=asset.astype(np.int16))


def naive_health(accounts_rows, prices, lts):
    """The baseline: a Python loop over accounts, each a list of (asset, coll, debt)."""
    out = []
    for rows in accounts_rows:
        w = d = 0.0
        for a, c, db in rows:
            w += c * prices[a] * lts[a]
            d += db * prices[a]
        out.append(w / d if d > 0 else float("inf"))
    return out


def test_hf_pass_jit_1M(benchmark, hf_book, record, target):
    b = hf_book
    out = np.empty(N_ACCOUNTS)
    kernels.health_all(b["offsets"], b["asset"], b["coll"], b["debt"], b["prices"], b["lt"], out)  # compile
    benchmark.pedantic(
        kernels.health_all, args=(b["offsets"], b["asset"], b["coll"], b["debt"], b["prices"], b["lt"], out),
        rounds=30, iterations=1, warmup_rounds=2,
    )
    record("hf_pass_jit_1M", benchmark, N_ACCOUNTS)
    # the same numbers as NumPy's segment sums
    w = np.bincount(b["account"], weights=b["coll"] * b["prices"][b["asset"]] * b["lt"], minlength=N_ACCOUNTS)
    d = np.bincount(b["account"], weights=b["debt"] * b["prices"][b["asset"]], minlength=N_ACCOUNTS)
    ok = d > 0
    np.testing.assert_allclose(out[ok], w[ok] / d[ok], rtol=1e-12)
    target.at_most("health-factor pass, 1M accounts", benchmark.stats.stats.median, 0.020)


@numba.njit(parallel=True, nogil=True, cache=True)
def stream_read(offsets, asset, coll, debt, emode):
    """The floor of a health-factor pass: read every byte the table pass reads, once, in flat
    vectorised loops (a sum, so nothing is written and nothing is optimised away)."""
    s = 0.0
    for r in numba.prange(coll.shape[0]):
        s += coll[r] + debt[r] + asset[r]
    for k in numba.prange(emode.shape[0]):
        s += emode[k] + offsets[k]
    return s


HF_STREAM_LIMIT = 2.0
"""Issue 14: the health-factor pass within 2x of a streaming copy of the bytes it must read."""


def _alternate(benchmark, passes: dict, repeats: int) -> tuple[dict[str, float], dict]:
    """Run every pass of ``passes`` in turn, ``repeats`` times, as one benchmark round; the
    median seconds of each pass and its last result."""
    times: dict[str, list[float]] = {name: [] for name in passes}
    results: dict = {}

    def alternate():
        for _ in range(repeats):
            for name, run in passes.items():
                t0 = time.perf_counter()
                results[name] = run()
                times[name].append(time.perf_counter() - t0)

    benchmark.pedantic(alternate, rounds=1, iterations=1)
    return {name: float(np.median(t)) for name, t in times.items()}, results


def test_hf_pass_vs_stream_1M(benchmark, hf_book, record, target):
    """The table pass (per-asset LT and an e-mode table, int16 asset ids, int32 offsets), a
    streaming copy of the arrays it reads (NumPy, one thread: the issue's yardstick) and a
    streaming read of them (numba, the stricter floor), in turn in one run. Judged: the pass /
    the copy, medians, <= 2; the read's ratio is reported beside it. The HF is the per-row
    definition's (NumPy segment sums) to 1e-12."""
    b = hf_book
    args = (b["offsets32"], b["asset16"], b["coll"], b["debt"], b["emode"])
    dst = [np.empty_like(a) for a in args]
    out = np.empty(N_ACCOUNTS)
    kernels.health_table(*args, b["prices"], b["lt_table"], out)  # compile
    stream_read(*args)

    def copy():
        for a, d in zip(args, dst):
            np.copyto(d, a)

    passes = {"hf": lambda: kernels.health_table(*args, b["prices"], b["lt_table"], out),
              "copy": copy, "read": lambda: stream_read(*args)}
    med, _ = _alternate(benchmark, passes, 30)
    n_bytes = sum(a.nbytes for a in args)
    benchmark.extra_info.update({f"{name}_s": t for name, t in med.items()} | {"bytes": n_bytes})
    record("hf_pass_table_1M", benchmark, 30 * N_ACCOUNTS)
    lt = b["lt_table"][b["emode"][b["account"]], b["asset"]]
    p = b["prices"][b["asset"]]
    w = np.bincount(b["account"], weights=b["coll"] * p * lt, minlength=N_ACCOUNTS)
    d = np.bincount(b["account"], weights=b["debt"] * p, minlength=N_ACCOUNTS)
    ok = d > 0
    np.testing.assert_allclose(out[ok], w[ok] / d[ok], rtol=1e-12)
    target.ratio_at_most(
        f"health-factor pass / streaming copy of its {n_bytes / 1e6:.0f} MB, 1M accounts ({med['hf'] * 1e3:.3g} ms "
        f"/ {med['copy'] * 1e3:.3g} ms; a streaming read {med['read'] * 1e3:.3g} ms, "
        f"ratio {med['hf'] / med['read']:.2f})", med["hf"] / med["copy"], HF_STREAM_LIMIT)


def test_hf_pass_numpy_bincount_1M(benchmark, hf_book, record):
    b = hf_book

    def numpy_pass():
        p = b["prices"][b["asset"]]
        w = np.bincount(b["account"], weights=b["coll"] * p * b["lt"], minlength=N_ACCOUNTS)
        d = np.bincount(b["account"], weights=b["debt"] * p, minlength=N_ACCOUNTS)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, w / d, np.inf)

    benchmark.pedantic(numpy_pass, rounds=10, iterations=1, warmup_rounds=1)
    record("hf_pass_numpy_bincount_1M", benchmark, N_ACCOUNTS)


def test_hf_pass_naive_python(benchmark, hf_book, record, target):
    b = hf_book
    end = int(b["offsets"][N_NAIVE])
    accounts_rows = [
        list(zip(b["asset"][s:e].tolist(), b["coll"][s:e].tolist(), b["debt"][s:e].tolist()))
        for s, e in zip(b["offsets"][:N_NAIVE].tolist(), b["offsets"][1 : N_NAIVE + 1].tolist())
    ]
    prices = b["prices"].tolist()
    lts = {}
    for a, l in zip(b["asset"][:end].tolist(), b["lt"][:end].tolist()):
        lts[a] = l
    lts = [lts.get(a, 0.0) for a in range(N_ASSETS)]
    benchmark.pedantic(naive_health, args=(accounts_rows, prices, lts), rounds=5, iterations=1)
    record("hf_pass_naive_python", benchmark, N_NAIVE)
    judge_speedup(target, "health-factor pass per account", "hf_pass_jit_1M", "hf_pass_naive_python", 10.0)


# ------------------------------------------------------------------ cascade
def _aave_book():
    snap = load_aave_reserve_config()
    return snap, synthetic_book(snap.params, snap.price_array, n_accounts=N_ACCOUNTS, seed=11)


@pytest.fixture(scope="module")
def aave_books():
    return _aave_book()


@pytest.mark.parametrize("depth", ["deep", "thin"])
def test_static_cascade_1M(benchmark, aave_books, record, target, depth):
    solver = StaticCascade(_model(*aave_books, depth == "deep"))
    solver.run(SHOCK)  # compile
    out = benchmark.pedantic(solver.run, args=(SHOCK,), rounds=5, iterations=1)
    record(f"static_cascade_1M_{depth}", benchmark, N_ACCOUNTS)
    benchmark.extra_info["rounds"] = out.rounds
    benchmark.extra_info["accounts_liquidated"] = int((out.tallies.acct_calls > 0).sum())
    assert out.converged
    target.at_most(f"one static cascade, 1M accounts, {depth} venues", benchmark.stats.stats.median, 1.0)


ONE_SHOT_LIMIT = 2.0
"""Issue 14: a one-shot run, book to result tables, within 2x of the same run on a warm solver."""


def _tables(solver: StaticCascade):
    """One cascade and its summary, assets and accounts tables (``run_static``'s, less the
    trades table, whose per-row flows cost seconds on 1M accounts either way)."""
    out = solver.run(SHOCK)
    return solver.summarize(out), pd.DataFrame(solver.asset_rows(out)), solver.account_frame(out)


@pytest.mark.parametrize("stored", ["as_drawn", "in_health_order"])
@pytest.mark.parametrize("depth", ["deep", "thin"])
def test_static_one_shot_1M(benchmark, aave_books, record, target, depth, stored):
    """From the book (building the solver: row parameters, HF0, the sort) and on a solver built
    before (warm: what it sorted is kept), the same tables, in turn; judged: one-shot / warm,
    medians, <= 2. The bare warm cascade (``solver.run``, no tables) is reported beside it.
    ``in_health_order``: the same book kept in health order at the reference prices
    (``PositionBook.in_health_order``, what a Parquet file written from it reads back as): the
    solver checks the order and sorts nothing; its tables are those of the book as drawn."""
    model = _model(*aave_books, depth == "deep")
    if stored == "in_health_order":
        as_drawn = _tables(StaticCascade(model))
        model = replace(model, book=model.book.in_health_order(model.rules, model.prices))
    solver = StaticCascade(model)
    warm = _tables(solver)  # compile; the solver now holds its sorted prefix
    if stored == "in_health_order":
        assert solver._book.n_sorted == model.book.n_accounts and solver._layout == 0  # nothing sorted
        assert warm[0] == as_drawn[0]
        for a, b in zip(warm[1:], as_drawn[1:]):
            pd.testing.assert_frame_equal(a, b, check_exact=True)
    passes = {"one_shot": lambda: _tables(StaticCascade(model)), "warm": lambda: _tables(solver),
              "cascade": lambda: solver.run(SHOCK)}
    med, results = _alternate(benchmark, passes, 7)
    benchmark.extra_info.update({f"{name}_s": t for name, t in med.items()})
    suffix = "" if stored == "as_drawn" else "_ordered"
    record(f"static_one_shot_1M_{depth}{suffix}", benchmark, 21 * N_ACCOUNTS)
    assert results["one_shot"][0] == warm[0]
    pd.testing.assert_frame_equal(results["one_shot"][1], warm[1])
    pd.testing.assert_frame_equal(results["one_shot"][2], warm[2])
    target.ratio_at_most(
        f"one-shot static cascade / warm, book to tables, 1M accounts ({stored.replace('_', ' ')}), {depth} venues "
        f"({med['one_shot'] * 1e3:.0f} ms / {med['warm'] * 1e3:.0f} ms; the bare warm cascade "
        f"{med['cascade'] * 1e3:.0f} ms, one-shot / it {med['one_shot'] / med['cascade']:.2f})",
        med["one_shot"] / med["warm"], ONE_SHOT_LIMIT)


RUN_STATIC_TABLES_LIMIT = 10.0
"""Issue 14 (tradesfast): ``run_static`` from the book to all five tables, trades included, within
10x the bare warm cascade. The one-shot price is the solver's build (~1.3x the cascade), the flows of
the liquidated accounts (replayed alone, ``engine/flow_replay.py``) and the tables; the trades table
on thin venues has ~2.9M rows (a row per party, holding and kind, three string columns), read in
book order from the replayed flows and written, a few passes over data the size of the book each. 10x is a
handful of such passes; the pandas path it replaced (a frame per kind, concat, a pandas sort) was
~30-50x on a loaded machine. Not yet met under load (docs/benchmarks.md)."""


@pytest.mark.parametrize("stored", ["as_drawn", "in_health_order"])
@pytest.mark.parametrize("depth", ["deep", "thin"])
def test_run_static_tables_1M(benchmark, aave_books, record, target, depth, stored):
    """``run_static`` (a fresh solver: row parameters, HF0, the sort, the cascade, the flows of
    the liquidated accounts, then summary, assets, rounds, accounts and trades tables) and the bare
    cascade on a warm solver, in turn; judged: medians, tables / cascade <= ``RUN_STATIC_TABLES_LIMIT``.
    ``in_health_order``: the same book kept in health order at the reference prices
    (``PositionBook.in_health_order``): the solver sorts nothing, and the five tables are those of
    the book as drawn (checked, ``check_exact``)."""
    model = _model(*aave_books, depth == "deep")
    if stored == "in_health_order":
        as_drawn = run_static(model, SHOCK)
        model = replace(model, book=model.book.in_health_order(model.rules, model.prices))
    solver = StaticCascade(model)
    first = run_static(model, SHOCK)  # compile
    if stored == "in_health_order":
        for name in as_drawn.tables:
            pd.testing.assert_frame_equal(first[name], as_drawn[name], check_exact=True)
        del as_drawn
    solver.run(SHOCK)
    passes = {"tables": lambda: run_static(model, SHOCK), "cascade": lambda: solver.run(SHOCK)}
    med, results = _alternate(benchmark, passes, 3)
    rows = len(results["tables"]["trades"])
    benchmark.extra_info.update({f"{name}_s": t for name, t in med.items()} | {"trade_rows": rows})
    suffix = "" if stored == "as_drawn" else "_ordered"
    record(f"run_static_tables_1M_{depth}{suffix}", benchmark, 3 * N_ACCOUNTS)
    for name in first.tables:
        pd.testing.assert_frame_equal(results["tables"][name], first[name], check_exact=True)
    target.ratio_at_most(
        f"run_static, book to all tables ({rows} trade rows; {stored.replace('_', ' ')}) / bare warm cascade, "
        f"1M accounts, {depth} venues ({med['tables'] * 1e3:.0f} ms / {med['cascade'] * 1e3:.0f} ms)",
        med["tables"] / med["cascade"], RUN_STATIC_TABLES_LIMIT)


CURVE_LIMITS = {"deep": 2.0, "thin": 4.0}
"""Issue 14: the 100-point curve on the 1M-account book, seconds (10 s for both before)."""


@pytest.mark.parametrize("depth", ["deep", "thin"])
def test_cascade_curve_100_points_1M(benchmark, aave_books, record, target, depth):
    model = _model(*aave_books, depth == "deep")
    grid = np.linspace(0.0, 0.8, 100)
    # the kernels loaded (or compiled) outside the timing, as the other benchmarks do: a small
    # curve of the same market on a small book runs the same kernels on the same types
    snap = aave_books[0]
    small = synthetic_book(snap.params, snap.price_array, n_accounts=2_000, seed=11)
    cascade_curve(_model(snap, small, depth == "deep"), "WETH", [0.2, 0.5, 0.8], co_move=("wstETH", "rETH", "cbETH"))
    res = benchmark.pedantic(
        cascade_curve, args=(model, "WETH", grid), kwargs={"co_move": ("wstETH", "rETH", "cbETH")},
        rounds=1, iterations=1,
    )
    record(f"cascade_curve_100pts_1M_{depth}", benchmark, 100 * N_ACCOUNTS)
    c = res.table("curve")
    assert len(c) == 100 and c["converged"].all()
    # the final price never exceeds the shocked one (it is not monotone in the shock:
    # see docs/engine.md)
    assert (c["price_final"] <= c["price_shocked"] * (1 + 1e-12)).all()
    target.at_most(f"cascade curve, 100 points, 1M accounts, {depth} venues", benchmark.stats.stats.median,
                   CURVE_LIMITS[depth])


def naive_cascade(accounts, price0, shock, pool_x, pool_y, lt, bonus, fee):
    """Baseline: one dict per account, Python loops, one collateral (WETH) and one
    stablecoin debt each, v3.0 close factor, fee-free constant-product pool; the same
    fixed-point loop as the engine."""
    p = price0 * (1 - shock)
    k = pool_x * pool_y
    x = (k / p) ** 0.5
    for _ in range(1000):
        sold = 0.0
        any_liq = False
        for acc in accounts:
            while acc["debt"] > 0 and acc["coll"] > 0:
                hf = acc["coll"] * p * lt / acc["debt"]
                if hf >= 1:
                    break
                cover = acc["debt"] * (0.5 if hf > 0.95 else 1.0)
                seize = cover * (1 + bonus) / p
                if seize > acc["coll"]:
                    seize = acc["coll"]
                    cover = seize * p / (1 + bonus)
                acc["coll"] -= seize
                acc["debt"] -= cover
                sold += seize - (seize - seize / (1 + bonus)) * fee
                any_liq = True
        if not any_liq:
            break
        x += sold
        p = k / x**2
    return p


N_SIMPLE = 200_000


@pytest.fixture(scope="module")
def simple_book():
    """WETH collateral against USDC debt, HF just above 1: the naive baseline's world."""
    rng = np.random.default_rng(5)
    coll = rng.lognormal(1, 1.5, N_SIMPLE)
    hf = 1 + rng.beta(1.2, 6, N_SIMPLE)
    debt = coll * 1600 * 0.83 / hf
    return coll, debt


def test_static_cascade_naive_python(benchmark, simple_book, record):
    coll, debt = simple_book

    def run():
        accounts = [{"coll": c, "debt": d} for c, d in zip(coll.tolist(), debt.tolist())]
        return naive_cascade(accounts, 1600.0, 0.3, 200e6 / 1600, 200e6, 0.83, 0.05, 0.1)

    p_naive = benchmark.pedantic(run, rounds=3, iterations=1)
    record("static_cascade_naive_python", benchmark, N_SIMPLE)
    benchmark.extra_info["final_price"] = p_naive


def test_static_cascade_same_book_as_naive(benchmark, simple_book, record, target):
    """The engine on the naive baseline's book and pool: the per-account ratio, and the
    same final price (the baseline is a second implementation of the same rules)."""
    coll, debt = simple_book
    params = RiskParams.from_assets([AssetParams("WETH", 18, 0.8, 0.83, 0.05, 0.1), AssetParams("USDC", 6, 0.8, 0.85, 0.05, 0.1)])
    n = N_SIMPLE
    book = PositionBook.from_rows(
        np.repeat(np.arange(n), 2), np.tile([0, 1], n),
        np.column_stack([coll, np.zeros(n)]).ravel(), np.column_stack([np.zeros(n), debt]).ravel(), params.symbols,
    )
    pool = ConstantProductPool.from_price_depth("WETH", 1600.0, 200e6, fee=0.0)
    solver = StaticCascade(MarketModel(book, AaveV3Rules(params, V3_0), np.array([1600.0, 1.0]), {"WETH": pool}))
    solver.run({"WETH": 0.3})
    out = benchmark.pedantic(solver.run, args=({"WETH": 0.3},), rounds=5, iterations=1)
    record("static_cascade_same_book", benchmark, N_SIMPLE)
    accounts = [{"coll": c, "debt": d} for c, d in zip(coll.tolist(), debt.tolist())]
    p_naive = naive_cascade(accounts, 1600.0, 0.3, 200e6 / 1600, 200e6, 0.83, 0.05, 0.1)
    assert out.prices_final[0] == pytest.approx(p_naive, rel=1e-6)
    judge_speedup(target, "static cascade per account", "static_cascade_same_book", "static_cascade_naive_python",
                  5.0)
