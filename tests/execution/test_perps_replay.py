"""examples/replay_2025_10_10_perps.toml: at a small size in every run of the suite, and at full
size (slow) the numbers docs/perps.md ("The 2025-10-10 replay") prints."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from liqcascade.execution.perps import perp_run

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "replay_2025_10_10_perps.toml"


def _minute(text: str) -> pd.Timestamp:
    return pd.Timestamp(f"2025-10-10 {text}", tz="UTC")


def test_the_replay_runs_small_and_keeps_its_books(tmp_path):
    small = tmp_path / EXAMPLE.name
    small.write_text(re.sub(r"(?m)^n_accounts = \d+", "n_accounts = 300", EXAMPLE.read_text()))
    res = perp_run(small, None)
    s, m = res.summary, res["minutes"]
    assert s["accounts"] == 600 and s["open_interest_long_usd"] == pytest.approx(16.44e9)
    assert len(m) == 120 and m["minute"].iloc[0] == _minute("20:00") and m["minute"].iloc[-1] == _minute("21:59")
    assert s["liquidated_usd"] > 0 and s["accounts_liquidated"] > 0
    # the totals are the minutes' sums; the fund pays for sales below bankruptcy (cex_perp with
    # market_take_bound), so it falls, never below zero, and ends where the minutes end
    assert m["liquidated_usd"].sum() == pytest.approx(s["liquidated_usd"])
    assert m["adl_usd"].sum() == pytest.approx(s["adl_usd"])
    assert m["fund_taken_usd"].sum() == pytest.approx(s["fund_taken_usd"])
    assert m["fund_position_usd"].iloc[-1] == s["fund_position_end_usd"]
    assert s["fund_start_usd"] == 1.23e9 and 0 < s["fund_end_usd"] < s["fund_start_usd"]
    assert (m["fund_usd"] >= 0).all() and m["fund_usd"].iloc[-1] == s["fund_end_usd"]
    adl = res["adl"]
    assert adl["bankrupt_closed_usd"].sum() == pytest.approx(s["adl_usd"], rel=1e-9)


@pytest.mark.slow
def test_the_replay_at_full_size_gives_the_documented_numbers():
    res = perp_run(EXAMPLE, None)
    s, m, liq = res.summary, res["minutes"], res["liquidations"]
    assert s["first_liquidation_minute"] == _minute("20:52")
    assert s["peak_minute"] == _minute("21:12") and round(s["peak_minute_liquidated_usd"] / 1e6) == 427
    total = m["liquidated_usd"] + m["adl_usd"]
    assert m["minute"][total.idxmax()] == _minute("21:19") and round(total.max() / 1e7) / 100 == 2.10
    assert round(s["liquidated_usd"] / 1e7) / 100 == 1.01 and round(s["adl_usd"] / 1e7) / 100 == 4.67
    window = (m["minute"] >= _minute("20:50")) & (m["minute"] < _minute("21:30"))
    assert total[window].sum() == pytest.approx(total.sum())
    assert set(liq["side"]) == {"long"}
    # the fund takes $1.35B over from 21:12 (up to its limit, its balance, from 21:16), sells
    # $0.46B of it at $10M a minute and holds $924M at 22:00, $25.2M up at the mark; its balance:
    # $1,230.0M -> $1,172.0M, never exhausted; nothing written off
    assert round(s["fund_taken_usd"] / 1e7) / 100 == 1.35 and round(s["fund_unwound_usd"] / 1e7) / 100 == 0.46
    assert round(s["fund_position_end_usd"] / 1e6) == 924 and round(s["fund_unrealised_end_usd"] / 1e5) / 10 == 25.2
    assert m["minute"][m["fund_taken_usd"] > 0].min() == _minute("21:12")
    assert round(s["fund_end_usd"] / 1e5) / 10 == 1172.0 and s["fund_min_usd"] == s["fund_end_usd"]
    assert m["fund_usd"].min() > 1.1e9 and s["written_off_usd"] == 0.0
    assert round(m.set_index("minute")["fund_usd"][_minute("21:12")] / 1e5) / 10 == 1223.8
    assert m["negative_equity_accounts"].max() == 0
    assert s["low_mark"] == pytest.approx(104_559.80)


@pytest.mark.slow
@pytest.mark.parametrize("bound, book_b, taken_b, adl_b, fund_end_m", [
    (0.0, 0.50, 1.55, 4.99, 1186.1), (0.02, 0.77, 1.36, 4.92, 1185.9), (0.2, 2.02, 1.20, 3.85, 996.9),
    (0.5, 4.42, 0.26, 2.49, 64.2)])
def test_the_replay_under_other_market_take_bounds(tmp_path, bound, book_b, taken_b, adl_b, fund_end_m):
    p = tmp_path / EXAMPLE.name
    p.write_text(EXAMPLE.read_text().replace("market_take_bound = 0.05", f"market_take_bound = {bound}"))
    s = perp_run(p, None).summary
    assert round(s["liquidated_usd"] / 1e7) / 100 == book_b and round(s["adl_usd"] / 1e7) / 100 == adl_b
    assert round(s["fund_taken_usd"] / 1e7) / 100 == taken_b
    assert round(s["fund_end_usd"] / 1e5) / 10 == fund_end_m and s["written_off_usd"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("adl, counterparties, closed_b, overshoot_m, most_m", [
    ("queue", 7_500, 4.673, 0.4, 0.16), ("pro_rata", 20_000, 4.672, 0.0, 0.32), ("risk_aware", 19_994, 4.672, 0.0, 0.26)])
def test_the_replay_under_each_adl_policy(tmp_path, adl, counterparties, closed_b, overshoot_m, most_m):
    p = tmp_path / EXAMPLE.name
    p.write_text(EXAMPLE.read_text().replace('adl = "queue"', f'adl = "{adl}"'))
    res = perp_run(p, None)
    a = res["adl"]
    cp = a[a["deleveraged_usd"] > 0]
    assert len(cp) == counterparties
    assert round(cp["deleveraged_usd"].sum() / 1e6) / 1000 == closed_b
    assert round((cp["deleveraged_usd"].sum() - a["bankrupt_closed_usd"].sum()) / 1e5) / 10 == overshoot_m
    assert round(a["given_up_usd"].sum() / 1e5) / 10 == 42.9
    assert round(a["given_up_usd"].max() / 1e4) / 100 == most_m


@pytest.mark.parametrize("engine, market", [("hyperliquid", "BTC"), ("dydx_v4", "BTC-USD")])
def test_the_replay_runs_on_every_registered_margin_engine(tmp_path, engine, market):
    text = re.sub(r"(?m)^n_accounts = \d+", "n_accounts = 200", EXAMPLE.read_text())
    text = text.replace('engine = "cex_perp"', f'engine = "{engine}"').replace('market = "BTCUSDT"', f'market = "{market}"')
    text = re.sub(r"(?s)\[perps\.settings\].*?\n\n", "", text)  # cex_perp settings
    p = tmp_path / EXAMPLE.name
    p.write_text(text)
    res = perp_run(p, None)
    s, m = res.summary, res["minutes"]
    assert s["engine"] == engine and s["liquidated_usd"] + s["adl_usd"] > 0
    assert m["liquidated_usd"].sum() == pytest.approx(s["liquidated_usd"])
    assert res["adl"]["bankrupt_closed_usd"].sum() == pytest.approx(s["adl_usd"], rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("fund, book_b, adl_b, used_m", [("1.23e12", 1.01, 0.00, 49.9), ("0.0", 0.80, 6.25, -0.1)])
def test_the_replay_with_other_funds(tmp_path, fund, book_b, adl_b, used_m):
    # a fund a thousand times larger takes over everything the book cannot (no ADL); an empty
    # fund (holding at most the fees it collects) moves the sales below bankruptcy to ADL,
    # writing nothing off
    p = tmp_path / EXAMPLE.name
    p.write_text(EXAMPLE.read_text().replace("fund_usd = 1.23e9", f"fund_usd = {fund}"))
    s = perp_run(p, None).summary
    assert round(s["liquidated_usd"] / 1e7) / 100 == book_b and round(s["adl_usd"] / 1e7) / 100 == adl_b
    assert round((s["fund_start_usd"] - s["fund_end_usd"]) / 1e5) / 10 == used_m and s["written_off_usd"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("edit, book_b, adl_b, fund_end_m", [
    # a fund holding nothing gives the rule before the fund held positions: what the book cannot
    # take within the bound is all deleveraged
    ("fund_position_limit = 0.0", 1.10, 5.97, 1218.4),
    # unwinding slower keeps more of the balance and more of the position; faster sells it all on
    # the thin book by 22:00 at a loss of $0.5B
    ("fund_unwind_usd_per_minute = 2e6", 1.07, 4.68, 1215.5), ("fund_unwind_usd_per_minute = 50e6", 0.98, 4.46, 702.6)])
def test_the_replay_with_the_fund_holding_otherwise(tmp_path, edit, book_b, adl_b, fund_end_m):
    key = edit.split(" = ")[0]
    p = tmp_path / EXAMPLE.name
    p.write_text(re.sub(rf"(?m)^{key} = .*$", edit, EXAMPLE.read_text()))
    s = perp_run(p, None).summary
    assert round(s["liquidated_usd"] / 1e7) / 100 == book_b and round(s["adl_usd"] / 1e7) / 100 == adl_b
    assert round(s["fund_end_usd"] / 1e5) / 10 == fund_end_m and s["written_off_usd"] == 0.0
