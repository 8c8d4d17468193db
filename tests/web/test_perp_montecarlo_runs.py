"""Perp Monte Carlo started from the dashboard (kind ``perps_montecarlo``): the form's fields,
the request's validation (paths within the server's cap, a seed, a perp scenario), the job run
by a worker and its result stored with its risk view (VaR/ES of the fund's depletion, P(ADL),
the losses socialised)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from liqcascade.execution.perp_montecarlo import perp_montecarlo
from liqcascade.io.perp_scenario import build_perp_scenario, parse_perp_scenario
from liqcascade.io.store import ResultsStore
from liqcascade.web.limits import Limits
from tests.report.stores import values
from tests.web.conftest import make_app, test_client
from tests.web.test_perp_runs import EXAMPLE, _error, client, perp_root  # noqa: F401  (fixtures)

BAD = [
    ({"scenario": "small_book.toml", "kind": "perps_montecarlo"}, 422, "needs a perp scenario"),
    ({"scenario": "tiny_perps.toml", "kind": "perps", "paths": 5}, 422, "paths apply to kind = 'perps_montecarlo' only"),
    ({"scenario": "tiny_perps.toml", "kind": "perps", "seed": 1}, 422, "seed apply to kind = 'perps_montecarlo' only"),
    ({"scenario": "small_book.toml", "paths": 5}, 422, "paths apply to kind = 'perps_montecarlo' only"),
    ({"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": 201}, 422, "paths 201 is over this server's cap"),
    ({"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": 0}, 422, "paths"),
    ({"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "seed": -1}, 422, "seed"),
    ({"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "shocks": {"BTC": 0.2}}, 422, "shocks do not apply"),
]


@pytest.mark.parametrize("body, status, message", BAD)
def test_bad_perp_montecarlo_requests_are_refused(client, body, status, message):  # noqa: F811
    runner = client.app.state.dashboard.runner
    n = len(runner.submitted)
    assert message in _error(client.post("/api/jobs", json=body), status)
    assert len(runner.submitted) == n


def test_a_request_carries_its_paths_and_seed_and_defaults_to_twenty_paths(client):  # noqa: F811
    r = client.post("/api/jobs", json={"scenario": EXAMPLE.name, "kind": "perps_montecarlo", "paths": 7, "seed": 3,
                                       "fund_usd": 5e8})
    assert r.status_code == 202, r.text
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert (spec.kind, spec.paths, spec.seed, spec.data["perps"]["fund_usd"]) == ("perps_montecarlo", 7, 3, 5e8)
    assert client.post("/api/jobs", json={"scenario": EXAMPLE.name, "kind": "perps_montecarlo"}).status_code == 202
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert (spec.paths, spec.seed) == (20, 0)


def test_the_cap_on_paths_is_the_servers(perp_root):  # noqa: F811
    with test_client(make_app(perp_root, Limits(max_paths=5), fake_runner=True)) as c:
        body = {"scenario": "tiny_perps.toml", "kind": "perps_montecarlo"}
        assert "paths 6 is over this server's cap of 5 paths" in _error(c.post("/api/jobs", json={**body, "paths": 6}), 422)
        assert c.post("/api/jobs", json={**body, "paths": 5}).status_code == 202
        # without paths: the default of 20, held to the cap
        assert c.post("/api/jobs", json=body).status_code == 202
        assert c.app.state.dashboard.runner.submitted[-1].paths == 5


def test_the_form_offers_a_perp_montecarlo_and_names_a_bad_field(client):  # noqa: F811
    page = client.get("/new").text
    assert 'value="perps_montecarlo"' in page and 'name="paths"' in page and 'name="seed"' in page
    r = client.post("/new", data={"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": "4", "seed": "9"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert (spec.kind, spec.paths, spec.seed) == ("perps_montecarlo", 4, 9)
    bad = client.post("/new", data={"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": "many"})
    assert bad.status_code == 422 and 'id="form-error"' in bad.text and "paths" in bad.text
    over = client.post("/new", data={"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": "1000"})
    assert over.status_code == 422 and "over this server&#39;s cap of 200 paths" in over.text


def test_a_started_perp_montecarlo_lands_in_the_store_with_its_risk_view(perp_root):  # noqa: F811
    with test_client(make_app(perp_root)) as c:
        r = c.post("/api/jobs", json={"scenario": "tiny_perps.toml", "kind": "perps_montecarlo", "paths": 4, "seed": 5})
        assert r.status_code == 202, r.text
        t0 = time.monotonic()
        while (job := c.get(f"/api/jobs/{r.json()['job_id']}").json())["status"] not in ("finished", "failed"):
            assert time.monotonic() - t0 < 120, job
            time.sleep(0.2)
        assert job["status"] == "finished", job
        rid = job["run_id"]
        info = c.get(f"/api/runs/{rid}").json()
        assert info["kind"] == "perps_montecarlo" and info["meta"]["via"] == "dashboard"
        assert (info["meta"]["paths"], info["meta"]["seed"]) == (4, 5)
        view = c.get(f"/api/runs/{rid}/views/perp_risk").json()
    st = ResultsStore(perp_root)
    paths, risk = st.load(rid, "paths"), st.load(rid, "risk")
    assert paths["path"].tolist() == [0, 1, 2, 3]
    # the same numbers as the library's run of the same scenario, paths and seed
    ps = build_perp_scenario(parse_perp_scenario(_tiny(), "tiny_perps.toml"),
                             perp_root / "scenarios", "tiny_perps.toml")
    lib = perp_montecarlo(ps, 4, 5)
    assert lib.run_id == rid
    pd.testing.assert_frame_equal(paths, lib["paths"], check_exact=True)
    # the view draws the stored risk table: one bar per metric for each statistic and level
    tail = risk[risk["statistic"].isin(["var", "es"])]
    by_name = {t["name"]: t for t in view["figure"]["data"]}
    for (stat, level), g in tail.groupby(["statistic", "level"], sort=False):
        np.testing.assert_allclose(values(by_name[f"{stat.upper()} {level:.3g}"]["y"]), g["estimate"].to_numpy(),
                                   rtol=1e-12)
    prob = risk[risk["statistic"] == "probability"].set_index("metric")["estimate"]
    drawn = dict(zip(by_name["probability"]["x"], values(by_name["probability"]["y"])))
    assert drawn == pytest.approx({"P(ADL)": prob["p_adl"], "P(fund exhausted)": prob["p_fund_exhausted"],
                                   "P(socialised)": prob["p_socialised"]})
    rows = {(m, s, lv): e for m, s, lv, e, *_ in view["table"]["rows"]}
    assert rows[("fund depletion", "var", 0.99)] == risk.set_index(["metric", "statistic", "level"]).loc[
        ("fund_depletion_usd", "var", 0.99), "estimate"]
    assert [x["table"] for x in view["sources"]] == ["risk"]


def _tiny() -> dict:
    import tomllib

    from tests.web.test_perp_browser import SCENARIO

    return tomllib.loads(SCENARIO)


def test_serve_sets_the_cap_on_paths(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import liqcascade.web as web
    from liqcascade.cli import main

    calls = []
    monkeypatch.setattr(web, "serve", lambda *a, **k: calls.append(a))
    assert CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s"), "--max-paths", "7"]).exit_code == 0
    assert CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s")]).exit_code == 0
    assert [c[3].max_paths for c in calls] == [7, 200]
    bad = CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s"), "--max-paths", "0"])
    assert bad.exit_code == 2 and "--max-paths" in bad.output and len(calls) == 2
