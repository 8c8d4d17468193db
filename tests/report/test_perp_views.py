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
