"""The 2023-10-31 Ethereum system (examples/system_eth_2023.toml) in a real browser.

``liqcascade report`` runs the example (its network run and its contagion curve) into a store;
``liqcascade serve`` serves that store and Debian's chromium, driven by Playwright with every
request elsewhere blocked, opens the run's pages: the contagion curve (the system against the
sum of the markets alone) and the exposure network are drawn with the numbers of the stored
tables. The offline report file of the same run draws them too, with nothing fetched.

The books are capped at 1,000 accounts (the example's debt totals are kept: each book is scaled
to its ``debt_usd``) and the curve at three shocks, so the runs take seconds, not a minute.
Without chromium these tests fail; ``LIQCASCADE_SKIP_BROWSER=1`` skips them instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.io.store import ResultsStore
from tests import browser as B

pytestmark = pytest.mark.browser
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "system_eth_2023.toml"
MAX_ACCOUNTS = 1000
SHOCKS = "0.1,0.3,0.5"


@pytest.fixture(scope="module")
def eth_store(tmp_path_factory):
    """(store root, network run id, curve run id, report file) of the example at small size."""
    d = tmp_path_factory.mktemp("eth2023")
    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), MAX_ACCOUNTS)}",
                  EXAMPLE.read_text())
    text, n = re.subn(r'(?m)^shocks = ".*"$', f'shocks = "{SHOCKS}"', text)
    assert n == 1  # the [curve] table's grid
    scenario = d / "system_eth_2023.toml"
    scenario.write_text(text)
    store, report = d / "store", d / "eth_2023.html"
    r = CliRunner().invoke(main, ["report", str(scenario), "-o", str(report), "--store", str(store)])
    assert r.exit_code == 0, r.output
    runs = ResultsStore(store).list_runs()
    kinds = dict(zip(runs["kind"], runs["run_id"]))
    return store, kinds["network"], kinds["curve"], report


@pytest.fixture(scope="module")
def server(eth_store, tmp_path_factory):
    """The base URL of ``liqcascade serve`` over the example's store (stopped after the module)."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with B.serve_store(eth_store[0], log) as base:
        yield base


# every trace plotly drew in one figure, with its data decoded (the JSON's typed arrays)
TRACES = """(id) => document.getElementById(id)._fullData.map(t => ({
    name: t._input.name ?? null, mode: t._input.mode ?? null, showlegend: t._input.showlegend ?? true,
    x: t.x ? Array.from(t.x) : null, y: t.y ? Array.from(t.y) : null,
    text: t._input.text ? Array.from(t._input.text) : null}))"""


def check_curve(page, fig_id: str, curve) -> None:
    """The contagion curve drawn as stored: per panel, the system and the sum of the markets alone."""
    page.wait_for_selector(f"#{fig_id}.js-plotly-plot .main-svg")
    drawn = page.evaluate(TRACES, fig_id)
    assert [t["name"] for t in drawn] == ["system", "sum of the markets alone"] * 2
    c = curve.sort_values("shock")
    cols = ["collateral_seized_usd", "alone_collateral_seized_usd", "bad_debt_usd", "alone_bad_debt_usd"]
    for t, col in zip(drawn, cols):
        np.testing.assert_array_equal(t["x"], c["shock"].to_numpy())
        np.testing.assert_allclose(t["y"], c[col].to_numpy(), rtol=1e-12, err_msg=col)
    assert len(c) == len(SHOCKS.split(","))


def check_network(page, fig_id: str, nodes, edges) -> None:
    """Every stored node drawn with its label, by kind, and one line per stored edge."""
    page.wait_for_selector(f"#{fig_id}.js-plotly-plot .main-svg")
    drawn = page.evaluate(TRACES, fig_id)
    markers = {t["name"]: sorted(t["text"]) for t in drawn if t["mode"] == "markers+text"}
    expected = {}
    for kind, g in nodes.groupby("kind"):
        expected[kind if kind.endswith("s") else f"{kind}s"] = sorted(g["label"].astype(str))
    assert markers == expected
    lines = [t for t in drawn if t["mode"] == "lines" and t["showlegend"] is False]
    assert len(lines) == len(edges)
    assert sorted(t["name"] for t in lines) == sorted(edges["kind"])


def test_the_dashboard_draws_the_contagion_curve_and_the_network(browser, server, eth_store):
    store, rid, curve_id, _ = eth_store
    rs = ResultsStore(store)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked, errors = B.block_network(page, [f"{server}/"]), B.console_errors(page)
    page.set_default_timeout(30_000)
    page.goto(f"{server}/runs/{rid}")
    assert page.evaluate("() => document.querySelector('main').firstElementChild.id") == "answer"
    info = httpx.get(f"{server}/api/runs/{rid}", timeout=30).json()
    views = {v["key"]: v for v in info["views"]}
    assert {"markets", "contagion_curve", "contagion", "network"} <= set(views)
    links = page.eval_on_selector_all("#views a", "as => as.map(a => a.getAttribute('href'))")
    assert views["contagion_curve"]["links"]["html"] in links and views["network"]["links"]["html"] in links
    # the curve view names the curve run it reads
    twin = httpx.get(f"{server}{views['contagion_curve']['links']['api']}", timeout=30).json()
    assert [(s["table"], s["run_id"]) for s in twin["sources"]] == [("curve", curve_id)]
    page.goto(f"{server}{views['contagion_curve']['links']['html']}")
    check_curve(page, "fig-contagion_curve", rs.load(curve_id, "curve"))
    B.screenshot(page, "system-eth-2023-contagion-curve")
    page.goto(f"{server}{views['network']['links']['html']}")
    check_network(page, "fig-network", rs.load(rid, "network_nodes"), rs.load(rid, "network_edges"))
    B.screenshot(page, "system-eth-2023-network")
    assert blocked == [] and errors == [], (blocked, errors)
    context.close()


def test_the_offline_report_of_the_run_draws_them_too(browser, eth_store):
    store, rid, curve_id, report = eth_store
    rs = ResultsStore(store)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    url = report.resolve().as_uri()
    blocked, errors = B.block_network(page, [url]), B.console_errors(page)
    page.goto(url)
    assert rid in page.inner_text("body")
    check_curve(page, "fig-contagion_curve", rs.load(curve_id, "curve"))
    check_network(page, "fig-network", rs.load(rid, "network_nodes"), rs.load(rid, "network_edges"))
    B.screenshot(page, "system-eth-2023-report")
    assert blocked == [] and errors == [], (blocked, errors)
    page.close()
