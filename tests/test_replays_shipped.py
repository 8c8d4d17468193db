"""The replay examples of issue 12 item 8: each runs at a small size, and its path and its first
liquidation follow from the shipped candles by hand.

Expected values are read straight from the candle files with the ``csv`` module (not through the
loader the engine uses): a path resampled with ``ohlc_path`` visits every candle's low, so its
minimum is the candles' minimum low; and a synthetic book is healthy at its start prices, so no
account can be liquidated before the oracle's price of a driven asset falls below its start.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from liqcascade import api
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario

REPO = Path(__file__).resolve().parents[1]
REPLAYS = REPO / "src" / "liqcascade" / "data" / "replays"


@dataclass(frozen=True)
class Shipped:
    """One replay example, the candle file behind it and the path asset it drives (``market``)."""

    example: str
    candles: str
    market: str
    low: float  # the minimum low, as the example's comment states it
    low_hour: str  # the candle (UTC) holding that low


SHIPPED = [
    Shipped("replay_2021_05_week.toml", "binance_ethusdt_1h_2021-05-17_25.csv",
            "WETH", 1728.74, "2021-05-23 16:00:00"),
    Shipped("replay_2022_05_luna.toml", "binance_ethusdt_1h_2022-05-05_15.csv",
            "WETH", 1800.0, "2022-05-12 05:00:00"),
    Shipped("replay_2022_11_ftx.toml", "binance_ethusdt_1h_2022-11-06_12.csv",
            "WETH", 1073.53, "2022-11-09 23:00:00"),
    Shipped("replay_2023_03_usdc.toml", "binance_usdcusdt_1h_2023-03-11_14.csv",
            "USDC", 0.882, "2023-03-11 14:00:00"),
]


def _candles(name: str) -> list[dict[str, str]]:
    with open(REPLAYS / name, newline="") as f:
        return list(csv.DictReader(f))


def _run(example: str, n_accounts: int = 500):
    path = REPO / "examples" / example
    data = tomllib.loads(path.read_text())
    data["positions"]["n_accounts"] = n_accounts
    sc = S.build(parse_scenario(data, str(path)), path.parent, str(path))
    return sc, api.simulate(sc, store=None)


@pytest.mark.parametrize("case", SHIPPED, ids=lambda c: c.example)
def test_example_states_the_candles_low(case):
    rows = _candles(case.candles)
    low = min(rows, key=lambda r: float(r["low"]))
    assert float(low["low"]) == case.low and low["date"] == case.low_hour
    assert f"low {case.low}" in (REPO / "examples" / case.example).read_text()


@pytest.mark.parametrize("case", SHIPPED, ids=lambda c: c.example)
def test_replay_path_low_and_first_liquidation_follow_the_candles(case):
    sc, res = _run(case.example)
    assert sc.config.simulation.impact_on_path == "none"
    rows = _candles(case.candles)
    first_open = float(rows[0]["open"])
    steps = res.table("steps")
    ref = steps[steps["asset"] == case.market].sort_values("block")
    # the path moves the asset by the candles' relative move: its low sits at low/open of its start
    drop = ref["reference_price"].min() / ref["reference_price"].iloc[0]
    assert drop == pytest.approx(case.low / first_open, rel=1e-9)
    # the low is reached inside the candle that holds it
    at_low = int(ref.loc[ref["reference_price"].idxmin(), "time"])
    start = pd.Timestamp(case.low_hour).timestamp()
    assert start <= at_low < start + 3600
    # nobody is liquidated before the oracle first shows the asset below its start price
    below = ref[ref["oracle_price"] < ref["oracle_price"].iloc[0]]
    ev = res.table("events")
    assert len(ev) > 0 and len(below) > 0
    assert ev["block"].min() >= below["block"].min()
