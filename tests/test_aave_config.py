"""Aave v3 reserve snapshot loader.

Expected values were read by hand from the bundled JSON (bgd-labs/aave-proposals-v3 @ff6a99cd,
reports/AaveV3Ethereum_UpgradeAaveV3ETHPooolWETHParameters_20231031_after.json) and the
shared data README section D, not from running the loader.
"""

from __future__ import annotations

import json
import math
import shutil
from datetime import date
from pathlib import Path

import pytest

from liqcascade.errors import ConfigError
from liqcascade.io.aave_config import bundled_snapshot_path, load_aave_reserve_config

DATA = bundled_snapshot_path().parent
JSON = DATA / "aave_v3_ethereum_reserve_config_2023-10-31.json"
CSV = DATA / "aave_v3_ethereum_reserve_config_2023-10-31.csv"
WETH_ADDR = "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"


@pytest.fixture(scope="module")
def snap():
    return load_aave_reserve_config()


def test_bundled_files_and_attribution_exist():
    assert JSON.is_file() and CSV.is_file()
    text = (DATA / "ATTRIBUTION-aave.md").read_text()
    assert "Copyright 2022 BGD Labs" in text and "ff6a99cd" in text and "MIT" in text


def test_reserve_count_and_metadata(snap):
    assert len(snap.params) == 25
    assert snap.chain_id == 1
    assert snap.snapshot_date == date(2023, 10, 31)
    assert snap.block == 18485108


def test_weth_by_hand(snap):
    # JSON: ltv 8050, liquidationThreshold 8300, liquidationBonus 10500,
    # liquidationProtocolFee 1000, supplyCap 1800000, borrowCap 1400000, eModeCategory 1
    a = snap.params.asset("WETH")
    assert a.ltv == pytest.approx(0.805)
    assert a.liquidation_threshold == pytest.approx(0.83)
    assert a.liquidation_bonus == pytest.approx(0.05)
    assert a.protocol_fee == pytest.approx(0.10)
    assert a.supply_cap == 1_800_000 and a.borrow_cap == 1_400_000
    assert a.decimals == 18 and a.emode_category == 1 and a.borrowable
    # oracleLatestAnswer 181685499606 with oracleDecimals 8
    assert snap.prices["WETH"] == pytest.approx(1816.85499606, rel=1e-12)


def test_other_reserves_by_hand(snap):
    p = snap.params
    assert p.asset("WBTC").decimals == 8 and p.asset("WBTC").liquidation_threshold == pytest.approx(0.78)
    assert p.asset("USDC").decimals == 6 and p.asset("USDC").protocol_fee == pytest.approx(0.20)
    assert p.asset("USDC").liquidation_bonus == pytest.approx(0.045)  # 10450
    assert p.asset("wstETH").liquidation_bonus == pytest.approx(0.06)  # 10600
    assert snap.prices["wstETH"] == pytest.approx(2080.52489524)
    # AAVE: borrowingEnabled false, borrowCap 0 -> no cap
    assert not p.asset("AAVE").borrowable and math.isinf(p.asset("AAVE").borrow_cap)
    assert not p.asset("CRV").borrowable and not p.asset("sDAI").borrowable
    # 1INCH debtCeiling 450000000 with 2 decimals = 4.5 M USD
    assert snap.debt_ceiling_usd["1INCH"] == pytest.approx(4_500_000)
    assert math.isinf(snap.debt_ceiling_usd["WETH"])


def test_non_collateral_reserves_kept_with_lt_zero(snap):
    for sym in ("GHO", "RPL"):
        a = snap.params.asset(sym)
        assert a.liquidation_threshold == 0 and a.ltv == 0 and a.liquidation_bonus == 0
        assert a.borrowable
    assert math.isinf(snap.params.asset("GHO").supply_cap)  # supplyCap 0
    assert snap.prices["GHO"] == pytest.approx(1.0)


def test_emode_eth_correlated(snap):
    (e,) = snap.params.emodes
    assert e.id == 1 and e.label == "ETH correlated"
    assert (e.ltv, e.liquidation_threshold, e.liquidation_bonus) == pytest.approx((0.90, 0.93, 0.01))
    assert e.assets == {"WETH", "wstETH", "cbETH", "rETH"}


def test_reth_price_uses_the_aave_oracle_unit(snap):
    # rETH has no oracleDecimals key; answer 197699300863 in Aave's 1e8 USD unit
    assert snap.assumed_price_decimals == ("rETH",)
    assert snap.prices["rETH"] == pytest.approx(1976.99300863)


def test_every_fraction_is_a_fraction(snap):
    p = snap.params
    assert ((p.ltv >= 0) & (p.ltv <= p.liquidation_threshold) & (p.liquidation_threshold < 1)).all()
    assert ((p.liquidation_bonus >= 0) & (p.liquidation_bonus < 0.2)).all()
    assert all(v > 0 for v in snap.prices.values())
    assert snap.price_array.shape == (25,)


def test_csv_gives_the_same_market(snap):
    c = load_aave_reserve_config(CSV)
    assert set(c.params.symbols) == set(snap.params.symbols)
    for sym in snap.params.symbols:
        assert c.params.asset(sym) == snap.params.asset(sym)
        assert c.prices[sym] == snap.prices[sym]
    assert c.params.emodes == snap.params.emodes


# ----------------------------------------------------------------------- bad files
def _corrupt(tmp_path: Path, edit) -> Path:
    doc = json.loads(JSON.read_text())
    edit(doc)
    p = tmp_path / "broken.json"
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda d: d["reserves"][WETH_ADDR].pop("liquidationThreshold"), "reserves.WETH.liquidationThreshold"),
        (lambda d: d["reserves"][WETH_ADDR].update(ltv="8050"), "reserves.WETH.ltv"),
        (lambda d: d["reserves"][WETH_ADDR].update(liquidationThreshold=18300), "reserves.WETH.liquidationThreshold"),
        (lambda d: d["reserves"][WETH_ADDR].update(liquidationBonus=500), "reserves.WETH.liquidationBonus"),
        (lambda d: d["reserves"][WETH_ADDR].update(eModeCategory=2), "reserves.WETH.eModeCategory"),
        (lambda d: d["reserves"][WETH_ADDR].update(oracleLatestAnswer=0), "reserves.WETH.oracleLatestAnswer"),
        (lambda d: d["eModes"]["1"].update(liquidationThreshold="93%"), "eModes.1.liquidationThreshold"),
        (lambda d: d.pop("reserves"), "reserves"),
    ],
)
def test_corrupted_json_names_file_and_key(tmp_path, edit, key):
    p = _corrupt(tmp_path, edit)
    with pytest.raises(ConfigError) as ei:
        load_aave_reserve_config(p)
    assert ei.value.key == key
    assert str(p) in str(ei.value) and key in str(ei.value)


def test_lt_below_ltv_is_rejected_by_params_validation(tmp_path):
    p = _corrupt(tmp_path, lambda d: d["reserves"][WETH_ADDR].update(ltv=9000))
    with pytest.raises(ConfigError, match=r"assets\.WETH\.liquidation_threshold"):
        load_aave_reserve_config(p)


def test_truncated_json(tmp_path):
    p = tmp_path / "cut.json"
    p.write_text(JSON.read_text()[:1000])
    with pytest.raises(ConfigError, match="cut.json"):
        load_aave_reserve_config(p)


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(ConfigError, match="nope.json"):
        load_aave_reserve_config(tmp_path / "nope.json")
    q = tmp_path / "x.yaml"
    q.write_text("a: 1")
    with pytest.raises(ConfigError, match="x.yaml"):
        load_aave_reserve_config(q)


def test_corrupted_csv_names_row_and_column(tmp_path):
    lines = CSV.read_text().splitlines()
    # row 3 of the data is BAL (alphabetical flattening); break its liquidation threshold
    assert lines[3].startswith("BAL,")
    cells = lines[3].split(",")
    cells[4] = "62%"
    lines[3] = ",".join(cells)
    bad = tmp_path / "aave_v3_ethereum_reserve_config_2023-10-31.csv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as ei:
        load_aave_reserve_config(bad)
    assert ei.value.key == "row 3 (BAL).liquidation_threshold_bps"
    assert str(bad) in str(ei.value)


def test_csv_without_emode_table_asks_for_one(tmp_path):
    lone = tmp_path / "reserves.csv"
    shutil.copy(CSV, lone)
    with pytest.raises(ConfigError, match="emode"):
        load_aave_reserve_config(lone)
    snap = load_aave_reserve_config(
        lone, emodes={1: {"label": "ETH correlated", "ltv": 9000, "liquidationThreshold": 9300,
                          "liquidationBonus": 10100}}
    )
    assert snap.params.emode(1).liquidation_threshold == pytest.approx(0.93)
    assert snap.block is None  # unknown file: no recorded block


def test_csv_missing_column(tmp_path):
    lines = CSV.read_text().splitlines()
    rows = [",".join(c for i, c in enumerate(l.split(",")) if i != 5) for l in lines]
    p = tmp_path / "aave_v3_ethereum_reserve_config_2023-10-31.csv"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError) as ei:
        load_aave_reserve_config(p)
    assert ei.value.key == "liquidation_bonus_bps"
