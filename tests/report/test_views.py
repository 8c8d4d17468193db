"""The report's views: traces present, units on every axis, numbers traced to stored tables
(and, where a closed form exists, to a hand calculation)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from liqcascade.io.store import ResultsStore
from liqcascade.report import bundle as _bundle
from liqcascade.report import views as V
from tests.report.stores import (
    CAL_BUDGET,
    CAL_CHOSEN,
    CAL_VALUES,
    N_PATHS,
    axis_titles,
    traces,
    values,
)

UNIT = re.compile(
    r"\((USD|%|count|accounts|minutes|seconds|round number|blocks|tokens|final drop / initial drop|UTC|ETH|"
    r"protocol name|outcome class|value)[^()]*\)$"
)


@pytest.fixture
def bundle_of(faces_bundles):
    return faces_bundles.__getitem__


def assert_units(fig: dict) -> None:
    """Every axis a trace is drawn on has a title ending in '(unit)', or shares (``matches``)
    an axis that has one."""
    layout = fig["layout"]
    titles = axis_titles(fig)
    used = set()
    for t in fig["data"]:
        for letter in ("x", "y"):
            ref = t.get(f"{letter}axis", letter)
            used.add(f"{letter}axis" + ref[1:])
    assert used, "figure has no traces"
    for ax in sorted(used):
        title = titles.get(ax, "")
        if not title:  # a shared axis: its title is on the axis it matches, or that matches it
            short, linked = ax[0] + ax[5:], layout.get(ax, {}).get("matches")
            peers = [k for k, v in layout.items() if isinstance(v, dict) and v.get("matches") in (short, linked or "-")]
            if linked:
                peers.append(f"{linked[0]}axis{linked[1:]}")
            title = next((titles[p] for p in peers if titles.get(p)), "")
        assert UNIT.search(title), f"axis {ax} title {title!r} names no unit"


def assert_sources_stored(view: V.View, root) -> None:
    st = ResultsStore(root)
    for s in view.sources:
        assert s.table in st.tables(s.run_id), s.describe()


# ------------------------------------------------------------------ cascade curve
def test_curve_view_no_feedback_price_is_the_shocked_price(faces_store, bundle_of):
    root, ids = faces_store
    b = bundle_of("static")
    v = V.curve_view(b)
    assert v is not None and v.key == "curve"
    assert len(v.figure["data"]) == 6  # 3 panels x (with, without feedback)
    assert_units(v.figure)
    assert_sources_stored(v, root)
    assert {s.run_id for s in v.sources} == {ids["curve"], ids["curve_flat"]}
    flat = traces(v.figure, V.NO_FEEDBACK)
    assert len(flat) == 3
    x, price = values(flat[0]["x"]), values(flat[0]["y"])
    # examples/small_book.toml: WETH at $2,000; with no feedback the final price is the shocked one
    np.testing.assert_allclose(price, 2000.0 * (1.0 - x), rtol=1e-12)
    # the grid of [curve] shocks = "0:0.6:0.05"
    np.testing.assert_allclose(x, np.arange(13) * 0.05, atol=1e-12)
    # feedback can only push the final price lower
    fb = traces(v.figure, V.FEEDBACK)
    assert np.all(values(fb[0]["y"]) <= price + 1e-9)
    # bad debt trace is the stored table's column
    c = ResultsStore(root).load(ids["curve"], "curve").sort_values("shock")
    np.testing.assert_allclose(values(fb[2]["y"]), c["bad_debt_usd"].to_numpy())


# ------------------------------------------------------------------ walls
WALL_BOOK = """account,asset,collateral,debt,emode
a,WETH,10.0,0,0
a,USDC,0,12400.0,0
b,WETH,5.0,0,0
b,USDC,0,7800.0,0
c,WETH,1.0,0,0
c,USDC,0,900.0,0
d,WETH,100.0,0,0
"""
WALL_SCENARIO = """
name = "walls-by-hand"
[market]
protocol = "aave_v3"
version = "3.7"
assets = ["WETH", "USDC"]
[market.overrides.WETH]
liquidation_threshold = 0.8
ltv = 0.75
[positions]
source = "file"
path = "book.csv"
[prices.overrides]
WETH = 2000.0
USDC = 1.0
[shock]
WETH = 0.1
"""


def test_walls_sum_the_books_collateral_below_each_price(tmp_path):
    """Only WETH collateral (LT 0.8) against USDC debt: account i is below HF 1 at WETH price p
    exactly when p < debt_i / (0.8 x WETH_i): a 1550, b 1950, c 1125, d never."""
    from liqcascade.api import walls

    (tmp_path / "book.csv").write_text(WALL_BOOK)
    (tmp_path / "s.toml").write_text(WALL_SCENARIO)
    store = ResultsStore(tmp_path / "store")
    res = walls(tmp_path / "s.toml", store, "WETH", [0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    b = _bundle.find(store, str(res.run_id))
    v = V.walls_view(b)
    assert v is not None
    assert_units(v.figure)
    prices = [2000.0, 1800.0, 1600.0, 1400.0, 1200.0, 1000.0]
    # below 1: -, b, b, a+b, a+b, a+b+c (WETH held: 0, 5, 5, 15, 15, 16)
    liquidatable = [0.0, 5 * 1800.0, 5 * 1600.0, 15 * 1400.0, 15 * 1200.0, 16 * 1000.0]
    new = [0.0, 5 * 1800.0, 0.0, 10 * 1400.0, 0.0, 1 * 1000.0]
    bar = traces(v.figure, "newly liquidatable (book)")[0]
    line = traces(v.figure, "liquidatable (book, no feedback)")[0]
    order = np.argsort(values(bar["x"]))
    np.testing.assert_allclose(values(bar["x"])[order], prices[::-1])
    np.testing.assert_allclose(values(bar["y"])[order], new[::-1], rtol=1e-12)
    np.testing.assert_allclose(values(line["y"])[np.argsort(values(line["x"]))], liquidatable[::-1], rtol=1e-12)
    # the wall sums add up to the collateral (at each crossing price) of every account that crosses
    assert values(bar["y"]).sum() == pytest.approx(5 * 1800.0 + 10 * 1400.0 + 1000.0)
    w = store.load(str(res.run_id), "walls")
    assert list(w["accounts_liquidatable"]) == [0, 1, 1, 2, 2, 3]


def test_walls_view_beside_the_cascade(faces_store, bundle_of):
    root, ids = faces_store
    v = V.walls_view(bundle_of("static"))
    assert v is not None
    names = v.trace_names()
    assert names == ["newly liquidatable (book)", "liquidatable (book, no feedback)", "liquidated, no feedback",
                     "liquidated, with cascade"]
    assert_units(v.figure)
    assert_sources_stored(v, root)
    # the book's liquidatable collateral at the reference price is the start of the line; no
    # cascade can seize more than what is below HF 1 when prices do not move
    line = traces(v.figure, "liquidatable (book, no feedback)")[0]
    flat = traces(v.figure, "liquidated, no feedback")[0]
    w = ResultsStore(root).load(ids["walls"], "walls")
    np.testing.assert_allclose(values(line["y"]), w.sort_values("price")["collateral_liquidatable_usd"])
    assert values(flat["y"]).min() >= 0


# ------------------------------------------------------------------ static rounds
def test_rounds_view(faces_store, bundle_of):
    root, ids = faces_store
    v = V.rounds_view(bundle_of("static"))
    assert v is not None
    assert_units(v.figure)
    assert_sources_stored(v, root)
    r = ResultsStore(root).load(ids["static"], "rounds")
    seized = sum(values(t["y"]).sum() for t in v.figure["data"] if t["type"] == "bar")
    # the bars add up to every round's seized collateral valued at the round's opening price
    assert seized == pytest.approx(float((r["collateral_seized"] * r["price_before"]).sum()), rel=1e-9)
    # price lines start at the shocked price: WETH and wstETH -25 % in examples/small_book.toml
    for t in v.figure["data"]:
        if t["type"] == "scatter" and t["name"] in ("WETH price", "wstETH price"):
            assert values(t["y"])[0] == pytest.approx(0.75)


# ------------------------------------------------------------------ simulation
def test_simulation_views(faces_store, bundle_of):
    root, ids = faces_store
    b = bundle_of("simulation")
    st = ResultsStore(root)
    p = V.prices_view(b)
    assert p is not None
    assert_units(p.figure)
    assert_sources_stored(p, root)
    assets = st.load(ids["simulation"], "steps")["asset"].nunique()
    n = min(V.MAX_ASSETS, assets)
    assert len(p.figure["data"]) == 3 * n
    for kind in ("reference", "market (venues)", "oracle"):
        assert f"WETH {kind}" in p.trace_names()
    x = values(traces(p.figure, "WETH reference")[0]["x"])
    # 30 blocks of 12 s: the last one 29 x 12 s = 5.8 minutes after the first
    assert x[0] == 0 and x[-1] == pytest.approx(5.8)

    liq = V.liquidations_view(b)
    assert liq is not None and len(liq.figure["data"]) == 6
    assert_units(liq.figure)
    summ = st.load(ids["simulation"], "summary").iloc[0]
    bars = traces(liq.figure, "accounts liquidated")[0]
    # per-block liquidation counts add up to the run's total (an account liquidated in two
    # blocks counts twice per block but once in the summary: here each is liquidated once or more)
    assert values(bars["y"]).sum() >= summ["accounts_liquidated"]
    seized = values(traces(liq.figure, "collateral seized so far")[0]["y"])
    assert seized[-1] == pytest.approx(summ["collateral_seized_usd"], rel=1e-9)
    assert np.all(np.diff(seized) >= -1e-9)


def test_views_for_kinds(bundle_of):
    views = {role: V.views_for(bundle_of(role)) for role in ("static", "simulation", "montecarlo", "calibration")}
    keys = {role: [v.key for v in vs] for role, vs in views.items()}
    assert keys["static"] == ["curve", "walls", "rounds", "prices", "liquidations"]  # + the simulation
    assert keys["simulation"] == ["curve", "walls", "prices", "liquidations"]  # + the static run's curves
    assert keys["montecarlo"] == ["exceedance", "montecarlo", "mc_metrics"]
    assert keys["calibration"] == ["calibration"]
    for role, vs in views.items():
        for v in vs:
            assert_units(v.figure)
            assert v.sources and v.caption
            assert v.key in V.VIEW_KEYS
    assert V.view(bundle_of("calibration"), "calibration").trace_names() == views["calibration"][0].trace_names()
    assert V.view(bundle_of("calibration"), "curve") is None and V.view(bundle_of("static"), "nope") is None


# ------------------------------------------------------------------ Monte Carlo
def test_montecarlo_view_marks_var_and_cvar(faces_store, bundle_of):
    root, _ = faces_store
    b = bundle_of("montecarlo")
    v = V.montecarlo_view(b)
    assert v is not None
    assert_units(v.figure)
    assert_sources_stored(v, root)
    hist = traces(v.figure, "paths per bin")[0]
    assert values(hist["y"]).sum() == N_PATHS
    # bad debt of path k is 1000 k: 0 .. 99,000 in 60 equal bins
    x = values(hist["x"])
    assert x.min() == pytest.approx(99_000 / 120) and x.max() == pytest.approx(99_000 - 99_000 / 120)
    marks = {n: traces(v.figure, n)[0] for n in ("VaR 95%", "CVaR 95%", "VaR 99%", "CVaR 99%")}
    assert len(v.figure["data"]) == 1 + 4
    var99 = marks["VaR 99%"]
    assert values(var99["x"])[0] == 98_000.0
    err = var99["error_x"]
    assert values(err["array"])[0] == 1000.0 and values(err["arrayminus"])[0] == 1000.0
    es95 = marks["CVaR 95%"]["error_x"]
    assert values(es95["array"])[0] == 1500.0 and values(es95["arrayminus"])[0] == 2500.0
    # the risk table is shown under the figure, and the headline reads it
    assert v.table is not None and len(v.table) == 7
    head = dict(V.headline(b))
    assert head["paths"] == "100"
    assert head["bad debt VaR 99%"] == "$98,000  [$97,000, $99,000]"
    assert head["bad debt p_insolvent"] == "99.00%  [95.00%, 100.00%]"
    assert V.headline_source(b) == "summary, risk"


def test_montecarlo_open_interval_has_no_bar(faces_store, tmp_path):
    from tests.report.stores import mc_tables

    t = mc_tables()
    t["risk"].loc[(t["risk"]["statistic"] == "var") & (t["risk"]["level"] == 0.99), "hi"] = np.inf
    st = ResultsStore(tmp_path / "s")
    st.save("mc-open", "montecarlo", {}, t, {})
    v = V.montecarlo_view(_bundle.find(st, "mc-open"))
    err = traces(v.figure, "VaR 99%")[0]["error_x"]
    assert values(err["array"])[0] == 0.0 and values(err["arrayminus"])[0] == 1000.0
    assert "inf" in traces(v.figure, "VaR 99%")[0]["hovertext"][0]


def test_mc_metrics_view(faces_store, bundle_of):
    v = V.mc_metrics_view(bundle_of("montecarlo"))
    assert v is not None
    assert_units(v.figure)
    assert v.trace_names() == list(V._MC_METRICS)
    counts = {t["name"]: values(t["y"]).sum() for t in v.figure["data"]}
    assert counts["collateral_seized_usd"] == N_PATHS
    assert counts["time_to_clear_s"] == 95  # the 5 paths that never cleared are left out


# ------------------------------------------------------------------ calibration
def test_calibration_view(faces_store, bundle_of):
    root, _ = faces_store
    b = bundle_of("calibration")
    v = V.calibration_view(b)
    assert v is not None
    assert_units(v.figure)
    assert_sources_stored(v, root)
    # interval tops 1.1 x (2e5, 5e5, 9e5, 1.6e6) against a 1e6 budget: the first three are within
    ok, over = traces(v.figure, "within budget")[0], traces(v.figure, "over budget")[0]
    np.testing.assert_allclose(values(ok["x"]), CAL_VALUES[:3])
    np.testing.assert_allclose(values(over["x"]), CAL_VALUES[3:])
    np.testing.assert_allclose(values(ok["error_y"]["array"]), [2e4, 5e4, 9e4])
    budget = traces(v.figure, "budget")[0]
    np.testing.assert_allclose(values(budget["y"]), [CAL_BUDGET] * 2)
    chosen = next(t for t in v.figure["data"] if t["name"].startswith("chosen value"))
    np.testing.assert_allclose(values(chosen["x"]), [CAL_CHOSEN] * 2)
    assert "liquidation_threshold (%" in axis_titles(v.figure)["xaxis"]
    assert axis_titles(v.figure)["yaxis"] == "bad_debt_usd (USD)"


def test_calibration_table_found_by_columns_and_no_choice(tmp_path):
    """A calibration whose table is not named ``candidates`` and whose summary names no
    chosen value: drawn, with no chosen-value trace and the caption saying so."""
    cand = pd.DataFrame({"liquidation_bonus": [0.05, 0.1], "estimate": [3.0, 1.0], "lo": [2.0, 0.5],
                         "hi": [4.0, 1.5], "within_budget": [False, False]})
    st = ResultsStore(tmp_path / "s")
    st.save("cal-x", "calibration", {}, {"search": cand},
            {"param": "liquidation_bonus", "metric": "accounts_liquidated", "budget": 0.2})
    v = V.calibration_view(_bundle.find(st, "cal-x"))
    assert v is not None
    assert v.sources[0].table == "search"
    assert not any(n.startswith("chosen") for n in v.trace_names())
    assert "No candidate was within budget" in v.caption
    assert axis_titles(v.figure)["yaxis"] == "accounts_liquidated (accounts)"
    assert_units(v.figure)


def test_no_views_without_tables(tmp_path):
    st = ResultsStore(tmp_path / "s")
    st.save("bare-run", "static", {}, {"other": pd.DataFrame({"a": [1]})}, {})
    b = _bundle.find(st, "bare-run")
    assert V.views_for(b) == []
    assert V.headline(b) == [] and V.headline_source(b) is None


@pytest.mark.parametrize(("col", "value", "text"), [
    ("bad_debt_usd", 1234567.8, "$1,234,568"), ("final_drop", 0.3181, "31.81%"), ("accounts", 200000, "200,000"),
    ("time_to_clear_s", float("inf"), "inf"), ("amplification", float("nan"), "-"), ("x", 67140.0, "67,140"),
    ("x", 1.0306, "1.031"), ("converged", True, "yes"),
])
def test_format_value(col, value, text):
    assert V.format_value(col, value) == text


def test_calibration_view_of_a_real_calibration(tmp_path):
    """A static calibration (liqcascade.execution.calibrate) of WETH's threshold on the small book: the view
    reads its candidates and summary as stored."""
    from liqcascade.execution.calibrate import calibrate
    from tests.report.stores import copy_small_book

    path = copy_small_book(tmp_path / "sc")
    st = ResultsStore(tmp_path / "store")
    res = calibrate(path, "liquidation_threshold", "WETH", budget=130_000.0, loss="collateral_seized_usd",
                    kind="static", grid=3, tol=0.02, store=st)
    b = _bundle.find(st, str(res.run_id))
    v = V.calibration_view(b)
    assert v is not None
    assert_units(v.figure)
    assert [s.table for s in v.sources] == ["candidates", "summary"]
    summ = st.load(str(res.run_id), "summary").iloc[0]
    cand = st.load(str(res.run_id), "candidates")
    shown = np.concatenate([values(t["x"]) for t in v.figure["data"] if t["name"] in ("within budget", "over budget")])
    np.testing.assert_allclose(np.sort(shown), np.sort(cand["value"].to_numpy()))
    chosen = next(t for t in v.figure["data"] if t["name"].startswith("chosen value"))
    assert values(chosen["x"])[0] == pytest.approx(summ["chosen"])
    # examples/small_book.toml overrides WETH's threshold to 0.83: the scenario's current value
    current = next(t for t in v.figure["data"] if t["name"].startswith("current value"))
    np.testing.assert_allclose(values(current["x"]), [0.83, 0.83])
    np.testing.assert_allclose(values(traces(v.figure, "budget")[0]["y"]), [130_000.0] * 2)
    assert axis_titles(v.figure)["yaxis"] == "VaR 99% of collateral_seized_usd (USD)"
