"""The report files opened in headless Debian chromium with every network request blocked:
each chart is drawn by plotly with the expected traces and unit-labelled axes, nothing is
fetched and the console stays clean. Screenshots go to $LIQCASCADE_ARTIFACTS (else tmp_path)."""

from __future__ import annotations

import pytest

from liqcascade.report import write_report
from tests import browser
from tests.report.stores import CAL_RUN, MC_RUN

pytestmark = pytest.mark.browser

# traces per chart known by construction: curve 3 panels x 2 curves; walls: book bar, book line,
# cascade without and with feedback; Monte Carlo: histogram + VaR/CVaR at 95 % and 99 %
# (stores.MC_RISK); its 5 other metrics; calibration: within, over budget, line, budget, chosen.
EXPECTED = {
    "static": {"fig-curve": 6, "fig-walls": 4, "fig-liquidations": 6},
    MC_RUN: {"fig-montecarlo": 5, "fig-mc_metrics": 5},
    CAL_RUN: {"fig-calibration": 5},
}

RENDERED = """() => Array.from(document.querySelectorAll('.figure')).map(el => ({
    id: el.id,
    plotted: el.classList.contains('js-plotly-plot'),
    traces: (el.data || []).length,
    svgs: el.querySelectorAll('.main-svg').length,
    titles: Array.from(el.querySelectorAll('.g-xtitle text, .g-ytitle text, [class^="g-x"][class$="title"] text, '
                                            + '[class^="g-y"][class$="title"] text')).map(t => t.textContent),
}))"""


def test_reports_render_offline(faces_store, tmp_path):
    import os

    if not os.environ.get("LIQCASCADE_ARTIFACTS"):
        browser.set_artifacts_dir(tmp_path)
    root, ids = faces_store
    reports = {}
    for target in ("static", MC_RUN, CAL_RUN):
        rid = ids["static"] if target == "static" else target
        rep = write_report(root, rid, tmp_path / f"{target}.html", complete=False)
        reports[target] = (tmp_path / f"{target}.html", rep)

    with browser.launch() as b:
        for target, (path, rep) in reports.items():
            page = b.new_page(viewport={"width": 1280, "height": 900})
            url = path.resolve().as_uri()
            blocked = browser.block_network(page, [url])
            errors = browser.console_errors(page)
            page.goto(url)
            n = len(rep.views)
            page.wait_for_function(
                f"document.querySelectorAll('.figure.js-plotly-plot .main-svg').length >= {n}", timeout=20_000)
            found = {d["id"]: d for d in page.evaluate(RENDERED)}
            assert set(found) == {f"fig-{v.key}" for v in rep.views}
            for v in rep.views:
                d = found[f"fig-{v.key}"]
                assert d["plotted"] and d["svgs"] >= 1, d
                assert d["traces"] == len(v.figure["data"]), (v.key, d)
                # every drawn axis title names its unit
                assert d["titles"] and all("(" in t and t.endswith(")") for t in d["titles"]), (v.key, d["titles"])
            for fig, count in EXPECTED[target].items():
                assert found[fig]["traces"] == count, (fig, found[fig])
            assert browser.plotly_traces(page) == {k: d["traces"] for k, d in found.items()}
            assert blocked == [], f"the report tried to fetch {blocked}"
            assert errors == [], errors
            shot = browser.screenshot(page, f"report-{target}")
            assert shot.is_file() and shot.stat().st_size > 10_000
            page.close()


# the asset and colour of every drawn trace that belongs to one asset (views.asset_color)
ASSET_TRACES = """() => Array.from(document.querySelectorAll('.figure.js-plotly-plot')).flatMap(el =>
    (el._fullData || []).filter(t => t._input.meta && t._input.meta.asset).map(t => ({
        fig: el.id, asset: t._input.meta.asset,
        color: t.type === 'bar' ? t.marker.color : t.line.color})))"""


@pytest.mark.parametrize("role", ["replay", "compare", "sweep", "maker_replay", "montecarlo"])
def test_every_kind_opens_with_the_answer_offline(faces_store, tmp_path, role):
    """The headline block is <main>'s first element and sits above every figure; the
    figures are drawn offline; the Monte Carlo tail is on log axes; one colour per asset."""
    import os

    from liqcascade.report.views import asset_color

    if not os.environ.get("LIQCASCADE_ARTIFACTS"):
        browser.set_artifacts_dir(tmp_path)
    root, ids = faces_store
    path = tmp_path / f"{role}.html"
    rep = write_report(root, ids[role], path, complete=False)
    assert rep.views
    with browser.launch() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        url = path.resolve().as_uri()
        blocked = browser.block_network(page, [url])
        errors = browser.console_errors(page)
        page.goto(url)
        page.wait_for_function(
            f"document.querySelectorAll('.figure.js-plotly-plot .main-svg').length >= {len(rep.views)}", timeout=20_000)
        assert page.evaluate("() => document.querySelector('main').firstElementChild.id") == "answer"
        top = page.evaluate("() => document.getElementById('answer').getBoundingClientRect().top")
        figs = page.evaluate("() => Array.from(document.querySelectorAll('.figure')).map(e => e.getBoundingClientRect().top)")
        assert figs and top < min(figs)
        if role == "montecarlo":
            axes = page.evaluate("() => { const l = document.getElementById('fig-exceedance')._fullLayout;"
                                 " return [l.xaxis.type, l.yaxis.type]; }")
            assert axes == ["log", "log"]
        for t in page.evaluate(ASSET_TRACES):
            assert t["color"] == asset_color(t["asset"]), t
        assert blocked == [] and errors == [], (blocked, errors)
        browser.screenshot(page, f"report-{role}")
        page.close()
