"""`simulate` on a system scenario ([[markets]] with [simulation]): the one-market system
through the scenario files equals the single-market scenario, the CLI prints and stores
it, bad [simulation] keys are errors naming the key, and the together/alone columns are
what they say."""

import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
DAY = REPO / "examples" / "system_shared_eth_day.toml"

MARKET_KEYS = '''protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]
'''
POSITIONS = '''source = "synthetic"
n_accounts = 800
seed = 5
pair = ["WETH", "USDC"]
'''
SHARED = '''
[shock]
WETH = 0.3

[[venues]]
kind = "orderbook"
asset = "WETH"
calibration = "calm"
scale = 0.05

[simulation]
path = "linear"
duration_blocks = 20
blocks = 120
check_conservation = true

[simulation.liquidators]
liquidations_per_block = 4
min_profit_usd = 1
'''


def small_day(tmp_path: Path, n: int = 200, blocks: int = 150) -> Path:
    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), n)}", DAY.read_text())
    text = re.sub(r"(?m)^blocks = (\d+)", f"blocks = {blocks}", text)
    p = tmp_path / "day.toml"
    p.write_text(text)
    return p


def test_a_one_market_system_scenario_simulates_as_the_single_market_scenario(tmp_path):
    single = tmp_path / "single.toml"
    single.write_text(f'name = "one"\n\n[market]\n{MARKET_KEYS}\n[positions]\n{POSITIONS}{SHARED}')
    system = tmp_path / "system.toml"
    system.write_text(f'name = "one"\n\n[[markets]]\nname = "aave"\n{MARKET_KEYS}\n[markets.positions]\n{POSITIONS}'
                      f'{SHARED}')
    a = api.simulate(single, store=None)
    b = api.simulate(system, store=None)
    assert b.kind == "system_simulation" and a.summary["accounts_liquidated"] > 0
    for name in ("steps", "events", "assets", "trades"):
        mine = b[name]
        assert (mine["market"] == "aave").all()
        pd.testing.assert_frame_equal(mine.drop(columns="market"), a[name], check_exact=True)
    pd.testing.assert_frame_equal(b["market_summaries"].drop(columns="market"), a["summary"], check_exact=True)
    # alone is the same run: no contagion in a system of one
    m = b["markets"].iloc[0]
    assert m["contagion_accounts_liquidated"] == 0 and m["contagion_bad_debt_usd"] == 0.0


def test_together_alone_and_contagion_columns(tmp_path):
    res = api.simulate(small_day(tmp_path), store=None)
    s, m = res.summary, res["markets"]
    assert list(m["market"]) == ["aave", "morpho", "comet", "liquity"]
    for key in ("accounts_liquidated", "collateral_seized_usd", "bad_debt_usd", "debt_repaid_usd"):
        assert (m[f"contagion_{key}"] == m[key] - m[f"alone_{key}"]).all()
        assert s[key] == pytest.approx(m[key].sum(), rel=1e-12)
        assert s[f"alone_{key}"] == pytest.approx(m[f"alone_{key}"].sum(), rel=1e-12)
    assert s["cleared"] == bool(m["cleared"].all())
    # every market sees the one shared WETH price every block
    w = res["steps"].query("asset == 'WETH'").pivot(index="block", columns="market", values="market_price")
    assert (w.nunique(axis=1) == 1).all()


def test_cli_prints_and_stores_the_system_simulation(tmp_path):
    p = small_day(tmp_path)
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "res"), "-q"])
    assert r.exit_code == 0, r.output
    assert "system of 4 markets" in r.output and "contagion_bad_debt" in r.output
    rid = re.search(r"run (\w+)", r.output).group(1)
    assert (tmp_path / "res" / "runs" / rid).is_dir()
    again = api.simulate(p, store=tmp_path / "res")
    assert again.run_id == rid and again.kind == "system_simulation"


@pytest.mark.parametrize("edit,key", [
    (lambda t: t[: t.index("[simulation]")], "simulation"),
    (lambda t: t.replace('kind = "chainlink"\n', 'kind = "chainlink"\nsource = "pool"\n'), "simulation.oracle.source"),
    (lambda t: t.replace("block_seconds = 12\n", "block_seconds = 12\npool_depth = true\n"), "simulation.pool_depth"),
    (lambda t: t.replace("gas_gwei = 30\n", 'gas_gwei = 30\ngas_asset = "WBTC"\n'), "simulation.liquidators.gas_asset"),
], ids=["missing", "pool-oracle", "pool-depth", "gas-asset"])
def test_bad_system_simulations_name_the_key(tmp_path, edit, key):
    p = tmp_path / "bad.toml"
    p.write_text(edit(DAY.read_text()))
    with pytest.raises(ConfigError) as e:
        api.simulate(p, store=None)
    assert e.value.key == key and e.value.file == str(p)
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and key in r.output
    assert not (tmp_path / "res").exists()


def two_markets(tmp_path: Path, extra_b: str) -> Path:
    """Two Aave markets over one book generator (seeds 5 and 6); market b gets ``extra_b``."""
    text = (f'name = "two"\n\n[[markets]]\nname = "a"\n{MARKET_KEYS}\n[markets.positions]\n{POSITIONS}\n'
            f'[[markets]]\nname = "b"\n{MARKET_KEYS}\n[markets.positions]\n{POSITIONS.replace("seed = 5", "seed = 6")}'
            f'{extra_b}{SHARED}')
    p = tmp_path / "two.toml"
    p.write_text(text)
    return p


def test_a_market_oracle_and_a_dedicated_population_from_the_file(tmp_path):
    """Market b reads Maker's OSM (one-hour hop = 300 blocks of 12 s, beyond the 120-block
    run): its oracle never leaves the block-0 price and nothing of b is liquidated, while
    a, on the system's Chainlink, liquidates. b's own population appears in `liquidators`."""
    extra = ('\n[markets.simulation.oracle]\nkind = "osm"\nhop_s = 3600\n\n'
             '[markets.simulation.liquidators]\nliquidations_per_block = 2\ncapital_usd = 1e6\n')
    res = api.simulate(two_markets(tmp_path, extra), store=None)
    m = res["markets"].set_index("market")
    assert m.loc["a", "accounts_liquidated"] > 0 and m.loc["b", "accounts_liquidated"] == 0
    w = res["steps"].query("asset == 'WETH'")
    ob = w.query("market == 'b'")["oracle_price"]
    assert ob.nunique() == 1 and ob.iloc[0] == w.query("market == 'b' and block == 0")["market_price"].iloc[0]
    assert w.query("market == 'a'")["oracle_price"].nunique() > 1
    t = res["liquidators"].set_index("market")
    assert list(t["population"]) == ["shared", "dedicated"] and list(t.index) == ["*", "b"]
    assert t.loc["b", "liquidations_per_block"] == 2 and t.loc["b", "capital_usd"] == 1e6
    assert t.loc["*", "liquidations_per_block"] == 4
    assert t.loc["*", "accounts_taken"] >= m.loc["a", "accounts_liquidated"]


@pytest.mark.parametrize("extra,key", [
    ('\n[markets.simulation.oracle]\nsource = "pool"\n', "markets.1.simulation.oracle.source"),
    ('\n[markets.simulation.oracle]\nkind = "median"\n', "markets.1.simulation.oracle.kind"),
    ('\n[markets.simulation.liquidators]\ngas_asset = "WBTC"\n', "markets.1.simulation.liquidators.gas_asset"),
    ('\n[markets.simulation.liquidators]\ncapital_usd = -1\n', "markets.1.simulation.liquidators.capital_usd"),
    ('\n[markets.simulation]\noracles = 1\n', "markets.1.simulation.oracles"),
    ('\n[markets.simulation.oracle]\nkind = "osm"\nhop_s = 3600.5\n', "markets.1.simulation.oracle.hop_s"),
], ids=["pool-oracle", "kind", "gas-asset", "capital", "unknown", "osm-hop"])
def test_bad_market_simulation_tables_name_the_key(tmp_path, extra, key):
    p = two_markets(tmp_path, extra)
    with pytest.raises(ConfigError) as e:
        api.simulate(p, store=None)
    assert e.value.key == key and e.value.file == str(p)
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and key in r.output
    assert not (tmp_path / "res").exists()
