"""Reports and dashboard pages of a system of markets: the headline first, the markets,
contagion, network and contagion-curve figures drawn from their stored tables."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from liqcascade.report import make_report
from liqcascade.report.answer import key_figures
from liqcascade.report.bundle import find
from liqcascade.report.views import view
from tests.report.test_report import check_self_contained
from tests.report.test_report_kinds import parse_main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "system_shared_eth.toml"


@pytest.fixture(scope="module")
def system_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("sysrep")
    text = re.sub(r"n_accounts = (\d+)", lambda m: f"n_accounts = {int(m.group(1)) // 20}", EXAMPLE.read_text())
    text = text.replace('shocks = "0:0.6:0.05"', 'shocks = "0:0.4:0.2"')
    p = d / "system.toml"
    p.write_text(text)
    store = d / "res"
    rep = make_report(store, p)
    return store, rep


def test_system_report_opens_with_the_system_headline(system_store):
    store, rep = system_store
    check_self_contained(rep.html)
    main = parse_main(rep.html)
    assert main.children[0][:2] == ("section", "answer")
    b = find(_store(store), rep.run_id)
    figs = key_figures(b)
    assert [f.label for f in figs][:2] == ["Bad debt, all markets", "Collateral liquidated, all markets"]
    keys = [v.key for v in rep.views]
    for k in ("markets", "contagion_curve", "contagion", "network"):
        assert k in keys


def _store(path):
    from liqcascade.io.store import ResultsStore

    return ResultsStore(path)


def test_system_figures_read_their_tables(system_store):
    store, rep = system_store
    b = find(_store(store), rep.run_id)
    markets = b.load(b.target, "markets")
    mv = view(b, "markets")
    bars = [t for t in mv.figure["data"] if t["type"] == "bar"]
    together = [t for t in bars if t["name"] == "in the system"]
    assert np.allclose(_y(together[0]), markets["collateral_seized_usd"])
    assert np.allclose(_y(together[1]), markets["bad_debt_usd"])
    # the contagion heat map is the matrix, cell by cell
    c = b.load(b.target, "contagion")
    cv = view(b, "contagion")
    heat = [t for t in cv.figure["data"] if t["type"] == "heatmap"][0]
    names = heat["x"]
    z = _y(heat["z"])
    for row in c.itertuples(index=False):
        assert z[names.index(row.target), names.index(row.source)] == pytest.approx(row.delta_collateral_seized_usd)
    # one line per edge of the stored network, plus one legend entry per edge kind
    edges = b.load(b.target, "network_edges")
    nv = view(b, "network")
    lines = [t for t in nv.figure["data"] if t.get("mode") == "lines" and t.get("x") != [None]]
    assert len(lines) == len(edges)


def test_contagion_curve_view_is_the_stored_curve(system_store):
    store, rep = system_store
    b = find(_store(store), rep.run_id)
    v = view(b, "contagion_curve")
    curve = b.load(b.curve, "curve").sort_values("shock")
    system = [t for t in v.figure["data"] if t["name"] == "system"]
    alone = [t for t in v.figure["data"] if t["name"] == "sum of the markets alone"]
    assert np.allclose(_y(system[1]), curve["bad_debt_usd"])
    assert np.allclose(_y(alone[1]), curve["alone_bad_debt_usd"])


def _y(trace_or_array) -> np.ndarray:
    """A trace's y values (or an array) from plotly JSON, plain or typed-array encoded."""
    y = trace_or_array["y"] if isinstance(trace_or_array, dict) and "y" in trace_or_array else trace_or_array
    if isinstance(y, dict):  # plotly's typed-array JSON: base64 bytes, dtype and shape
        import base64

        a = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).astype(float)
        return a.reshape([int(n) for n in str(y["shape"]).split(",")]) if "shape" in y else a
    return np.asarray(y, dtype=float)


def test_dashboard_pages_of_a_network_run(system_store):
    from tests.web.conftest import make_app, test_client

    store, rep = system_store
    client = test_client(make_app(store))
    r = client.get(f"/runs/{rep.run_id}")
    assert r.status_code == 200
    assert "Bad debt, all markets" in r.text
    for key in ("markets", "contagion", "network", "contagion_curve"):
        assert client.get(f"/api/runs/{rep.run_id}/views/{key}").status_code == 200
    runs = client.get("/api/runs").json()
    kinds = {x["kind"] for x in (runs["runs"] if isinstance(runs, dict) else runs)}
    assert "network" in kinds


def test_system_simulation_report_opens_with_the_system_headline(tmp_path):
    """A block-by-block system run (kind system_simulation): its report opens with the
    system's headline, read from its summary."""
    from liqcascade.execution.runs import simulate

    day = Path(__file__).resolve().parents[2] / "examples" / "system_shared_eth_day.toml"
    text = re.sub(r"(?m)^n_accounts = (\d+)", "n_accounts = 200", day.read_text())
    text = re.sub(r"(?m)^blocks = (\d+)", "blocks = 200", text)
    text = re.sub(r"(?m)^duration_blocks = (\d+)", "duration_blocks = 100", text)
    p = tmp_path / "day.toml"
    p.write_text(text)
    res = simulate(p, store=tmp_path / "res")
    rep = make_report(tmp_path / "res", res.run_id, complete=False)
    main = parse_main(rep.html)
    assert main.children[0][:2] == ("section", "answer")
    s = res.summary
    b = find(_store(tmp_path / "res"), res.run_id)
    figs = key_figures(b)
    assert figs[0].label == "Bad debt, all markets"
    assert "markets" in [v.key for v in rep.views]
    assert s["collateral_seized_usd"] == pytest.approx(res["markets"]["collateral_seized_usd"].sum(), rel=1e-12)
