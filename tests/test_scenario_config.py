"""Scenario files: every bad input is a ConfigError/DataError naming file and key, raised before any work."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from liqcascade import api
from liqcascade.errors import ConfigError, DataError
from liqcascade.io import scenario as S
from liqcascade.io.config import ScenarioConfig, load_scenario

BASE = """
name = "t"
[market]
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC", "DAI"]
[positions]
source = "file"
path = "book.csv"
[shock]
WETH = 0.3
"""

BOOK = "account,asset,collateral,debt\n0x01,WETH,10,0\n0x01,USDC,0,15000\n"


def write(tmp_path: Path, toml: str, book: str = BOOK) -> Path:
    (tmp_path / "book.csv").write_text(book)
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(toml))
    return p


def test_valid_base_runs(tmp_path):
    res = api.run(write(tmp_path, BASE), store=None)
    # 10 WETH at 1816.85 * 0.7 = 1271.80; HF = 12718 * 0.83 / 15000 (USDC at its oracle price ~1)
    assert res.summary["accounts_liquidated"] == 1


@pytest.mark.parametrize(
    "edit,key",
    [
        (("version = \"3.3-3.4\"", "version = \"3.9\""), "market.version"),
        (("version = \"3.3-3.4\"\n", ""), "market.version"),
        (("name = \"t\"", "name = \"t\"\ncolour = 1"), "colour"),
        (("WETH = 0.3", "WETH = 1.5"), "shock"),
        (("WETH = 0.3", "XYZ = 0.3"), "shock.XYZ"),
        (("assets = [\"WETH\", \"USDC\", \"DAI\"]", "assets = [\"WETH\", \"FOO\"]"), "market.assets"),
        (("[shock]", "[market.overrides.WETH]\nliquidation_threshold = 1.2\n[shock]"), "market.overrides.WETH.liquidation_threshold"),
        (("[shock]", "[market.overrides.WETH]\nliquidation_threshold = 0.5\n[shock]"), "market.overrides.WETH.liquidation_threshold"),  # LT < LTV 0.805
        (("[shock]", "[market.overrides.WETH]\nliquidation_bonus = -0.1\n[shock]"), "market.overrides.WETH.liquidation_bonus"),
        (("[shock]", "[prices.overrides]\nWETH = 0.0\n[shock]"), "prices.overrides.WETH"),
        (("[shock]", "[prices.overrides]\nWETH = nan\n[shock]"), "prices.overrides.WETH"),
        (("[shock]", "[prices.overrides]\nWETH = -5.0\n[shock]"), "prices.overrides.WETH"),
        (("path = \"book.csv\"", "path = \"missing.csv\""), "positions.path"),
        (("path = \"book.csv\"", "path = \"book.csv\"\ndebt_usd = 1e6"), "positions.debt_usd"),  # synthetic only
        (("source = \"file\"\npath = \"book.csv\"", "source = \"synthetic\"\nn_accounts = 10\ndebt_usd = 0"),
         "positions.debt_usd"),
        (("path = \"book.csv\"", "path = \"book.csv\"\nhf_near_weight = 0.2"), "positions.hf_near_weight"),  # synthetic only
        (("source = \"file\"\npath = \"book.csv\"", "source = \"synthetic\"\nn_accounts = 10\nhf_near_weight = 1.5"),
         "positions.hf_near_weight"),
        (("source = \"file\"\npath = \"book.csv\"", "source = \"synthetic\"\nn_accounts = 10\nhf_tail_start = 1.0"),
         "positions.hf_tail_start"),  # a health factor above 1
        (("source = \"file\"\npath = \"book.csv\"", "source = \"synthetic\"\nn_accounts = 10\nhf_mid_weight = 0.6"),
         "positions.hf_mid_weight"),  # 0.6 + the default near weight 0.5 > 1
        (("[shock]", "[[venues]]\nkind = \"cpmm\"\nasset = \"WETH\"\nreserve_usd = -1\n[shock]"), "venues.0.reserve_usd"),
        (("[shock]", "[[venues]]\nkind = \"cpmm\"\nasset = \"LINK\"\nreserve_usd = 1e6\n[shock]"), "venues.0.asset"),
        (("[shock]", "[[venues]]\nkind = \"teleport\"\nasset = \"WETH\"\n[shock]"), "venues.0"),
    ],
)
def test_bad_config_names_the_key(tmp_path, edit, key):
    old, new = edit
    assert old in BASE
    p = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as e:
        S.load(p)
    assert key in str(e.value), str(e.value)
    assert str(p) in str(e.value)


@pytest.mark.parametrize(
    "book,row,what",
    [
        ("account,asset,collateral,debt\n0x01,WETH,-1,0\n", 1, "collateral"),
        ("account,asset,collateral,debt\n0x01,WETH,1,0\n0x01,USDC,0,nan\n", 2, "debt"),
        ("account,asset,collateral,debt\n0x01,WETH,1,0\n0x02,LINK,5,0\n", 2, "LINK"),  # not in market.assets
        ("account,asset,collateral,debt\n0x01,WETH,ten,0\n", None, "numeric"),
        ("account,asset,collat,debt\n0x01,WETH,1,0\n", None, "collateral"),
    ],
)
def test_bad_positions_name_file_and_row(tmp_path, book, row, what):
    p = write(tmp_path, BASE, book)
    with pytest.raises(DataError) as e:
        S.load(p)
    msg = str(e.value)
    assert "book.csv" in msg and what in msg, msg
    if row is not None:
        assert f"row {row}" in msg, msg


def test_csv_labels_stay_text(tmp_path):
    book = "account,asset,collateral,debt\n0xa1,WETH,1,0\n0001,WETH,2,0\n0001,USDC,0,100\n"
    sc = S.load(write(tmp_path, BASE, book))
    assert sorted(sc.model.book.account_ids.tolist()) == ["0001", "0xa1"]


def test_bad_input_writes_nothing(tmp_path):
    p = write(tmp_path, BASE.replace("WETH = 0.3", "WETH = 2"))
    store = tmp_path / "store"
    with pytest.raises(ConfigError):
        api.run(p, store=store)
    assert not store.exists()


def test_not_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="bad.toml.*valid TOML"):
        load_scenario(bad)
    with pytest.raises(ConfigError, match="nope.toml"):
        load_scenario(tmp_path / "nope.toml")


def _walk(schema: dict, defs: dict, path: str, out: list[str]) -> None:
    if "$ref" in schema:
        _walk(defs[schema["$ref"].split("/")[-1]], defs, path, out)
        return
    for name, sub in schema.get("properties", {}).items():
        if not (sub.get("description") or "").strip():
            out.append(f"{path}.{name}")
        for branch in [sub] + sub.get("anyOf", []) + sub.get("oneOf", []):
            if "$ref" in branch or "properties" in branch:
                _walk(branch, defs, f"{path}.{name}", out)
            items = branch.get("items")
            if isinstance(items, dict):
                for it in [items] + items.get("oneOf", []) + items.get("anyOf", []):
                    if "$ref" in it:
                        _walk(it, defs, f"{path}.{name}[]", out)
            addl = branch.get("additionalProperties")
            if isinstance(addl, dict) and "$ref" in addl:
                _walk(addl, defs, f"{path}.{name}.*", out)


def test_every_config_field_is_described():
    schema = ScenarioConfig.model_json_schema()
    missing: list[str] = []
    _walk(schema, schema.get("$defs", {}), "scenario", missing)
    assert not missing, f"fields without a description: {missing}"
    # and the walk did reach nested models
    assert "AssetOverride" in schema["$defs"] and "Univ3VenueConfig" in schema["$defs"]


def test_health_knobs_shape_the_synthetic_book(tmp_path):
    """With no near and no mid group every borrower is in the Pareto tail, so no health factor
    is below hf_tail_start; unset knobs leave the run id of the scenario as it was."""
    import numpy as np

    from liqcascade.model.synthetic import book_shape

    synth = BASE.replace('source = "file"\npath = "book.csv"', 'source = "synthetic"\nn_accounts = 500\nseed = 3')
    plain = S.load(write(tmp_path, synth))
    tail = synth.replace("seed = 3", "seed = 3\nhf_near_weight = 0.0\nhf_mid_weight = 0.0\nhf_tail_start = 2.0")
    sc = S.load(write(tmp_path, tail))
    shape = book_shape(sc.model.book, sc.model.rules.params, sc.model.prices)
    assert shape["hf_p05"] >= 2.0 - 1e-9
    assert book_shape(plain.model.book, plain.model.rules.params, plain.model.prices)["hf_p05"] < 1.1  # the default near mass
    assert "hf_near_weight" not in plain.resolved()["positions"]
    assert sc.resolved()["positions"]["hf_tail_start"] == 2.0
    assert np.isfinite(shape["hf_median"])
