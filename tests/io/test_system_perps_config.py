"""``[[perp_markets]]`` in a system scenario (io/system.py): the shipped example builds, every bad
key is a ConfigError naming it, and the commands that run only the lending markets refuse such
a system instead of leaving the perps out."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.io.system import build_system, parse_system

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "system_perps_lending.toml"
BASE = tomllib.loads(EXAMPLE.read_text())


def small() -> dict:
    data = copy.deepcopy(BASE)
    data["markets"][0]["positions"]["n_accounts"] = 200
    for side in ("long", "short"):
        data["perp_markets"][0]["book"]["synthetic"][side]["n_accounts"] = 100
    return data


def build(data: dict):
    return build_system(parse_system(data, "perps.toml"), EXAMPLE.parent, "perps.toml")


def test_the_shipped_example_builds_its_perp_market():
    ss = build(small())
    (p,) = ss.perps
    assert (p.name, p.asset, p.engine.name, p.book.markets) == ("btc-perp", "WBTC", "cex_perp", ("BTCUSDT",))
    assert p.book.n_accounts == 200 and p.step_seconds == 6.0 and p.fund_usd == 2.0e7
    # the band: spot fee 0.05 % + perp fee 0.02 %
    assert p.arbitrageur.capital_usd == 1.0e8 and p.arbitrageur.band == pytest.approx(0.0007, rel=1e-12)
    assert ss.resolved()["perp_markets"][0]["name"] == "btc-perp"


def test_a_system_without_perp_markets_keeps_its_run_id_inputs():
    data = small()
    del data["perp_markets"]
    assert "perp_markets" not in build(data).resolved()


def _set(data: dict, key: str, value) -> dict:
    entry = data["perp_markets"][0]
    *head, last = key.split(".")
    for part in head:
        entry = entry.setdefault(part, {})
    entry[last] = value
    return data


@pytest.mark.parametrize("key, value, named", [
    ("path", {"source": "2025-10-10"}, "perp_markets.0.path"),  # the index is the mark: no path of its own
    ("asset", "WSTETH", "perp_markets.0.asset"),  # not an asset of the system
    ("asset", "USDC", "perp_markets.0.asset"),  # an asset without a shared venue to arbitrage on
    ("step_seconds", 5, "perp_markets.0.step_seconds"),  # does not divide the 12 s block
    ("engine", "nope", "perp_markets.0.engine"),
    ("adl", "nope", "perp_markets.0.adl"),
    ("settings", {"no_such_setting": 1.0}, "perp_markets.0.settings"),
    ("market", "DOGEUSDT", "perp_markets.0.market"),  # the engine's tiers do not know it
    ("name", "aave", "perp_markets.0.name"),  # the lending market's name
    ("arbitrage.capital_usd", -1.0, "perp_markets.0.arbitrage.capital_usd"),
    ("arbitrage.spot_fee", 1.5, "perp_markets.0.arbitrage.spot_fee"),
    ("book.synthetic.long.n_accounts", 0, "perp_markets.0.book.synthetic.long.n_accounts"),
])
def test_every_bad_perp_market_key_is_named(key, value, named):
    with pytest.raises(ConfigError) as e:
        build(_set(small(), key, value))
    assert e.value.key == named and e.value.file == "perps.toml"


@pytest.mark.parametrize("command", [["run"], ["curve"], ["network"], ["montecarlo", "--paths", "2"]])
def test_commands_that_run_only_the_lending_markets_refuse_perp_markets(tmp_path, command):
    store = tmp_path / "store"
    r = CliRunner().invoke(main, [command[0], str(EXAMPLE), "--out", str(store), *command[1:]])
    assert r.exit_code == 2, r.output
    assert "perp_markets" in r.output and "simulate" in r.output
    assert not store.exists()  # nothing ran, nothing stored
