"""The dashboard's JSON API and pages through the in-process client.

Expected values come from the hand-made runs of ``tests/report/stores.py`` (Monte Carlo paths
with bad debt 1000 * k, k = 0..99, and a calibration over four candidate values), from the
store layout, or from invariants (a run request with no edits reproduces the stored run).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import pytest

from tests.report.stores import CAL_CHOSEN, CAL_RUN, CAL_VALUES, MC_RUN, N_PATHS, values
from tests.web.conftest import make_app, test_client
from liqcascade import __version__
from liqcascade.io.store import ResultsStore
from liqcascade.web import is_loopback
from liqcascade.web.limits import Limits


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text[:500]
    body = resp.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]
    return body["error"]


def _run_ids(root: Path) -> set[str]:
    return set(ResultsStore(root).list_runs().run_id)


# ------------------------------------------------------------------ listing and runs
def test_api_runs_lists_every_stored_run(client, web_store):
    root, ids = web_store
    runs = client.get("/api/runs").json()["runs"]
    # the stored runs of the session store, and the sweep's combinations (each a run of its own)
    combos = set(ResultsStore(root).load(ids["sweep"], "sweep")["run_id"])
    assert {r["run_id"] for r in runs} == set(ids.values()) | combos
    kinds = {r["run_id"]: r["kind"] for r in runs}
    assert kinds[ids["montecarlo"]] == "montecarlo" and kinds[ids["calibration"]] == "calibration"
    assert kinds[ids["static"]] == "static" and kinds[ids["simulation"]] == "simulation"
    shocks = {r["run_id"]: r["shock"] for r in runs}  # small_book.toml: WETH and wstETH drop 25 %
    assert shocks[ids["static"]] == "WETH -25%, wstETH -25%" and shocks[ids["montecarlo"]] == ""
    for r in runs:
        assert r["links"] == {"html": f"/runs/{r['run_id']}", "api": f"/api/runs/{r['run_id']}"}
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for rid in ids.values():
        assert f'href="/runs/{rid}"' in page.text


@pytest.mark.parametrize("role, views", [
    ("static", {"curve", "walls", "rounds", "prices", "liquidations"}),
    ("montecarlo", {"exceedance", "montecarlo", "mc_metrics"}),
    ("calibration", {"calibration"}),
])
def test_run_views_and_their_pages(client, web_store, role, views):
    _, ids = web_store
    rid = ids[role]
    info = client.get(f"/api/runs/{rid}").json()
    assert info["run_id"] == rid and info["kind"] == role
    assert {v["key"] for v in info["views"]} == views
    page = client.get(f"/runs/{rid}")
    assert page.status_code == 200
    for v in info["views"]:
        assert v["links"] == {"html": f"/runs/{rid}/views/{v['key']}", "api": f"/api/runs/{rid}/views/{v['key']}"}
        api = client.get(v["links"]["api"]).json()
        html = client.get(v["links"]["html"])
        assert html.status_code == 200 and f'id="fig-{v["key"]}"' in html.text
        # the page draws exactly the figure its JSON twin returns
        m = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html.text, re.S)
        drawn = json.loads(m.group(1))
        assert list(drawn) == [v["key"]]
        assert [t.get("name") for t in drawn[v["key"]]["data"]] == [t.get("name") for t in api["figure"]["data"]]
        assert api["sources"] and all(s["run_id"] for s in api["sources"])


def test_montecarlo_view_counts_every_path_and_marks_var(client):
    fig = client.get(f"/api/runs/{MC_RUN}/views/montecarlo").json()["figure"]
    bars = [t for t in fig["data"] if t.get("type") == "bar"]
    assert len(bars) == 1 and values(bars[0]["y"]).sum() == N_PATHS  # every path's bad debt is finite
    var99 = [t for t in fig["data"] if t.get("name") == "VaR 99%"]
    assert len(var99) == 1 and values(var99[0]["x"]).tolist() == [98_000.0]


def test_calibration_view_has_every_candidate_and_the_choice(client):
    fig = client.get(f"/api/runs/{CAL_RUN}/views/calibration").json()["figure"]
    within = [t for t in fig["data"] if t.get("name") == "within budget"][0]
    over = [t for t in fig["data"] if t.get("name") == "over budget"][0]
    # estimate * 1.1 <= 1e6: 2.2e5, 5.5e5, 9.9e5 are within, 1.76e6 is not
    assert values(within["x"]).tolist() == CAL_VALUES[:3] and values(over["x"]).tolist() == CAL_VALUES[3:]
    chosen = [t for t in fig["data"] if str(t.get("name", "")).startswith("chosen value")]
    assert len(chosen) == 1 and set(values(chosen[0]["x"]).tolist()) == {CAL_CHOSEN}


def test_report_page_is_the_self_contained_report(client):
    from liqcascade.report.html import REPORT_CSP

    r = client.get(f"/runs/{MC_RUN}/report.html")
    assert r.status_code == 200 and r.headers["content-security-policy"] == REPORT_CSP
    assert 'id="fig-montecarlo"' in r.text and "<script src=" not in r.text  # plotly.js inlined, nothing fetched


def test_table_rows_page_and_json_values(client):
    body = client.get(f"/api/runs/{MC_RUN}/tables/paths", params={"offset": 10, "limit": 5}).json()
    assert body["total_rows"] == N_PATHS and body["offset"] == 10 and body["limit"] == 5
    col = body["columns"].index("bad_debt_usd")
    assert [r[col] for r in body["rows"]] == [10_000.0, 11_000.0, 12_000.0, 13_000.0, 14_000.0]
    # NaN (a cascade that never cleared, paths 95..99) is null in JSON
    tail = client.get(f"/api/runs/{MC_RUN}/tables/paths", params={"offset": 94, "limit": 10}).json()
    t = tail["columns"].index("time_to_clear_s")
    assert [r[t] for r in tail["rows"]] == [94 * 60.0, None, None, None, None, None]
    # +inf (an interval with no finite end) is the string "Infinity", so the body stays strict JSON
    risk = client.get(f"/api/runs/{MC_RUN}/tables/risk")
    json.loads(risk.text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    rows = risk.json()["rows"]
    assert rows[-1][:3] == ["time_to_clear_s", "var", 0.99] and rows[-1][3] == "Infinity"
    assert rows[0][2] is None  # level NaN -> null
    page = client.get(f"/runs/{MC_RUN}/tables/paths", params={"offset": 10, "limit": 5})
    assert page.status_code == 200 and re.search(r"14,?000", page.text) and not re.search(r"15,?000", page.text)
    past = client.get(f"/api/runs/{MC_RUN}/tables/paths", params={"offset": 1000}).json()
    assert past["rows"] == [] and past["total_rows"] == N_PATHS


def test_table_rows_are_capped(web_store):
    root, _ = web_store
    with test_client(make_app(root, Limits(max_table_rows=7), fake_runner=True)) as c:
        body = c.get(f"/api/runs/{MC_RUN}/tables/paths", params={"limit": 100}).json()
    assert body["limit"] == 7 and len(body["rows"]) == 7


def test_versions(client):
    v = client.get("/-/versions").json()
    import duckdb
    import numba

    assert v["liqcascade"] == __version__ and v["python"] == platform.python_version()
    assert v["numpy"] == np.__version__ and v["numba"] == numba.__version__ and v["duckdb"] == duckdb.__version__


# Pages and their JSON twins; a page added without a twin fails here.
TWINS = {
    "/": "/api/runs",
    "/runs/{run_id}": "/api/runs/{run_id}",
    "/runs/{run_id}/views/{view}": "/api/runs/{run_id}/views/{view}",
    "/runs/{run_id}/tables/{table}": "/api/runs/{run_id}/tables/{table}",
    "/runs/{run_id}/report.html": "/api/runs/{run_id}/views",
    "/new": "/api/jobs",
    "/jobs/{job_id}": "/api/jobs/{job_id}",
}


def test_answers_match_their_documented_models(client, web_store):
    from liqcascade.web import models as M

    _, ids = web_store
    rid = ids["static"]
    M.RunsOut.model_validate(client.get("/api/runs").json())
    M.RunOut.model_validate(client.get(f"/api/runs/{rid}").json())
    M.ViewsOut.model_validate(client.get(f"/api/runs/{MC_RUN}/views").json())
    M.ViewOut.model_validate(client.get(f"/api/runs/{rid}/views/curve").json())
    M.TableOut.model_validate(client.get(f"/api/runs/{rid}/tables/summary").json())
    M.ScenariosOut.model_validate(client.get("/api/scenarios").json())
    job = M.JobOut.model_validate(client.post("/api/jobs", json={"scenario": "small_book.toml"}).json())
    M.JobOut.model_validate(client.get(f"/api/jobs/{job.job_id}").json())
    M.JobsOut.model_validate(client.get("/api/jobs").json())
    M.ErrorOut.model_validate(client.get("/api/runs/nope").json())
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/runs/{run_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/RunOut"}


def test_openapi_describes_every_page_and_its_twin(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    pages = {p for p in paths if not p.startswith(("/api/", "/-/", "/static/"))}
    assert pages == set(TWINS)
    for page, twin in TWINS.items():
        assert twin in paths, page
    assert "post" in paths["/api/jobs"] and "/-/versions" in paths and "/api/scenarios" in paths
    # every API path documents its 4xx answers
    for p in ("/api/runs/{run_id}", "/api/runs/{run_id}/tables/{table}", "/api/jobs/{job_id}"):
        assert "404" in paths[p]["get"]["responses"]


def test_security_headers(client):
    r = client.get("/")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


# ------------------------------------------------------------------ bad input
BAD_GETS = [
    ("/api/runs/nope", 404, "no finished run 'nope'"),
    ("/api/runs/%2e%2e", 422, "run_id: String should match pattern"),
    ("/api/runs/..%2f..%2fetc%2fpasswd", 422, "run_id: expected letters, digits"),  # every path trick: 422
    ("/api/runs/%2e%2e%2f%2e%2e%2fcatalog.duckdb", 422, "run_id: expected letters, digits"),
    ("/api/runs/{static}/tables/%2e%2e", 422, "table: String should match pattern"),
    ("/api/runs/{static}/tables/runs", 400, "invalid table name"),
    ("/api/runs/{static}/tables/..%2f..%2fcatalog", 422, "table: expected letters, digits"),
    ("/api/runs/{static}/tables/nope", 404, "has no table 'nope'"),
    ("/api/runs/{static}/tables/summary?limit=0", 422, "limit"),
    ("/api/runs/{static}/tables/summary?offset=-1", 422, "offset"),
    ("/api/runs/{static}/tables/summary?limit=abc", 422, "limit"),
    ("/api/runs/{static}/views/nope", 422, "view"),
    (f"/api/runs/{MC_RUN}/views/curve", 404, "has no 'curve' view"),
    ("/api/jobs/nope", 404, "no job 'nope'"),
    ("/api/nothing/here", 404, "no such page or API path: /api/nothing/here"),
]


@pytest.mark.parametrize("url, status, message", BAD_GETS)
def test_bad_api_requests_get_a_clear_4xx(client, web_store, url, status, message):
    root, ids = web_store
    err = _error(client.get(url.format(static=ids["static"])), status)
    if message:
        assert message in err
    assert str(root) not in err  # the store is named <store>, not by its path


BAD_PAGES = [
    ("/runs/nope", 404),
    ("/runs/%2e%2e", 422),
    ("/runs/pyproject.toml/report.html", 422),  # a file name is not a run id: nothing is run or read
    ("/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/report.html", 422),
    ("/static/..%2f..%2fpyproject.toml", 422),
    ("/static/%2e%2e", 422),
    ("/static/report.html.j2", 404),
    ("/jobs/nope", 404),
    ("/nothing/here", 404),
]


@pytest.mark.parametrize("url, status", BAD_PAGES)
def test_bad_page_requests_get_an_error_page(client, web_store, url, status):
    root, _ = web_store
    before = _run_ids(root)
    r = client.get(url)
    assert r.status_code == status and r.headers["content-type"].startswith("text/html")
    assert "root:" not in r.text and "[project]" not in r.text  # no file outside the store
    assert _run_ids(root) == before


BAD_JOBS = [
    ({"scenario": "../../etc/passwd"}, 422, "no folders"),
    ({"scenario": "%2e%2e%2fsmall_book.toml"}, 422, "no folders"),
    ({"scenario": "/etc/hosts.toml"}, 422, "no folders"),
    ({"scenario": "missing.toml"}, 404, "not in the store's scenarios/ folder"),
    ({"scenario": "small_book.toml", "bogus": 1}, 422, "bogus"),
    ({"scenario": "small_book.toml", "shocks": {"DOGE": 0.3}}, 422, "DOGE"),
    ({"scenario": "small_book.toml", "shocks": {"WETH": 1.5}}, 422, "shock"),
    ({"scenario": "small_book.toml", "shocks": {"WETH": 0.0}}, 422, "no shock to run"),
    ({"scenario": "small_book.toml", "n_accounts": 50}, 422, "synthetic book only"),
    ({"scenario": "builtin:default", "n_accounts": 10**9}, 422, "cap of 200,000 accounts"),
    ({"scenario": "builtin:default", "kind": "simulation", "blocks": 10**6}, 422, "cap of 2,000"),
    ({"scenario": "small_book.toml", "blocks": 10}, 422, "kind = 'simulation' only"),
    ({"scenario": "small_book.toml", "kind": "auction"}, 422, "kind"),
    ({"scenario": "small_book.toml", "sell_fraction": 2}, 422, "sell_fraction"),
]


@pytest.mark.parametrize("body, status, message", BAD_JOBS)
def test_bad_run_requests_are_refused(client, body, status, message):
    runner = client.app.state.dashboard.runner
    n = len(runner.submitted)
    assert message in _error(client.post("/api/jobs", json=body), status)
    assert len(runner.submitted) == n


def test_malformed_and_oversized_bodies(client):
    assert "DELETE is not allowed" in _error(client.delete("/api/runs"), 405)
    assert "not valid JSON" in _error(client.post("/api/jobs", content=b"{not json",
                                                  headers={"content-type": "application/json"}), 422)
    big = json.dumps({"scenario": "small_book.toml", "shocks": {f"A{i}": 0.1 for i in range(3000)}})
    assert len(big) > Limits().max_body_bytes
    assert "over this server's cap of 32768 bytes" in _error(
        client.post("/api/jobs", content=big, headers={"content-type": "application/json"}), 413)
    assert "cross-site" in _error(client.post("/api/jobs", json={}, headers={"origin": "http://evil.example"}), 403)


def _asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes]:
    """One request straight through the ASGI interface (headers a client library would fix)."""
    sent: list[dict] = []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(msg):
        sent.append(msg)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")] + headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_body_cap_holds_without_or_against_content_length(client):
    app = client.app
    ctype = (b"content-type", b"application/json")
    status, body = _asgi(app, "POST", "/api/jobs", [ctype, (b"content-length", b"12abc")], [b"{}"])
    assert status == 400 and b"Content-Length" in body
    # streamed (chunked) body with no declared length: cut off once over the cap
    status, body = _asgi(app, "POST", "/api/jobs", [ctype], [b" " * 20_000, b" " * 20_000])
    assert status == 413 and b"over this server's cap" in body


def test_scenario_files_must_stay_inside_the_store(client, web_store, tmp_path):
    root, _ = web_store
    scen = root / "scenarios"
    text = (scen / "small_book.toml").read_text()
    outside = tmp_path / "book.csv"
    outside.write_text((scen / "small_book.csv").read_text())
    (scen / "escape_abs.toml").write_text(text.replace('path = "small_book.csv"', f'path = "{outside}"'))
    (scen / "escape_rel.toml").write_text(text.replace('path = "small_book.csv"', 'path = "../../book.csv"'))
    (tmp_path / "linked.toml").write_text(text)
    os.symlink(tmp_path / "linked.toml", scen / "linked.toml")
    try:
        listed = client.get("/api/scenarios").json()["scenarios"]
        assert listed[0] == "builtin:default" and "small_book.toml" in listed and "linked.toml" not in listed
        for name in ("escape_abs.toml", "escape_rel.toml"):
            assert "points outside the server's store" in _error(client.post("/api/jobs", json={"scenario": name}), 403)
        assert "not in the store's scenarios/ folder" in _error(client.post("/api/jobs", json={"scenario": "linked.toml"}),
                                                                404)
    finally:
        for name in ("escape_abs.toml", "escape_rel.toml", "linked.toml"):
            (scen / name).unlink()


def test_form_errors_are_shown_on_the_form(client):
    r = client.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=abc"})
    assert r.status_code == 422 and 'id="form-error"' in r.text and "ASSET=DROP" in r.text
    assert 'value="WETH=abc"' in r.text  # the form keeps what was typed
    r = client.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=0.4"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/fake")
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert spec.kind == "static" and spec.data["shock"] == {"WETH": 0.4}


# ------------------------------------------------------------------ runs started here (real worker processes)
def _wait(c, job_id: str, timeout: float = 60.0) -> dict:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("finished", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")


def test_started_runs_land_in_the_store(web_store):
    root, ids = web_store
    with test_client(make_app(root)) as c:
        # no edits: the same config, so the same run id as the stored run (nothing recomputed differs)
        same = c.post("/api/jobs", json={"scenario": "small_book.toml"})
        assert same.status_code == 202 and same.json()["status"] in ("queued", "running")
        edited = c.post("/api/jobs", json={"scenario": "small_book.toml", "shocks": {"WETH": 0.4}})
        sim = c.post("/api/jobs", json={"scenario": "small_book.toml", "kind": "simulation", "blocks": 12,
                                        "path": "linear", "duration_blocks": 4, "oracle": "instant"})
        a, b, s = (_wait(c, r.json()["job_id"]) for r in (same, edited, sim))
        assert a["status"] == "finished" and a["run_id"] == ids["static"], a
        assert b["status"] == "finished" and b["run_id"] not in ids.values(), b
        assert s["status"] == "finished", s
        info = c.get(f"/api/runs/{b['run_id']}").json()
        assert info["kind"] == "static" and info["config"]["shock"] == {"WETH": 0.4}
        assert info["meta"]["via"] == "dashboard" and info["meta"]["request"]["shocks"] == {"WETH": 0.4}
        sim_info = c.get(f"/api/runs/{s['run_id']}").json()
        assert sim_info["kind"] == "simulation" and sim_info["config"]["simulation"]["blocks"] == 12
        assert {"prices", "liquidations"} <= {v["key"] for v in sim_info["views"]}
        listed = {r["run_id"] for r in c.get("/api/runs").json()["runs"]}
        assert {b["run_id"], s["run_id"]} <= listed
        job_page = c.get(f"/jobs/{b['job_id']}")
        assert f'href="/runs/{b["run_id"]}"' in job_page.text
    # the server wrote inside its store only: the new runs' folders are there
    assert (root / "runs" / b["run_id"]).is_dir()


def test_wall_time_and_pending_caps(web_store):
    root, _ = web_store
    before = _run_ids(root)
    with test_client(make_app(root, Limits(max_seconds=0.05, max_pending=1))) as c:
        first = c.post("/api/jobs", json={"scenario": "small_book.toml"})
        assert first.status_code == 202
        if c.get(f"/api/jobs/{first.json()['job_id']}").json()["status"] in ("queued", "running"):
            assert "cap is 1" in _error(c.post("/api/jobs", json={"scenario": "small_book.toml"}), 429)
        job = _wait(c, first.json()["job_id"])
    assert job["status"] == "failed" and "wall-time cap of 0.05 s" in job["error"]
    assert _run_ids(root) == before  # a stopped run leaves nothing behind


# ------------------------------------------------------------------ binding
@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.5.6.7", True), ("::1", True), ("localhost", True),
                                        ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_serve_warns_on_a_non_loopback_address(monkeypatch, tmp_path):
    from click.testing import CliRunner

    import liqcascade.web as web
    from liqcascade.cli import main

    calls = []
    monkeypatch.setattr(web, "serve", lambda *a, **k: calls.append(a))
    loud = CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s"), "--host", "0.0.0.0", "--port", "8123"])
    assert loud.exit_code == 0 and "no authentication" in loud.output and len(calls) == 1
    quiet = CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s"), "--max-seconds", "5"])
    assert quiet.exit_code == 0 and "warning" not in quiet.output
    store, host, port, limits, access = calls[1]
    assert (host, port) == ("127.0.0.1", 8000) and limits.max_seconds == 5.0
    assert access.hosts == {"127.0.0.1:8000", "localhost:8000", "[::1]:8000"}


def test_serve_scenarios_option_copies_examples_into_the_store(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import liqcascade.web as web
    from liqcascade.cli import main
    from tests.report.stores import EXAMPLES

    monkeypatch.setattr(web, "serve", lambda *a, **k: None)
    store = tmp_path / "s"
    r = CliRunner().invoke(main, ["serve", "--store", str(store), "--scenarios", str(EXAMPLES)])
    assert r.exit_code == 0, r.output
    tomls = sorted(p.name for p in EXAMPLES.glob("*.toml"))
    assert sorted(p.name for p in (store / "scenarios").glob("*.toml")) == tomls
    assert (store / "scenarios" / "small_book.csv").read_bytes() == (EXAMPLES / "small_book.csv").read_bytes()
    again = CliRunner().invoke(main, ["serve", "--store", str(store), "--scenarios", str(EXAMPLES)])
    assert "copied 0 file(s)" in again.output
    with test_client(make_app(store, fake_runner=True)) as c:
        assert c.get("/api/scenarios").json()["scenarios"] == ["builtin:default"] + tomls
        for name in ("default.toml", "small_book.toml", "crash_depth.toml"):
            r = c.post("/api/jobs", json={"scenario": name, "shocks": {"WETH": 0.2}})
            assert r.status_code == 202, r.text
