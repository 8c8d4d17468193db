"""The Aave v2 replay of 2021-04-18 against the shipped events (docs/protocols.md, "A replay:
2021-04-18"): the recorded side's USD by hand, the shipped slice, and the documented numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from liqcascade.errors import DataError
from liqcascade.execution.aave_v2_replay import compare, recorded_hourly, shipped_events
from liqcascade.io import scenario as S

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "replay_2021_04_18_aave_v2.toml"
H0, H1 = pd.Timestamp("2021-04-18 03:00"), pd.Timestamp("2021-04-18 04:00")


def _events(tmp_path, rows):
    cols = ["timestamp", "principalReserve", "principalAmount", "reservePriceETHPrincipal"]
    p = tmp_path / "ev.csv"
    pd.DataFrame(rows, columns=cols).to_csv(p, index=False)
    return p


def test_recorded_usd_from_raw_amounts_eth_prices_and_the_hours_close(tmp_path):
    t0 = int(H0.timestamp())
    p = _events(tmp_path, [
        (t0 + 60, "USDC", "1000000000", 5e14),  # 1000 USDC x 0.0005 ETH x $2000 = $1000
        (t0 + 120, "WETH", "2000000000000000000", None),  # 2 ETH (its price is 1 ETH) x $2000 = $4000
        (t0 + 3700, "DAI", "3000000000000000000", 4e14),  # 3 DAI x 0.0004 ETH x $2100 = $2.52
    ])  # fmt: skip
    close = pd.Series([2000.0, 2100.0], index=[H0, H1])
    t = recorded_hourly(p, close, {"USDC": 6})
    assert list(t.hour) == [H0, H1]
    assert list(t.real_calls) == [2, 1]
    assert t.real_repaid_usd.to_numpy() == pytest.approx([5000.0, 2.52], rel=1e-12)


def test_recorded_side_refuses_bad_rows(tmp_path):
    t0 = int(H0.timestamp())
    close = pd.Series([2000.0], index=[H0])
    with pytest.raises(DataError, match="inside the hours"):
        recorded_hourly(_events(tmp_path, [(t0 + 3600, "DAI", "1", 4e14)]), close, {})
    with pytest.raises(DataError, match=r"row 3.*reservePriceETHPrincipal"):
        recorded_hourly(_events(tmp_path, [(t0, "DAI", "1", 4e14), (t0, "USDC", "1", None)]), close, {})


def test_the_shipped_slice():
    ev = pd.read_csv(shipped_events())
    hour = pd.to_datetime(ev.timestamp, unit="s").dt.floor("h")
    assert len(ev) == 89
    assert (hour == H0).sum() == 64
    assert hour.min() >= pd.Timestamp("2021-04-17 12:00") and hour.max() < pd.Timestamp("2021-04-19")
    assert ev.collateralReserve.isin(["WETH", "WBTC"]).sum() == 48
    # not the held-aside week
    assert not ((hour >= pd.Timestamp("2021-05-17")) & (hour < pd.Timestamp("2021-05-26"))).any()


def test_the_book_is_sized_to_the_cited_collateral():
    sc = S.load(EXAMPLE)
    b, p = sc.model.book, sc.model.prices
    assert sc.model.rules.describe() == {"protocol": "aave_v3", "version": "2", "pair_policy": "largest"}
    assert (b.collateral * p[b.asset]).sum() == pytest.approx(5.40e9, rel=0.005)
    assert b.n_accounts == 15_000


@pytest.mark.slow
def test_documented_comparison(tmp_path):
    # the numbers docs/protocols.md states, from the full-size run
    c = compare(EXAMPLE, store=tmp_path / "store")
    t = c.table
    assert len(t) == 36
    assert c.sim_peak_hour == c.real_peak_hour == H0
    assert int(t.real_calls.sum()) == 89 and int(t.real_calls[t.hour == H0].iloc[0]) == 64
    assert int(t.sim_calls.sum()) == 752 and int(t.sim_calls[t.hour == H0].iloc[0]) == 622
    assert int(t.sim_calls[t.hour < pd.Timestamp("2021-04-18")].sum()) == 64
    assert int(t.real_calls[t.hour < pd.Timestamp("2021-04-18")].sum()) == 0
    assert round(t.sim_repaid_usd.sum() / 1e6, 2) == 86.97
    assert round(t.real_repaid_usd.sum() / 1e6, 2) == 23.95
    assert (round(c.calls_correlation, 3), round(c.repaid_correlation, 3)) == (0.986, 0.989)
    doc = (REPO / "docs" / "protocols.md").read_text()
    for text in ("622 calls", "| 752 |", "$86.97M", "$23.95M", "0.986 / 0.989", "| 64 | 0 |"):
        assert text in doc, text


def test_scaled_rows_are_tokens_and_eth_prices(tmp_path):
    # from 2021-07-28 the source writes decimal tokens and prices in ETH:
    # 1000.5 USDC x 0.0005 ETH x $2000 = $1000.5; a raw row beside it as before
    t0 = int(H0.timestamp())
    p = _events(tmp_path, [(t0 + 60, "USDC", "1000.5", 5e-4), (t0 + 120, "USDC", "1000000000", 5e14),
                           (t0 + 180, "WETH", "0.5", 1.0)])
    t = recorded_hourly(p, pd.Series([2000.0], index=[H0]), {"USDC": 6})
    assert t.real_repaid_usd.iloc[0] == pytest.approx(1000.5 + 1000.0 + 1000.0, rel=1e-12)


def test_a_price_in_the_wrong_form_is_refused(tmp_path):
    t0 = int(H0.timestamp())
    close = pd.Series([2000.0], index=[H0])
    with pytest.raises(DataError, match=r"row 2.*reservePriceETHPrincipal"):  # scaled amount, wei price
        recorded_hourly(_events(tmp_path, [(t0, "USDC", "1000.5", 5e14)]), close, {})


def test_stress_day_files(tmp_path):
    from liqcascade.execution.aave_v2_replay import COLLATERAL_USD, STRESS_DAYS, write_day

    toml = write_day(tmp_path, "2022-01-21")
    sc = S.load(toml)
    b, p = sc.model.book, sc.model.prices
    assert (b.collateral * p[b.asset]).sum() == pytest.approx(COLLATERAL_USD, rel=1e-3)
    eth = pd.read_csv(tmp_path / "eth_1h.csv")
    assert len(eth) == 36 and eth.date.iloc[0] == "2022-01-20 12:00:00" and eth.date.iloc[-1] == "2022-01-21 23:00:00"
    assert sc.model.prices[sc.model.assets.index("WETH")] == eth.open.iloc[0]
    ev = pd.read_csv(tmp_path / "events.csv")
    t = pd.to_datetime(ev.timestamp, unit="s")
    assert t.min() >= pd.Timestamp("2022-01-20 12:00") and t.max() < pd.Timestamp("2022-01-22")
    assert 'hf_preset = "ethb-2021-09-01"' in toml.read_text()  # the latest fit before the day
    with pytest.raises(Exception, match="day"):
        write_day(tmp_path, "2021-04-18")
    assert "2021-04-18" not in STRESS_DAYS


def day_row(day: str, c) -> str:
    """docs/backtests.md's row of an Aave v2 stress day."""
    t = c.table
    return (f"| {day} | {int(t.sim_calls.sum()):,} / {int(t.real_calls.sum()):,} | "
            f"{t.sim_repaid_usd.sum() / 1e6:,.2f} / {t.real_repaid_usd.sum() / 1e6:,.2f} | "
            f"{c.sim_peak_hour:%m-%d %H:%M} / {c.real_peak_hour:%m-%d %H:%M} | "
            f"{c.calls_correlation:.2f} / {c.repaid_correlation:.2f} |")


@pytest.mark.slow
def test_documented_stress_days(tmp_path):
    from liqcascade.execution.aave_v2_replay import STRESS_DAYS, compare_day

    doc = (REPO / "docs" / "backtests.md").read_text()
    for day in STRESS_DAYS:
        assert day_row(day, compare_day(day, tmp_path / day, store=None)) in doc, day


def test_the_stress_slice():
    from liqcascade.execution.aave_v2_replay import STRESS_EVENTS

    ev = pd.read_csv(shipped_events().parent / STRESS_EVENTS)
    assert len(ev) == 2985
    assert (~ev.collateralReserve.isin(["WETH", "WBTC"])).sum() == 1194  # docs/backtests.md
    hour = pd.to_datetime(ev.timestamp, unit="s")
    assert not ((hour >= pd.Timestamp("2021-05-17")) & (hour < pd.Timestamp("2021-05-26"))).any()
