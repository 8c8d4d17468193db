"""The dashboard answers first: every run page opens with the run's headline block, the run
list shows bad debt, liquidated, amplification and the key result as columns, and every kind
of run (compare, sweep and Maker replay too) has its pages, views and report (no 500)."""

from __future__ import annotations

import re

import pytest

from liqcascade.web import models as M
from tests.report.test_report_kinds import KINDS, parse_main


def _main_children(html: str) -> list[str]:
    return [c[1] for c in parse_main(html).children]


@pytest.mark.parametrize("role", KINDS)
def test_run_page_opens_with_the_headline_and_every_page_answers(client, web_store, role):
    _, ids = web_store
    rid = ids[role]
    info = client.get(f"/api/runs/{rid}").json()
    M.RunOut.model_validate(info)
    assert info["headline"], role
    page = client.get(f"/runs/{rid}")
    assert page.status_code == 200
    main = parse_main(page.text)
    assert main.children[0][1] == "answer", main.children[:3]
    assert [t.split(" ", 1)[0] for t in main.figures] == [f["label"].split(" ", 1)[0] for f in info["headline"]]
    for f, text in zip(info["headline"], main.figures):
        assert text.startswith(f"{f['label']} {f['value']}")
    assert "All summary fields" in page.text
    for v in info["views"]:
        assert client.get(v["links"]["html"]).status_code == 200, v
        assert client.get(v["links"]["api"]).status_code == 200, v
    report = client.get(info["report"])
    assert report.status_code == 200 and _main_children(report.text)[0] == "answer"


def _row(page: str, rid: str) -> dict[str, str]:
    m = re.search(rf'<tr data-run="{rid}">(.*?)</tr>', page, re.S)
    assert m, rid
    return dict(re.findall(r'<td class="kf" data-key="(\w+)"[^>]*>([^<]*)</td>', m.group(1)))


def test_run_list_shows_the_answers(client, web_store):
    _, ids = web_store
    runs = {r["run_id"]: r for r in client.get("/api/runs").json()["runs"]}
    page = client.get("/").text
    # stores.MC_RISK: VaR 99 % of bad debt 98,000; mean 49,500
    assert _row(page, ids["montecarlo"]) == {"bad_debt": "$49.50k", "liquidated": "", "amplification": "",
                                            "result": "$98.00k"}
    # stores.cal_tables: liquidation threshold 0.80 kept
    assert _row(page, ids["calibration"])["result"] == "80.0%"
    for role in ("static", "compare", "sweep", "maker_replay", "replay"):
        rid = ids[role]
        cells = _row(page, rid)
        # each column shows the run's first headline figure of that key, or nothing
        first = {}
        for f in runs[rid]["headline"]:
            first.setdefault(f["key"], f["value"])
        assert cells == {k: first.get(k, "") for k in cells}, role
        assert any(cells.values()), role
    for th in ("bad debt", "liquidated", "amplification", "result (VaR, calibrated value, F1)"):
        assert f"<th>{th}</th>" in page
