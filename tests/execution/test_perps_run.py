"""Perp scenarios end to end (io/perp_scenario.py, execution/perps.py): hand cases on a two-account
book along a hand-written path, bad input named, the CLI run / show / runs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError, DataError
from liqcascade.execution.perps import perp_run
from liqcascade.io.perp_scenario import load_perp_scenario

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC in ms


def _files(tmp: Path, closes: list[float]) -> None:
    # a long of 1 BTC from $100,000 with $10,000 (10x) and a short of 1 BTC with $1,000,000
    (tmp / "accounts.csv").write_text("account,collateral,margin,side\nlong,10000,isolated,long\nshort,1000000,cross,\n")
    (tmp / "positions.csv").write_text("account,market,size,entry_price\nlong,BTCUSDT,1,100000\n"
                                       "short,BTCUSDT,-1,100000\n")
    rows = [f"{T0 + 60_000 * i},{c},{c},{c},{c}" for i, c in enumerate(closes)]
    (tmp / "path.csv").write_text("open_time_ms,open,high,low,close\n" + "\n".join(rows) + "\n")


def _scenario(tmp: Path, fund: float, extra: str = "", adl: str = "queue") -> Path:
    p = tmp / "perp.toml"
    p.write_text(textwrap.dedent(f"""\
        name = "hand case"
        [perps]
        engine = "cex_perp"
        market = "BTCUSDT"
        fund_usd = {fund}
        adl = "{adl}"
        [perps.book]
        accounts = "accounts.csv"
        positions = "positions.csv"
        [perps.venue]
        scale = 1e6
        [perps.path]
        source = "file"
        file = "path.csv"
        """) + extra)
    return p


CLOSES = [100_000.0, 95_000.0, 92_000.0, 89_000.0, 88_000.0]


def test_hand_case_a_long_below_maintenance_is_sold_and_its_margin_left_pays_the_fee(tmp_path):
    # equity at $92,000: 10,000 − 8,000 = $2,000, far above Binance's maintenance (0.5 % of
    # $92,000 at most); at $90,300: $300, below 0.5 % of $90,300 less the tier's $50 = $401.50.
    # Sold at ~$90,300 on a book a million times Binance's depth; the clearance fee
    # 0.5 % · 90,300 = $451.50 is capped at the $300 left, which goes to the fund
    _files(tmp_path, [100_000.0, 95_000.0, 92_000.0, 90_300.0, 88_000.0])
    res = perp_run(_scenario(tmp_path, 5_000.0), None)
    s = res.summary
    m = res["minutes"]
    assert s["first_liquidation_minute"].strftime("%H:%M") == "00:03"
    assert s["liquidated_usd"] == pytest.approx(90_300.0, rel=1e-6)
    assert s["adl_usd"] == 0.0 and s["written_off_usd"] == 0.0
    assert s["fund_end_usd"] == pytest.approx(5_300.0, rel=1e-6)
    assert list(m["liquidated_usd"] > 0) == [False, False, False, True, False]
    liq = res["liquidations"]
    assert list(liq["account"]) == ["long"] and liq["closed"].iloc[0] == pytest.approx(-1.0)
    assert s["open_interest_long_usd"] == pytest.approx(100_000.0)


@pytest.mark.parametrize("adl", ["queue", "pro_rata", "risk_aware", "dydx"])
def test_hand_case_an_empty_fund_deleverages_the_short_at_the_bankruptcy_price(tmp_path, adl):
    # at $89,000 the long's equity is −$1,000: Binance's order is no worse than the bankruptcy
    # price $90,000, so it cannot fill, and the short takes the long over at $90,000, giving
    # up $1,000 against the mark
    _files(tmp_path, CLOSES)
    res = perp_run(_scenario(tmp_path, 0.0, adl=adl), None)
    s = res.summary
    assert s["adl_usd"] == pytest.approx(89_000.0, rel=1e-6) and s["liquidated_usd"] == 0.0
    adl_rows = res["adl"].set_index("owner")
    assert adl_rows.loc["short", "given_up_usd"] == pytest.approx(1_000.0, rel=1e-6)
    assert adl_rows.loc["short", "deleveraged_usd"] == pytest.approx(89_000.0, rel=1e-6)
    assert adl_rows.loc["long", "bankrupt_closed_usd"] == pytest.approx(89_000.0, rel=1e-6)
    assert res["minutes"]["negative_equity_accounts"].max() == 0


def test_the_liquidation_map_puts_the_long_where_its_equity_meets_maintenance(tmp_path):
    # the long liquidates where 10,000 + (p − 100,000) = 0.005·p − 50 (Binance's second tier),
    # p = 89,950 / 0.995 = $90,402.01; the short (1 BTC with $1,000,000) never within ±20 %
    _files(tmp_path, CLOSES)
    lm = perp_run(_scenario(tmp_path, 0.0), None)["liqmap"]
    hit = lm[lm["long_usd"] > 0]
    assert len(hit) == 1 and hit["price_low"].iloc[0] <= 90_402.01 < hit["price_high"].iloc[0]
    assert hit["long_usd"].iloc[0] == pytest.approx(90_402.01, rel=1e-6)  # 1 BTC at its liquidation price
    assert lm["short_usd"].sum() == 0.0
    assert lm["price_low"].iloc[0] == pytest.approx(80_000.0) and lm["price_high"].iloc[-1] == pytest.approx(120_000.0)


def test_steps_within_a_minute_interpolate_the_path(tmp_path):
    _files(tmp_path, CLOSES)
    res = perp_run(_scenario(tmp_path, 5_000.0), None)
    p = _scenario(tmp_path, 5_000.0)
    p.write_text(p.read_text().replace('adl = "queue"', 'adl = "queue"\nstep_seconds = 30'))
    fine = perp_run(p, None)
    st = fine["steps"]
    assert len(st) == 2 * (len(CLOSES) - 1) + 1
    assert st["mark"].iloc[1] == pytest.approx(97_500.0)  # half-way from $100,000 to $95,000
    assert list(fine["minutes"]["minute"]) == list(res["minutes"]["minute"])  # the same minutes
    # the half-way step at $90,500 leaves the long $500 above its $402.50 maintenance; the
    # $89,000 step deleverages it as at one step a minute
    assert fine.summary["adl_usd"] == pytest.approx(89_000.0, rel=1e-6)


@pytest.mark.parametrize("edit, key", [
    (('engine = "cex_perp"', 'engine = "ftx"'), "perps.engine"),
    (('adl = "queue"', 'adl = "lottery"'), "perps.adl"),
    (('fund_usd = 0.0', 'fund_usd = -1.0'), "perps.fund_usd"),
    (('fund_usd = 0.0', 'fund_usd = 0.0\nstep_seconds = 7'), "perps.step_seconds"),
    (('market = "BTCUSDT"', 'market = "ETHUSDT"'), "perps.market"),
    (('file = "path.csv"', 'file = "missing.csv"'), "perps.path.file"),
    (('[perps.venue]', '[perps.venue]\ndepth = 3'), "perps.venue.depth"),
    (('file = "path.csv"', 'file = "path.csv"\n[perps.settings]\nmarket_take_bound = 1.5'), "market_take_bound"),
    (('positions = "positions.csv"', 'positions = "positions.csv"\n[perps.book.synthetic]\nseed = 1'), "perps.book"),
])
def test_bad_scenarios_are_config_errors_naming_the_key(tmp_path, edit, key):
    _files(tmp_path, CLOSES)
    p = _scenario(tmp_path, 0.0)
    p.write_text(p.read_text().replace(*edit, 1))
    with pytest.raises(ConfigError) as e:
        load_perp_scenario(p)
    assert key in str(e.value) and str(p) in str(e.value)


def test_a_bad_book_row_is_a_data_error_naming_file_and_row(tmp_path):
    _files(tmp_path, CLOSES)
    (tmp_path / "positions.csv").write_text("account,market,size,entry_price\nlong,BTCUSDT,1,-5\n"
                                            "short,BTCUSDT,-1,100000\n")
    with pytest.raises(DataError, match="positions.csv") as e:
        load_perp_scenario(_scenario(tmp_path, 0.0))
    assert "entry_price" in str(e.value)


def test_cli_runs_stores_and_shows_a_perp_run_and_refuses_bad_input(tmp_path):
    _files(tmp_path, CLOSES)
    store = tmp_path / "S"
    r = CliRunner().invoke(main, ["run", str(_scenario(tmp_path, 5_000.0)), "--out", str(store)])
    assert r.exit_code == 0, r.output
    assert "liquidated_usd" in r.output and "minutes with liquidations or ADL (1 of 5)" in r.output, r.output
    rid = r.output.strip().split("/")[-1]
    runs = CliRunner().invoke(main, ["runs", "--out", str(store)])
    assert rid in runs.output and "perps" in runs.output
    shown = CliRunner().invoke(main, ["show", rid, "--table", "adl", "--out", str(store)])
    assert shown.exit_code == 0 and "short" in shown.output and "given_up_usd" in shown.output
    bad = _scenario(tmp_path, 0.0)
    bad.write_text(bad.read_text().replace('adl = "queue"', 'adl = "nope"'))
    r = CliRunner().invoke(main, ["run", str(bad), "--out", str(tmp_path / "T")])
    assert r.exit_code == 2 and "perps.adl" in r.output and not (tmp_path / "T").exists()
    r = CliRunner().invoke(main, ["run", str(bad), "--shock", "BTC=0.1", "--out", str(tmp_path / "T")])
    assert r.exit_code == 2 and not (tmp_path / "T").exists()


def test_bootstrap_paths_start_at_the_mark_and_reuse_its_moves():
    import numpy as np

    from liqcascade.scenarios.perp_paths import bootstrap_marks

    base = np.array(CLOSES)
    paths = bootstrap_marks(base, 50, seed=3)
    assert paths.shape == (50, len(CLOSES)) and np.all(paths[:, 0] == base[0])
    moves = np.round(np.diff(np.log(paths), axis=1), 12)
    assert set(moves.ravel()) <= set(np.round(np.diff(np.log(base)), 12))
    assert np.array_equal(paths, bootstrap_marks(base, 50, seed=3))


def test_monte_carlo_paths_each_run_the_scenario_and_the_risk_table_reads_them(tmp_path):
    from liqcascade.execution.perps import perp_montecarlo
    from liqcascade.risk.perps import perp_risk_table

    _files(tmp_path, CLOSES)
    res = perp_montecarlo(_scenario(tmp_path, 5_000.0), paths=40, seed=1, store=tmp_path / "S")
    p = res["paths"]
    assert len(p) == 40 and list(p["path"]) == list(range(40))
    # the long is closed (on the book or by ADL) exactly on the paths whose low mark reaches its
    # liquidation price $90,402.01 (the hand case above); the fund only gains (fees)
    closed = p["liquidated_usd"] + p["adl_usd"]
    assert ((closed > 0) == (p["low_mark"] < 90_402.01)).all()
    assert 0 < (closed > 0).sum() < 40
    risk = res["risk"].set_index(["metric", "statistic"])
    assert risk.loc[("fund_depletion_usd", "mean"), "estimate"] == 0.0
    assert risk.loc[("p_adl", "probability"), "estimate"] == pytest.approx((p["adl_usd"] > 0).mean())
    assert res["risk"].equals(perp_risk_table(p, (0.95, 0.99)))
    again = perp_montecarlo(_scenario(tmp_path, 5_000.0), paths=40, seed=1, store=tmp_path / "S")
    assert again.run_id == res.run_id


def test_schema_perps_describes_every_key():
    import json

    r = CliRunner().invoke(main, ["schema", "--perps"])
    assert r.exit_code == 0
    schema = json.loads(r.output)
    perps = schema["$defs"]["PerpsConfig"]["properties"]
    assert {"engine", "market", "fund_usd", "adl", "step_seconds", "book", "venue", "path"} <= set(perps)
    assert all(p.get("description") for p in perps.values())


def test_cli_montecarlo_of_a_perp_scenario(tmp_path):
    _files(tmp_path, CLOSES)
    p = _scenario(tmp_path, 5_000.0)
    r = CliRunner().invoke(main, ["montecarlo", str(p), "--paths", "6", "--seed", "2", "--out", str(tmp_path / "S")])
    assert r.exit_code == 0, r.output
    assert "perps Monte Carlo: 6 paths" in r.output and "p_adl" in r.output and "fund_depletion_usd" in r.output
    for bad in (["--reserves", "1"], ["--alone"], ["--sweep", "perps.fund_usd=1,2"]):
        r = CliRunner().invoke(main, ["montecarlo", str(p), "--paths", "2", *bad, "--out", str(tmp_path / "T")])
        assert r.exit_code == 2 and bad[0] in r.output and not (tmp_path / "T").exists(), r.output
