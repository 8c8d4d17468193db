"""`liqcascade simulate` on a system scenario with perp markets (execution/system_perps.py): stored
as kind system_perps and found again, printed, the lending side's `alone` is the same scenario
without its perp markets, and the report draws the stored perp tables."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.report import write_report
from tests.report.stores import values

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "system_perps_lending.toml"


def small_example(tmp: Path, perps: bool = True) -> Path:
    text = re.sub(r"(?m)^n_accounts = \d+", "n_accounts = 300", EXAMPLE.read_text())
    text = re.sub(r"(?m)^blocks = \d+", "blocks = 60", text)
    if not perps:
        text = text[:text.index("[[perp_markets]]")]
    p = tmp / ("perps.toml" if perps else "lending.toml")
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("system_perps")
    scenario = small_example(tmp)
    res = api.simulate(scenario, store=tmp / "S")
    return tmp, scenario, res


def test_the_run_is_stored_and_found_again(stored):
    tmp, scenario, res = stored
    assert res.kind == "system_perps"
    assert {"summary", "markets", "perp_markets", "steps", "perp_steps", "arbitrage"} <= set(res.tables)
    again = api.simulate(scenario, store=tmp / "S")
    assert again.run_id == res.run_id
    np.testing.assert_array_equal(again["perp_steps"]["liquidated_usd"], res["perp_steps"]["liquidated_usd"])
    # two 6 s perp sub-steps per 12 s block
    assert len(res["perp_steps"]) == 2 * 60 and res["perp_steps"]["block"].max() == 59


def test_together_alone_and_the_arbitrage_flow_add_up(stored, tmp_path):
    _, _, res = stored
    s, p = res.summary, res["perp_markets"].iloc[0]
    for key in ("accounts_liquidated", "bad_debt_usd", "collateral_seized_usd"):
        assert s[f"contagion_{key}"] == s[key] - s[f"alone_{key}"]
    assert s["perp_liquidated_usd"] == p["liquidated_usd"] == pytest.approx(res["perp_steps"]["liquidated_usd"].sum())
    assert p["contagion_liquidated_usd"] == p["liquidated_usd"] - p["alone_liquidated_usd"]
    flows = res["arbitrage"]
    assert len(flows) and p["liquidated_usd"] > 0 and s["accounts_liquidated"] > 0
    assert p["arb_capital_used_usd"] == pytest.approx(flows["buy_cost_usd"].sum())
    assert p["arb_capital_used_usd"] <= p["arb_capital_usd"] * (1 + 1e-12)
    # the lending side alone is the same scenario without its perp markets, simulated
    lending = api.simulate(small_example(tmp_path, perps=False), store=None)
    assert lending.kind == "system_simulation"
    assert s["alone_accounts_liquidated"] == lending.summary["accounts_liquidated"]
    assert s["alone_collateral_seized_usd"] == lending.summary["collateral_seized_usd"]


def test_the_cli_prints_the_perp_markets(stored):
    tmp, scenario, res = stored
    r = CliRunner().invoke(main, ["simulate", str(scenario), "--out", str(tmp / "S"), "-q"])
    assert r.exit_code == 0, r.output
    assert f"run {res.run_id}" in r.output and "perp markets" in r.output and "btc-perp" in r.output


def test_the_report_draws_the_stored_perp_tables(stored, tmp_path):
    tmp, _, res = stored
    rep = write_report(tmp / "S", res.run_id, tmp_path / "r.html")
    v = next(v for v in rep.views if v.key == "perps_lending")
    traces = {t["name"]: t for t in v.figure["data"]}
    assert values(traces["perp liquidated on its book"]["y"]).sum() == pytest.approx(res["perp_steps"]["liquidated_usd"].sum())
    sold = res["arbitrage"][~res["arbitrage"]["perp_sold"]]["sell_proceeds_usd"].sum()
    assert sold > 0 and -values(traces["arbitrage sold on spot"]["y"]).sum() == pytest.approx(sold)
    assert {s.table for s in v.sources} == {"perp_steps", "arbitrage"}


@pytest.mark.slow
def test_the_full_example_prints_what_docs_perps_md_says(tmp_path):
    """docs/perps.md, "Perps and lending": the example at full size."""
    res = api.simulate(EXAMPLE, store=None)
    s, p = res.summary, res["perp_markets"].iloc[0]
    assert (s["accounts_liquidated"], s["alone_accounts_liquidated"]) == (1353, 1040)
    assert p["arb_capital_used_usd"] == pytest.approx(1e8, rel=1e-9)
    assert res["arbitrage"]["block"].max() + 1 == 17
    assert round(p["arb_perp_bought_tokens"]) == 3065 and round(p["arb_spot_sold_usd"] / 1e5) == 1003
