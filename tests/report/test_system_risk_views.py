"""Report views of a system's Monte Carlo, sweep and calibration: drawn from their stored
tables (``market_risk``, ``sweep_markets``, the calibration's ``summary``), every axis with its
unit, and shown by the dashboard like every other view."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.execution import calibrate as cal
from liqcascade.execution.api import montecarlo
from liqcascade.execution.sweep import sweep
from liqcascade.io.store import ResultsStore
from liqcascade.report import make_report
from liqcascade.report.bundle import find
from liqcascade.report.views import view
from tests.execution.conftest import HAND, HAND_BOOK_A, HAND_BOOK_B, TWO
from tests.report.stores import values
from tests.report.test_views import assert_sources_stored, assert_units


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("sysrisk")
    (d / "a.csv").write_text(HAND_BOOK_A)
    (d / "b.csv").write_text(HAND_BOOK_B)
    (d / "hand.toml").write_text(HAND)
    (d / "two.toml").write_text(TWO)
    store = d / "res"
    mc = montecarlo(d / "two.toml", 3, executor="serial", store=store)
    sw = sweep(d / "hand.toml", ["markets.a.overrides.WETH.liquidation_threshold=0.8,0.93"], "static", store=store)
    ca = cal.calibrate(d / "hand.toml", "liquidation_threshold", "WETH", 5000.0, kind="static", grid=3, market="a",
                       store=store)
    return store, {"montecarlo": mc.run_id, "sweep": sw.run_id, "calibration": ca.run_id}


def test_market_risk_view_draws_the_stored_estimates(runs):
    store, ids = runs
    b = find(ResultsStore(store), ids["montecarlo"])
    v = view(b, "market_risk")
    assert v is not None and v.key == "market_risk"
    layout = v.figure["layout"]
    assert [layout[a]["title"]["text"] for a in ("xaxis", "xaxis2")] == ["Market (name)"] * 2  # categories
    assert all(layout[a]["title"]["text"].endswith("(USD)") for a in ("yaxis", "yaxis2"))
    assert_sources_stored(v, store)
    r = b.load(b.target, "market_risk")
    for stat, axis in (("var", "y"), ("es", "y2")):
        bars = [t for t in v.figure["data"] if t.get("yaxis", "y") == axis]
        assert len(bars) == 3  # one per level
        for t in bars:
            lvl = float(t["name"].rstrip("%")) / 100
            want = r[(r["metric"] == "bad_debt_usd") & (r["statistic"] == stat) & (np.isclose(r["level"], lvl))]
            assert list(t["x"]) == list(want["market"])
            assert np.allclose(values(t["y"]), want["estimate"].to_numpy())
    keys = [x.key for x in make_report(store, ids["montecarlo"]).views]
    assert "market_risk" in keys and "montecarlo" in keys


def test_sweep_markets_view_has_one_line_per_market(runs):
    store, ids = runs
    b = find(ResultsStore(store), ids["sweep"])
    v = view(b, "sweep_markets")
    assert v is not None
    assert_units(v.figure)
    assert_sources_stored(v, store)
    m = b.load(b.target, "sweep_markets")
    lines = {t["name"]: values(t["y"]) for t in v.figure["data"]}
    assert set(lines) == {"a", "b"}
    for name, y in lines.items():
        assert np.allclose(y, m.loc[m["market"] == name, "bad_debt_usd"].to_numpy())


def test_calibration_view_names_the_market(runs):
    store, ids = runs
    b = find(ResultsStore(store), ids["calibration"])
    v = view(b, "calibration")
    assert v is not None
    title = v.figure["layout"]["annotations"][0]["text"]
    assert "in market a" in title and "of the system" in title
    from liqcascade.report.answer import key_figures

    assert key_figures(b)[0].label == "Calibrated liquidation threshold of WETH in market a"


def test_the_dashboard_serves_the_new_views_with_their_json_twins(runs):
    from tests.web.conftest import make_app, test_client

    store, ids = runs
    with test_client(make_app(store, fake_runner=True)) as client:
        for rid, key in ((ids["montecarlo"], "market_risk"), (ids["sweep"], "sweep_markets")):
            page = client.get(f"/runs/{rid}/views/{key}")
            assert page.status_code == 200, page.text[:500]
            twin = client.get(f"/api/runs/{rid}/views/{key}")
            assert twin.status_code == 200 and twin.json()["key"] == key
