"""Simulation scenarios: user candle files and their bad input, oracle and dynamics keys."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from liqcascade import api
from liqcascade.errors import ConfigError, DataError
from liqcascade.io import scenario as S

BASE = """
name = "sim"
[market]
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]
[positions]
source = "file"
path = "book.csv"
[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 1e6
[simulation]
path = "candles"
candles = { ETH = "eth.csv" }
drive = { ETH = ["WETH"] }
[simulation.oracle]
kind = "instant"
[simulation.liquidators]
gas_asset = "WETH"
gas_gwei = 1
"""

BOOK = "account,asset,collateral,debt\na,WETH,10,0\na,USDC,0,14000\nb,WETH,3,0\nb,USDC,0,3500\n"


def candles(rows):
    head = "date,open,high,low,close,volume\n"
    return head + "".join(f"{d},{o},{h},{lo},{c},1\n" for d, o, h, lo, c in rows)


GOOD = [
    ("2024-01-01 00:00:00", 2000, 2010, 1990, 2000),
    ("2024-01-01 00:01:00", 2000, 2000, 1700, 1710),
    ("2024-01-01 00:02:00", 1710, 1720, 1500, 1520),
    ("2024-01-01 00:03:00", 1520, 1560, 1510, 1550),
]


def write(tmp_path: Path, rows, toml: str = BASE) -> Path:
    (tmp_path / "book.csv").write_text(BOOK)
    (tmp_path / "eth.csv").write_text(candles(rows))
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(toml))
    return p


def test_user_candles_run(tmp_path):
    res = api.simulate(write(tmp_path, GOOD), store=None)
    s = res.summary
    assert s["blocks"] == 4 * 5  # four 1-minute candles, five 12-second blocks each
    # WETH is driven from the reference price 1816.85 by the candles' relative path:
    # the low 1500 of 2000 takes it to 0.75 of that; HF(a) = 10*0.75*1816.85*0.83/14000 < 1
    assert s["accounts_liquidated"] >= 1
    # with nobody liquidating (no sales, no impact) the reference is exactly the candles' path
    quiet = write(tmp_path, GOOD, BASE.replace("gas_gwei = 1", "gas_gwei = 1\nliquidations_per_block = 1e-9"))
    w = api.simulate(quiet, store=None)["steps"].query("asset == 'WETH'")
    assert w["reference_price"].min() == pytest.approx(w["reference_price"].iloc[0] * 1500 / 2000, rel=1e-12)
    # a candles path is a replayed market: by default (impact_on_path = "none") the sales leave it as it is
    w_liq = res["steps"].query("asset == 'WETH'")
    assert w_liq["reference_price"].min() == w["reference_price"].min()
    # with impact_on_path = "full" sales push the reference below the path (their permanent impact)
    full = write(tmp_path, GOOD, BASE.replace("[simulation]\n", "[simulation]\nimpact_on_path = \"full\"\n"))
    w_full = api.simulate(full, store=None)["steps"].query("asset == 'WETH'")
    assert w_full["reference_price"].min() < w["reference_price"].min()


@pytest.mark.parametrize(
    "rows,row,what",
    [
        (GOOD[:2] + GOOD[3:], 3, "gap"),  # 00:02 missing
        ([GOOD[0], GOOD[2], GOOD[1], GOOD[3]], 3, ""),  # unsorted
        ([GOOD[0], GOOD[1], GOOD[1], GOOD[2]], 3, ""),  # duplicate
        ([GOOD[0], ("2024-01-01 00:01:00", 2000, 2000, -5, 1710)] + GOOD[2:], 2, ""),  # non-positive
    ],
)
def test_bad_price_files_name_the_row(tmp_path, rows, row, what):
    p = write(tmp_path, rows)
    with pytest.raises(DataError) as e:
        S.simulation_parts(S.load(p))
    msg = str(e.value)
    assert "eth.csv" in msg and f"row {row}" in msg and what in msg, msg


def test_a_gap_is_accepted_only_with_a_fill_policy(tmp_path):
    rows = GOOD[:2] + GOOD[3:]
    p = write(tmp_path, rows, BASE.replace('drive = { ETH = ["WETH"] }', 'drive = { ETH = ["WETH"] }\nfill = "linear"'))
    path, *_ = S.simulation_parts(S.load(p))
    assert path.n_blocks == 4 * 5


def test_wrong_columns_are_named(tmp_path):
    (tmp_path / "book.csv").write_text(BOOK)
    (tmp_path / "eth.csv").write_text("when,price\n2024-01-01 00:00:00,2000\n")
    p = tmp_path / "s.toml"
    p.write_text(BASE)
    with pytest.raises(DataError, match="eth.csv"):
        S.simulation_parts(S.load(p))


@pytest.mark.parametrize(
    "old,new,key",
    [
        ('kind = "instant"', 'kind = "pyth"', "simulation.oracle.kind"),
        ('gas_gwei = 1', 'gas_gwei = -1', "simulation.liquidators.gas_gwei"),
        ('gas_asset = "WETH"', 'gas_asset = "ETHX"', "simulation.liquidators.gas_asset"),
        ('path = "candles"', 'path = "replay"\nreplay = "1929-10-29"', "simulation.replay"),
        ('drive = { ETH = ["WETH"] }', 'drive = { ETH = ["LINK"] }', "simulation.drive.ETH"),
        ('candles = { ETH = "eth.csv" }', 'candles = { ETH = "missing.csv" }', "simulation.candles.ETH"),
        ('[simulation.oracle]', '[simulation.dynamics]\npermanent_fraction = 1.5\n[simulation.oracle]', "simulation.dynamics.permanent_fraction"),
        ('kind = "instant"', 'kind = "osm"\nhop_s = 3600.5', "simulation.oracle.hop_s"),
    ],
)
def test_bad_simulation_keys_are_named(tmp_path, old, new, key):
    assert old in BASE
    p = write(tmp_path, GOOD, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        S.simulation_parts(S.load(p))
    assert key in str(e.value) and str(p) in str(e.value), str(e.value)


def test_an_osm_oracle_from_the_file_has_its_hop_in_whole_seconds(tmp_path):
    """`hop_s = 3600` (a float in the schema) builds Maker's OSM with an integer hop of 3,600 s
    (the oracle refuses anything else)."""
    from liqcascade.markets.oracle import MakerOSM

    p = write(tmp_path, GOOD, BASE.replace('kind = "instant"', 'kind = "osm"\nhop_s = 3600', 1))
    _, oracle, _, _, _ = S.simulation_parts(S.load(p))
    assert oracle == MakerOSM(3600) and isinstance(oracle.delay_s, int)
