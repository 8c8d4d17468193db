"""Results in a notebook: ``_repr_html_`` (headline, then the list of tables), ``headline()``
and ``.plot()`` (the main figure of each run kind, a plotly Figure), on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from liqcascade.engine.result import Result
from liqcascade.errors import LiqcascadeError


def _static() -> Result:
    summary = pd.DataFrame([{"protocol": "aave_v3", "bad_debt_usd": 1234.5, "collateral_seized_usd": 10.0,
                             "debt_repaid_usd": 9.0, "accounts_liquidated": 3, "headline_asset": "WETH",
                             "amplification": 1.2, "rounds": 2}])
    assets = pd.DataFrame({"asset": ["WETH"], "price_reference": [2000.0], "price_shocked": [1400.0]})
    rounds = pd.DataFrame({"round": [1, 2, 1], "asset": ["WETH", "WETH", "USDC"],
                           "price_after": [1300.0, 1280.0, 1.0]})
    return Result("static", {"summary": summary, "assets": assets, "rounds": rounds}, {}, "abc123")


def test_html_shows_the_headline_then_every_table():
    html = _static()._repr_html_()
    assert "static result abc123" in html
    # headline fields first, in the documented order; fields outside it are not in the headline
    assert html.index("bad_debt_usd") < html.index("collateral_seized_usd") < html.index("amplification")
    assert "1234.5" in html and "rounds" in html
    for name, rows in (("summary", 1), ("assets", 1), ("rounds", 3)):
        assert f"<code>{name}</code>: {rows:,} rows" in html


def test_headline_of_a_summary_keeps_its_order():
    h = _static().headline()
    assert h["field"].tolist() == ["bad_debt_usd", "collateral_seized_usd", "debt_repaid_usd",
                                   "accounts_liquidated", "headline_asset", "amplification"]


def test_static_figure_is_the_headline_assets_price_by_round():
    fig = _static().plot()
    assert isinstance(fig, go.Figure)
    (line,) = [t for t in fig.data if t.type == "scatter"]
    assert list(line.x) == [0, 1, 2] and list(line.y) == [1400.0, 1300.0, 1280.0]


def test_curve_figure_has_the_no_feedback_diagonal():
    c = pd.DataFrame({"asset": "WETH", "shock": [0.2, 0.1], "final_drop": [0.3, 0.1]})
    fig = Result("curve", {"curve": c}).plot()
    final, diagonal = fig.data
    assert list(final.x) == [0.1, 0.2] and list(final.y) == [0.1, 0.3]
    assert list(diagonal.y) == list(diagonal.x)


def test_simulation_figure_is_the_asset_that_fell_most():
    s = pd.DataFrame({"block": [0, 1, 0, 1], "asset": ["WETH", "WETH", "WBTC", "WBTC"],
                      "reference_price": [100.0, 90.0, 100.0, 50.0], "market_price": [100.0, 89.0, 100.0, 49.0],
                      "oracle_price": [100.0, 100.0, 100.0, 100.0]})
    fig = Result("simulation", {"steps": s}).plot()
    assert "WBTC" in fig.layout.title.text
    assert [list(t.y) for t in fig.data] == [[100.0, 50.0], [100.0, 49.0], [100.0, 100.0]]


def test_montecarlo_figure_is_the_exceedance_curve():
    # four paths 0, 0, 10, 30: P(X >= 0) = 1, P(X >= 10) = 1/2, P(X >= 30) = 1/4
    paths = pd.DataFrame({"bad_debt_usd": [30.0, 0.0, 10.0, 0.0]})
    risk = pd.DataFrame({"metric": ["bad_debt_usd"], "statistic": ["mean"], "estimate": [10.0]})
    res = Result("montecarlo", {"paths": paths, "risk": risk})
    fig = res.plot()
    (t,) = fig.data
    assert list(t.x) == [0.0, 0.0, 10.0, 30.0]
    np.testing.assert_allclose(t.y, [1.0, 0.75, 0.5, 0.25])
    assert fig.layout.yaxis.type == "log"
    assert res.headline()["estimate"].tolist() == [10.0]  # a run without summary: the bad-debt risk rows


def test_compare_figure_has_one_bar_per_protocol():
    c = pd.DataFrame({"protocol": ["aave_v3", "maker"], "bad_debt_usd": [1.0, 2.0],
                      "collateral_seized_usd": [5.0, 6.0]})
    fig = Result("compare", {"comparison": c}).plot()
    assert [list(t.y) for t in fig.data] == [[1.0, 2.0], [5.0, 6.0]]


def test_calibration_figure_is_the_metric_against_the_parameter():
    cand = pd.DataFrame({"value": [0.9, 0.7, 0.8], "estimate": [5.0, 1.0, 2.0]})
    summary = pd.DataFrame([{"param": "liquidation_threshold", "asset": "WETH", "metric": "var_bad_debt_usd",
                             "budget": 3.0, "chosen": 0.8}])
    fig = Result("calibration", {"candidates": cand, "summary": summary}).plot()
    (line,) = fig.data
    assert list(line.x) == [0.7, 0.8, 0.9] and list(line.y) == [1.0, 2.0, 5.0]
    shapes = {(sh.type, sh.x0, sh.y0) for sh in fig.layout.shapes}
    assert any(sh.y0 == 3.0 and sh.y1 == 3.0 for sh in fig.layout.shapes)  # the budget
    assert any(sh.x0 == 0.8 and sh.x1 == 0.8 for sh in fig.layout.shapes), shapes  # the chosen value


def test_a_kind_without_a_figure_says_so():
    with pytest.raises(LiqcascadeError, match="no main figure for a sweep result.*tables: \\['sweep'\\]"):
        Result("sweep", {"sweep": pd.DataFrame({"a": [1]})}).plot()
