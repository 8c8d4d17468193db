"""Perp scenarios ([perps]) started from the dashboard: the new-run form and ``POST /api/jobs``.

A perp scenario runs as kind ``perps`` with its own edits (the insurance fund, the ADL policy),
validated like every other request: a wrong kind, an edit of another kind of scenario, an
unknown policy or a book over the account cap is refused with a clear 4xx and nothing started.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from liqcascade.io.store import ResultsStore
from liqcascade.web.limits import Limits
from tests.web.conftest import make_app, test_client
from tests.web.test_perp_browser import SCENARIO

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "replay_2025_10_10_perps.toml"
SMALL_BOOK = """
name = "small"
[positions]
source = "synthetic"
n_accounts = 50
[shock]
WETH = 0.3
"""


@pytest.fixture(scope="module")
def perp_root(tmp_path_factory) -> Path:
    """A store whose scenarios/ folder holds the shipped perp example, the tiny perp scenario of
    the browser test and a small single-market scenario."""
    root = tmp_path_factory.mktemp("perpruns") / "store"
    ResultsStore(root)
    (root / "scenarios").mkdir()
    shutil.copyfile(EXAMPLE, root / "scenarios" / EXAMPLE.name)
    (root / "scenarios" / "tiny_perps.toml").write_text(SCENARIO)
    (root / "scenarios" / "small_book.toml").write_text(SMALL_BOOK)
    return root


@pytest.fixture(scope="module")
def client(perp_root):
    with test_client(make_app(perp_root, fake_runner=True)) as c:
        yield c


def _error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text[:500]
    return resp.json()["error"]


def test_the_shipped_perp_example_starts_with_its_edits(client):
    r = client.post("/api/jobs", json={"scenario": EXAMPLE.name, "kind": "perps", "fund_usd": 5e8, "adl": "pro_rata"})
    assert r.status_code == 202, r.text
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert spec.kind == "perps" and spec.data["perps"]["fund_usd"] == 5e8 and spec.data["perps"]["adl"] == "pro_rata"
    # the rest of the example is kept as written
    assert spec.data["perps"]["engine"] == "cex_perp" and spec.data["perps"]["book"]["synthetic"]["seed"] == 20251010
    assert spec.request == {"scenario": EXAMPLE.name, "kind": "perps", "fund_usd": 5e8, "adl": "pro_rata"}


BAD = [
    ({"scenario": "replay_2025_10_10_perps.toml"}, 422, "start it with kind = 'perps'"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "simulation"}, 422, "start it with kind = 'perps'"),
    ({"scenario": "small_book.toml", "kind": "perps"}, 422, "needs a perp scenario"),
    ({"scenario": "small_book.toml", "fund_usd": 1e6}, 422, "fund_usd apply to a perp scenario"),
    ({"scenario": "small_book.toml", "adl": "queue"}, 422, "adl apply to a perp scenario"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "perps", "shocks": {"BTC": 0.2}}, 422, "shocks do not apply"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "perps", "n_accounts": 10}, 422, "n_accounts do not apply"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "perps", "blocks": 10}, 422, "kind = 'simulation' only"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "perps", "adl": "lottery"}, 422, "perps.adl"),
    ({"scenario": "replay_2025_10_10_perps.toml", "kind": "perps", "fund_usd": -1}, 422, "fund_usd"),
]


@pytest.mark.parametrize("body, status, message", BAD)
def test_bad_perp_requests_are_refused(client, body, status, message):
    runner = client.app.state.dashboard.runner
    n = len(runner.submitted)
    assert message in _error(client.post("/api/jobs", json=body), status)
    assert len(runner.submitted) == n


def test_the_account_cap_holds_for_both_sides_of_the_book(perp_root):
    # the example draws 20,000 accounts a side: 40,000 together
    with test_client(make_app(perp_root, Limits(max_accounts=39_999), fake_runner=True)) as c:
        msg = _error(c.post("/api/jobs", json={"scenario": EXAMPLE.name, "kind": "perps"}), 422)
        assert "40,000 accounts together" in msg and "cap of 39,999" in msg
    with test_client(make_app(perp_root, Limits(max_accounts=40_000), fake_runner=True)) as c:
        assert c.post("/api/jobs", json={"scenario": EXAMPLE.name, "kind": "perps"}).status_code == 202


def test_the_form_offers_and_starts_a_perp_run(client):
    page = client.get("/new").text
    assert 'value="perps"' in page and 'name="fund_usd"' in page
    for policy in ("dydx", "queue", "pro_rata"):
        assert f'<option value="{policy}"' in page
    r = client.post("/new", data={"scenario": EXAMPLE.name, "kind": "perps", "fund_usd": "2.5e8", "adl": "queue"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/fake")
    spec = client.app.state.dashboard.runner.submitted[-1]
    assert spec.kind == "perps" and spec.data["perps"]["fund_usd"] == 2.5e8 and spec.data["perps"]["adl"] == "queue"
    bad = client.post("/new", data={"scenario": EXAMPLE.name, "kind": "perps", "adl": "lottery"})
    assert bad.status_code == 422 and 'id="form-error"' in bad.text and "perps.adl" in bad.text
    assert '<option value="lottery"' not in bad.text  # only the engine's policies are offered


def test_a_started_perp_run_lands_in_the_store(perp_root):
    with test_client(make_app(perp_root)) as c:
        r = c.post("/api/jobs", json={"scenario": "tiny_perps.toml", "kind": "perps", "fund_usd": 5e5, "adl": "pro_rata"})
        assert r.status_code == 202, r.text
        t0 = time.monotonic()
        while (job := c.get(f"/api/jobs/{r.json()['job_id']}").json())["status"] not in ("finished", "failed"):
            assert time.monotonic() - t0 < 120, job
            time.sleep(0.2)
        assert job["status"] == "finished", job
        info = c.get(f"/api/runs/{job['run_id']}").json()
        assert info["kind"] == "perps" and info["meta"]["via"] == "dashboard"
        assert info["config"]["perps"]["fund_usd"] == 5e5 and info["config"]["perps"]["adl"] == "pro_rata"
        assert {"liqmap", "perp_minutes"} <= {v["key"] for v in info["views"]}
    minutes = ResultsStore(perp_root).load(job["run_id"], "minutes")
    # seed 7 draws no account that liquidates at 21:10, the start mark: the fund ends that minute as edited
    assert len(minutes) == 10 and minutes["liquidated_usd"].iloc[0] == 0 and minutes["fund_usd"].iloc[0] == 5e5


def test_the_worker_holds_a_built_perp_book_to_the_cap(perp_root):
    """The worker's own check (the one a book read from files meets): 400 accounts over a cap of 399."""
    import tomllib

    from liqcascade.web.scenarios import RunSpec
    from liqcascade.web.worker import answer

    data = tomllib.loads(SCENARIO)
    status, msg = answer(RunSpec("perps", data, str(perp_root / "scenarios"), "tiny_perps.toml", {}, 399))
    assert status == "error" and "perps.book" in msg and "399" in msg and "400" in msg
