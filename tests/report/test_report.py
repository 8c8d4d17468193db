"""The report file: self-contained (plotly.js once, no external URL, a CSP that forbids any
fetch), under 6 MB, every figure's run and table named; and the ``report`` command."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.io.store import ResultsStore
from liqcascade.report import make_report, write_report
from liqcascade.report import bundle as _bundle
from liqcascade.report import views as V
from liqcascade.report.html import REPORT_CSP, plotly_js
from tests.report.stores import CAL_RUN, MC_RUN

MAX_BYTES = 6_000_000


class _Refs(HTMLParser):
    """Every URL-bearing attribute of the page's elements (script bodies are not markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        self.tags.append((tag, d))
        for k, v in attrs:
            if k in ("src", "href", "action", "poster", "data", "srcset", "formaction") and v is not None:
                self.refs.append((tag, k, v))


def refs_of(html: str) -> _Refs:
    p = _Refs()
    p.feed(html)
    return p


def external(url: str) -> bool:
    u = url.strip().lower()
    return u.startswith(("http:", "https:", "//", "ftp:", "ws:", "wss:")) or (":" in u.split("/")[0] and
                                                                           not u.startswith(("#", "data:", "blob:")))


def figures_json(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S)
    assert m, "no figures payload"
    return json.loads(m.group(1))


def check_self_contained(html: str, stored_text_has_urls: bool = False) -> None:
    assert len(html.encode("utf-8")) < MAX_BYTES
    js = plotly_js()
    assert html.count(js) == 1, "plotly.js must be inlined exactly once"
    p = refs_of(html)
    bad = [r for r in p.refs if external(r[2])]
    assert not bad, f"external URLs in the page: {bad}"
    scripts = [d for t, d in p.tags if t == "script"]
    assert all("src" not in d for d in scripts), "a script is loaded from a file"
    assert not [d for t, d in p.tags if t == "link"], "a <link> element would load something"
    # outside the plotly.js library (and stored text shown as text), no URL at all
    assert stored_text_has_urls or not re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html.replace(js, ""), re.I)
    csp = [d for t, d in p.tags if t == "meta" and d.get("http-equiv") == "Content-Security-Policy"]
    assert csp and csp[0]["content"] == REPORT_CSP and "default-src 'none'" in REPORT_CSP
    assert "connect-src" not in REPORT_CSP  # falls back to 'none'


@pytest.fixture(scope="module")
def static_report(faces_store, tmp_path_factory):
    root, ids = faces_store
    out = tmp_path_factory.mktemp("rep") / "static.html"
    rep = write_report(root, ids["static"], out, complete=False)
    return rep, out, ids


def test_static_report_is_self_contained(static_report):
    rep, out, ids = static_report
    html = out.read_text(encoding="utf-8")
    check_self_contained(html)
    assert out.stat().st_size < MAX_BYTES
    figs = figures_json(html)
    assert list(figs) == [v.key for v in rep.views] == ["curve", "walls", "rounds", "prices", "liquidations"]
    for v in rep.views:
        assert f'id="fig-{v.key}"' in html
        assert len(figs[v.key]["data"]) == len(v.figure["data"])
        for s in v.sources:  # every figure names its table and run
            assert f"<code>{s.table}</code> of run <code>{s.run_id}</code>" in html
    # run id, config, and the runs table with every companion
    assert f'<code id="run-id">{ids["static"]}</code>' in html
    assert "Resolved config of run" in html and "&#34;protocol&#34;: &#34;aave_v3&#34;" in html
    for role in ("static", "curve", "curve_flat", "walls", "simulation"):
        assert f"<td><code>{ids[role]}</code></td>" in html
    assert rep.notes == ()


def test_montecarlo_and_calibration_reports(faces_store):
    root, _ = faces_store
    mc = make_report(root, MC_RUN)
    check_self_contained(mc.html)
    assert [v.key for v in mc.views] == ["exceedance", "montecarlo", "mc_metrics"]
    assert "bad debt VaR 99%" in mc.html and "$98,000  [$97,000, $99,000]" in mc.html
    cal = make_report(root, CAL_RUN)
    check_self_contained(cal.html)
    assert [v.key for v in cal.views] == ["calibration"]


def test_scenario_name_cannot_break_out_of_the_page(tmp_path):
    """A stored string with markup is escaped in the page and in the figures' JSON."""
    st = ResultsStore(tmp_path / "s")
    evil = '</script><script src="https://evil.example/x.js"></script><img src=http://x/y>'
    cand = pd.DataFrame({"value": [0.1, 0.2], "estimate": [1.0, 2.0], "lo": [0.5, 1.5], "hi": [1.5, 2.5],
                         "within_budget": [True, False]})
    st.save("cal-evil", "calibration", {"name": evil, "description": evil}, {"candidates": cand},
            {"param": evil, "metric": "bad_debt_usd", "chosen": 0.1})
    html = make_report(st, "cal-evil").html
    check_self_contained(html, stored_text_has_urls=True)
    assert evil not in html and "<img" not in html and html.count("<script") == 3
    assert figures_json(html)["calibration"]["layout"]["xaxis"]["title"]["text"].startswith(evil)


def test_long_simulation_is_thinned(tmp_path):
    """20,000 blocks of 4 assets: at most MAX_POINTS points a trace, and a page well under 6 MB."""
    n, assets = 20_000, ["A", "B", "C", "D", "E"]
    blocks = np.repeat(np.arange(n), len(assets))
    rows = len(blocks)
    price = np.tile(np.linspace(1.0, 0.5, n), len(assets)).reshape(len(assets), n).T.ravel() * 100
    steps = pd.DataFrame({
        "block": blocks, "time": blocks * 12.0, "asset": np.tile(assets, n), "reference_price": price,
        "market_price": price * 0.99, "oracle_price": price, "eligible_accounts": np.ones(rows, dtype=np.int64),
        "accounts_liquidated": np.ones(rows, dtype=np.int64), "collateral_seized_usd": np.ones(rows),
        "debt_repaid_usd": np.ones(rows), "bad_debt_written_off_usd": np.zeros(rows),
        "eligible_shortfall_usd": np.zeros(rows),
    })
    st = ResultsStore(tmp_path / "s")
    st.save("sim-long", "simulation", {"name": "long"}, {"steps": steps}, {})
    rep = make_report(st, "sim-long", complete=False)
    assert [v.key for v in rep.views] == ["prices", "liquidations"]
    prices = rep.views[0].figure
    assert len(prices["data"]) == 3 * V.MAX_ASSETS
    from tests.report.stores import values

    for t in prices["data"] + rep.views[1].figure["data"]:
        assert len(values(t["y"])) <= V.MAX_POINTS
    # the last shown minute is within one stride of the run's end (19,999 blocks x 12 s)
    x = values(prices["data"][0]["x"])
    assert 19_999 * 12 / 60 - 10 * 12 / 60 <= x[-1] <= 19_999 * 12 / 60
    assert len(rep.html.encode()) - len(plotly_js().encode()) < 1_000_000
    check_self_contained(rep.html)


# ------------------------------------------------------------------ the command
def test_cli_report_of_a_run(faces_store, tmp_path):
    root, ids = faces_store
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, ["report", MC_RUN, "-o", str(out), "--store", str(root)])
    assert res.exit_code == 0, res.output
    assert f"report of run {MC_RUN}" in res.output and "MB)" in res.output
    check_self_contained(out.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("args", "expect"), [
    (["report", "no-such-run"], "no-such-run"),
    (["report", "../../etc"], "../../etc"),
])
def test_cli_report_bad_input(faces_store, tmp_path, args, expect):
    root, _ = faces_store
    out = tmp_path / "r.html"
    res = CliRunner().invoke(main, args + ["-o", str(out), "--store", str(root)])
    assert res.exit_code != 0
    assert expect in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_cli_report_no_store(tmp_path):
    res = CliRunner().invoke(main, ["report", "abc123", "-o", str(tmp_path / "r.html"), "--store", str(tmp_path / "x")])
    assert res.exit_code != 0 and "no results store" in res.output


def test_report_of_a_scenario_runs_its_companions(tmp_path):
    from tests.report.stores import copy_small_book

    coarse = {"curve": {"asset": "WETH", "shocks": "0:0.6:0.2", "co_move": ["wstETH"]}}
    path = copy_small_book(tmp_path / "sc", extra=coarse)
    rep = make_report(tmp_path / "store", path)
    assert [v.key for v in rep.views] == ["curve", "walls", "rounds"]
    kinds = sorted(ResultsStore(tmp_path / "store").list_runs()["kind"])
    assert kinds == ["curve", "curve", "static", "walls"]
    again = make_report(tmp_path / "store", path)  # stored runs are found, not recomputed
    assert again.run_id == rep.run_id
    assert len(ResultsStore(tmp_path / "store").list_runs()) == 4
    b = _bundle.find(ResultsStore(tmp_path / "store"), rep.run_id)
    assert b.curve is not None and b.curve_flat is not None and not b.curve_flat.impact
