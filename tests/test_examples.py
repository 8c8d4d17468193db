"""Every shipped example runs (at a small size in CI) and the default scenario is the packaged one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from liqcascade import api
from liqcascade.engine.run import run_static
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def test_default_example_is_the_packaged_default():
    assert (REPO / "examples" / "default.toml").read_text() == api.default_scenario_path().read_text()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_at_small_size(path):
    data = tomllib.loads(path.read_text())
    if data["positions"]["source"] == "synthetic":
        data["positions"]["n_accounts"] = min(data["positions"]["n_accounts"], 5000)
    sc = S.build(parse_scenario(data, str(path)), path.parent, str(path))
    res = run_static(sc.model, sc.config.shock, sc.settings)
    s = res.summary
    assert s["converged"]
    # every example shocks something and something is liquidated
    assert s["accounts_liquidated"] > 0
    # final prices never above the shocked ones for a selling-only cascade
    a = res.table("assets")
    assert (a["price_final"] <= a["price_shocked"] * (1 + 1e-12)).all()
    # the curve section is valid for every example
    cur = api.curve(sc, store=None, shocks="0:0.2:0.1")
    assert len(cur.table("curve")) == 3


def test_demo_scenario_headline_numbers_are_sane():
    """The full default scenario: ETH -30 % liquidates something, not everything."""
    res = api.run(api.default_scenario_path(), store=None)
    s = res.summary
    coll = res.table("accounts")["collateral_usd_before"].sum()
    assert 0 < s["collateral_seized_usd"] < coll
    assert s["amplification"] >= 1.0
