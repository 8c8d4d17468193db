"""Sweeps: the full factorial's table (swept fields as columns, values by hand), and fields that
do not exist named before any run."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution.sweep import parse_factor, set_field, sweep

from .conftest import C, P


def test_static_sweep_table_has_the_factors_as_columns(one, tmp_path):
    res = sweep(one, ["shock.WETH=0.3,0.4", "assets.WETH.liquidation_bonus=0.05,0.08"], store=tmp_path / "st")
    t = res.table("sweep")
    assert list(t.columns[:2]) == ["shock.WETH", "assets.WETH.liquidation_bonus"] and t.columns[-1] == "run_id"
    assert len(t) == 4 and t["run_id"].nunique() == 4
    for d, b, bad in zip(t["shock.WETH"], t["assets.WETH.liquidation_bonus"], t["bad_debt_usd"]):
        # the file book keeps its 128000 USDC of debt; the whole position is closed (HF < 0.95)
        assert bad == pytest.approx(max(0.0, 128000.0 - C * P * (1 - d) / (1 + b)), abs=1e-6)
    assert sorted(zip(t["shock.WETH"], t["assets.WETH.liquidation_bonus"])) == [
        (0.3, 0.05), (0.3, 0.08), (0.4, 0.05), (0.4, 0.08)]
    again = sweep(one, ["shock.WETH=0.3,0.4", "assets.WETH.liquidation_bonus=0.05,0.08"], store=tmp_path / "st")
    assert again.run_id == res.run_id


def test_montecarlo_sweep_has_risk_columns(one, tmp_path):
    res = sweep(one, ["montecarlo.depeg.0.drop=0.3,0.4"], kind="montecarlo", paths=2, executor="serial",
                store=tmp_path / "st")
    t = res.table("sweep")
    assert list(t["montecarlo.depeg.0.drop"]) == [0.3, 0.4]
    assert {"bad_debt_usd_mean", "bad_debt_usd_var_99", "bad_debt_usd_es_99", "run_id"} <= set(t.columns)
    # the account keeps 128000 of debt: -40 % leaves 128000 - 120000 / 1.05 of bad debt on every path
    assert t["bad_debt_usd_mean"].tolist() == pytest.approx([0.0, 128000.0 - 120000.0 / 1.05])
    assert set(res.table("sweep_risk")["montecarlo.depeg.0.drop"]) == {0.3, 0.4}


@pytest.mark.parametrize("factor, field", [
    ("assets.WETH.liquidation_treshold=0.8", "assets.WETH.liquidation_treshold"),
    ("engine.max_round=3", "engine.max_round"),
    ("shock.DOGE=0.2", "shock.DOGE"),
    ("venues.3.reserve_usd=1e6", "venues.3.reserve_usd"),
    ("shock.WETH=abc", "shock.WETH"),
    ("positions.seed.x=1", "positions.seed.x"),
])
def test_bad_fields_are_named_before_any_work(one, tmp_path, factor, field):
    with pytest.raises(ConfigError) as e:
        sweep(one, [factor], store=tmp_path / "st")
    assert e.value.key == field
    assert not (tmp_path / "st").exists()


def test_a_later_combination_the_market_refuses_is_named_before_any_work(one, tmp_path):
    # LT 0.6 is below the LTV 0.7: the second value fails, and nothing has run
    with pytest.raises(ConfigError, match="liquidation_threshold=0.6"):
        sweep(one, ["assets.WETH.liquidation_threshold=0.8,0.6"], store=tmp_path / "st")
    assert not (tmp_path / "st").exists()


def test_parse_and_set():
    assert parse_factor("market.version=3.3-3.4,\"3.7\"") == ("market.version", ["3.3-3.4", "3.7"])
    assert parse_factor("x=1,2.5,true,[1,2]") == ("x", [1, 2.5, True, [1, 2]])
    d = set_field({"market": {}}, "assets.WETH.ltv", 0.5)
    assert d == {"market": {"overrides": {"WETH": {"ltv": 0.5}}}}
    with pytest.raises(ConfigError):
        parse_factor("shock.WETH")


def test_cli_sweep_and_calibrate(one, tmp_path):
    out = tmp_path / "st"
    r = CliRunner().invoke(main, ["sweep", str(one), "--sweep", "shock.WETH=0.3,0.4", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "shock.WETH" in r.stdout and "tables: sweep" in r.stdout
    r = CliRunner().invoke(main, ["calibrate", str(one), "--param", "liquidation_threshold", "--asset", "WETH",
                                  "--budget", "5000", "--kind", "static", "--grid", "3", "--tol", "0.01",
                                  "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "chosen liquidation_threshold: 0.8" in r.stdout
    bad = CliRunner().invoke(main, ["calibrate", str(one), "--param", "liquidation_threshold", "--asset", "WETH",
                                    "--budget", "-1", "--out", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "budget" in bad.stderr and not (tmp_path / "none").exists()
    bad = CliRunner().invoke(main, ["sweep", str(one), "--sweep", "shock.WETX=0.3", "--out", str(tmp_path / "none")])
    assert bad.exit_code == 2 and "shock.WETX" in bad.stderr and not (tmp_path / "none").exists()
