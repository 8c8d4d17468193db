"""Sweeps of a system: factors addressed by market name, results per point per market.

The invariant: with ``engine.impact = false`` the markets share no price move (every market
sees the shocked prices and nothing else), so a factor on one market's parameters can change
that market's row and no other's, bit for bit; and every point's system row is the sum of its
market rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.execution.sweep import sweep

FIELD = "markets.a.overrides.WETH.liquidation_threshold"


def test_a_factor_on_one_market_moves_only_that_market(hand, tmp_path):
    # a file book is read as it is: after the 30 % drop a's 100 WETH are worth 140000 against
    # 128000 of debt, health 140000 L / 128000: 0.875 at L = 0.8 (below 0.95: the whole debt is
    # repaid, 128000 x 1.05 / 1400 = 96 WETH seized) and 1.017 at L = 0.93 (nothing happens);
    # b's account (health 11.2 after the drop) is never liquidated
    res = sweep(hand, [f"{FIELD}=0.8,0.93", "shock.WETH=0.3"], "static", store=tmp_path / "store")
    s, m = res.table("sweep"), res.table("sweep_markets")
    assert list(m.columns[:3]) == [FIELD, "shock.WETH", "market"]
    assert len(m) == 4 and list(m["market"]) == ["a", "b", "a", "b"]
    a = m[m["market"] == "a"].set_index(FIELD)
    assert list(a["accounts_liquidated"]) == [1, 0]
    assert a.loc[0.8, "debt_repaid_usd"] == pytest.approx(128000.0, rel=1e-9)
    assert a.loc[0.8, "collateral_seized_usd"] == pytest.approx(96 * 1400.0, rel=1e-9)
    assert a.loc[0.93, "debt_repaid_usd"] == 0.0 and (a["bad_debt_usd"] == 0).all()
    b = m[m["market"] == "b"].drop(columns=[FIELD, "run_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(b.iloc[[0]].reset_index(drop=True), b.iloc[[1]].reset_index(drop=True),
                                  check_exact=True)
    assert (b["accounts_liquidated"] == 0).all()
    for col in ("bad_debt_usd", "collateral_seized_usd", "debt_repaid_usd", "accounts_liquidated"):
        assert np.allclose(m.groupby(FIELD, sort=True)[col].sum().to_numpy(),
                           s.sort_values(FIELD)[col].to_numpy(), rtol=1e-12, atol=1e-9)
    # every point is a stored system run of its own
    assert s["run_id"].nunique() == 2 and set(m["run_id"]) == set(s["run_id"])


def test_an_index_addresses_the_same_market_as_its_name(hand):
    by_name = sweep(hand, [f"{FIELD}=0.93"], "static", store=None)
    by_index = sweep(hand, ["markets.0.overrides.WETH.liquidation_threshold=0.93"], "static", store=None)
    assert by_name.table("sweep")["run_id"].iloc[0] == by_index.table("sweep")["run_id"].iloc[0]
    assert by_name.table("sweep")["accounts_liquidated"].iloc[0] == 0


@pytest.mark.parametrize("factor, expected", [
    ("markets.nope.overrides.WETH.liquidation_threshold=0.8", "a market name"),
    ("assets.WETH.liquidation_threshold=0.8", "markets.<name>.overrides"),
    ("markets.a.overrides.WBTC.liquidation_threshold=0.8", "an asset of the system"),
    ("markets.a.overrides.WETH.no_such_field=0.8", "a field of the scenario file"),
])
def test_bad_system_factors_are_named_before_any_work(hand, tmp_path, factor, expected):
    with pytest.raises(ConfigError) as e:
        sweep(hand, [factor], "static", store=tmp_path / "store")
    assert e.value.file == "--sweep" and e.value.key == factor.partition("=")[0]
    assert expected in e.value.expected
    assert not (tmp_path / "store").exists()


def test_a_montecarlo_sweep_of_a_system_has_risk_per_market(hand, tmp_path):
    res = sweep(hand, [f"{FIELD}=0.8,0.93"], "montecarlo", paths=2, executor="serial", store=None)
    m, mr = res.table("sweep_markets"), res.table("sweep_market_risk")
    assert set(m["market"]) == {"a", "b"} and "bad_debt_usd_var_99" in m.columns
    # every path is the same certain 30 % drop: the hand numbers of the static test, per market
    a = m[m["market"] == "a"].set_index(FIELD)["debt_repaid_usd_mean"]
    assert a.loc[0.8] == pytest.approx(128000.0, rel=1e-9) and a.loc[0.93] == 0.0
    assert (m.loc[m["market"] == "b", "debt_repaid_usd_mean"] == 0).all()
    assert set(mr["market"]) == {"a", "b"} and FIELD in mr.columns


def test_a_block_by_block_sweep_of_a_system_and_the_run_option(hand, tmp_path):
    from click.testing import CliRunner

    from liqcascade.cli import main

    # `liqcascade simulate` drives WETH by the [shock] path itself (the drive is the Monte Carlo's ETH)
    hand.write_text(hand.read_text().replace('drive = { ETH = ["WETH"] }\n', ""))
    res = sweep(hand, [f"{FIELD}=0.8,0.93"], "simulate", store=None)
    m = res.table("sweep_markets")
    a = m[m["market"] == "a"].set_index(FIELD)
    assert list(a["accounts_liquidated"]) == [1, 0]  # the static test's hand numbers, block by block
    assert a.loc[0.8, "debt_repaid_usd"] == pytest.approx(128000.0, rel=1e-9)
    assert {"cleared", "time_to_clear_s", "contagion_bad_debt_usd"} <= set(m.columns)
    assert (m.loc[m["market"] == "b", "accounts_liquidated"] == 0).all()
    r = CliRunner().invoke(main, ["run", str(hand), "--shock", "WETH=0.3", "--sweep", f"{FIELD}=0.8,0.93",
                                  "--out", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    assert "per market (table sweep_markets)" in r.output and "sweep_markets" in r.output
