"""The ETH-B windows' price source (docs/backtests.md, "The oracle the chain revealed, and USD
quotes"): the OSM floor the owners' accepted draws and withdrawals prove, the USD quote of
Binance's ETHUSDT, the scenario keys that carry them, and the documented scores."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError, DataError
from liqcascade.execution import backtest as bt
from liqcascade.markets.oracle import MakerOSM

REPO = Path(__file__).resolve().parents[2]
T0 = int(pd.Timestamp("2022-01-01", tz="UTC").timestamp())


def _hours(opens: list[float]) -> pd.DataFrame:
    t = pd.to_datetime([T0 + 3600 * i for i in range(len(opens))], unit="s").strftime("%Y-%m-%d %H:%M:%S")
    return pd.DataFrame({"date": t, "open": opens})


def _at(minutes: int) -> str:
    return str(pd.Timestamp(T0 + 60 * minutes, unit="s"))


BOOK = pd.DataFrame({"account": ["1", "1", "2", "2", "3", "3"], "asset": ["WETH", "DAI"] * 3,
                     "collateral": [10.0, 0.0, 10.0, 0.0, 10.0, 0.0],
                     "debt": [0.0, 10_000.0, 0.0, 10_000.0, 0.0, 10_000.0]})


def _rate(t: float) -> float:
    """The fee accumulator: 1 until 01:00, then 1.01."""
    return 1.0 if t < T0 + 3600 else 1.01


def test_floor_hand_case():
    """mat 1.5, every path open 1,500. Vault 1 (10 ETH, 10,000 DAI at rate 1) draws 100 DAI at
    01:30, when the rate is 1.01: debt 10,000 * 1.01 + 100 = 10,200, line 1.5 * 10,200 / 10 =
    1,530, 2 % over the 1,500 the OSM read in hop 1 (the open of 00:00). Vault 2 only repays and
    deposits (no bound); vault 3 withdraws 5 ETH at 02:10: line 1.5 * 10,100 / 5 = 3,030, 102 %
    over the path, beyond the 3 % of a plausible venue gap: a ledger error, dropped. Carried with
    a half-life of one hop: hop 2 at 1,500 * (1 + 0.02 / 2), hop 3 at 1,500 * (1 + 0.02 / 4)."""
    events = pd.DataFrame({"time": [_at(90), _at(95), _at(100), _at(130)], "account": ["1", "2", "2", "3"],
                           "action": ["borrow", "repay", "deposit", "withdraw"], "asset": ["DAI", "DAI", "WETH", "WETH"],
                           "amount": [100.0, 50.0, 1.0, 5.0]})
    path = _hours([1500.0] * 6)
    f = bt.ethb_oracle_floor(BOOK, events, _rate, 1.5, path, half_life_hops=1.0)
    assert f["time"].tolist() == [_at(60 * h) for h in range(1, 6)]
    assert (f["asset"] == "WETH").all()
    np.testing.assert_allclose(f["price"], [1530.0, 1515.0, 1507.5, 1503.75, 1501.875], rtol=1e-12)
    only = bt.ethb_oracle_floor(BOOK, events, _rate, 1.5, path, half_life_hops=0.0)
    assert only["time"].tolist() == [_at(60)] and only["price"].iloc[0] == pytest.approx(1530.0)


def test_floor_lift_is_over_the_price_the_osm_read():
    """The OSM returns during hop k the path at the start of hop k - 1: a line of 1,537.50 in
    hop 2 with opens 1,400 (00:00), 1,500 (01:00) is 2.5 % over 1,500 (the 01:00 open), carried
    as a lift over later opens (1,600 at 02:00: hop 3's floor 1,600 * 1.0125)."""
    events = pd.DataFrame({"time": [_at(150)], "account": ["1"], "action": ["borrow"], "asset": ["DAI"],
                           "amount": [150.0]})
    # 10,000 * 1.01 + 150 = 10,250; line 1.5 * 10,250 / 10 = 1,537.5
    f = bt.ethb_oracle_floor(BOOK, events, _rate, 1.5, _hours([1400.0, 1500.0, 1600.0, 1600.0]))
    assert f["time"].tolist() == [_at(120), _at(180)]
    assert f["price"].iloc[0] == pytest.approx(1537.5) and f["price"].iloc[1] == pytest.approx(1620.0)


def test_floor_feeds_the_osm_hop_it_bounds(tmp_path):
    """A floor of 101 on hop 2 (a path at 100, 10-minute blocks) raises the source value the OSM
    returns during hop 2, the first block of hop 1; hops 0, 1 and 3 keep 100."""
    from liqcascade.io.scenario import _floored_feed

    (tmp_path / "floor.csv").write_text("time,asset,price\n1970-01-01 02:30,WETH,101\n1970-01-01 02:40,WETH,100.5\n")
    times = np.arange(0, 4 * 3600, 600)
    path = SimpleNamespace(times=times, assets=("WETH",), prices=np.full((times.size, 1), 100.0),
                           index=lambda a: 0)
    oracle = SimpleNamespace(kind="osm", floor="floor.csv", hop_s=3600)
    sc = SimpleNamespace(config=SimpleNamespace(simulation=SimpleNamespace(oracle=oracle)), base_dir=tmp_path,
                         source="s.toml")
    feed = _floored_feed(sc, path, None)
    seen = MakerOSM(3600).apply(times, feed["WETH"]).price
    hop = times // 3600
    assert np.all(seen[hop == 2] == 101.0) and np.all(seen[hop != 2] == 100.0)
    oracle.kind = "chainlink"
    with pytest.raises(ConfigError, match="simulation.oracle.floor"):
        _floored_feed(sc, path, None)


def test_floor_file_rows_are_checked(tmp_path):
    from liqcascade.io.owner_events import read_oracle_floor

    f = tmp_path / "floor.csv"
    f.write_text("time,asset,price\n2022-01-01 00:00,WETH,100\n2022-01-01 01:00,WBTC,100\n")
    with pytest.raises(DataError, match="row 2.*asset"):
        read_oracle_floor(f, ["WETH", "DAI"])
    f.write_text("time,asset,price\n2022-01-01 00:00,WETH,-1\n")
    with pytest.raises(DataError, match="row 1.*price"):
        read_oracle_floor(f, ["WETH", "DAI"])


@pytest.mark.slow
def test_floor_never_reads_the_recorded_liquidations(tmp_path, monkeypatch):
    """The floor of June 2022 is the same when the window's recorded liquidations are replaced by
    none: it is built from the book and the owners' actions only."""
    bt.write_ethb_window(tmp_path / "a", "2022-06-10", "2022-06-19", oracle="chain-floor")
    real = bt._ethb_actions

    def no_records(ev, start, end):
        events, recorded = real(ev, start, end)
        assert len(recorded) == 11  # there were records to hide
        return events, recorded.iloc[:0]

    monkeypatch.setattr(bt, "_ethb_actions", no_records)
    bt.write_ethb_window(tmp_path / "b", "2022-06-10", "2022-06-19", oracle="chain-floor")
    a, b = ((tmp_path / d / "oracle_floor.csv").read_text() for d in "ab")
    assert a == b and len(a.splitlines()) > 1
    assert (tmp_path / "b" / "recorded.csv").read_text().strip() == "time,account,collateral,debt"


def test_usd_candles_hand_case():
    """2022-05-12 07:00, when USDC cost 1.0503 USDT at the open and 1.0203 at the close: an ETH
    open of 2,100.60 USDT is 2,000 USD and a close of 2,040.60 is 2,000; the high and low are
    divided by the mean of the two (1.0353)."""
    w = pd.DataFrame({"date": ["2022-05-12 07:00:00"], "open": [2100.6], "high": [2200.0], "low": [1900.0],
                      "close": [2040.6], "volume": [1.0]})
    u = bt.usd_candles(w, "test")
    assert u["open"].iloc[0] == pytest.approx(2000.0) and u["close"].iloc[0] == pytest.approx(2000.0)
    assert u["high"].iloc[0] == pytest.approx(2200.0 / 1.0353)
    assert u["low"].iloc[0] == pytest.approx(1900.0 / 1.0353)


def test_usd_quote_outside_the_shipped_hours_names_the_window(tmp_path):
    r = CliRunner().invoke(main, ["ethb-window", "2022-01", "-o", str(tmp_path / "w"), "--quote", "usd"])
    assert r.exit_code == 2 and "2022-01" in r.output and "USDCUSDT" in r.output
    assert not (tmp_path / "w" / "scenario.toml").exists()
    with pytest.raises(ConfigError, match="2021-01-21"):
        bt.write_ethb_day(tmp_path / "d", "2021-01-21", quote="usd")
    with pytest.raises(ConfigError, match="oracle"):
        bt.write_ethb_window(tmp_path / "x", "2022-05-08", "2022-05-09", oracle="median")


def test_half_life_is_the_measured_gap_persistence():
    """One hop: the venue gap's lag-one-hour autocorrelation on 2021-05-19 is about one half."""
    rho = bt.ethb_gap_autocorrelation()
    assert round(math.log(0.5) / math.log(rho)) == bt.FLOOR_HALF_LIFE_HOPS == 1.0
    doc = " ".join((REPO / "docs" / "backtests.md").read_text().split())
    assert f"lag-one-hour autocorrelation of {rho:.2f}" in doc


# --- the documented table -----------------------------------------------------------------------

SETTINGS = [("path", "as-recorded"), ("chain-floor", "as-recorded")]
USD = [("path", "usd"), ("chain-floor", "usd")]


def _cell(s) -> str:
    p = "–" if math.isnan(s.precision) else f"{s.precision:.2f}"
    e = s.collateral_error
    err = "–" if math.isnan(e) else f"{e * 100:+,.0f} %".replace("-", "−")
    if err in ("+0 %", "−0 %") and e != 0:
        err = ("−" if e < 0 else "+") + "0 %"
    return f"{s.simulated_accounts} · {p} / {s.recall:.2f} / {err}"


def _score(w: str, tmp: Path, oracle: str, quote: str):
    out = tmp / f"{oracle}-{quote}"
    if w in bt.ETHB_POOL_DAYS:
        toml = bt.write_ethb_day(out, w, oracle, quote)
    else:
        toml = bt.write_ethb_window(out, *bt.ETHB_WINDOWS[w], w, oracle, quote)
    return bt.backtest(toml, store=None, recompute=True)


def _extra(res) -> set[str]:
    a = res["accounts"]
    return set(a.loc[a["simulated"] & ~a["recorded"], "account_id"].astype(str))


@pytest.mark.slow
@pytest.mark.parametrize("w", list(bt.ETHB_POOL_DAYS) + list(bt.ETHB_WINDOWS))
def test_documented_price_source_rows(tmp_path, w):
    doc = (REPO / "docs" / "backtests.md").read_text()
    runs = [_score(w, tmp_path, o, q) for o, q in SETTINGS + (USD if w == "2022-05" else [])]
    cells = [_cell(r["score"].iloc[0]) for r in runs] + (["–", "–"] if len(runs) == 2 else [])
    line = f"| {w} | " + " | ".join(cells) + " |"
    assert line in doc, line
    base, floor = (_extra(r) for r in runs[:2])
    # the floor saves no vault the chain liquidated (recall unchanged), and the prose's vaults
    assert runs[0]["score"]["recall"].iloc[0] == runs[1]["score"]["recall"].iloc[0]
    if w == "2022-05":
        assert base - floor == {"26307", "27276", "27962"} and floor == set()
        assert len(_extra(runs[2]) - base) == 6 and base <= _extra(runs[2])
    if w == "2022-01":
        assert base == floor and "27123" in floor


@pytest.mark.slow
def test_cli_writes_and_prints_the_price_source(tmp_path):
    """`ethb-window --oracle chain-floor --quote usd` writes the floor file and the USD path (a
    2022-05-12 open of the ETH file is Binance's over USDC's); `backtest` prints both."""
    out = tmp_path / "w"
    r = CliRunner().invoke(main, ["ethb-window", "2022-05-11..2022-05-13", "-o", str(out), "--oracle",
                                  "chain-floor", "--quote", "usd"])
    assert r.exit_code == 0, r.output
    text = (out / "scenario.toml").read_text()
    assert 'floor = "oracle_floor.csv"' in text and 'quote = "USD"' in text
    eth = pd.read_csv(out / "eth.csv").set_index("date")
    raw = pd.read_csv(bt.data_dir() / bt.ETH_HOURLY).set_index("date")
    usdc = pd.read_csv(bt.data_dir() / bt.USDC_HOURLY).set_index("date")
    h = "2022-05-12 07:00:00"
    assert eth.loc[h, "open"] == pytest.approx(raw.loc[h, "open"] / 1.0503) and usdc.loc[h, "open"] == 1.0503
    r = CliRunner().invoke(main, ["backtest", str(out / "scenario.toml"), "--out", str(tmp_path / "s"), "-q"])
    assert r.exit_code == 0, r.output
    assert "price source: path in USD, oracle floor oracle_floor.csv" in r.output
    # the engine's OSM returns at least each hour's floor in every block of that hour
    o = bt.backtest(out / "scenario.toml", store=tmp_path / "s")["oracle"]
    f = pd.read_csv(out / "oracle_floor.csv")
    hop = (pd.to_datetime(f["time"]) - pd.Timestamp(0)).dt.total_seconds().astype("int64") // 3600
    m = o.assign(hop=o["time"] // 3600).merge(pd.DataFrame({"hop": hop, "floor": f["price"]}), on="hop")
    assert len(m) > 0 and (m["oracle_price"] >= m["floor"] * (1 - 1e-12)).all()


# --------------------------------------------------------------------------- Maker's Median


def _median_case(t0: int) -> tuple[np.ndarray, np.ndarray]:
    opens = [100.0, 100.9, 101.2, 101.2, 101.2, 101.2, 101.2, 101.5]
    return bt._median_moves(pd.DataFrame({"time": t0 + 3600 * np.arange(len(opens)), "open": opens}))


def test_median_deadband_and_expiry_hand_case():
    """The relayers' rule on hourly opens from 2022-01-01 (spread 1 %, expiry 15,500 s): 100.9
    is 0.9 % from the Median's 100, no push; 101.2 is 1.2 %, pushed at hour 2 (t = 7,200); the
    next push is the expiry's, at the first hour >= 7,200 + 15,500 = 22,700 s: hour 7 (25,200),
    101.5, though only 0.3 % away. The movement sums those pushes."""
    t, cum = _median_case(T0)
    np.testing.assert_allclose(cum, [0, 0] + [math.log(1.012)] * 5 + [math.log(1.012) + math.log(101.5 / 101.2)],
                               rtol=1e-12, atol=0)


def test_median_spread_was_half_a_percent_before_2021_02_24():
    """Before makerdao/oracles-v2 commit c1190c8 (2021-02-24 03:40 UTC) the ETH/USD spread was
    0.5 %: from 2021-01-01 the 100.9 of hour 1 (0.9 %) is pushed, then 101.2 (0.3 % from it)
    waits for the expiry (hour 1 + 15,500 s: hour 6, 21,600 s)."""
    t0 = int(pd.Timestamp("2021-01-01", tz="UTC").timestamp())
    assert bt.median_spread_at(t0) == 0.005 and bt.median_spread_at(1614138014) == 0.01
    assert bt.median_spread_at(T0) == 0.01
    t, cum = _median_case(t0)
    a, b = math.log(1.009), math.log(101.2 / 100.9)
    np.testing.assert_allclose(cum, [0, a, a, a, a, a, a + b, a + b], rtol=1e-12, atol=0)


def test_ethb_scenarios_carry_the_relayers_parameters(tmp_path):
    import tomllib

    o = tomllib.loads(bt.write_ethb_window(tmp_path, "2022-06-10", "2022-06-12").read_text())["simulation"]
    assert o["oracle"]["median_spread"] == 0.01 and o["oracle"]["median_expiration_s"] == 15500.0
    assert o["keepers"]["max_idle_move"] == bt.ETHB_MAX_IDLE_MOVE
