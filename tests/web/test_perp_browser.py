"""A perp run (a tiny synthetic book on ten minutes of the shipped 2025-10-10 window) in a real browser.

``liqcascade report`` runs the scenario into a store; ``liqcascade serve`` serves that store and
Debian's chromium, driven by Playwright with every request elsewhere blocked, opens the run's
pages: the liquidation map draws the stored ``liqmap`` table (one bar per price bin, at the bin's
middle, longs and shorts) and the per-minute view the stored ``minutes`` table (liquidated and ADL
notional, the mark, the insurance fund). The offline report file of the same run draws them too,
with nothing fetched. Without chromium these tests fail; ``LIQCASCADE_SKIP_BROWSER=1`` skips them.
"""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.io.store import ResultsStore
from tests import browser as B
from tests.web.test_system_browser import TRACES

pytestmark = pytest.mark.browser

# 200 accounts a side at 20x median leverage, 21:10-21:20 UTC: the cascade's first minutes, so
# the run liquidates on the book and deleverages within seconds of compute
SCENARIO = """
name = "perp-browser"
description = "a tiny Binance-like BTCUSDT book on ten minutes of 2025-10-10"

[perps]
engine = "cex_perp"
market = "BTCUSDT"
fund_usd = 1.0e6
adl = "queue"

[perps.book.synthetic]
seed = 7

[perps.book.synthetic.long]
open_interest_usd = 5.0e7
n_accounts = 200
leverage_median = 20.0
leverage_sigma = 0.8
entry_sigma = 0.03

[perps.book.synthetic.short]
open_interest_usd = 5.0e7
n_accounts = 200
leverage_median = 20.0
leverage_sigma = 0.8
entry_sigma = 0.03

[perps.path]
start = "2025-10-10 21:10"
end = "2025-10-10 21:20"

[perps.liquidation_map]
levels = 40
"""
MINUTES = 10
LEVELS = 40


@pytest.fixture(scope="module")
def perp_store(tmp_path_factory):
    """(store root, run id, report file) of the scenario."""
    d = tmp_path_factory.mktemp("perpweb")
    scenario = d / "perp_browser.toml"
    scenario.write_text(SCENARIO)
    store, report = d / "store", d / "perp.html"
    r = CliRunner().invoke(main, ["report", str(scenario), "-o", str(report), "--store", str(store)])
    assert r.exit_code == 0, r.output
    runs = ResultsStore(store).list_runs()
    assert list(runs["kind"]) == ["perps"]
    (store / "scenarios").mkdir()
    (store / "scenarios" / scenario.name).write_text(SCENARIO)  # for the new-run form
    return store, runs["run_id"].iloc[0], report


@pytest.fixture(scope="module")
def server(perp_store, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with B.serve_store(perp_store[0], log) as base:
        yield base


def check_liqmap(page, liqmap) -> None:
    """One bar per stored price bin at the bin's middle: longs then shorts, each its column."""
    page.wait_for_selector("#fig-liqmap.js-plotly-plot .main-svg")
    drawn = page.evaluate(TRACES, "fig-liqmap")
    assert [t["name"] for t in drawn] == ["longs liquidated", "shorts liquidated"]
    assert len(liqmap) == LEVELS
    mid = (liqmap["price_low"].to_numpy() + liqmap["price_high"].to_numpy()) / 2
    for t, col in zip(drawn, ["long_usd", "short_usd"]):
        np.testing.assert_allclose(t["x"], mid, rtol=1e-12)
        np.testing.assert_allclose(t["y"], liqmap[col].to_numpy(), rtol=1e-12, err_msg=col)
    # the scenario's book liquidates longs below the start mark and shorts above it
    assert liqmap["long_usd"].sum() > 0 and liqmap["short_usd"].sum() > 0


def check_minutes(page, minutes) -> None:
    """Per stored minute: liquidated and ADL notional, the mark, the fund, in that order."""
    page.wait_for_selector("#fig-perp_minutes.js-plotly-plot .main-svg")
    drawn = page.evaluate(TRACES, "fig-perp_minutes")
    assert [t["name"] for t in drawn] == ["liquidated on the book", "deleveraged (ADL)", "mark", "insurance fund"]
    assert len(minutes) == MINUTES
    stamps = [str(m) for m in minutes["minute"]]
    for t, col in zip(drawn, ["liquidated_usd", "adl_usd", "mark", "fund_usd"]):
        assert t["x"] == stamps, col
        np.testing.assert_allclose(t["y"], minutes[col].to_numpy(), rtol=1e-12, err_msg=col)
    assert minutes["liquidated_usd"].sum() > 0  # the window is the cascade's: something is drawn


def test_the_dashboard_draws_the_liquidation_map_and_the_minutes(browser, server, perp_store):
    store, rid, _ = perp_store
    rs = ResultsStore(store)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked, errors = B.block_network(page, [f"{server}/"]), B.console_errors(page)
    page.set_default_timeout(30_000)
    page.goto(f"{server}/runs/{rid}")
    info = httpx.get(f"{server}/api/runs/{rid}", timeout=30).json()
    views = {v["key"]: v for v in info["views"]}
    assert {"liqmap", "perp_minutes"} <= set(views)
    links = page.eval_on_selector_all("#views a", "as => as.map(a => a.getAttribute('href'))")
    assert views["liqmap"]["links"]["html"] in links and views["perp_minutes"]["links"]["html"] in links
    page.goto(f"{server}{views['liqmap']['links']['html']}")
    check_liqmap(page, rs.load(rid, "liqmap"))
    B.screenshot(page, "perp-liqmap")
    page.goto(f"{server}{views['perp_minutes']['links']['html']}")
    check_minutes(page, rs.load(rid, "minutes"))
    B.screenshot(page, "perp-minutes")
    assert blocked == [] and errors == [], (blocked, errors)
    context.close()


def test_the_offline_report_of_the_run_draws_them_too(browser, perp_store):
    store, rid, report = perp_store
    rs = ResultsStore(store)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    url = report.resolve().as_uri()
    blocked, errors = B.block_network(page, [url]), B.console_errors(page)
    page.goto(url)
    assert rid in page.inner_text("body")
    check_liqmap(page, rs.load(rid, "liqmap"))
    check_minutes(page, rs.load(rid, "minutes"))
    B.screenshot(page, "perp-report")
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()


def test_the_form_starts_a_perp_run_with_its_edits(browser, server, perp_store):
    store, rid, _ = perp_store
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked, errors = B.block_network(page, [f"{server}/"]), B.console_errors(page)
    page.set_default_timeout(30_000)
    page.goto(f"{server}/new")
    page.select_option("#scenario", "perp_browser.toml")
    page.check('input[name=kind][value=perps]')
    page.fill("#fund_usd", "500000")
    page.select_option("#adl", "pro_rata")
    B.screenshot(page, "perp-form")
    page.click("#start")
    page.wait_for_url(f"{server}/jobs/*")
    page.wait_for_selector("#status[data-status=finished], #status[data-status=failed]", timeout=90_000)
    assert page.get_attribute("#status", "data-status") == "finished", page.inner_text("main")
    page.click("#run-link")
    new = page.url.rsplit("/", 1)[1]
    info = httpx.get(f"{server}/api/runs/{new}", timeout=30).json()
    assert new != rid and info["kind"] == "perps" and info["meta"]["via"] == "dashboard"
    assert info["config"]["perps"]["fund_usd"] == 5e5 and info["config"]["perps"]["adl"] == "pro_rata"
    views = {v["key"]: v for v in info["views"]}
    rs = ResultsStore(store)
    page.goto(f"{server}{views['liqmap']['links']['html']}")
    check_liqmap(page, rs.load(new, "liqmap"))
    page.goto(f"{server}{views['perp_minutes']['links']['html']}")
    minutes = rs.load(new, "minutes")
    check_minutes(page, minutes)
    assert minutes["fund_usd"].iloc[0] == 5e5  # nothing liquidates at the start mark (test_perp_runs.py)
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()


def test_the_form_starts_a_perp_montecarlo_and_its_risk_view_draws_the_stored_risk(browser, server, perp_store):
    """kind perps_montecarlo with 6 paths and seed 3: the job runs, the run's risk view draws the
    stored ``risk`` table (VaR/ES bars of the fund's depletion, the ADL notional and the losses
    socialised; the probabilities) and lists it under the figure."""
    store, _, _ = perp_store
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked, errors = B.block_network(page, [f"{server}/"]), B.console_errors(page)
    page.set_default_timeout(30_000)
    page.goto(f"{server}/new")
    page.select_option("#scenario", "perp_browser.toml")
    page.check('input[name=kind][value=perps_montecarlo]')
    page.fill("#paths", "6")
    page.fill("#seed", "3")
    page.click("#start")
    page.wait_for_url(f"{server}/jobs/*")
    page.wait_for_selector("#status[data-status=finished], #status[data-status=failed]", timeout=90_000)
    assert page.get_attribute("#status", "data-status") == "finished", page.inner_text("main")
    page.click("#run-link")
    rid = page.url.rsplit("/", 1)[1]
    info = httpx.get(f"{server}/api/runs/{rid}", timeout=30).json()
    assert info["kind"] == "perps_montecarlo" and (info["meta"]["paths"], info["meta"]["seed"]) == (6, 3)
    views = {v["key"]: v for v in info["views"]}
    assert views["perp_risk"]["links"]["html"] in page.eval_on_selector_all(
        "#views a", "as => as.map(a => a.getAttribute('href'))")
    page.goto(f"{server}{views['perp_risk']['links']['html']}")
    page.wait_for_selector("#fig-perp_risk.js-plotly-plot .main-svg")
    risk = ResultsStore(store).load(rid, "risk")
    assert (risk["n_paths"] == 6).all()
    # ten minutes of the cascade deleverage on the resampled paths too: the bars are not all zero
    assert risk.set_index(["metric", "statistic"]).loc[("p_adl", "probability"), "estimate"] > 0
    drawn = {t["name"]: t for t in page.evaluate(TRACES, "fig-perp_risk")}
    assert list(drawn) == ["VAR 0.95", "ES 0.95", "VAR 0.99", "ES 0.99", "probability"]
    labels = ["fund depletion", "ADL notional", "losses socialised"]
    for (stat, level), g in risk[risk["statistic"].isin(["var", "es"])].groupby(["statistic", "level"], sort=False):
        t = drawn[f"{stat.upper()} {level:.3g}"]
        assert t["x"] == labels
        np.testing.assert_allclose(t["y"], g["estimate"].to_numpy(), rtol=1e-12)
    prob = risk[risk["statistic"] == "probability"]
    assert drawn["probability"]["x"] == ["P(ADL)", "P(fund exhausted)", "P(socialised)"]
    np.testing.assert_allclose(drawn["probability"]["y"], prob["estimate"].to_numpy(), rtol=1e-12)
    shown = page.inner_text("#view-perp_risk table")
    assert "P(ADL)" in shown and "fund depletion" in shown and "losses socialised" in shown
    B.screenshot(page, "perp-montecarlo-risk")
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()
