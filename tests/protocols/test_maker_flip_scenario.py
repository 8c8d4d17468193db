"""Liquidations 1.2 as a rule version of the maker protocol, through the scenario config and
``simulate``; the Black Thursday ETH-A replay and what its outcome comes from."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from liqcascade import api
from liqcascade.errors import ConfigError
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario
from liqcascade.model.maker_vault_book import VaultTotals, vault_book

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "replay_2020_03_12_eth_a.toml"
BASE = tomllib.loads(EXAMPLE.read_text())


def _build(data):
    return S.build(parse_scenario(data, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))


def test_liquidations_12_needs_its_flip_table():
    data = copy.deepcopy(BASE)
    del data["market"]["maker"]
    with pytest.raises(ConfigError, match="market.maker.flip"):
        _build(data)


def test_a_flip_table_needs_version_12():
    data = copy.deepcopy(BASE)
    data["market"]["version"] = "liquidations-2.0"
    with pytest.raises(ConfigError, match="market.maker.flip"):
        _build(data)


def test_an_aave_version_is_not_a_maker_system():
    data = copy.deepcopy(BASE)
    data["market"]["version"] = "3.7"
    with pytest.raises(ConfigError, match="market.version"):
        _build(data)


def test_an_unknown_keeper_strategy_names_its_key():
    data = copy.deepcopy(BASE)
    data["market"]["maker"]["flip"]["keepers"][0]["strategy"] = "snipe"
    with pytest.raises(ConfigError, match="strategy"):
        _build(data)


def test_the_rules_declare_gas_for_their_aftermarket():
    sc = _build(copy.deepcopy(BASE))
    rules = sc.model.rules
    assert rules.capabilities.aftermarket and rules.capabilities.aftermarket_gas
    assert rules.describe()["auctions"] == "flipper"


def _quarter(tmp_path, edit=None):
    """The example on a quarter of its book (500 vaults, 25M DAI, 0.5M ETH) and a quarter of the
    keepers' capital."""
    data = copy.deepcopy(BASE)
    book = tmp_path / "vaults.csv"
    vault_book(VaultTotals(vaults=500, debt_dai=25e6, collateral=0.5e6, price=168.6), 12).to_csv(book, index=False)
    data["positions"]["path"] = str(book)
    for k in data["market"]["maker"]["flip"]["keepers"]:
        k["capital_usd"] /= 4
    if edit is not None:
        edit(data["market"]["maker"]["flip"])
    return api.simulate(_build(data), store=None).summary


@pytest.mark.slow
def test_black_thursday_bad_debt_comes_from_congestion_and_keeper_capital(tmp_path):
    """Black Thursday on a quarter of the example: millions of DAI of bad debt and a large
    share of auctions won at <= 1 DAI (issue 12's target). Neither survives keepers whose bids
    are always mined (1000 gwei), nor keepers with unlimited DAI: the zero bids come from the
    two constraints together, not from the lowballer's existence."""
    base = _quarter(tmp_path)
    assert base["auction_bad_debt_usd"] > 1e6
    assert base["auction_share_won_zero"] > 0.2
    assert base["auctions_dealt"] == base["auctions_kicked"] > 500
    assert base["auction_minutes_median"] >= 10.0  # ttl: ten minutes after the last bid at least

    def mined(f):
        for k in f["keepers"]:
            k["gas_gwei"] = 1000.0

    def rich(f):
        for k in f["keepers"]:
            if k["strategy"] == "value":
                k["capital_usd"] = 1e9

    for edit in (mined, rich):
        s = _quarter(tmp_path, edit)
        assert s["auction_share_won_zero"] < 0.05, edit.__name__
        assert s["auction_bad_debt_usd"] < 0.05 * base["auction_bad_debt_usd"], edit.__name__
