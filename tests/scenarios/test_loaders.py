"""Loaders: every bad input names its file and 1-based row; fills are explicit; the shipped
replay files load and show what the data README says they show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqcascade.errors import ConfigError, DataError
from liqcascade.scenarios import (
    REPLAY_NAMES,
    load_binance_klines,
    load_gas_percentiles,
    load_univ2_reserves,
    load_univ3_pool_blocks,
    replay_data,
    replay_path,
    split_at_gaps,
    to_blocks,
)
from tests.conftest import shared_file

T0 = 1621422600000  # 2021-05-19 11:10 UTC in ms
HEAD = "open_time_ms,open,high,low,close,volume,close_time_ms\n"
GOOD = [(T0 + 60_000 * i, 100 + i, 102 + i, 99 + i, 101 + i, 5.0, T0 + 60_000 * i + 59_999) for i in range(5)]


def write(tmp_path, rows, head=HEAD, name="k.csv"):
    p = tmp_path / name
    p.write_text(head + "".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return p


def bad_row(rows, i, **changes):
    cols = ["t", "open", "high", "low", "close", "volume", "ct"]
    r = dict(zip(cols, rows[i - 1]))
    r.update(changes)
    out = list(rows)
    out[i - 1] = tuple(r[c] for c in cols)
    return out


def test_good_file(tmp_path):
    df = load_binance_klines(write(tmp_path, GOOD))
    assert df["time"].tolist() == [(T0 + 60_000 * i) // 1000 for i in range(5)]
    assert df.attrs["interval"] == 60 and df["row"].tolist() == [1, 2, 3, 4, 5]
    assert df.columns.tolist() == ["time", "open", "high", "low", "close", "volume", "row", "filled"]


@pytest.mark.parametrize(
    "rows, row, match",
    [
        (bad_row(GOOD, 3, t=GOOD[1][0]), 3, "duplicate timestamp"),
        (bad_row(GOOD, 4, t=GOOD[1][0] + 1000), 4, "earlier than the previous"),
        (bad_row(GOOD, 4, t=GOOD[3][0] + 30_000), 4, "60-second steps"),
        (GOOD[:3] + GOOD[4:], 4, "gap: 1 missing row"),
        (bad_row(GOOD, 2, open=0), 2, "'open' must be a finite price > 0"),
        (bad_row(GOOD, 5, close=-3), 5, "'close' must be a finite price > 0"),
        (bad_row(GOOD, 5, low="nan"), 5, "'low' must be a finite price > 0"),
        (bad_row(GOOD, 2, high=""), 2, "'high' is empty"),
        (bad_row(GOOD, 3, close="abc"), 3, "not a number: 'abc'"),
        (bad_row(GOOD, 3, high=100.5), 3, r"high < max\(open, close\)"),
        (bad_row(GOOD, 2, low=101.5), 2, r"low > min\(open, close\)"),
        (bad_row(GOOD, 1, t="x"), 1, "epoch milliseconds"),
        (bad_row(GOOD, 2, t=GOOD[1][0] + 500), 2, "whole second"),
    ],
)
def test_bad_klines_name_file_and_row(tmp_path, rows, row, match):
    p = write(tmp_path, rows)
    with pytest.raises(DataError, match=match) as e:
        load_binance_klines(p)
    assert e.value.file == str(p) and e.value.row == row
    assert f"{p}: row {row}:" in str(e.value)


def test_wrong_columns_say_what_is_expected(tmp_path):
    p = write(tmp_path, [r[:4] for r in GOOD], head="open_time_ms,open,high,close\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['low'\]") as e:
        load_binance_klines(p)
    assert e.value.row is None and "expected one time column of" in str(e.value)
    q = write(tmp_path, GOOD, head="ts,open,high,low,close,volume,ct\n", name="q.csv")
    with pytest.raises(DataError, match="time column: none; expected one time column of") as e:
        load_binance_klines(q)
    with pytest.raises(DataError, match="file not found"):
        load_binance_klines(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="empty file"):
        load_binance_klines(write(tmp_path, [], head="", name="e.csv"))


def test_fill_policies_are_explicit(tmp_path):
    # candles at minutes 0, 1, 4: two missing; close(1) = 102, open(4) = 108
    rows = [GOOD[0], (T0 + 60_000, 101, 103, 100, 102, 5, 0), (T0 + 240_000, 108, 110, 107, 109, 5, 0)]
    p = write(tmp_path, rows)
    with pytest.raises(DataError, match="gap: 2 missing row"):
        load_binance_klines(p)
    with pytest.raises(ConfigError):
        load_binance_klines(p, fill="zero")
    f = load_binance_klines(p, fill="ffill")
    assert f["filled"].tolist() == [False, False, True, True, False] and f["row"].tolist() == [1, 2, 0, 0, 3]
    assert f.loc[2:3, ["open", "high", "low", "close"]].to_numpy().tolist() == [[102.0] * 4] * 2
    assert f.loc[2:3, "volume"].tolist() == [0.0, 0.0] and f.attrs["filled_rows"] == 2
    lin = load_binance_klines(p, fill="linear")
    # from 102 at minute 2 to 108 at minute 4: 3 per minute
    assert lin.loc[2:3, ["open", "close"]].to_numpy().tolist() == [[102.0, 105.0], [105.0, 108.0]]
    assert lin.loc[2:3, "high"].tolist() == [105.0, 108.0] and lin.loc[2:3, "low"].tolist() == [102.0, 105.0]
    keep = load_binance_klines(p, fill="keep")
    assert len(keep) == 3 and keep.attrs["gaps"] == [((T0 + 60_000) // 1000, (T0 + 240_000) // 1000)]
    assert [len(x) for x in split_at_gaps(keep)] == [2, 1]


def test_other_layouts(tmp_path):
    hourly = write(tmp_path, [("2021-04-04 20:00:00", 1, 2, 0.5, 1.5, 3), ("2021-04-04 21:00:00", 1.5, 2, 1, 1, 3)],
                   head="date,open,high,low,close,volume\n", name="h.csv")  # fmt: skip
    h = load_binance_klines(hourly)
    assert h["time"].tolist() == [1617566400, 1617570000] and h.attrs["interval"] == 3600
    bad = write(tmp_path, [("2021-04-04 20:00:00", 1, 2, 0.5, 1.5, 3), ("yesterday", 1.5, 2, 1, 1, 3)],
                head="open_time_utc,open,high,low,close,volume\n", name="u.csv")  # fmt: skip
    with pytest.raises(DataError, match="'open_time_utc' must be a UTC date-time") as e:
        load_binance_klines(bad)
    assert e.value.row == 2
    raw = write(tmp_path, [r + (0, 0, 0, 0, 0) for r in GOOD], head="", name="raw.csv")  # Binance, no header
    assert load_binance_klines(raw)["close"].tolist() == [101.0, 102.0, 103.0, 104.0, 105.0]


GAS_HEAD = "period_start_utc,tx_count,avg_gas_price_wei,p30_wei,p60_wei,p90_wei,max_wei\n"


def test_gas_loader(tmp_path):
    rows = [
        ("2021-05-19T00:00:00", 10, 5e9, 4e9, 6e9, 8e9, 9e9),
        ("2021-05-19T00:10:00", 10, 5e9, 4e9, 6e9, 8e9, 9e9),
    ]
    g = load_gas_percentiles(write(tmp_path, rows, head=GAS_HEAD))
    assert g["p60_gwei"].tolist() == [6.0, 6.0] and g.attrs["interval"] == 600
    bad = rows + [("2021-05-19T00:20:00", 10, 5e9, 7e9, 6e9, 8e9, 9e9)]
    with pytest.raises(DataError, match="p30 <= p60") as e:
        load_gas_percentiles(write(tmp_path, bad, head=GAS_HEAD, name="g2.csv"))
    assert e.value.row == 3
    with pytest.raises(DataError, match="missing column"):
        load_gas_percentiles(
            write(
                tmp_path,
                [r[:3] for r in rows],
                head="period_start_utc,tx_count,avg_gas_price_wei\n",
                name="g3.csv",
            )
        )


def test_reserves_and_pool_loaders(tmp_path):
    head = "period_start_utc,dai_reserve,weth_reserve\n"
    rows = [("2021-05-19T00:00:00", 3000.0, 1.0), ("2021-05-19T00:10:00", 0, 1.0)]
    with pytest.raises(DataError, match="'dai_reserve' must be a finite amount > 0") as e:
        load_univ2_reserves(write(tmp_path, rows, head=head))
    assert e.value.row == 2
    r = load_univ2_reserves(
        write(tmp_path, rows[:1] + [("2021-05-19T00:10:00", 3300.0, 1.1)], head=head, name="r.csv")
    )
    assert r["price"].tolist() == pytest.approx([3000.0, 3000.0], rel=1e-15)
    pool = pd.DataFrame({"blockNumber": [1, 2, 2], "liquidity": ["1", "1", "1"], "sqrtPrice": [str(2**96)] * 3,
                         "tick": ["0"] * 3, "token0Price": ["1"] * 3, "token1Price": ["1"] * 3,
                         "totalValueLockedUSD": ["1"] * 3, "timestamp": [12, 24, 36]})  # fmt: skip
    pq = tmp_path / "pool.parquet"
    pool.to_parquet(pq)
    with pytest.raises(DataError, match="duplicate block number") as e:
        load_univ3_pool_blocks(pq)
    assert (e.value.file, e.value.row) == (str(pq), 3)
    pool["blockNumber"] = [1, 2, 3]
    pool.to_parquet(pq)
    assert load_univ3_pool_blocks(pq, decimals0=6, decimals1=6)["price"].tolist() == [1.0, 1.0, 1.0]


def test_to_blocks_step_hold():
    f = pd.DataFrame({"time": [0, 600], "g": [5.0, 7.0], "row": [1, 2]})
    f.attrs = {"source": "gas.csv", "interval": 600}
    assert to_blocks(f, "g", np.array([0, 12, 588, 600, 1188])).tolist() == [5.0, 5.0, 5.0, 7.0, 7.0]
    with pytest.raises(DataError, match="beyond='hold'"):
        to_blocks(f, "g", np.array([1188, 1200]))
    assert to_blocks(f, "g", np.array([1188, 1200]), beyond="hold").tolist() == [7.0, 7.0]
    with pytest.raises(DataError, match="data start at"):
        to_blocks(f, "g", np.array([-12, 0]))
    gap = pd.DataFrame({"time": [0, 1800], "g": [5.0, 7.0], "row": [1, 2]})
    gap.attrs = {"source": "gas.csv", "interval": 600}
    with pytest.raises(DataError, match="gap") as e:
        to_blocks(gap, "g", np.array([0, 600]))
    assert e.value.row == 1


# ----------------------------------------------------------------- shipped replays vs the README


def _at(df, col, value):
    return pd.Timestamp(int(df.loc[df[col] == value, "time"].iloc[0]), unit="s")


def test_every_replay_loads_and_matches_the_readme():
    assert set(REPLAY_NAMES) == {"2021-05-19", "2021-05-19-spot", "2021-05-week", "2020-03-12",
                                 "2022-05-luna", "2022-11-ftx", "2023-03-usdc", "2024-08-05",
                                 "2025-10-10-usde"}
    spot = replay_data("2021-05-19-spot").legs[0]["ETH"]
    assert len(spot) == 24 and spot["low"].min() == 1888.0  # "the spot low that day was about 1888"
    may = replay_data("2021-05-19")
    eth = may.legs[0]["ETH"]
    assert len(eth) == 276 and eth["low"].min() == 1400.73
    assert _at(eth, "low", 1400.73) == pd.Timestamp("2021-05-19 13:10")
    assert len(may.gas) == 144 and len(may.pools["univ2_eth_dai"]) == 144
    dai = may.pools["univ2_eth_dai"]["dai_reserve"]
    assert dai.min() > 55e6 and dai.max() < 70e6  # "55-69 M DAI a side"

    bt = replay_data("2020-03-12")
    legs = [leg["ETH"] for leg in bt.legs]
    assert [len(x) for x in legs] == [297, 149]  # 09:40-14:36 and 23:49-02:17
    assert legs[0]["low"].min() == 118.27 and _at(legs[0], "low", 118.27) == pd.Timestamp("2020-03-12 11:01")
    assert legs[1]["low"].min() == 84.23 and _at(legs[1], "low", 84.23) == pd.Timestamp("2020-03-13 02:16")
    assert 3 < bt.gas["p30_gwei"].iloc[0] < 7 and bt.gas["p30_gwei"].max() > 100  # "about 5 -> about 150"

    aug = replay_data("2024-08-05").legs[0]
    assert len(aug["ETH"]) == len(aug["BTC"]) == 1440
    assert aug["ETH"]["low"].min() == 2111.0 and aug["BTC"]["low"].min() == 49000.0

    usde = replay_data("2025-10-10-usde")
    assert len(usde.legs[0]["USDe"]) == 1440 and usde.legs[0]["USDe"]["low"].min() == 0.65
    pool = usde.pools["univ3_usde_usdt"]
    assert len(pool) == 2980 and np.all(np.diff(pool["block"]) == 1)
    np.testing.assert_allclose(pool["price"], pool["token1_price"], rtol=1e-9)


def test_replay_paths():
    p = replay_path("2021-05-19")
    assert p.n_blocks == 276 * 5 and p.prices.min() == 1400.73 and p.gas_gwei is not None
    assert p.times[0] == pd.Timestamp("2021-05-19 11:10", tz="UTC").timestamp()
    aug = replay_path("2024-08-05")
    assert aug.assets == ("ETH", "BTC") and aug.n_blocks == 7200 and aug.gas_gwei is None
    with pytest.raises(DataError, match="beyond='hold'"):
        replay_path("2020-03-12", leg=1)
    held = replay_path("2020-03-12", leg=1, gas_beyond="hold")
    assert held.prices.min() == 84.23 and "hold" in held.meta["gas_rule"]
    with pytest.raises(ConfigError):
        replay_data("2022-05-09")


# ----------------------------------------------------------------- the raw shared files


def test_shared_hourly_file_has_the_five_documented_gaps():
    p = shared_file("binance_ethusdt_1h_2021-04_2023-12.csv")
    with pytest.raises(DataError, match="gap") as e:
        load_binance_klines(p)
    assert e.value.row is not None
    df = load_binance_klines(p, fill="keep")
    assert len(df) == 23989 and len(df.attrs["gaps"]) == 5
    days = [pd.Timestamp(a, unit="s").strftime("%Y-%m-%d") for a, _ in df.attrs["gaps"]]
    assert days == ["2021-04-20", "2021-04-25", "2021-08-13", "2021-09-29", "2023-03-24"]
    assert all(2 * 3600 <= b - a <= 5 * 3600 for a, b in df.attrs["gaps"])  # "gaps of 2 to 5 hours"


def test_shared_reserves_file_duplicate_is_named():
    p = shared_file("uniswap_v2_eth_dai_reserves_10min_event_days.csv")
    with pytest.raises(DataError, match="duplicate timestamp") as e:
        load_univ2_reserves(p)
    assert e.value.row == 2
    day = load_univ2_reserves(p, start="2021-05-19", end="2021-05-20")
    assert len(day) == 144 and day["row"].iloc[0] == 4 * 144 + 1
