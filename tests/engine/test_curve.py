"""The cascade curve's points (``engine/curve.py``) are the single runs of their shocks, bit for
bit: each point is checked against a fresh solver run on that shock alone, on one thread and on
two (two points at once, each in a solver of its own), for deep and thin venues and several
protocols, and over small random books."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine import curve as curve_mod
from liqcascade.engine.curve import curve_points
from liqcascade.engine.run import cascade_curve
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.orderbook import OrderBookVenue
from liqcascade.markets.router import Router
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from . import mechanism_books as mb

LSTS = ("wstETH", "rETH", "cbETH")


@pytest.fixture(scope="module")
def aave_book():
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.model.synthetic import synthetic_book

    snap = load_aave_reserve_config()
    return snap, synthetic_book(snap.params, snap.price_array, n_accounts=4_000, seed=5)


def aave_model(snap, book, deep: bool, version: int = V3_3) -> MarketModel:
    """The core benchmark's market at 4,000 accounts: deep venues (the calm order book and a
    pool for WETH) or thin pools that the cascade drains."""
    px = {s: float(snap.price_array[snap.params.index(s)]) for s in snap.params.symbols}
    if deep:
        venues = {"WETH": Router.of([OrderBookVenue.from_calibration("calm", "WETH", px["WETH"], 0.01),
                                     ConstantProductPool.from_price_depth("WETH", px["WETH"], 2e6)]),
                  "WBTC": ConstantProductPool.from_price_depth("WBTC", px["WBTC"], 5e6)}
    else:
        venues = {"WETH": ConstantProductPool.from_price_depth("WETH", px["WETH"], 2e5),
                  "wstETH": ConstantProductPool.from_price_depth("wstETH", px["wstETH"], 1e5),
                  "WBTC": ConstantProductPool.from_price_depth("WBTC", px["WBTC"], 1.5e5)}
    return MarketModel(book, AaveV3Rules(snap.params, version), snap.price_array, venues)


def single_runs(model: MarketModel, asset: str, co_move, grid, cfg: CascadeSettings | None = None):
    """Each shock of ``grid`` on a fresh solver, alone: (outcome, summary) per point."""
    out = []
    for s in grid:
        solver = StaticCascade(model, cfg)
        o = solver.run({a: float(s) for a in (asset, *co_move)})
        out.append((o, solver.summarize(o)))
    return out


def assert_points_are_single_runs(points, singles) -> None:
    assert len(points) == len(singles)
    for k, (pt, (o, summ)) in enumerate(zip(points, singles)):
        where = f"point {k}"
        for name in ("prices_shocked", "prices_final"):
            assert getattr(pt, name).tobytes() == getattr(o, name).tobytes(), f"{where}: {name}"
        for name in ("seized", "repaid", "deficit"):
            assert getattr(pt, name).tobytes() == o.totals[name].tobytes(), f"{where}: {name}"
        assert (pt.rounds, pt.converged) == (o.rounds, o.converged), where
        for name in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd", "accounts_liquidated"):
            # == on floats is bit for bit here (no NaN among these)
            assert getattr(pt, name) == summ[name], f"{where}: {name}"


def shock_rows(model: MarketModel, asset: str, co_move, grid) -> np.ndarray:
    return np.array([model.shock_vector({a: float(s) for a in (asset, *co_move)}) for s in grid])


@pytest.mark.parametrize("deep", [True, False], ids=["deep", "thin"])
@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_aave_curve_points_are_the_single_runs(aave_book, deep, version):
    model = aave_model(*aave_book, deep, version)
    grid = np.linspace(0.0, 0.8, 13)
    singles = single_runs(model, "WETH", LSTS, grid)
    assert max(s["accounts_liquidated"] for _, s in singles) > 500  # the curve has work to share
    rows = shock_rows(model, "WETH", LSTS, grid)
    for workers in (1, 2):
        assert_points_are_single_runs(curve_points(StaticCascade(model), rows, workers=workers), singles)


def test_the_curve_tables_hold_the_single_runs(aave_book):
    model = aave_model(*aave_book, False)
    grid = np.linspace(0.05, 0.75, 8)
    singles = single_runs(model, "WETH", LSTS, grid)
    res = cascade_curve(model, "WETH", grid, co_move=LSTS)
    c, ca = res["curve"], res["curve_assets"]
    weth = model.assets.index("WETH")
    for k, (o, summ) in enumerate(singles):
        assert c["price_final"].iloc[k] == o.prices_final[weth]
        assert c["bad_debt_usd"].iloc[k] == summ["bad_debt_usd"]
        assert c["accounts_liquidated"].iloc[k] == summ["accounts_liquidated"]
        here = ca[ca["shock"] == grid[k]].set_index("asset")
        for j, a in enumerate(model.assets):
            if o.totals["seized"][j]:
                assert here.loc[a, "collateral_seized"] == o.totals["seized"][j]


@pytest.mark.parametrize("protocol", ["compound_v2", "morpho_blue", "maker", "liquity_v1"])
def test_mechanism_curve_points_are_the_single_runs(protocol):
    """Other protocols, Liquity's redistribution (liquidations that change other troves) included."""
    rng = np.random.default_rng(4)
    book = mb.random_vault_book(rng, 300) if protocol != "liquity_v1" else mb.troves(
        [(float(c), float(c) * 2000.0 / icr) for c, icr in zip(rng.lognormal(0, 1, 300), rng.uniform(1.0, 2.0, 300))])
    sp = mb.stability_pool_for(book, 0.2) if protocol == "liquity_v1" else 0.0
    model = MarketModel(book, mb.make_rules(protocol, stability_pool=sp), mb.PRICES, mb.pool(3e5))
    grid = np.linspace(0.0, 0.6, 9)
    singles = single_runs(model, "WETH", (), grid)
    assert max(s["accounts_liquidated"] for _, s in singles) > 10
    rows = shock_rows(model, "WETH", (), grid)
    for workers in (1, 2):
        assert_points_are_single_runs(curve_points(StaticCascade(model), rows, workers=workers), singles)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["aave", "compound_v2", "morpho_blue", "euler_v2"]).flatmap(
        lambda p: st.tuples(st.just(p), mb.books("compound_v2" if p == "aave" else p, 1, 30))),
    st.lists(st.floats(0.0, 0.9), min_size=1, max_size=6),
    st.floats(1e4, 1e7), st.booleans(),
)
def test_curve_points_equal_single_runs_on_random_books(protocol_book, shocks, depth, buy_debt):
    """Small books, random shocks in any order (the points share buffers: a point after a
    larger one starts from a clean slate), venues from draining to deep, debt bought or not."""
    protocol, book = protocol_book
    rules = AaveV3Rules(mb.PARAMS, V3_3) if protocol == "aave" else mb.make_rules(protocol)
    venues = {**mb.pool(depth), "WBTC": ConstantProductPool.from_price_depth("WBTC", 30000.0, depth / 2)}
    model = MarketModel(book, rules, mb.PRICES, venues)
    cfg = CascadeSettings(buy_debt=buy_debt)
    singles = single_runs(model, "WETH", ("WBTC",), shocks, cfg)
    rows = shock_rows(model, "WETH", ("WBTC",), shocks)
    for workers in (1, 2):
        assert_points_are_single_runs(curve_points(StaticCascade(model, cfg), rows, workers=workers), singles)


def test_progress_counts_every_point_from_the_calling_thread(aave_book):
    import threading

    model = aave_model(*aave_book, False)
    seen = []
    me = threading.get_ident()
    curve_points(StaticCascade(model), shock_rows(model, "WETH", LSTS, [0.1, 0.2, 0.3, 0.4, 0.5]), workers=2,
                 progress=lambda done, total: seen.append((done, total, threading.get_ident() == me)))
    assert seen == [(k, 5, True) for k in range(6)]


def test_an_error_in_a_point_reaches_the_caller_and_stops_the_rest(aave_book, monkeypatch):
    model = aave_model(*aave_book, False)
    real = curve_mod.run_point
    ran = []

    def failing(solver, shock, direction=None):
        ran.append(float(shock.max()))
        if len(ran) == 3:
            raise RuntimeError("point three fails")
        return real(solver, shock, direction)

    monkeypatch.setattr(curve_mod, "run_point", failing)
    grid = np.linspace(0.0, 0.8, 40)
    with pytest.raises(RuntimeError, match="point three fails"):
        curve_points(StaticCascade(model), shock_rows(model, "WETH", LSTS, grid), workers=2)
    assert len(ran) < len(grid)  # the threads took no point after the error was seen (one each may finish)


def test_workers_default_to_numba_threads_and_one_without_jit_or_a_threadsafe_layer(aave_book, monkeypatch):
    from liqcascade._jit import DISABLE_JIT_ENV, jit_enabled

    StaticCascade(aave_model(*aave_book, False))  # a parallel kernel ran: numba's threading layer is chosen
    assert curve_mod.default_workers(1) == 1
    if jit_enabled():
        import numba

        want = min(numba.get_num_threads(), 100) if numba.threading_layer() in ("omp", "tbb") else 1
        assert curve_mod.default_workers(100) == want
        monkeypatch.setattr(numba, "threading_layer", lambda: "workqueue")
        assert curve_mod.default_workers(100) == 1
    monkeypatch.setenv(DISABLE_JIT_ENV, "1")
    assert curve_mod.default_workers(100) == 1


def test_the_threads_take_the_points_costliest_first():
    # price-move bounds max(f) / min(f), f = 1 - shock: 1/0.9, 0.5/0.5 = 1, 1/0.7, 1.2/1, 1/0.9
    shocks = np.array([[0.1, 0.0], [0.5, 0.5], [0.3, 0.0], [-0.2, 0.0], [0.0, 0.1]])
    assert curve_mod.costliest_first(shocks) == [2, 3, 0, 4, 1]


def test_the_thin_curve_uses_the_held_asset_bounds_and_keeps_the_numbers(aave_book, monkeypatch):
    """The thin pools' crash rounds move prices far enough for the later rounds' bounds by held
    assets (``HeldAssets``); the points stay the single runs, bit for bit."""
    model = aave_model(*aave_book, False)
    grid = np.linspace(0.1, 0.8, 5)
    singles = single_runs(model, "WETH", LSTS, grid)
    calls = []
    real = curve_mod.held_bounds
    monkeypatch.setattr(curve_mod, "held_bounds", lambda *a: calls.append(a[0]) or real(*a))
    points = curve_points(StaticCascade(model), shock_rows(model, "WETH", LSTS, grid), workers=1)
    assert len(calls) >= len(grid)  # at least one later round a point
    assert_points_are_single_runs(points, singles)
