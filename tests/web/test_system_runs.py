"""System scenarios ([[markets]]) started from the dashboard's API (issue 11).

Invariant checked: a dashboard run of a system file with some edits is the run
``liqcascade run`` / ``liqcascade simulate`` makes of the same file with the same edits
written by hand (same run id, equal tables). Refusals: a market file outside the store,
edits that do not apply to a system, the account cap over the sum of the markets.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.web.conftest import make_app, test_client
from liqcascade.cli import main
from liqcascade.io.store import ResultsStore
from liqcascade.web.limits import Limits

# Two small synthetic markets over WETH selling into one shared order book.
SYSTEM = """
name = "tiny-system"

[[markets]]
name = "aave"
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]

[markets.positions]
source = "synthetic"
n_accounts = 1500
seed = 1
pair = ["WETH", "USDC"]

[[markets]]
name = "morpho"
protocol = "morpho_blue"
assets = ["WETH", "USDC"]

[markets.positions]
source = "synthetic"
n_accounts = 1000
seed = 2
pair = ["WETH", "USDC"]

[shock]
WETH = 0.2

[[venues]]
kind = "orderbook"
asset = "WETH"
calibration = "calm"
scale = 0.25
"""

# What the dashboard's simulation request below amounts to, written by hand.
SIM_TABLE = """
[simulation]
path = "linear"
blocks = 12
duration_blocks = 4

[simulation.oracle]
kind = "instant"
"""


@pytest.fixture(scope="module")
def system_store(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sysweb") / "store"
    (root / "scenarios").mkdir(parents=True)
    (root / "scenarios" / "tiny.toml").write_text(SYSTEM)
    return root


def _wait(c, job_id: str, timeout: float = 120.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text[:500]
    return resp.json()["detail"] if "detail" in resp.json() else resp.text


def _cli(args: list[str]) -> None:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output


def _same_tables(a: Path, b: Path, rid: str) -> None:
    sa, sb = ResultsStore(a), ResultsStore(b)
    assert sa.tables(rid) and sorted(sa.tables(rid)) == sorted(sb.tables(rid))
    for t in sa.tables(rid):
        pd.testing.assert_frame_equal(sa.load(rid, t), sb.load(rid, t))


def test_system_runs_from_the_api_equal_the_cli(system_store, tmp_path):
    root = system_store
    with test_client(make_app(root)) as c:
        static = c.post("/api/jobs", json={"scenario": "tiny.toml", "shocks": {"WETH": 0.35}})
        sim = c.post("/api/jobs", json={"scenario": "tiny.toml", "kind": "simulation", "blocks": 12,
                                        "path": "linear", "duration_blocks": 4, "oracle": "instant"})
        assert static.status_code == 202 and sim.status_code == 202, (static.text, sim.text)
        a, s = _wait(c, static.json()["job_id"]), _wait(c, sim.json()["job_id"])
        assert a["status"] == "finished" and s["status"] == "finished", (a, s)
        info = c.get(f"/api/runs/{a['run_id']}").json()
        assert info["kind"] == "system" and info["config"]["shock"] == {"WETH": 0.35}
        assert [m["name"] for m in info["config"]["markets"]] == ["aave", "morpho"]
        sim_info = c.get(f"/api/runs/{s['run_id']}").json()
        assert sim_info["kind"] == "system_simulation" and sim_info["config"]["simulation"]["blocks"] == 12

    cli_store = tmp_path / "cli"
    _cli(["run", str(root / "scenarios" / "tiny.toml"), "--shock", "WETH=0.35", "--store", str(cli_store), "-q"])
    edited = tmp_path / "tiny_sim.toml"
    edited.write_text(SYSTEM + SIM_TABLE)
    _cli(["simulate", str(edited), "--store", str(cli_store), "-q"])
    cli_runs = set(ResultsStore(cli_store).list_runs().run_id)
    assert {a["run_id"], s["run_id"]} == cli_runs  # the same config, hence the same run ids
    for rid in cli_runs:
        _same_tables(root, cli_store, rid)


def test_system_market_file_outside_the_store_is_refused(system_store, tmp_path):
    scen = system_store / "scenarios"
    outside = tmp_path / "book.csv"
    outside.write_text("account,asset,collateral,debt\n")
    text = SYSTEM.replace('source = "synthetic"\nn_accounts = 1000\nseed = 2\npair = ["WETH", "USDC"]',
                          f'source = "csv"\npath = "{outside}"', 1)
    assert str(outside) in text
    (scen / "escape.toml").write_text(text)
    (scen / "escape_rel.toml").write_text(text.replace(str(outside), "../../book.csv"))
    try:
        with test_client(make_app(system_store, fake_runner=True)) as c:
            for name in ("escape.toml", "escape_rel.toml"):
                msg = _error(c.post("/api/jobs", json={"scenario": name}), 403)
                assert "markets.1.positions.path" in msg and "outside the server's store" in msg
            assert c.app.state.dashboard.runner.submitted == []
    finally:
        (scen / "escape.toml").unlink()
        (scen / "escape_rel.toml").unlink()


@pytest.mark.parametrize("body, field", [
    ({"n_accounts": 10}, "n_accounts"),
    ({"blocks": 12}, "blocks"),  # a simulation edit on a static run
    ({"shocks": {"wstETH": 0.3}}, "shock.wstETH"),  # no market holds it
])
def test_edits_that_do_not_apply_to_a_system_are_refused(system_store, body, field):
    with test_client(make_app(system_store, fake_runner=True)) as c:
        msg = _error(c.post("/api/jobs", json={"scenario": "tiny.toml", **body}), 422)
        assert field in msg
        assert c.app.state.dashboard.runner.submitted == []


def test_account_cap_holds_for_the_sum_of_the_markets(system_store):
    # 1500 + 1000 accounts: under a cap of 2500, over a cap of 2499
    with test_client(make_app(system_store, Limits(max_accounts=2499), fake_runner=True)) as c:
        assert "2,500 accounts together" in _error(c.post("/api/jobs", json={"scenario": "tiny.toml"}), 422)
    with test_client(make_app(system_store, Limits(max_accounts=2500), fake_runner=True)) as c:
        assert c.post("/api/jobs", json={"scenario": "tiny.toml"}).status_code == 202
        spec = c.app.state.dashboard.runner.submitted[-1]
        assert spec.kind == "static" and spec.data["shock"] == {"WETH": 0.2}


def test_sell_fraction_and_impact_edit_the_system_unless_a_market_sets_its_own(system_store):
    scen = system_store / "scenarios"
    own = SYSTEM.replace('[[markets]]\nname = "morpho"', '[[markets]]\nname = "morpho"\n'
                         '[markets.liquidators]\nsell_fraction = 0.5\n', 1)
    assert own != SYSTEM
    (scen / "own_liq.toml").write_text(own)
    try:
        with test_client(make_app(system_store, fake_runner=True)) as c:
            body = {"scenario": "tiny.toml", "sell_fraction": 0.4, "impact": False}
            assert c.post("/api/jobs", json=body).status_code == 202
            spec = c.app.state.dashboard.runner.submitted[-1]
            assert spec.data["liquidators"] == {"sell_fraction": 0.4} and spec.data["engine"] == {"impact": False}
            msg = _error(c.post("/api/jobs", json={**body, "scenario": "own_liq.toml"}), 422)
            assert "sell_fraction" in msg and "morpho" in msg
            assert len(c.app.state.dashboard.runner.submitted) == 1
    finally:
        (scen / "own_liq.toml").unlink()


def test_the_form_starts_a_system_run_and_shows_a_refused_edit(system_store):
    with test_client(make_app(system_store, fake_runner=True)) as c:
        r = c.post("/new", data={"scenario": "tiny.toml", "shocks": "WETH=0.3", "n_accounts": ""},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/jobs/fake")
        spec = c.app.state.dashboard.runner.submitted[-1]
        assert [m["name"] for m in spec.data["markets"]] == ["aave", "morpho"] and spec.data["shock"] == {"WETH": 0.3}
        r = c.post("/new", data={"scenario": "tiny.toml", "n_accounts": "50"})
        assert r.status_code == 422 and 'id="form-error"' in r.text and "n_accounts does not apply" in r.text
        assert len(c.app.state.dashboard.runner.submitted) == 1


def test_the_worker_caps_the_sum_of_the_built_books(system_store):
    # a file book's size is known only once built: the worker checks the sum of all markets
    from dataclasses import replace

    from liqcascade.web.scenarios import RunRequest, plan
    from liqcascade.web.worker import answer

    spec = plan(system_store, RunRequest(scenario="tiny.toml"), Limits(max_accounts=2500))
    status, msg = answer(replace(spec, max_accounts=2499))
    assert status == "error" and "markets.positions" in msg and "2,499" in msg and "2500" in msg.replace(",", "")
