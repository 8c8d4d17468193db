"""Perp margin calibration (execution/perp_calibrate.py): hand cases on a two-account book along
one hand-written crash path, where P(ADL) flips from 1 to 0 at a known value; bad input named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution.perp_calibrate import apply_perp_candidate, perp_calibrate
from liqcascade.io.perp_scenario import load_perp_scenario

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC in ms


def _scenario(tmp: Path, collateral: float = 1_500.0, fund: float = 0.0) -> Path:
    # a long of 1 BTC from $100,000 (isolated) and a short of 1 BTC with $1,000,000; the mark
    # goes 100,000 -> 99,000 -> 98,000, one step a minute (the closes exactly)
    (tmp / "accounts.csv").write_text(f"account,collateral,margin,side\nlong,{collateral},isolated,long\n"
                                      "short,1000000,cross,\n")
    (tmp / "positions.csv").write_text("account,market,size,entry_price\nlong,BTCUSDT,1,100000\n"
                                       "short,BTCUSDT,-1,100000\n")
    rows = [f"{T0 + 60_000 * i},{c},{c},{c},{c}" for i, c in enumerate([100_000.0, 99_000.0, 98_000.0])]
    (tmp / "path.csv").write_text("open_time_ms,open,high,low,close\n" + "\n".join(rows) + "\n")
    p = tmp / "perp.toml"
    p.write_text(textwrap.dedent(f"""\
        name = "calibration hand case"
        [perps]
        engine = "cex_perp"
        market = "BTCUSDT"
        fund_usd = {fund}
        [perps.book]
        accounts = "accounts.csv"
        positions = "positions.csv"
        [perps.venue]
        scale = 1e6
        [perps.path]
        source = "file"
        file = "path.csv"
        """))
    return p


def test_maintenance_scale_p_adl_flips_at_the_scale_where_the_long_is_liquidated_before_the_crash(tmp_path):
    # At $99,000 the long's equity is 1,500 − 1,000 = $500 and Binance's maintenance is
    # 0.5 % · 99,000 − $50 = $445, times the scale s: liquidated there (and sold at ~$99,000,
    # above its bankruptcy price $98,500) iff 500 < 445 s. Otherwise at $98,000 its equity is
    # −$500, its order cannot fill at the bankruptcy price and the empty fund deleverages it:
    # P(ADL) = 1 for s ≤ 500/445, 0 above. The smallest scale within a budget of 0 is 500/445.
    res = perp_calibrate(_scenario(tmp_path), "maintenance_scale", 0.0, "p_adl", value_range=(0.5, 2.0), tol=1e-4)
    s = res.summary
    star = 500.0 / 445.0
    assert s["status"] == "found" and bool(s["monotone"])
    assert star < s["chosen"] <= star + 1e-4
    c = res["candidates"]
    assert set(c.loc[c["value"] <= star, "estimate"]) == {1.0}
    assert set(c.loc[c["value"] > star, "estimate"]) == {0.0}


def test_max_leverage_p_adl_flips_where_the_topped_up_margin_no_longer_covers_the_crash(tmp_path):
    # Topped up to leverage L at $100,000 the long holds 100,000 / L (it starts at 66.7x). At
    # $99,000 its equity 100,000/L − 1,000 ≥ $500 stays above the $445 maintenance; at $98,000
    # it is 100,000/L − 2,000, negative (ADL, the fund being empty) iff L > 50.
    res = perp_calibrate(_scenario(tmp_path), "max_leverage", 0.0, "p_adl", value_range=(10.0, 60.0), grid=6,
                         tol=1e-3)
    s = res.summary
    assert s["status"] == "found" and bool(s["monotone"])
    assert 50.0 - 1e-3 <= s["chosen"] <= 50.0 + 1e-9


def test_a_budget_below_every_value_gives_none_and_a_loose_budget_the_loosest_value(tmp_path):
    sc = _scenario(tmp_path)
    none = perp_calibrate(sc, "maintenance_scale", 0.0, "p_adl", value_range=(0.5, 1.0)).summary
    assert np.isnan(none["chosen"]) and none["status"].startswith("no value")
    loose = perp_calibrate(sc, "maintenance_scale", 1.0, "p_adl", value_range=(0.5, 2.0)).summary
    assert loose["chosen"] == 0.5 and loose["status"].startswith("the whole range")


def test_fund_var_is_zero_when_deleveraging_not_the_fund_takes_the_bankrupt_long(tmp_path):
    # Binance's order for the bankrupt long is no worse than its bankruptcy price $98,500, so at
    # $98,000 it cannot fill and the short takes it over at that price: the $10,000 fund never
    # pays, its depletion is 0 on the path for every scale, and the whole range is within 0
    res = perp_calibrate(_scenario(tmp_path, fund=10_000.0), "maintenance_scale", 0.0, "fund_var",
                         value_range=(0.5, 2.0))
    assert set(res["candidates"]["estimate"]) == {0.0}
    assert res.summary["chosen"] == 0.5 and res.summary["status"].startswith("the whole range")


def test_oi_cap_scales_each_side_and_keeps_every_leverage(tmp_path):
    ps = load_perp_scenario(_scenario(tmp_path))
    out = apply_perp_candidate(ps, "oi_cap", 2.5)
    assert [x[0] for x in out.book.open_interest()] == pytest.approx([2.5, 2.5])
    assert out.book.collateral == pytest.approx(2.5 * ps.book.collateral)
    assert [x[0] for x in ps.book.open_interest()] == pytest.approx([1.0, 1.0])  # the scenario is untouched


def test_candidates_share_the_resampled_paths_and_the_run_is_stored(tmp_path):
    sc = _scenario(tmp_path)
    store = tmp_path / "store"
    a = perp_calibrate(sc, "oi_cap", 1e9, "socialised_var", paths=3, seed=7, grid=2, store=store)
    b = perp_calibrate(sc, "oi_cap", 1e9, "socialised_var", paths=3, seed=7, grid=2, store=store)
    assert a.run_id == b.run_id and int(a.summary["paths"]) == 3
    assert list(b["candidates"]["value"]) == list(a["candidates"]["value"])


@pytest.mark.parametrize("kw,flag", [
    (dict(param="leverage"), "--param"),
    (dict(budget=-1.0), "--budget"),
    (dict(metric="var"), "--metric"),
    (dict(confidence=1.0), "--confidence"),
    (dict(value_range=(0.5, 3.0)), "--range"),  # 0.5 % · ... the top tier's 50 % times 3 > 100 %
    (dict(value_range=(2.0, 1.0)), "--range"),
    (dict(paths=0), "--paths"),
])
def test_bad_input_is_a_config_error_naming_the_option(tmp_path, kw, flag):
    args = dict(param="maintenance_scale", budget=0.0, metric="p_adl") | kw
    with pytest.raises(ConfigError) as e:
        perp_calibrate(_scenario(tmp_path), **args)
    assert e.value.file == flag


def test_cli_calibrates_a_perp_scenario_and_refuses_lending_options(tmp_path):
    sc = str(_scenario(tmp_path))
    out = str(tmp_path / "store")
    r = CliRunner().invoke(main, ["calibrate", sc, "--param", "maintenance_scale", "--metric", "p_adl",
                                  "--budget", "0", "--range", "0.5:2", "--tol", "0.001", "--out", out, "-q"])
    assert r.exit_code == 0, r.output
    assert "chosen maintenance_scale: 1.12" in r.output
    bad = CliRunner().invoke(main, ["calibrate", sc, "--param", "maintenance_scale", "--budget", "0",
                                    "--asset", "WETH", "--out", out])
    assert bad.exit_code == 2 and "--asset" in bad.output
    neg = CliRunner().invoke(main, ["calibrate", sc, "--param", "oi_cap", "--budget", "-1", "--out", out])
    assert neg.exit_code == 2 and "--budget" in neg.output
    unknown = CliRunner().invoke(main, ["calibrate", sc, "--param", "leverage", "--budget", "0", "--out", out])
    assert unknown.exit_code == 2 and "--param" in unknown.output


def test_cli_a_lending_calibration_still_needs_asset(tmp_path):
    from tests.conftest import REPO

    r = CliRunner().invoke(main, ["calibrate", str(REPO / "examples" / "small_book.toml"), "--param",
                                  "liquidation_threshold", "--budget", "1", "--out", str(tmp_path / "s")])
    assert r.exit_code == 2 and "--asset" in r.output
    assert not (tmp_path / "s").exists()  # refused before anything was written


@pytest.mark.parametrize("engine", ["cex_perp", "hyperliquid", "dydx_v4"])
@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_maintenance_scale_multiplies_every_accounts_requirement_on_every_engine(tmp_path, engine, scale):
    # N · (mmr · s) − deduction(s · mmr) = s · (N · mmr − deduction): the deduction is linear in
    # the rates, so scaling every rate scales the requirement at any mark; dYdX's is linear in N
    p = _scenario(tmp_path, collateral=10_000.0)  # 10x: within every engine's maximum leverage
    p.write_text(p.read_text().replace('engine = "cex_perp"', f'engine = "{engine}"').replace("BTCUSDT", "BTC"))
    pos = tmp_path / "positions.csv"
    pos.write_text(pos.read_text().replace("BTCUSDT", "BTC"))  # the market name every engine's tiers know
    ps = load_perp_scenario(p)
    out = apply_perp_candidate(ps, "maintenance_scale", scale)
    for mark in (100_000.0, 37_000.0, 2_500_000.0):
        m = np.array([mark])
        before, after = ps.engine.margin(ps.book, m, None), out.engine.margin(out.book, m, None)
        assert after.maintenance == pytest.approx(scale * before.maintenance, rel=1e-12)
        assert after.equity == pytest.approx(before.equity)
    assert out.book is ps.book
