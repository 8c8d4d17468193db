"""The liquidation map and the per-minute view of a perp run, in the HTML report."""

from __future__ import annotations

import pytest

from liqcascade.execution.perps import perp_run
from liqcascade.io.store import ResultsStore
from liqcascade.report import bundle as _bundle
from liqcascade.report import perp_views as PV
from liqcascade.report import write_report
from tests.execution.test_perps_run import CLOSES, _files, _scenario
from tests.report.stores import values
from tests.report.test_report import check_self_contained, figures_json


@pytest.fixture(scope="module")
def perp_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("perp")
    _files(tmp, CLOSES)
    scenario = _scenario(tmp, 0.0)
    rid = perp_run(scenario, tmp / "S").run_id
    return tmp / "S", rid, scenario


def test_the_map_draws_the_stored_table_long_and_short(perp_store):
    root, rid, _ = perp_store
    store = ResultsStore(root, create=False)
    b = _bundle.find(store, rid)
    v = PV.liqmap_view(b)
    table = store.load(rid, "liqmap")
    longs, shorts = v.figure["data"]
    assert longs["name"] == "longs liquidated" and shorts["name"] == "shorts liquidated"
    assert values(longs["y"]).sum() == pytest.approx(table["long_usd"].sum()) and values(shorts["y"]).sum() == 0.0
    # the one long's bar sits where the hand case puts it: $90,402.01 (tests/execution/test_perps_run.py)
    x = values(longs["x"])[values(longs["y"]) > 0]
    assert len(x) == 1 and abs(x[0] - 90_402.01) < (table["price_high"] - table["price_low"]).iloc[0]
    assert v.sources[0].table == "liqmap" and v.sources[0].run_id == rid
    m = PV.perp_minutes_view(b)
    adl = [t for t in m.figure["data"] if t["name"] == "deleveraged (ADL)"][0]
    assert values(adl["y"]).sum() == pytest.approx(89_000.0)


def test_the_report_of_a_perp_run_and_of_its_scenario(perp_store, tmp_path):
    root, rid, scenario = perp_store
    out = tmp_path / "perp.html"
    rep = write_report(root, rid, out, complete=True)
    html = out.read_text(encoding="utf-8")
    check_self_contained(html)
    assert [v.key for v in rep.views] == ["perp_minutes", "liqmap"] and list(figures_json(html)) == ["perp_minutes", "liqmap"]
    assert f"<code>liqmap</code> of run <code>{rid}</code>" in html
    # a report of the scenario file finds the same stored run
    again = write_report(root, scenario, tmp_path / "again.html")
    assert [v.key for v in again.views] == ["perp_minutes", "liqmap"]


def test_the_dashboard_shows_the_perp_views(perp_store):
    from tests.web.conftest import make_app, test_client

    root, rid, _ = perp_store
    with test_client(make_app(root, fake_runner=True)) as c:
        info = c.get(f"/api/runs/{rid}").json()
        assert info["kind"] == "perps" and [v["key"] for v in info["views"]] == ["perp_minutes", "liqmap"]
        api = c.get(f"/api/runs/{rid}/views/liqmap").json()
        assert [t["name"] for t in api["figure"]["data"]] == ["longs liquidated", "shorts liquidated"]
        page = c.get(f"/runs/{rid}/views/liqmap")
        assert page.status_code == 200 and 'id="fig-liqmap"' in page.text
        assert c.get(f"/runs/{rid}").status_code == 200


def test_the_risk_view_of_a_perp_montecarlo_draws_its_stored_risk_table(perp_store, tmp_path):
    from liqcascade.execution.perp_montecarlo import perp_montecarlo

    root, rid, scenario = perp_store
    mc = perp_montecarlo(scenario, 12, seed=1, store=root)
    store = ResultsStore(root, create=False)
    risk = store.load(mc.run_id, "risk")
    v = PV.perp_risk_view(_bundle.find(store, mc.run_id))
    assert PV.perp_risk_view(_bundle.find(store, rid)) is None  # a single run has no risk table
    by_name = {t["name"]: t for t in v.figure["data"]}
    assert list(by_name) == ["VAR 0.95", "ES 0.95", "VAR 0.99", "ES 0.99", "probability"]
    var99 = risk[(risk["statistic"] == "var") & (risk["level"] == 0.99)].set_index("metric")["estimate"]
    assert list(values(by_name["VAR 0.99"]["y"])) == [var99["fund_depletion_usd"], var99["adl_usd"],
                                                      var99["written_off_usd"]]
    # the probability bars span their Clopper-Pearson interval: estimate - minus = lo, estimate + plus = hi
    prob = risk[risk["statistic"] == "probability"]
    p = by_name["probability"]
    est = values(p["y"])
    assert est == pytest.approx(prob["estimate"].to_numpy())
    assert est - values(p["error_y"]["arrayminus"]) == pytest.approx(prob["lo"].to_numpy())
    assert est + values(p["error_y"]["array"]) == pytest.approx(prob["hi"].to_numpy())
    assert set(v.table["metric"]) == set(PV.PERP_RISK_LABELS.values()) and v.sources[0].table == "risk"
