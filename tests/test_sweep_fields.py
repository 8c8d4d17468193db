"""Sweep fields set only what exists (review finding 2) and a static sweep's amplification column
is of one asset in every row (finding 3).

small_book.toml shocks WETH and wstETH by 25 % each; its market has WETH, wstETH, WBTC, USDC,
USDT, DAI. montecarlo_eth_day.toml's [montecarlo].vol has WETH, wstETH, rETH, cbETH, WBTC.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.io.store import ResultsStore
from liqcascade.execution.sweep import _free_keys, _path, combinations, sweep

EX = Path(__file__).resolve().parents[1] / "examples"
SMALL = EX / "small_book.toml"
MC = EX / "montecarlo_eth_day.toml"
MC_KEYS = ["WETH", "wstETH", "rETH", "cbETH", "WBTC"]


@pytest.mark.parametrize("field, free", [
    ("shock.WETH", [1]),
    ("assets.WETH.liquidation_bonus", [2]),        # market.overrides.<asset>
    ("prices.overrides.WBTC", [2]),
    ("montecarlo.vol.WETH", [2]),
    ("montecarlo.jumps.mean.WETH", [3]),
    ("simulation.drive.ETH", [2]),
    ("venues.0.reserve_usd", []),                  # list index, then a model field
    ("montecarlo.depeg.0.drop", []),
    ("engine.max_rounds", []),
])
def test_free_keys_are_the_keys_of_mapping_fields(field, free):
    assert _free_keys(_path(field)) == free


def test_unknown_vol_key_is_refused_with_the_keys_that_exist(tmp_path):
    with pytest.raises(ConfigError) as e:
        combinations(MC, ["montecarlo.vol.ETH=0.6,0.9"])
    msg = str(e.value)
    assert e.value.file == "--sweep" and e.value.key == "montecarlo.vol.ETH"
    assert all(k in msg for k in MC_KEYS) and "'ETH'" in msg


def test_cli_refuses_before_any_run(tmp_path):
    r = CliRunner().invoke(main, ["montecarlo", str(MC), "--paths", "2", "--out", str(tmp_path / "s"),
                                  "--sweep", "montecarlo.vol.ETH=0.6,0.9",
                                  "--sweep", "assets.WETH.liquidation_bonus=0.05,0.075"])
    assert r.exit_code == 2
    assert "montecarlo.vol.ETH" in r.output and "WETH, wstETH, rETH, cbETH, WBTC" in r.output
    assert "Traceback" not in r.output and "p0" not in r.output
    assert len(ResultsStore(tmp_path / "s").list_runs()) == 0


@pytest.mark.parametrize("field", ["montecarlo.jumps.mean.ETH", "montecarlo.jumps.std.BTC"])
def test_other_mapping_keys_must_exist(field):
    with pytest.raises(ConfigError, match="WETH, wstETH, rETH, cbETH, WBTC"):
        combinations(MC, [f"{field}=0.01"])


def test_mapping_the_file_does_not_set_is_refused():
    with pytest.raises(ConfigError, match="sets no montecarlo.vol"):
        combinations(SMALL, ["montecarlo.vol.WETH=0.5"])


@pytest.mark.parametrize("field", ["shock.WBTC", "assets.USDC.ltv", "prices.overrides.DAI"])
def test_asset_keyed_tables_take_any_market_asset(field):
    rows, configs, _ = combinations(SMALL, [f"{field}=0.5"])
    assert rows == [{field: 0.5}]
    path = _path(field)
    node = configs[0].model_dump()
    for seg in path:
        node = node[seg]
    assert node == 0.5


@pytest.mark.parametrize("field", ["shock.ETH", "assets.BTC.ltv"])
def test_asset_keyed_tables_refuse_other_names(field):
    with pytest.raises(ConfigError, match="an asset of the market"):
        combinations(SMALL, [f"{field}=0.5"])


def test_schema_fields_absent_from_the_file_are_sweepable():
    rows, configs, _ = combinations(SMALL, ["engine.max_rounds=7"])
    assert configs[0].engine.max_rounds == 7


def test_existing_vol_key_is_accepted():
    rows, configs, _ = combinations(MC, ["montecarlo.vol.WETH=0.6,0.9"])
    assert [c.montecarlo.vol["WETH"] for c in configs] == [0.6, 0.9]
    assert [list(c.montecarlo.vol) for c in configs] == [MC_KEYS, MC_KEYS]


def test_correlation_shape_error_names_the_path_assets(tmp_path):
    """Six vol keys against the file's 5x5 matrix: the error names the six in order, no jargon."""
    text = MC.read_text().replace("WBTC = 0.55 }", "WBTC = 0.55, USDC = 0.01 }")
    p = tmp_path / "six.toml"
    p.write_text(text)
    from liqcascade.execution.api import montecarlo

    with pytest.raises(ConfigError) as e:
        montecarlo(p, 2, executor="serial", store=None)
    msg = str(e.value)
    assert "montecarlo.corr" in msg and "6x6" in msg and "5x5" in msg
    assert "WETH, wstETH, rETH, cbETH, WBTC, USDC" in msg and "p0" not in msg


# ------------------------------------------------------------------ one headline asset per sweep
def test_static_sweep_amplification_is_of_one_asset(tmp_path):
    store = tmp_path / "S"
    res = sweep(SMALL, ["shock.WETH=0.2,0.3,0.4"], store=store)
    t = res.table("sweep")
    assert t["headline_asset"].tolist() == ["WETH"] * 3
    assert t["initial_drop"].tolist() == pytest.approx([0.2, 0.3, 0.4])
    # the column is WETH's: final drop over initial drop of WETH in each row
    for _, r in t.iterrows():
        assert r["amplification"] == pytest.approx(r["final_drop"] / r["shock.WETH"])
        a = ResultsStore(store).load(r["run_id"], "assets").set_index("asset").loc["WETH"]
        assert r["final_drop"] == pytest.approx(a["final_drop"])
    # the 0.2 run's own summary headlines wstETH (its 25 % shock is larger); the sweep row does not
    first = ResultsStore(store).load(t["run_id"].iloc[0], "summary").iloc[0]
    assert first["headline_asset"] == "wstETH" and math.isclose(first["initial_drop"], 0.25)


def test_headline_without_a_swept_shock_is_the_base_scenarios(tmp_path):
    # equal 25 % shocks: the base headlines the asset with more collateral in the book (as a run does)
    res = sweep(SMALL, ["assets.WETH.liquidation_bonus=0.05,0.08"], store=None)
    t = res.table("sweep")
    from liqcascade import api

    base = api.run(SMALL, store=None).summary
    assert t["headline_asset"].nunique() == 1
    assert t["headline_asset"].iloc[0] == base["headline_asset"]
    assert t["initial_drop"].tolist() == pytest.approx([0.25, 0.25])


def test_printed_sweep_table_shows_the_headline_asset(tmp_path):
    r = CliRunner().invoke(main, ["run", str(SMALL), "--sweep", "shock.WETH=0.2,0.3", "--store", str(tmp_path / "S")])
    assert r.exit_code == 0, r.output
    header = next(ln for ln in r.stdout.splitlines() if "shock.WETH" in ln)
    assert "headline_asset" in header and "amplification" in header
    rows = [ln for ln in r.stdout.splitlines() if ln.strip().startswith(("0.2", "0.3"))]
    assert len(rows) == 2 and all(" WETH " in ln for ln in rows)
